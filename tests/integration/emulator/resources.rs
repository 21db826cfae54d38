//! Issue 3, points 4, 5 and 6: specs, the four resources (create validation, entity shapes,
//! listing with filters, ordering, counting and paging, delete rules).

use crate::support::router::*;
use axum::http::Method;
use destctl::catalog::{self, Platform};
use destctl::emulator::EMBEDDED_ORG_ID;
use serde_json::{Value, json};

fn ids(v: &Value) -> Vec<String> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn connection_specs_for_every_platform_and_the_profile_store() {
    let app = App::new();
    let all = app.get("/connectionSpecs").await;
    assert_eq!(all.status, 200);
    let got = ids(&all.body);
    assert!(got.contains(&PROFILE.to_owned()));
    for p in Platform::all() {
        let info = p.info();
        assert!(got.contains(&info.connection_spec_id.to_owned()), "{p}");
        let spec = app
            .entity(&format!("/connectionSpecs/{}", info.connection_spec_id))
            .await;
        assert_eq!(spec["name"], info.display_name);
        let names: Vec<&str> = spec["authSpec"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap())
            .collect();
        let want: Vec<&str> = info.auth_methods.iter().map(|a| a.spec_name()).collect();
        assert_eq!(names, want);
        for (a, m) in spec["authSpec"]
            .as_array()
            .unwrap()
            .iter()
            .zip(info.auth_methods)
        {
            let req: Vec<&str> = info
                .auth_params(*m)
                .iter()
                .filter(|p| p.required)
                .map(|p| p.name)
                .collect();
            assert_eq!(a["spec"]["required"], json!(req));
        }
        if info.card == catalog::Card::Legacy {
            let modes: Vec<&str> = info.location_modes.iter().map(|m| m.as_str()).collect();
            assert_eq!(
                spec["targetSpec"]["spec"]["properties"]["mode"]["enum"],
                json!(modes)
            );
        } else {
            // Current cards: the location fields and file options of Adobe's targetSpec.
            let props = &spec["targetSpec"]["spec"]["properties"];
            for p in info.file_location {
                assert!(props.get(p.name).is_some(), "{} {}", info.platform, p.name);
            }
            assert_eq!(props["fileType"]["enum"], json!(["CSV", "JSON", "PARQUET"]));
            assert_eq!(props["compression"]["enum"], json!(["NONE", "GZIP"]));
            assert_eq!(
                spec["encryptionSpecs"].as_array().unwrap().len(),
                usize::from(info.encryption)
            );
        }
    }
    let campaign = app
        .get("/connectionSpecs?property=name==Adobe%20Campaign")
        .await;
    assert_eq!(ids(&campaign.body), vec![CAMPAIGN]);
    let two = app
        .get(&format!("/connectionSpecs?property=id=={CAMPAIGN},{S3}"))
        .await;
    assert_eq!(two.body["items"].as_array().unwrap().len(), 2);
    let r = app.get("/connectionSpecs/not-a-spec").await;
    assert_flow_error(&r, 404, 1101);
}

#[tokio::test]
async fn flow_specs_including_ups_to_campaign() {
    let app = App::new();
    let r = app.get("/flowSpecs?property=name==upsToCampaign").await;
    assert_eq!(r.status, 200);
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], catalog::EMULATOR_CAMPAIGN_FLOW_SPEC_ID);
    assert_eq!(items[0]["sourceConnectionSpecIds"], json!([PROFILE]));
    assert_eq!(items[0]["targetConnectionSpecIds"], json!([CAMPAIGN]));
    let legacy = app.entity(&format!("/flowSpecs/{LEGACY_FLOW_SPEC}")).await;
    let targets = legacy["targetConnectionSpecIds"].as_array().unwrap();
    for p in [
        Platform::OracleEloqua,
        Platform::AmazonS3Legacy,
        Platform::AzureBlobLegacy,
        Platform::SftpLegacy,
    ] {
        assert!(targets.contains(&json!(p.info().connection_spec_id)), "{p}");
    }
    assert_eq!(targets.len(), 4);
    for (p, id) in [
        (
            Platform::OracleResponsys,
            "51d675ce-e270-408d-91fc-22717bdf2148",
        ),
        (
            Platform::SalesforceMarketingCloud,
            "493b2bd6-26e4-4167-ab3b-5e910bba44f0",
        ),
    ] {
        let s = app.entity(&format!("/flowSpecs/{id}")).await;
        assert_eq!(
            s["targetConnectionSpecIds"],
            json!([p.info().connection_spec_id])
        );
    }
    assert_eq!(
        app.get("/flowSpecs").await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        4 + 6 + 6,
        "the four legacy flow specs, an audience and a dataset flow spec per current card"
    );
}

#[tokio::test]
async fn seed_tutorial_chain_and_entity_shapes() {
    let app = App::new();
    let c = app.flow_chain("campaign-s3").await;
    assert!(c.etag.starts_with('"') && c.etag.ends_with('"') && c.etag.len() > 2);

    let base = app.entity(&format!("/connections/{}", c.base)).await;
    for f in [
        "id",
        "createdAt",
        "updatedAt",
        "createdBy",
        "updatedBy",
        "createdClient",
        "updatedClient",
        "sandboxId",
        "sandboxName",
        "imsOrgId",
        "name",
        "description",
        "connectionSpec",
        "state",
        "version",
        "etag",
    ] {
        assert!(base.get(f).is_some(), "base connection lacks {f}: {base}");
    }
    assert!(
        base["createdAt"].as_i64().unwrap() > 1_600_000_000_000,
        "milliseconds"
    );
    assert_eq!(base["version"], base["etag"]);
    assert_eq!(base["state"], "enabled");
    assert_eq!(base["createdBy"], "destctl-emulator@AdobeID");
    assert_eq!(base["createdClient"], "destctl-emulator");
    assert!(base.get("auth").is_none());

    let dest = app.entity(&format!("/connections/{}", c.dest)).await;
    assert_eq!(
        dest["description"], "summer [destctl:campaign-s3 credentials=1]",
        "stored verbatim"
    );
    assert_eq!(dest["auth"]["specName"], "S3");
    assert_eq!(
        dest["auth"]["params"]["accessId"], "***",
        "secrets are write-only"
    );
    assert_eq!(dest["auth"]["params"]["secretKey"], "***");
    assert!(
        !app.get(&format!("/connections/{}", c.dest))
            .await
            .text
            .contains("SECRET-VALUE")
    );
    let date = dest["auth"]["params"]["authorizedDate"].as_str().unwrap();
    assert!(chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok());

    let source = app
        .entity(&format!("/sourceConnections/{}", c.source))
        .await;
    assert_eq!(
        source["typeInfo"],
        json!({"type": "ProfileFragments", "id": "ups"})
    );
    assert_eq!(
        source["inheritedAttributes"]["baseConnection"]["id"],
        c.base.as_str()
    );
    assert_eq!(source["data"], json!({"format": "CSV", "schema": null}));

    let target = app
        .entity(&format!("/targetConnections/{}", c.target))
        .await;
    assert_eq!(target["baseConnectionId"], c.dest.as_str());
    assert_eq!(target["params"]["mode"], "S3");
    assert_eq!(
        target["inheritedAttributes"]["baseConnection"]["connectionSpec"]["id"],
        CAMPAIGN
    );

    let flow = app.entity(&format!("/flows/{}", c.flow)).await;
    assert_eq!(flow["etag"], c.etag.as_str());
    assert_eq!(flow["version"], c.etag.as_str());
    assert_eq!(flow["state"], "enabled");
    assert_eq!(
        flow["flowSpec"],
        json!({"id": campaign_flow_spec(), "version": "1.0"})
    );
    let inh = &flow["inheritedAttributes"];
    assert_eq!(inh["properties"], json!({"isDestinationFlow": true}));
    assert_eq!(inh["sourceConnections"][0]["id"], c.source.as_str());
    assert_eq!(
        inh["sourceConnections"][0]["baseConnection"]["id"],
        c.base.as_str()
    );
    assert_eq!(
        inh["targetConnections"][0]["baseConnection"]["id"],
        c.dest.as_str()
    );
    assert_eq!(
        inh["targetConnections"][0]["connectionSpec"]["id"],
        CAMPAIGN
    );
    assert_eq!(flow["runs"], format!("/runs?property=flowId=={}", c.flow));
    assert_eq!(flow["lastOperation"]["operation"], "create");
    assert_eq!(
        flow["transformations"][0]["params"]["segmentSelectors"],
        json!({"selectors": []})
    );

    let r = app
        .post("/flows", flow_body("again", &c.source, &c.target))
        .await;
    assert_eq!(
        r.headers["location"].to_str().unwrap(),
        format!("{FS}/flows/{}", r.body["id"].as_str().unwrap())
    );
    assert_eq!(r.body.as_object().unwrap().len(), 2, "{{id, etag}} only");
    assert_eq!(
        app.get("/runs").await.body,
        json!({"items": [], "_links": {}})
    );
    assert_flow_error(&app.get("/runs/x").await, 404, 1101);
}

#[tokio::test]
async fn sources_may_be_created_without_base_connection() {
    let app = App::new();
    let id = app
        .create(
            "/sourceConnections",
            json!({"name": "ups", "connectionSpec": {"id": PROFILE, "version": "1.0"}}),
        )
        .await;
    let s = app.entity(&format!("/sourceConnections/{id}")).await;
    assert!(s.get("baseConnectionId").is_none());
    assert!(s.get("inheritedAttributes").is_none());
}

#[tokio::test]
async fn create_validation() {
    let app = App::new();
    let c = app.flow_chain("x").await;
    let mut with_state = profile_base();
    with_state["state"] = json!("enabled");
    assert_flow_error(&app.post("/connections", with_state).await, 400, 1410);
    let mut flow_state = flow_body("s", &c.source, &c.target);
    flow_state["state"] = json!("disabled");
    assert_flow_error(&app.post("/flows", flow_state).await, 400, 1410);
    assert_flow_error(&app.post("/connections", json!({})).await, 400, 1405);
    assert_flow_error(
        &app.api(Method::POST, "/connections", None).await,
        400,
        1405,
    );
    let bad_json = app
        .raw(
            Method::POST,
            &format!("{FS}/connections"),
            &[
                ("authorization", &format!("Bearer {}", app.token)),
                ("x-api-key", "destctl-emulator"),
                ("x-gw-ims-org-id", EMBEDDED_ORG_ID),
                ("content-type", "application/json"),
            ],
            Some("{\"name\": "),
        )
        .await;
    assert_flow_error(&bad_json, 400, 1405);

    let mut unknown_spec = profile_base();
    unknown_spec["connectionSpec"]["id"] = json!("00000000-0000-0000-0000-000000000000");
    assert_flow_error(&app.post("/connections", unknown_spec).await, 400, 1413);
    let mut no_version = profile_base();
    no_version["connectionSpec"]
        .as_object_mut()
        .unwrap()
        .remove("version");
    assert_flow_error(&app.post("/connections", no_version).await, 422, 1413);

    let mut missing_param = campaign_base("y");
    missing_param["auth"]["params"]
        .as_object_mut()
        .unwrap()
        .remove("secretKey");
    let msg = assert_flow_error(&app.post("/connections", missing_param).await, 400, 1455);
    assert!(msg.contains("secretKey"), "{msg}");
    let mut wrong_auth = campaign_base("y");
    wrong_auth["auth"]["specName"] = json!("Access Key");
    let msg = assert_flow_error(&app.post("/connections", wrong_auth).await, 400, 1455);
    assert!(
        msg.contains("S3, SFTP with Password, SFTP with SSH Key, Azure Blob"),
        "{msg}"
    );
    let s3 = json!({"name": "s3", "connectionSpec": {"id": S3, "version": "1.0"},
        "auth": {"specName": "Access Key", "params": {"s3AccessKey": "lowercase", "s3SecretKey": "x"}}});
    let msg = assert_flow_error(&app.post("/connections", s3).await, 400, 1455);
    assert!(
        msg.contains("s3AccessKey") && msg.contains("s3SecretKey"),
        "{msg}"
    );
    let mut no_name = profile_base();
    no_name.as_object_mut().unwrap().remove("name");
    assert_flow_error(&app.post("/connections", no_name).await, 400, 1455);
    let mut extra = profile_base();
    extra["bogus"] = json!(1);
    assert_flow_error(&app.post("/connections", extra).await, 400, 1455);

    let mut bad_mode = campaign_target(&c.dest);
    bad_mode["params"]["mode"] = json!("GCS");
    assert_flow_error(&app.post("/targetConnections", bad_mode).await, 400, 1455);
    let mut missing_bucket = campaign_target(&c.dest);
    missing_bucket["params"]
        .as_object_mut()
        .unwrap()
        .remove("bucketName");
    let msg = assert_flow_error(
        &app.post("/targetConnections", missing_bucket).await,
        400,
        1455,
    );
    assert!(msg.contains("bucketName"), "{msg}");
    let mut json_format = campaign_target(&c.dest);
    json_format["params"]["format"] = json!("JSON");
    assert_flow_error(
        &app.post("/targetConnections", json_format).await,
        400,
        1455,
    );
    let wrong_base = campaign_target(&c.base);
    assert_flow_error(&app.post("/targetConnections", wrong_base).await, 400, 1455);
    let missing_base = campaign_target("nope");
    assert_flow_error(
        &app.post("/targetConnections", missing_base).await,
        400,
        1455,
    );
    let mut dest_as_source = source_body(&c.base);
    dest_as_source["connectionSpec"]["id"] = json!(CAMPAIGN);
    assert_flow_error(
        &app.post("/sourceConnections", dest_as_source).await,
        400,
        1413,
    );

    let mut wrong_spec = flow_body("w", &c.source, &c.target);
    wrong_spec["flowSpec"]["id"] = json!(LEGACY_FLOW_SPEC);
    let msg = assert_flow_error(&app.post("/flows", wrong_spec).await, 400, 1455);
    assert!(msg.contains("does not serve"), "{msg}");
    assert_flow_error(
        &app.post("/flows", flow_body("m", "missing", &c.target))
            .await,
        400,
        1455,
    );
    let mut unknown_flow_spec = flow_body("u", &c.source, &c.target);
    unknown_flow_spec["flowSpec"]["id"] = json!("nope");
    assert_flow_error(&app.post("/flows", unknown_flow_spec).await, 400, 1413);
}

#[tokio::test]
async fn audiences_are_refused_at_flow_creation() {
    let app = App::new();
    let c = app.flow_chain("x").await;
    let mut with_audience = flow_body("a", &c.source, &c.target);
    with_audience["transformations"][0]["params"]["segmentSelectors"]["selectors"] =
        json!([segment("s1")]);
    let msg = assert_flow_error(&app.post("/flows", with_audience).await, 400, 1455);
    assert!(msg.contains("PATCH"), "{msg}");
    let mut with_attr = flow_body("b", &c.source, &c.target);
    with_attr["transformations"][0]["params"]["profileSelectors"]["selectors"] =
        json!([attribute("a.b")]);
    assert_flow_error(&app.post("/flows", with_attr).await, 400, 1455);
    let mut v2 = flow_body("c", &c.source, &c.target);
    v2["transformations"] = json!([]);
    assert_flow_error(&app.post("/flows", v2).await, 400, 1455);
}

#[tokio::test]
async fn listing_filters_and_reverse_audience_lookup() {
    let app = App::new();
    let a = app.flow_chain("a").await;
    let b = app.flow_chain("b").await;
    let r = app
        .patch(
            &format!("/flows/{}", b.flow),
            &b.etag,
            json!([{"op": "add", "path": SEG_PATH, "value": segment("aud-1")}]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    let flows = app
        .get("/flows?property=inheritedAttributes.properties.isDestinationFlow==true")
        .await;
    assert_eq!(
        ids(&flows.body),
        vec![b.flow.clone(), a.flow.clone()],
        "newest write first"
    );
    let by_aud = app
        .get(
            "/flows?property=transformations[].params.segmentSelectors.selectors[].value.id==aud-1",
        )
        .await;
    assert_eq!(ids(&by_aud.body), vec![b.flow.clone()]);
    let none = app
        .get(
            "/flows?property=transformations[].params.segmentSelectors.selectors[].value.id==aud-2",
        )
        .await;
    assert_eq!(none.body, json!({"items": [], "_links": {}}));
    let any_of = app
        .get(&format!("/flows?property=id=={},{}", a.flow, b.flow))
        .await;
    assert_eq!(ids(&any_of.body).len(), 2);
    let and = app
        .get(&format!("/flows?property=id=={}&property=name==b", a.flow))
        .await;
    assert!(ids(&and.body).is_empty());
    let by_src = app
        .get(&format!(
            "/flows?property=sourceConnectionIds[]=={}",
            a.source
        ))
        .await;
    assert_eq!(ids(&by_src.body), vec![a.flow.clone()]);
    let by_target_spec = app
        .get(&format!(
            "/flows?property=inheritedAttributes.targetConnections[].connectionSpec.id=={CAMPAIGN}"
        ))
        .await;
    assert_eq!(ids(&by_target_spec.body).len(), 2);
    let conns = app
        .get(&format!(
            "/connections?property=connectionSpec.id=={CAMPAIGN}"
        ))
        .await;
    assert_eq!(ids(&conns.body), vec![b.dest.clone(), a.dest.clone()]);

    let asc = app.get("/flows?orderby=name").await;
    assert_eq!(ids(&asc.body), vec![a.flow.clone(), b.flow.clone()]);
    let desc = app.get("/flows?orderby=-name").await;
    assert_eq!(ids(&desc.body), vec![b.flow.clone(), a.flow.clone()]);
    assert_eq!(
        ids(&app.get("/flows?orderby=%2Bname").await.body)[0],
        a.flow
    );

    assert_eq!(app.get("/flows?count=true").await.body, json!({"count": 2}));
    assert_eq!(
        app.get("/flows?count=True&property=name==a").await.body,
        json!({"count": 1})
    );
    assert_eq!(ids(&app.get("/flows?count=false").await.body).len(), 2);
    assert_eq!(ids(&app.get("/flows?count=False").await.body).len(), 2);

    for (q, code) in [
        ("count=true&limit=5", 1401),
        ("property=name=a", 1450),
        ("property=name~a", 1440),
        ("property=bogus==1", 1449),
        ("property=name==", 1453),
        ("property=createdAt<=1,2", 1443),
        ("property=id>=a", 1448),
        ("orderby=*name", 1433),
        ("orderby=bogus", 1432),
        ("limit=500", 1451),
        ("start=0", 1451),
    ] {
        let r = app.get(&format!("/flows?{q}")).await;
        assert_flow_error(&r, 400, code);
    }
}

#[tokio::test]
async fn paging_with_continuation_tokens() {
    let app = App::new();
    let mut created = Vec::new();
    for i in 0..5 {
        let mut b = profile_base();
        b["name"] = json!(format!("conn-{i}"));
        created.push(app.create("/connections", b).await);
    }
    created.reverse();
    let mut seen = Vec::new();
    let mut path =
        "/connections?limit=2&property=connectionSpec.id==8a9c3494-9708-43d7-ae3f-cda01e5030e1"
            .to_owned();
    let mut pages = 0;
    loop {
        let r = app.get(&path).await;
        assert_eq!(r.status, 200, "{}", r.text);
        pages += 1;
        seen.extend(ids(&r.body));
        let links = r.body["_links"].as_object().expect("_links always present");
        match links.get("next") {
            Some(next) => {
                let href = next["href"].as_str().unwrap();
                let token = href
                    .strip_prefix("/connections?continuationToken=")
                    .expect(href);
                assert!(!token.contains('=') && !token.contains('&'), "{token}");
                assert_eq!(
                    href.split('=').nth(1),
                    Some(token),
                    "aepp takes split('=')[1]"
                );
                path = href.to_owned();
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, created);
    assert_flow_error(
        &app.get("/connections?continuationToken=zz").await,
        400,
        1451,
    );
}

/// Walks every page of `first`, calling `between` after each page but the last.
async fn walk(app: &App, first: &str, mut between: impl AsyncFnMut(usize)) -> Vec<String> {
    let mut seen = Vec::new();
    let mut path = first.to_owned();
    for n in 0.. {
        let r = app.get(&path).await;
        assert_eq!(r.status, 200, "{}", r.text);
        seen.extend(ids(&r.body));
        match r.body["_links"]["next"]["href"].as_str() {
            Some(href) => {
                let token = href
                    .strip_prefix("/connections?continuationToken=")
                    .expect(href);
                assert!(!token.contains('=') && !token.contains('&'), "{token}");
                path = href.to_owned();
                between(n).await;
            }
            None => break,
        }
    }
    seen
}

#[tokio::test]
async fn writes_between_pages_neither_skip_nor_repeat_items() {
    let app = App::new();
    let mut created = Vec::new();
    for i in 0..6 {
        let mut b = profile_base();
        b["name"] = json!(format!("conn-{i}"));
        created.push(app.create("/connections", b).await);
    }
    let rename = async |id: &str, name: &str| {
        let etag = app.entity(&format!("/connections/{id}")).await["etag"]
            .as_str()
            .unwrap()
            .to_owned();
        let r = app
            .patch(
                &format!("/connections/{id}"),
                &etag,
                json!([{"op": "replace", "path": "/name", "value": name}]),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    };
    // Default order (newest first): after each page, update one item not yet seen (the
    // oldest), one already seen (the newest), and create a new one.
    let seen = walk(&app, "/connections?limit=2", async |n| {
        rename(&created[0], &format!("oldest-{n}")).await;
        rename(&created[5], &format!("newest-{n}")).await;
        let mut b = profile_base();
        b["name"] = json!(format!("late-{n}"));
        app.create("/connections", b).await;
    })
    .await;
    let mut want = created.clone();
    want.reverse();
    assert_eq!(
        seen, want,
        "every item present at the first page, exactly once"
    );

    // With orderby: the same holds for updates that do not touch the sort field.
    let mut before: Vec<String> = ids(&app.get("/connections?orderby=name").await.body);
    let seen = walk(&app, "/connections?orderby=name&limit=3", async |_| {
        let id = before.last().unwrap().clone();
        let etag = app.entity(&format!("/connections/{id}")).await["etag"]
            .as_str()
            .unwrap()
            .to_owned();
        let r = app
            .patch(
                &format!("/connections/{id}"),
                &etag,
                json!([{"op": "add", "path": "/description", "value": "touched"}]),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    })
    .await;
    assert_eq!(seen, std::mem::take(&mut before));
}

#[tokio::test]
async fn delete_statuses_and_referential_rules() {
    let app = App::new();
    let c = app.flow_chain("d").await;
    let r = app
        .api(Method::DELETE, &format!("/connections/{}", c.dest), None)
        .await;
    assert_flow_error(&r, 400, 1418);
    let r = app
        .api(Method::DELETE, &format!("/connections/{}", c.base), None)
        .await;
    assert_flow_error(&r, 400, 1418);
    let r = app
        .api(
            Method::DELETE,
            &format!("/targetConnections/{}", c.target),
            None,
        )
        .await;
    let msg = assert_flow_error(&r, 400, 1447);
    assert!(msg.contains(&c.flow), "{msg}");
    let r = app
        .api(
            Method::DELETE,
            &format!("/sourceConnections/{}", c.source),
            None,
        )
        .await;
    assert_flow_error(&r, 400, 1447);

    let r = app
        .api(Method::DELETE, &format!("/flows/{}", c.flow), None)
        .await;
    assert_eq!(r.status, 202);
    assert_eq!(r.text, "");
    assert_flow_error(&app.get(&format!("/flows/{}", c.flow)).await, 404, 1439);
    assert_flow_error(
        &app.api(Method::DELETE, &format!("/flows/{}", c.flow), None)
            .await,
        404,
        1439,
    );
    for (path, status) in [
        (format!("/targetConnections/{}", c.target), 202),
        (format!("/sourceConnections/{}", c.source), 202),
        (format!("/connections/{}", c.dest), 204),
        (format!("/connections/{}", c.base), 204),
    ] {
        let r = app.api(Method::DELETE, &path, None).await;
        assert_eq!(r.status.as_u16(), status, "{path}: {}", r.text);
        assert_eq!(r.text, "");
        assert_eq!(app.get(&path).await.status, 404);
    }
    let r = app.get("/flows/nope").await;
    let msg = assert_flow_error(&r, 404, 1439);
    assert_eq!(
        msg,
        "The requested flows resource nope is not found. Verify the resource ID before trying again."
    );
    assert_eq!(r.body["title"], "Resource not found");
    assert_eq!(r.body["report"]["type"], "flows");
    assert_eq!(r.body["report"]["id"], "nope");
}

#[tokio::test]
async fn destination_flows_per_sandbox_are_capped_at_100() {
    let app = App::new();
    let seed = destctl::emulator::SeedFlows {
        flows: 100,
        audiences_per_flow: 0,
        attributes_per_flow: 0,
        ..Default::default()
    };
    app.state
        .seed_flows(EMBEDDED_ORG_ID, "prod", &seed)
        .await
        .unwrap();
    assert_eq!(app.get("/flows?count=true").await.body["count"], 100);
    let c = app.flow_chain_parts().await;
    let r = app.post("/flows", flow_body("101st", &c.0, &c.1)).await;
    let msg = assert_flow_error(&r, 400, 1455);
    assert!(msg.contains("limit 100"), "{msg}");
}

trait Parts {
    async fn flow_chain_parts(&self) -> (String, String);
}

impl Parts for App {
    async fn flow_chain_parts(&self) -> (String, String) {
        let base = self.create("/connections", profile_base()).await;
        let source = self.create("/sourceConnections", source_body(&base)).await;
        let dest = self.create("/connections", campaign_base("p")).await;
        let target = self
            .create("/targetConnections", campaign_target(&dest))
            .await;
        (source, target)
    }
}
