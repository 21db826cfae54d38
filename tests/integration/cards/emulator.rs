//! The emulator on the current cards, through its router: per card the create chain
//! (Profile store base and source connection, the card's base connection, target connection,
//! audience flow), a PATCH of the flow (V2 fields directly under the params) and of the target
//! connection, and an invalid param refused with 400 `1455`; then the decisions taken where
//! Adobe's sources contradict each other.

use crate::support::router::*;
use destctl::catalog::{Platform, PlatformInfo};
use serde_json::{Value, json};

/// A current card's create bodies and one param the emulator must refuse.
struct Card {
    platform: Platform,
    auth: Option<Value>,
    target: Value,
    /// A PATCH of the target connection's params that stays valid.
    target_patch: Value,
    /// A base connection auth or target params change that breaks a documented rule, and
    /// which resource it goes to.
    invalid: (&'static str, Value),
}

fn info(p: Platform) -> &'static PlatformInfo {
    p.info()
}

fn spec(p: Platform) -> Value {
    json!({"id": info(p).connection_spec_id, "version": "1.0"})
}

fn audience_flow_spec(p: Platform) -> &'static str {
    match info(p).flow_spec {
        destctl::catalog::FlowSpecRef::Id(id) => id,
        destctl::catalog::FlowSpecRef::Name(_) => unreachable!("current cards have ids"),
    }
}

fn cards() -> Vec<Card> {
    let file = |extra: Value| {
        let mut v = json!({"mode": "Server-to-server", "fileType": "CSV", "compression": "GZIP"});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    };
    vec![
        Card {
            platform: Platform::AmazonS3,
            auth: Some(json!({"specName": "Access Key", "params": {
                "s3AccessKey": "AKIAIOSFODNN7EXAMPLE", "s3SecretKey": "a".repeat(40)}})),
            target: file(
                json!({"bucketName": "acme-exports", "path": "audiences/%SEGMENT_NAME%",
                "csvOptions": {"delimiter": ";", "quote": "", "escape": "\\", "nullValue": "null", "emptyValue": ""},
                "includeFileManifest": true}),
            ),
            target_patch: file(json!({"bucketName": "acme-exports", "path": "daily"})),
            // the access key pattern ^[A-Z2-7]{20}$
            invalid: (
                "auth",
                json!({"specName": "Access Key", "params": {
                "s3AccessKey": "akiaiosfodnn7example", "s3SecretKey": "a".repeat(40)}}),
            ),
        },
        Card {
            platform: Platform::AzureBlob,
            auth: Some(json!({"specName": "ConnectionString", "params": {
                "connectionString": "DefaultEndpointsProtocol=https;AccountName=acme"}})),
            target: file(json!({"container": "aep-exports", "path": "audiences"})),
            target_patch: file(
                json!({"container": "aep-exports", "path": "audiences2", "fileType": "JSON"}),
            ),
            // the container pattern forbids "--"
            invalid: (
                "params",
                file(json!({"container": "aep--exports", "path": "audiences"})),
            ),
        },
        Card {
            platform: Platform::Sftp,
            auth: Some(json!({"specName": "SFTP with Password", "params": {
                "domain": "sftp.acme.test", "username": "aep", "password": "pw", "port": 22}})),
            target: file(json!({"remotePath": "/exports"})),
            target_patch: file(json!({"remotePath": "/exports/2", "compression": "NONE"})),
            // `host` is the legacy card's name of the server; the current card calls it domain
            invalid: (
                "auth",
                json!({"specName": "SFTP with Password", "params": {
                "host": "sftp.acme.test", "username": "aep", "password": "pw"}}),
            ),
        },
        Card {
            platform: Platform::AzureDataLakeGen2,
            auth: Some(
                json!({"specName": "Azure Service Principal Auth", "params": {
                "url": "https://acme.dfs.core.windows.net", "servicePrincipalId": "sp",
                "servicePrincipalKey": "key", "tenant": "acme.onmicrosoft.com"}}),
            ),
            target: file(json!({"path": "aep/audiences", "fileType": "PARQUET"})),
            target_patch: file(json!({"path": "aep/other"})),
            invalid: ("params", file(json!({"path": "aep", "fileType": "XML"}))),
        },
        Card {
            platform: Platform::DataLandingZone,
            auth: None,
            target: file(json!({"path": "audiences", "fileType": "JSON"})),
            target_patch: file(json!({"path": "audiences/v2", "fileType": "JSON"})),
            // a card without an auth spec takes no auth
            invalid: ("auth", json!({"specName": "Access Key", "params": {}})),
        },
        Card {
            platform: Platform::GoogleCloudStorage,
            auth: Some(
                json!({"specName": "Google Cloud Storage authentication credentials",
                "params": {"accessKeyId": "GOOGEXAMPLE", "secretAccessKey": "secret"}}),
            ),
            target: file(json!({"bucketName": "acme-exports", "path": "audiences/%SEGMENT_ID%"})),
            target_patch: file(json!({"bucketName": "acme-exports-2", "path": "audiences"})),
            // GCS bucket names must not look like "google"
            invalid: (
                "params",
                file(json!({"bucketName": "my-g00gle-bucket", "path": "a"})),
            ),
        },
    ]
}

fn base_body(c: &Card) -> Value {
    let mut b =
        json!({"name": format!("{} account", c.platform), "connectionSpec": spec(c.platform)});
    if let Some(a) = &c.auth {
        b["auth"] = a.clone();
    }
    b
}

fn v2_segment(id: &str) -> Value {
    // No %DESTINATION_NAME%/%SEGMENT_ID%: every V2 macro is optional.
    json!({"type": "PLATFORM_SEGMENT", "value": {"id": id, "name": "Audience",
        "filenameTemplate": "%SEGMENT_NAME%_%SANDBOX_NAME%_%TIMESTAMP%",
        "exportMode": "DAILY_FULL_EXPORT",
        "schedule": {"frequency": "DAILY", "triggerType": "SCHEDULED", "startDate": "2026-12-01", "startTime": "06:00"}}})
}

struct Created {
    source: String,
    base: String,
    target: String,
}

async fn chain(app: &App, c: &Card) -> Created {
    let profile = app.create("/connections", profile_base()).await;
    let source = app
        .create("/sourceConnections", source_body(&profile))
        .await;
    let base = app.create("/connections", base_body(c)).await;
    let target = app
        .create(
            "/targetConnections",
            json!({"name": "location", "baseConnectionId": base,
                   "connectionSpec": spec(c.platform), "params": c.target}),
        )
        .await;
    Created {
        source,
        base,
        target,
    }
}

#[tokio::test]
async fn every_current_card_create_chain_patch_and_invalid_param() {
    let app = App::new();
    for c in cards() {
        let p = c.platform;
        let ids = chain(&app, &c).await;
        // The flow as Adobe's tutorial creates it: the audience flow spec, no transformation.
        let r = app
            .post(
                "/flows",
                json!({"name": format!("{p} flow"),
                       "flowSpec": {"id": audience_flow_spec(p), "version": "1.0"},
                       "sourceConnectionIds": [ids.source], "targetConnectionIds": [ids.target],
                       "transformations": []}),
            )
            .await;
        assert_eq!(r.status, 201, "{p}: {}", r.text);
        let flow = r.body["id"].as_str().unwrap().to_owned();
        let etag = r.body["etag"].as_str().unwrap().to_owned();
        // The emulator checks that profileMapping names an existing mapping set version.
        let mapping = app.mapping_set().await;
        let r = app
            .patch(
                &format!("/flows/{flow}"),
                &etag,
                json!([
                    {"op": "add", "path": SEG_PATH, "value": v2_segment("seg-1")},
                    {"op": "add", "path": "/transformations/0/params/mandatoryFields", "value": ["personalEmail.address"]},
                    {"op": "add", "path": "/transformations/0/params/primaryFields",
                     "value": [{"fieldType": "IDENTITY", "identityNamespace": "ECID"},
                               {"fieldType": "ATTRIBUTE", "attributePath": "personalEmail.address"}]},
                    {"op": "add", "path": "/transformations/0/params/profileMapping",
                     "value": {"mappingId": mapping, "mappingVersion": 0}}
                ]),
            )
            .await;
        assert_eq!(r.status, 200, "{p}: {}", r.text);
        // Attributes by path (destctl's interim until mapping sets): the container first, as
        // the planner sends it for a flow created without one.
        let etag = r.body["etag"].as_str().unwrap().to_owned();
        let r = app
            .patch(
                &format!("/flows/{flow}"),
                &etag,
                json!([
                    {"op": "add", "path": "/transformations/0/params/profileSelectors", "value": {"selectors": []}},
                    {"op": "add", "path": PROF_PATH, "value": attribute("personalEmail.address")}
                ]),
            )
            .await;
        assert_eq!(r.status, 200, "{p}: {}", r.text);
        let f = app.entity(&format!("/flows/{flow}")).await;
        let params = &f["transformations"][0]["params"];
        assert_eq!(
            params["profileSelectors"]["selectors"][0]["value"]["operator"], "EXISTS",
            "{p}"
        );
        assert_eq!(
            params["mandatoryFields"],
            json!(["personalEmail.address"]),
            "{p}"
        );
        assert_eq!(
            params["primaryFields"][0]["identityNamespace"], "ECID",
            "{p}"
        );
        assert_eq!(
            params["segmentSelectors"]["selectors"][0]["value"]["filenameTemplate"],
            "%SEGMENT_NAME%_%SANDBOX_NAME%_%TIMESTAMP%"
        );
        assert_eq!(
            f["inheritedAttributes"]["targetConnections"][0]["connectionSpec"]["id"],
            info(p).connection_spec_id
        );

        // PATCH of the location.
        let t = app
            .entity(&format!("/targetConnections/{}", ids.target))
            .await;
        let r = app
            .patch(
                &format!("/targetConnections/{}", ids.target),
                t["etag"].as_str().unwrap(),
                json!([{"op": "replace", "path": "/params", "value": c.target_patch}]),
            )
            .await;
        assert_eq!(r.status, 200, "{p}: {}", r.text);
        let t = app
            .entity(&format!("/targetConnections/{}", ids.target))
            .await;
        assert_eq!(t["params"], c.target_patch, "{p}");

        // An invalid param, at creation and by PATCH: 400 1455, nothing changed.
        let (what, bad) = &c.invalid;
        if *what == "auth" {
            let mut body = base_body(&c);
            body["auth"] = bad.clone();
            let r = app.post("/connections", body).await;
            assert_flow_error(&r, 400, 1455);
            let b = app.entity(&format!("/connections/{}", ids.base)).await;
            let r = app
                .patch(
                    &format!("/connections/{}", ids.base),
                    b["etag"].as_str().unwrap(),
                    json!([{"op": "add", "path": "/auth", "value": bad}]),
                )
                .await;
            assert_flow_error(&r, 400, 1455);
        } else {
            let r = app
                .post(
                    "/targetConnections",
                    json!({"name": "bad", "baseConnectionId": ids.base,
                           "connectionSpec": spec(p), "params": bad}),
                )
                .await;
            let msg = assert_flow_error(&r, 400, 1455);
            assert!(msg.contains("params."), "{p}: {msg}");
            let t = app
                .entity(&format!("/targetConnections/{}", ids.target))
                .await;
            let r = app
                .patch(
                    &format!("/targetConnections/{}", ids.target),
                    t["etag"].as_str().unwrap(),
                    json!([{"op": "replace", "path": "/params", "value": bad}]),
                )
                .await;
            assert_flow_error(&r, 400, 1455);
            let after = app
                .entity(&format!("/targetConnections/{}", ids.target))
                .await;
            assert_eq!(after["params"], c.target_patch, "{p}: unchanged");
        }
    }
}

#[tokio::test]
async fn specs_are_served_with_the_reference_ids() {
    let app = App::new();
    for (p, conn, audience, dataset) in [
        (
            Platform::AmazonS3,
            "4fce964d-3f37-408f-9778-e597338a21ee",
            "1a0514a6-33d4-4c7f-aff8-594799c47549",
            "269ba276-16fc-47db-92b0-c1049a3c131f",
        ),
        (
            Platform::AzureBlob,
            "6d6b59bf-fb58-4107-9064-4d246c0e5bb2",
            "752d422f-b16f-4f0d-b1c6-26e448e3b388",
            "95bd8965-fc8a-4119-b9c3-944c2c2df6d2",
        ),
        (
            Platform::Sftp,
            "36965a81-b1c6-401b-99f8-22508f1e6a26",
            "fd36aaa4-bf2b-43fb-9387-43785eeeb799",
            "354d6aad-4754-46e4-a576-1b384561c440",
        ),
        (
            Platform::AzureDataLakeGen2,
            "be2c3209-53bc-47e7-ab25-145db8b873e1",
            "db060570-a155-418a-a6d3-b4d97698e5dc",
            "17be2013-2549-41ce-96e7-a70363bec293",
        ),
        (
            Platform::DataLandingZone,
            "10440537-2a7b-4583-ac39-ed38d4b848e8",
            "7e635b9f-e59b-4546-8ba8-fce6496693c8",
            "cd2fc47e-e838-4f38-a581-8fff2f99b63a",
        ),
        (
            Platform::GoogleCloudStorage,
            "c5d93acb-ea8b-4b14-8f53-02138444ae99",
            "976d663b-80b4-4193-be6b-2d0487516623",
            "585c15c4-6cbf-4126-8f87-e26bff78b657",
        ),
    ] {
        let s = app.entity(&format!("/connectionSpecs/{conn}")).await;
        assert_eq!(
            s["providerId"], "14e34fac-d307-11e9-bb65-2a2ae2dbcce4",
            "{p}"
        );
        let required = s["targetSpec"]["spec"]["required"].as_array().unwrap();
        for k in ["datasetFileType", "compression", "fileType"] {
            assert!(required.contains(&json!(k)), "{p} {k}");
        }
        let a = app.entity(&format!("/flowSpecs/{audience}")).await;
        assert_eq!(a["targetConnectionSpecIds"], json!([conn]), "{p}");
        assert_eq!(a["sourceConnectionSpecIds"], json!([PROFILE]), "{p}");
        let d = app.entity(&format!("/flowSpecs/{dataset}")).await;
        assert_eq!(d["attributes"]["_workflow"], "DATASETS", "{p}");
        assert_eq!(
            d["sourceConnectionSpecIds"][0], "23598e46-f560-407b-88d5-ea6207e49db0",
            "{p}: the Data Lake"
        );
    }
    let s3 = app
        .entity("/connectionSpecs/4fce964d-3f37-408f-9778-e597338a21ee")
        .await;
    let auths: Vec<&str> = s3["authSpec"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(auths, ["Access Key", "Assumed Role"]);
    assert_eq!(s3["authSpec"][1]["type"], "S3RoleBased");
    assert_eq!(s3["authSpec"][1]["spec"]["required"], json!(["s3Role"]));
    let dlz = app
        .entity("/connectionSpecs/10440537-2a7b-4583-ac39-ed38d4b848e8")
        .await;
    assert_eq!(dlz["authSpec"], json!([]));
    assert_eq!(dlz["encryptionSpecs"], json!([]));
    let r = app
        .get("/connectionSpecs?property=name==Google%20Cloud%20Storage")
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
}

/// The DOC-ERROR decisions of the emulator's module docs, one assertion each.
#[tokio::test]
async fn doc_error_decisions() {
    let app = App::new();
    let sftp = cards()
        .into_iter()
        .find(|c| c.platform == Platform::Sftp)
        .unwrap();
    let ids = chain(&app, &sftp).await;

    // SFTP auth spec names: the card's own and the two of Adobe's API examples.
    for (name, secret) in [
        ("SFTP with SSH Key", "sshKey"),
        ("SSH PublicKey Authentication for sftp", "sshKey"),
        ("Basic Authentication for sftp", "password"),
    ] {
        let r = app
            .post(
                "/connections",
                json!({"name": name, "connectionSpec": spec(Platform::Sftp),
                       "auth": {"specName": name, "params": {"domain": "d", "username": "u", secret: "s"}}}),
            )
            .await;
        assert_eq!(r.status, 201, "{name}: {}", r.text);
    }
    // SFTP `mode`: Server-to-server (ASFB) and FTP (MIG) are both accepted, and so is none.
    for mode in [Some("FTP"), Some("Server-to-server"), None] {
        let mut params = json!({"remotePath": "/x", "fileType": "CSV", "compression": "NONE"});
        if let Some(m) = mode {
            params["mode"] = json!(m);
        }
        let r = app
            .post(
                "/targetConnections",
                json!({"name": "t", "baseConnectionId": ids.base, "connectionSpec": spec(Platform::Sftp), "params": params}),
            )
            .await;
        assert_eq!(r.status, 201, "{mode:?}: {}", r.text);
    }
    // A legacy mode on a current card is refused.
    let r = app
        .post(
            "/targetConnections",
            json!({"name": "t", "baseConnectionId": ids.base, "connectionSpec": spec(Platform::Sftp),
                   "params": {"mode": "S3", "remotePath": "/x", "fileType": "CSV", "compression": "NONE"}}),
        )
        .await;
    assert_flow_error(&r, 400, 1455);
    // csvOptions only with CSV; values from the enums only; fileType xor datasetFileType.
    for bad in [
        json!({"remotePath": "/x", "fileType": "JSON", "compression": "NONE", "csvOptions": {"delimiter": ","}}),
        json!({"remotePath": "/x", "fileType": "CSV", "compression": "NONE", "csvOptions": {"delimiter": "#"}}),
        json!({"remotePath": "/x", "fileType": "CSV", "compression": "NONE", "csvOptions": {"lineSeparator": "\n"}}),
        json!({"remotePath": "/x", "compression": "NONE"}),
        json!({"remotePath": "/x", "fileType": "CSV"}),
        json!({"remotePath": "/x", "fileType": "CSV", "datasetFileType": "JSON", "compression": "NONE"}),
        json!({"remotePath": "/x", "datasetFileType": "CSV", "compression": "NONE"}),
    ] {
        let r = app
            .post(
                "/targetConnections",
                json!({"name": "t", "baseConnectionId": ids.base, "connectionSpec": spec(Platform::Sftp), "params": bad}),
            )
            .await;
        assert_flow_error(&r, 400, 1455);
    }
    // Audience vs dataset flow spec ids: an audience flow on the card's dataset flow spec id
    // (ASFB's table) is accepted too; on another card's spec or the legacy one it is not.
    for (flow_spec, ok) in [
        ("354d6aad-4754-46e4-a576-1b384561c440", true),
        ("fd36aaa4-bf2b-43fb-9387-43785eeeb799", true),
        ("1a0514a6-33d4-4c7f-aff8-594799c47549", false),
        (LEGACY_FLOW_SPEC, false),
    ] {
        let r = app
            .post(
                "/flows",
                json!({"name": "f", "flowSpec": {"id": flow_spec, "version": "1.0"},
                       "sourceConnectionIds": [ids.source], "targetConnectionIds": [ids.target],
                       "transformations": []}),
            )
            .await;
        if ok {
            assert_eq!(r.status, 201, "{flow_spec}: {}", r.text);
            let f = app
                .entity(&format!("/flows/{}", r.body["id"].as_str().unwrap()))
                .await;
            // the empty V2 transformation is materialised
            assert_eq!(
                f["transformations"],
                json!([{"name": "GeneralTransform", "params": {"segmentSelectors": {"selectors": []}}}])
            );
        } else {
            assert_flow_error(&r, 400, 1455);
        }
    }
    // Encryption: `encryptionSpecs` (ASFB request) and `encryption` (MIG GET) both accepted,
    // stored as `encryption`; refused on the Data Landing Zone.
    for key in ["encryptionSpecs", "encryption"] {
        let mut body = base_body(&sftp);
        body[key] = json!({"specName": "Encryption spec", "params": {"encryptionAlgo": "PGPGPG", "publicKey": "LS0tLS1CRUdJTi=="}});
        let id = app.create("/connections", body).await;
        let c = app.entity(&format!("/connections/{id}")).await;
        assert_eq!(
            c["encryption"]["params"]["encryptionAlgo"], "PGPGPG",
            "{key}"
        );
    }
    let mut body = json!({"name": "dlz", "connectionSpec": spec(Platform::DataLandingZone)});
    body["encryptionSpecs"] = json!({"specName": "Encryption spec", "params": {"encryptionAlgo": "PGPGPG", "publicKey": "x"}});
    assert_flow_error(&app.post("/connections", body).await, 400, 1455);
}

/// V2 flows keep `mandatoryFields`/`primaryFields` directly under the params; legacy flows
/// inside `profileSelectors`; each shape is refused on the other card.
#[tokio::test]
async fn v2_and_legacy_field_positions() {
    let app = App::new();
    let s3 = cards().into_iter().next().unwrap();
    let ids = chain(&app, &s3).await;
    let r = app
        .post(
            "/flows",
            json!({"name": "f", "flowSpec": {"id": audience_flow_spec(Platform::AmazonS3), "version": "1.0"},
                   "sourceConnectionIds": [ids.source], "targetConnectionIds": [ids.target],
                   "transformations": [{"name": "GeneralTransform", "params": {
                       "segmentSelectors": {"selectors": []}, "profileSelectors": {"selectors": []}}}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let flow = r.body["id"].as_str().unwrap().to_owned();
    let etag = r.body["etag"].as_str().unwrap().to_owned();
    let r = app
        .patch(
            &format!("/flows/{flow}"),
            &etag,
            json!([{"op": "add", "path": PROF_PATH, "value": attribute("personalEmail.address")},
                   {"op": "add", "path": "/transformations/0/params/profileSelectors/mandatoryFields",
                    "value": ["personalEmail.address"]}]),
        )
        .await;
    let msg = assert_flow_error(&r, 400, 1455);
    assert!(msg.contains("directly under"), "{msg}");
    // The legacy card refuses the V2 position and a template without the required macros.
    let chain = app.flow_chain("legacy").await;
    let r = app
        .patch(
            &format!("/flows/{}", chain.flow),
            &chain.etag,
            json!([{"op": "add", "path": "/transformations/0/params/mandatoryFields", "value": []}]),
        )
        .await;
    assert_flow_error(&r, 400, 1455);
    let r = app
        .patch(
            &format!("/flows/{}", chain.flow),
            &chain.etag,
            json!([{"op": "add", "path": SEG_PATH, "value": v2_segment("seg-1")}]),
        )
        .await;
    let msg = assert_flow_error(&r, 400, 1455);
    assert!(msg.contains("%DESTINATION_NAME%"), "{msg}");
    // A V2 unknown macro is refused.
    let mut bad = v2_segment("seg-2");
    bad["value"]["filenameTemplate"] = json!("%SEGMENT_NAME%_%FOO%");
    let r = app
        .patch(
            &format!("/flows/{flow}"),
            &etag,
            json!([{"op": "add", "path": SEG_PATH, "value": bad}]),
        )
        .await;
    assert_flow_error(&r, 400, 1455);
}
