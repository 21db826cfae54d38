//! The emulator's dataset exports, through its router: a Data Lake source connection takes
//! `params.datasets` (and no base connection) and refuses a change of them; a dataset flow takes
//! `scheduleParams` (checked, `endTime` defaulted) and `transformations: []`, accepts
//! `replace /scheduleParams` and `replace /sourceConnectionIds` (to a Data Lake source
//! connection only), and the old source connection can be deleted only once no flow uses it.

use crate::support::router::*;
use serde_json::{Value, json};

const DATA_LAKE: &str = "23598e46-f560-407b-88d5-ea6207e49db0";
const S3_CURRENT: &str = "4fce964d-3f37-408f-9778-e597338a21ee";
const S3_DATASET_FLOW_SPEC: &str = "269ba276-16fc-47db-92b0-c1049a3c131f";
const S3_AUDIENCE_FLOW_SPEC: &str = "1a0514a6-33d4-4c7f-aff8-594799c47549";

fn data_lake_source(ids: &[&str]) -> Value {
    let datasets: Vec<Value> = ids
        .iter()
        .map(|i| json!({"dataSetId": i, "name": i}))
        .collect();
    json!({"name": "datasets", "connectionSpec": {"id": DATA_LAKE, "version": "1.0"},
           "params": {"datasets": datasets}})
}

async fn s3_dataset_target(app: &App) -> String {
    let base = app
        .create(
            "/connections",
            json!({"name": "s3", "connectionSpec": {"id": S3_CURRENT, "version": "1.0"},
                   "auth": {"specName": "Access Key",
                            "params": {"s3AccessKey": "AKIAIOSFODNN7EXAMPL2",
                                       "s3SecretKey": "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY01"}}}),
        )
        .await;
    app.create(
        "/targetConnections",
        json!({"name": "t", "baseConnectionId": base,
               "connectionSpec": {"id": S3_CURRENT, "version": "1.0"},
               "params": {"mode": "Server-to-server", "bucketName": "acme", "path": "x",
                          "datasetFileType": "PARQUET", "compression": "GZIP"}}),
    )
    .await
}

fn dataset_flow(source: &str, target: &str, schedule: Value) -> Value {
    json!({"name": "export", "flowSpec": {"id": S3_DATASET_FLOW_SPEC, "version": "1.0"},
           "sourceConnectionIds": [source], "targetConnectionIds": [target],
           "transformations": [], "scheduleParams": schedule})
}

#[tokio::test]
async fn data_lake_source_connections_take_datasets_that_never_change() {
    let app = App::new();
    for bad in [
        json!({"name": "x", "connectionSpec": {"id": DATA_LAKE, "version": "1.0"}}),
        json!({"name": "x", "connectionSpec": {"id": DATA_LAKE, "version": "1.0"}, "params": {"datasets": []}}),
        json!({"name": "x", "connectionSpec": {"id": DATA_LAKE, "version": "1.0"}, "params": {"datasets": [{"name": "no id"}]}}),
    ] {
        let r = app.post("/sourceConnections", bad.clone()).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
    }
    let id = app
        .create("/sourceConnections", data_lake_source(&["d1"]))
        .await;
    let stored = app.entity(&format!("/sourceConnections/{id}")).await;
    assert_eq!(stored["params"]["datasets"][0]["dataSetId"], "d1");
    let etag = stored["etag"].as_str().unwrap();
    let r = app
        .patch(
            &format!("/sourceConnections/{id}"),
            etag,
            json!([{"op": "replace", "path": "/params/datasets", "value": [{"dataSetId": "d2"}]}]),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(
        r.text.contains("cannot be changed after creation"),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn dataset_flows_check_schedule_params_and_swap_sources() {
    let app = App::new();
    let target = s3_dataset_target(&app).await;
    let source = app
        .create("/sourceConnections", data_lake_source(&["d1"]))
        .await;
    // Schedules AEP refuses, and scheduleParams on an audience flow spec.
    for bad in [
        json!({"startTime": 1_800_000_000, "interval": 2, "timeUnit": "hour"}),
        json!({"startTime": 1_800_000_000, "interval": 1, "timeUnit": "week"}),
        json!({"interval": 1, "timeUnit": "day"}),
    ] {
        let r = app
            .post("/flows", dataset_flow(&source, &target, bad.clone()))
            .await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
    }
    let mut audience_spec = dataset_flow(
        &source,
        &target,
        json!({"startTime": 1_800_000_000, "interval": 1, "timeUnit": "day"}),
    );
    audience_spec["flowSpec"]["id"] = json!(S3_AUDIENCE_FLOW_SPEC);
    assert_eq!(app.post("/flows", audience_spec).await.status, 400);

    let flow = app
        .create(
            "/flows",
            dataset_flow(
                &source,
                &target,
                json!({"startTime": 1_800_000_000, "interval": 1, "timeUnit": "day"}),
            ),
        )
        .await;
    let stored = app.entity(&format!("/flows/{flow}")).await;
    assert_eq!(stored["transformations"], json!([]));
    assert!(stored["scheduleParams"]["endTime"].as_i64().unwrap() > 1_800_000_000 - 1);
    let etag = stored["etag"].as_str().unwrap().to_owned();

    // A schedule change.
    let r = app
        .patch(
            &format!("/flows/{flow}"),
            &etag,
            json!([{"op": "replace", "path": "/scheduleParams",
                    "value": {"startTime": 1_800_000_000, "interval": 3, "timeUnit": "hour"}}]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let stored = app.entity(&format!("/flows/{flow}")).await;
    assert_eq!(stored["scheduleParams"]["interval"], 3);
    let etag = stored["etag"].as_str().unwrap().to_owned();

    // The old source connection cannot go while the flow uses it.
    let r = app
        .api(
            axum::http::Method::DELETE,
            &format!("/sourceConnections/{source}"),
            None,
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("1447"), "{}", r.text);

    // Swapping to a Profile store source connection is refused; to a Data Lake one accepted.
    let profile = app
        .create(
            "/sourceConnections",
            json!({"name": "p", "connectionSpec": {"id": PROFILE, "version": "1.0"}}),
        )
        .await;
    let swap = |to: &str| json!([{"op": "replace", "path": "/sourceConnectionIds", "value": [to]}]);
    let r = app
        .patch(&format!("/flows/{flow}"), &etag, swap(&profile))
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = app
        .patch(&format!("/flows/{flow}"), &etag, swap("no-such-id"))
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    let new_source = app
        .create("/sourceConnections", data_lake_source(&["d1", "d2"]))
        .await;
    let r = app
        .patch(&format!("/flows/{flow}"), &etag, swap(&new_source))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let stored = app.entity(&format!("/flows/{flow}")).await;
    assert_eq!(stored["sourceConnectionIds"], json!([new_source]));
    assert_eq!(
        stored["inheritedAttributes"]["sourceConnections"][0]["id"],
        json!(new_source)
    );
    let r = app
        .api(
            axum::http::Method::DELETE,
            &format!("/sourceConnections/{source}"),
            None,
        )
        .await;
    assert!(r.status == 202 || r.status == 204, "{}", r.text);
}
