//! The emulator's Data Prep API (issue 11 point 3, its emulator part): schemas, mapping sets
//! with versions (create 200, GET latest or `?version=N`, PUT makes a new version, list newest
//! first), the export rules refused with 400, 404 for unknown ids, 405 for DELETE, the
//! `x-sandbox-name` header required, and a flow's `profileMapping` checked against the
//! mapping sets of its sandbox.

use crate::support::router::*;
use axum::http::Method;
use serde_json::{Value, json};

async fn dp(app: &App, method: Method, path: &str, body: Option<Value>) -> Resp {
    app.data_prep(method, path, body).await
}

fn mapping_set(output: &str, columns: &[(&str, &str)]) -> Value {
    let mappings: Vec<Value> = columns
        .iter()
        .map(|(s, d)| json!({"sourceType": "ATTRIBUTE", "source": s, "destination": d}))
        .collect();
    json!({"outputSchema": {"id": output}, "mappings": mappings})
}

async fn schema(app: &App) -> String {
    let r = dp(
        app,
        Method::POST,
        "/schemas",
        Some(json!({"name": "columns", "jsonSchema": {"type": "object", "properties": {"email": {"type": "string"}}}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["version"], 0);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert!(
        id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()),
        "{id}"
    );
    id
}

#[tokio::test]
async fn mapping_sets_have_versions() {
    let app = App::new();
    let out = schema(&app).await;
    let got = dp(&app, Method::GET, &format!("/schemas/{out}"), None).await;
    assert_eq!(
        got.body["jsonSchema"]["properties"]["email"]["type"],
        "string"
    );

    let r = dp(
        &app,
        Method::POST,
        "/mappingSets",
        Some(mapping_set(&out, &[("personalEmail.address", "email")])),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["version"], 0);
    assert!(r.body["createdDate"].is_i64());
    let v0 = dp(&app, Method::GET, &format!("/mappingSets/{id}"), None).await;
    assert_eq!(v0.body["mappings"][0]["sourceType"], "text/x.schema-path");
    let v0_mapping_id = v0.body["mappings"][0]["id"].clone();

    let r = dp(
        &app,
        Method::PUT,
        &format!("/mappingSets/{id}"),
        Some(mapping_set(
            &out,
            &[
                ("personalEmail.address", "email"),
                ("person.name.firstName", "first_name"),
            ],
        )),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["version"], 1);
    let latest = dp(&app, Method::GET, &format!("/mappingSets/{id}"), None).await;
    assert_eq!(latest.body["version"], 1);
    assert_eq!(latest.body["mappings"].as_array().unwrap().len(), 2);
    assert_ne!(
        latest.body["mappings"][0]["id"], v0_mapping_id,
        "ids reissued"
    );
    let old = dp(
        &app,
        Method::GET,
        &format!("/mappingSets/{id}?version=0"),
        None,
    )
    .await;
    assert_eq!(old.body["mappings"].as_array().unwrap().len(), 1);
    assert_eq!(old.body["mappings"][0]["id"], v0_mapping_id);
    assert_eq!(
        dp(
            &app,
            Method::GET,
            &format!("/mappingSets/{id}?version=7"),
            None
        )
        .await
        .status,
        404
    );

    let list = dp(&app, Method::GET, "/mappingSets?limit=5&start=0", None).await;
    assert_eq!(list.body["_page"]["count"], 1);
    assert_eq!(list.body["data"][0]["version"], 1);

    assert_eq!(
        dp(
            &app,
            Method::GET,
            "/mappingSets/0123456789abcdef0123456789abcdef",
            None
        )
        .await
        .status,
        404
    );
    assert_eq!(
        dp(&app, Method::DELETE, &format!("/mappingSets/{id}"), None)
            .await
            .status,
        405
    );
    let no_sandbox = app.as_caller(&app.org, None);
    assert_eq!(
        dp(
            &no_sandbox,
            Method::GET,
            &format!("/mappingSets/{id}"),
            None
        )
        .await
        .status,
        400
    );
}

#[tokio::test]
async fn export_rules_are_refused_at_create() {
    let app = App::new();
    let out = schema(&app).await;
    for (columns, why) in [
        (vec![], "no mapping"),
        (
            vec![("personalEmail.address", "personalEmail.address")],
            "a dot in the column",
        ),
        (vec![("a", "x"), ("b", "x")], "a column twice"),
        (
            vec![("identityMap.Email", "email"), ("identityMap.ECID", "ecid")],
            "two identities",
        ),
    ] {
        let r = dp(
            &app,
            Method::POST,
            "/mappingSets",
            Some(mapping_set(&out, &columns)),
        )
        .await;
        assert_eq!(r.status, 400, "{why}: {}", r.text);
    }
    let r = dp(
        &app,
        Method::POST,
        "/mappingSets",
        Some(mapping_set(
            "0123456789abcdef0123456789abcdef",
            &[("a", "x")],
        )),
    )
    .await;
    assert_eq!(r.status, 400, "unknown output schema: {}", r.text);
    let r = dp(
        &app,
        Method::POST,
        "/mappingSets",
        Some(mapping_set(
            &out,
            &[("identityMap.Phone_E//.164", "Phone_E_164")],
        )),
    )
    .await;
    assert_eq!(r.status, 200, "one identity, `//`-escaped: {}", r.text);
}

/// A current-card (S3) audience flow; returns its id and etag.
async fn current_s3_flow(app: &App) -> (String, String) {
    let profile = app.create("/connections", profile_base()).await;
    let source = app
        .create(
            "/sourceConnections",
            json!({"name": "p", "baseConnectionId": profile,
                   "connectionSpec": {"id": PROFILE, "version": "1.0"}}),
        )
        .await;
    let s3 = json!({"id": "4fce964d-3f37-408f-9778-e597338a21ee", "version": "1.0"});
    let base = app
        .create(
            "/connections",
            json!({"name": "s3", "connectionSpec": s3,
                   "auth": {"specName": "Access Key",
                            "params": {"s3AccessKey": "AKIAIOSFODNN7EXAMPL2",
                                       "s3SecretKey": "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY01"}}}),
        )
        .await;
    let target = app
        .create(
            "/targetConnections",
            json!({"name": "t", "baseConnectionId": base, "connectionSpec": s3,
                   "params": {"mode": "Server-to-server", "bucketName": "acme", "path": "x",
                              "fileType": "CSV", "compression": "NONE"}}),
        )
        .await;
    let flow = app
        .create(
            "/flows",
            json!({"name": "f", "flowSpec": {"id": "1a0514a6-33d4-4c7f-aff8-594799c47549", "version": "1.0"},
                   "sourceConnectionIds": [source], "targetConnectionIds": [target],
                   "transformations": []}),
        )
        .await;
    let etag = app.entity(&format!("/flows/{flow}")).await["etag"]
        .as_str()
        .unwrap()
        .to_owned();
    (flow, etag)
}

#[tokio::test]
async fn a_flow_points_only_at_an_existing_mapping_set_version() {
    let app = App::new();
    let (flow, etag) = current_s3_flow(&app).await;
    let out = schema(&app).await;
    let r = dp(
        &app,
        Method::POST,
        "/mappingSets",
        Some(mapping_set(&out, &[("personalEmail.address", "email")])),
    )
    .await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    let set = |id: &str, v: u64| {
        json!([{"op": "add", "path": "/transformations/0/params/profileMapping",
                "value": {"mappingId": id, "mappingVersion": v}}])
    };
    let path = format!("/flows/{flow}");
    let missing = app.patch(&path, &etag, set(&id, 3)).await;
    assert_eq!(missing.status, 400, "{}", missing.text);
    assert!(
        missing.text.contains("has no version 3"),
        "{}",
        missing.text
    );
    let unknown = app
        .patch(&path, &etag, set("0123456789abcdef0123456789abcdef", 0))
        .await;
    assert_eq!(unknown.status, 400, "{}", unknown.text);
    let ok = app.patch(&path, &etag, set(&id, 0)).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    let stored = app.entity(&path).await;
    assert_eq!(
        stored["transformations"][0]["params"]["profileMapping"],
        json!({"mappingId": id, "mappingVersion": 0})
    );
}
