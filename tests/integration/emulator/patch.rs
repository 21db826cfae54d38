//! Issue 3, points 6, 7 and 8: PATCH on the four resources (If-Match, RFC 6902 atomicity, op
//! rules, flow rules, server-side selector expansion) and flow actions.

use crate::support::router::*;
use axum::http::Method;
use serde_json::{Value, json};

async fn flow(app: &App, c: &Chain) -> Value {
    app.entity(&format!("/flows/{}", c.flow)).await
}

#[tokio::test]
async fn if_match_is_required_and_must_match_exactly() {
    let app = App::new();
    let c = app.flow_chain("f").await;
    let path = format!("/flows/{}", c.flow);
    let ops = json!([{"op": "replace", "path": "/name", "value": "renamed"}]);
    let r = app.api(Method::PATCH, &path, Some(ops.clone())).await;
    let msg = assert_flow_error(&r, 400, 1403);
    assert!(msg.contains("If-Match"));

    let unquoted = c.etag.trim_matches('"').to_owned();
    let r = app.patch(&path, &unquoted, ops.clone()).await;
    assert_flow_error(&r, 412, 1404);
    let r = app
        .patch(
            &path,
            "\"00000000-0000-0200-0000-000000000000\"",
            ops.clone(),
        )
        .await;
    let msg = assert_flow_error(&r, 412, 1404);
    assert_eq!(
        msg,
        format!(
            "Supplied version=[\"00000000-0000-0200-0000-000000000000\"] does not match the current version on entity=[{}]",
            c.etag
        )
    );
    assert_eq!(r.body["title"], "Precondition Failed");

    let r = app.patch(&path, &c.etag, ops.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["id"], c.flow.as_str());
    let new_etag = r.body["etag"].as_str().unwrap().to_owned();
    assert_ne!(new_etag, c.etag);
    let f = flow(&app, &c).await;
    assert_eq!(f["name"], "renamed");
    assert_eq!(f["etag"], new_etag.as_str());
    assert_eq!(f["version"], new_etag.as_str());
    assert_eq!(f["lastOperation"]["operation"], "update");
    assert_eq!(f["lastOperation"]["ops"], ops);
    assert!(f["updatedAt"].as_i64() >= f["createdAt"].as_i64());
    // The old etag is now stale.
    assert_flow_error(&app.patch(&path, &c.etag, ops).await, 412, 1404);
    assert_flow_error(
        &app.patch(
            "/flows/nope",
            &c.etag,
            json!([{"op": "add", "path": "/name", "value": "x"}]),
        )
        .await,
        404,
        1439,
    );
}

#[tokio::test]
async fn activation_patch_expands_selectors() {
    let app = App::new();
    let c = app.flow_chain("f").await;
    let path = format!("/flows/{}", c.flow);
    let r = app
        .patch(&path, &c.etag, json!([
            {"op": "ADD", "path": SEG_PATH, "value": segment("s1")},
            {"op": "Add", "path": SEG_PATH, "value": segment("s2")},
            {"op": "add", "path": PROF_PATH, "value": attribute("person.name.firstName")},
            {"op": "add", "path": PROF_PATH, "value": attribute("personalEmail.address")},
            {"op": "add", "path": "/transformations/0/params/profileSelectors/mandatoryFields", "value": ["person.name.firstName"]},
            {"op": "add", "path": "/transformations/0/params/profileSelectors/primaryFields",
             "value": [{"fieldType": "ATTRIBUTE", "attributePath": "personalEmail.address"}]}
        ]))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let f = flow(&app, &c).await;
    let params = &f["transformations"][0]["params"];
    let segs = params["segmentSelectors"]["selectors"].as_array().unwrap();
    assert_eq!(segs.len(), 2);
    let t = segs[0]["value"]["createTime"].as_str().unwrap();
    assert!(
        t.parse::<i64>().unwrap() > 1_600_000_000 && t.len() == 10,
        "epoch seconds as a string: {t}"
    );
    assert_eq!(
        segs[0]["value"]["updateTime"],
        segs[0]["value"]["createTime"]
    );
    assert_eq!(
        segs[1]["value"]["schedule"],
        segment("s2")["value"]["schedule"]
    );
    let p0 = &params["profileSelectors"]["selectors"][0]["value"];
    assert_eq!(
        *p0,
        json!({"path": "person.name.firstName", "operator": "EXISTS", "mapping": {
            "sourceType": "text/x.schema-path", "source": "person.name.firstName",
            "destination": "person.name.firstName", "identity": false, "primaryIdentity": false,
            "functionVersion": 0, "copyModeMapping": false,
            "sourceAttribute": "person.name.firstName", "destinationXdmPath": "person.name.firstName"}})
    );
    assert_eq!(
        params["profileSelectors"]["mandatoryFields"],
        json!(["person.name.firstName"])
    );
    insta::assert_json_snapshot!("activated_flow", normalize(&f));
    let dest = app.entity(&format!("/connections/{}", c.dest)).await;
    insta::assert_json_snapshot!("destination_base_connection", normalize(&dest));
    let target = app
        .entity(&format!("/targetConnections/{}", c.target))
        .await;
    insta::assert_json_snapshot!("target_connection", normalize(&target));
}

#[tokio::test]
async fn update_time_moves_only_for_the_changed_selector() {
    let app = App::new();
    let c = app.flow_chain("f").await;
    let path = format!("/flows/{}", c.flow);
    // Stored selectors with old server times: written out of band.
    let mut old = segment("s1");
    let mut old2 = segment("s2");
    let etag = app
        .patch(
            &path,
            &c.etag,
            json!([{"op": "add", "path": SEG_PATH, "value": old.clone()},
                                       {"op": "add", "path": SEG_PATH, "value": old2.clone()}]),
        )
        .await
        .body["etag"]
        .as_str()
        .unwrap()
        .to_owned();
    let f = flow(&app, &c).await;
    let stored = f["transformations"][0]["params"]["segmentSelectors"]["selectors"].clone();
    // Resend the whole selector (UDD): unchanged s1 keeps its times, s2 changes schedule.
    old["value"]["createTime"] = json!("1000000000");
    old["value"]["updateTime"] = json!("1000000000");
    old2 = stored[1].clone();
    old2["value"]["schedule"]["frequency"] = json!("DAILY");
    let r = app
        .patch(&path, &etag, json!([
            {"op": "replace", "path": "/transformations/0/params/segmentSelectors/selectors/0", "value": old},
            {"op": "replace", "path": "/transformations/0/params/segmentSelectors/selectors/1", "value": old2}
        ]))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let after =
        flow(&app, &c).await["transformations"][0]["params"]["segmentSelectors"]["selectors"]
            .clone();
    assert_eq!(
        after[0], stored[0],
        "client-sent times are ignored; unchanged selector keeps its own"
    );
    assert_eq!(
        after[1]["value"]["createTime"],
        stored[1]["value"]["createTime"]
    );
    assert_eq!(after[1]["value"]["schedule"]["frequency"], "DAILY");
    // updateTime is the current second, never before the original one.
    assert!(
        after[1]["value"]["updateTime"].as_str().unwrap()
            >= stored[1]["value"]["updateTime"].as_str().unwrap()
    );
}

#[tokio::test]
async fn unsupported_ops_bad_paths_and_rule_violations_leave_state_unchanged() {
    let app = App::new();
    let c = app.flow_chain("f").await;
    let path = format!("/flows/{}", c.flow);
    let ok = app
        .patch(
            &path,
            &c.etag,
            json!([{"op": "add", "path": SEG_PATH, "value": segment("s1")}]),
        )
        .await;
    let etag = ok.body["etag"].as_str().unwrap().to_owned();
    let before = flow(&app, &c).await;

    for op in ["move", "copy", "test", "MOVE"] {
        let r = app
            .patch(
                &path,
                &etag,
                json!([{"op": op, "from": "/name", "path": "/description", "value": "x"}]),
            )
            .await;
        let msg = assert_flow_error(&r, 400, 1434);
        assert!(msg.contains(op), "{msg}");
    }
    let mut bad_mode = segment("s2");
    bad_mode["value"]["schedule"]["frequency"] = json!("EVERY_3_HOURS");
    let mut no_start = segment("s2");
    no_start["value"]["schedule"]
        .as_object_mut()
        .unwrap()
        .remove("startTime");
    let mut no_macro = segment("s2");
    no_macro["value"]["filenameTemplate"] = json!("%SEGMENT_ID%_export");
    let mut bad_type = segment("s2");
    bad_type["type"] = json!("EXTERNAL_SEGMENT");
    let mut capital_n = segment("s2");
    let t = capital_n["value"]
        .as_object_mut()
        .unwrap()
        .remove("filenameTemplate")
        .unwrap();
    capital_n["value"]["fileNameTemplate"] = t;
    let mut half_hour = segment("s2");
    half_hour["value"]["schedule"]["startTime"] = json!("17:30");
    let cases = vec![
        (
            json!([{"op": "add", "path": SEG_PATH, "value": bad_mode}]),
            "not allowed with exportMode",
        ),
        (
            json!([{"op": "add", "path": SEG_PATH, "value": no_start}]),
            "SCHEDULED needs a startTime",
        ),
        (
            json!([{"op": "add", "path": SEG_PATH, "value": no_macro}]),
            "%DESTINATION_NAME%",
        ),
        (
            json!([{"op": "add", "path": SEG_PATH, "value": segment("s1")}]),
            "more than once",
        ),
        (
            json!([{"op": "add", "path": SEG_PATH, "value": bad_type}]),
            "unknown selector type",
        ),
        (
            json!([{"op": "add", "path": SEG_PATH, "value": capital_n}]),
            "spelled filenameTemplate",
        ),
        (
            json!([{"op": "add", "path": SEG_PATH, "value": half_hour}]),
            "not a full hour",
        ),
        (
            json!([{"op": "add", "path": PROF_PATH, "value": {"type": "XDM", "value": {"path": "a"}}}]),
            "unknown selector type",
        ),
        (
            json!([{"op": "add", "path": "/transformations/0/params/profileSelectors/mandatoryFields", "value": ["not.selected"]}]),
            "not one of",
        ),
        (
            json!([{"op": "add", "path": "/transformations/0/params/mandatoryFields", "value": []}]),
            "inside profileSelectors",
        ),
        (
            json!([{"op": "remove", "path": "/transformations/0/params/segmentSelectors/selectors/5"}]),
            "patch instruction",
        ),
        (
            json!([{"op": "replace", "path": "/nope/deeper", "value": 1}]),
            "patch instruction",
        ),
        (
            json!([{"op": "add", "path": SEG_PATH, "value": segment("s9")}, {"op": "remove", "path": "/missing"}]),
            "patch instruction",
        ),
        (
            json!([{"op": "replace", "path": "/state", "value": "disabled"}]),
            "state",
        ),
        (
            json!([{"op": "replace", "path": "/flowSpec/id", "value": "x"}]),
            "flowSpec",
        ),
        (
            json!([{"op": "add", "path": "/scheduleParams", "value": {}}]),
            "unknown field",
        ),
        (json!([{"op": "add", "path": "/name"}]), "value"),
        (json!({"op": "add"}), "array"),
    ];
    for (ops, needle) in cases {
        let r = app.patch(&path, &etag, ops.clone()).await;
        let msg = assert_flow_error(&r, 400, 1455);
        assert!(msg.contains(needle), "{ops}: {msg}");
        assert_eq!(flow(&app, &c).await, before, "{ops} changed the flow");
    }
    assert_flow_error(&app.patch(&path, &etag, json!([])).await, 400, 1405);
    // A valid patch still goes through with the unchanged etag.
    let r = app.patch(&path, &etag, json!([{"op": "remove", "path": "/transformations/0/params/segmentSelectors/selectors/0", "value": {"type": "PLATFORM_SEGMENT", "value": {}}}])).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn removals_apply_sequentially() {
    let app = App::new();
    let c = app.flow_chain("f").await;
    let path = format!("/flows/{}", c.flow);
    let r = app
        .patch(
            &path,
            &c.etag,
            json!([
            {"op": "add", "path": SEG_PATH, "value": segment("a")},
            {"op": "add", "path": SEG_PATH, "value": segment("b")},
            {"op": "add", "path": SEG_PATH, "value": segment("c")}]),
        )
        .await;
    let etag = r.body["etag"].as_str().unwrap().to_owned();
    let base = "/transformations/0/params/segmentSelectors/selectors";
    let r = app
        .patch(&path, &etag, json!([{"op": "remove", "path": format!("{base}/0")}, {"op": "remove", "path": format!("{base}/1")}]))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let left =
        flow(&app, &c).await["transformations"][0]["params"]["segmentSelectors"]["selectors"]
            .clone();
    let ids: Vec<&str> = left
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["value"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["b"],
        "RFC 6902: the second remove sees the shifted array"
    );
}

#[tokio::test]
async fn connection_patches() {
    let app = App::new();
    let c = app.flow_chain("f").await;
    let dest_path = format!("/connections/{}", c.dest);
    let dest = app.entity(&dest_path).await;
    let etag = dest["etag"].as_str().unwrap();
    let r = app
        .patch(
            &dest_path,
            etag,
            json!([{"op": "replace", "path": "/auth/params",
            "value": {"accessId": "NEW-ID", "secretKey": "NEW-SECRET"}}]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let after = app.entity(&dest_path).await;
    assert_eq!(after["auth"]["params"]["secretKey"], "***");
    assert!(after["auth"]["params"]["authorizedDate"].is_string());
    assert_ne!(after["etag"], dest["etag"]);
    let etag = after["etag"].as_str().unwrap();
    let r = app
        .patch(
            &dest_path,
            etag,
            json!([{"op": "replace", "path": "/connectionSpec/id", "value": S3}]),
        )
        .await;
    assert_flow_error(&r, 400, 1414);
    let r = app
        .patch(
            &dest_path,
            etag,
            json!([{"op": "remove", "path": "/auth/params/accessId"}]),
        )
        .await;
    let msg = assert_flow_error(&r, 400, 1455);
    assert!(msg.contains("accessId"), "{msg}");
    let r = app.patch(&dest_path, etag, json!([{"op": "replace", "path": "/description", "value": "new [destctl:f credentials=2]"}])).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        app.entity(&dest_path).await["description"],
        "new [destctl:f credentials=2]"
    );

    let tpath = format!("/targetConnections/{}", c.target);
    let t = app.entity(&tpath).await;
    let tetag = t["etag"].as_str().unwrap();
    let r = app
        .patch(
            &tpath,
            tetag,
            json!([{"op": "replace", "path": "/params/mode", "value": "FTP"}]),
        )
        .await;
    let msg = assert_flow_error(&r, 400, 1455);
    assert!(msg.contains("remotePath"), "{msg}");
    let r = app
        .patch(
            &tpath,
            tetag,
            json!([{"op": "replace", "path": "/params",
            "value": {"mode": "FTP", "remotePath": "/out", "format": "CSV"}}]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(app.entity(&tpath).await["params"]["remotePath"], "/out");

    let spath = format!("/sourceConnections/{}", c.source);
    let s = app.entity(&spath).await;
    let r = app
        .patch(
            &spath,
            s["etag"].as_str().unwrap(),
            json!([{"op": "replace", "path": "/name", "value": "ups"}]),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = app
        .patch(
            &spath,
            r.body["etag"].as_str().unwrap(),
            json!([{"op": "replace", "path": "/baseConnectionId", "value": "x"}]),
        )
        .await;
    assert_flow_error(&r, 400, 1455);
}

#[tokio::test]
async fn enable_and_disable_actions() {
    let app = App::new();
    let c = app.flow_chain("f").await;
    let action = |op: &str| format!("/flows/{}/action?op={op}", c.flow);
    let r = app.api(Method::POST, &action("enable"), None).await;
    let msg = assert_flow_error(&r, 400, 1422);
    assert!(msg.contains("enabled"), "{msg}");

    let r = app.api(Method::POST, &action("disable"), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let e1 = r.body["etag"].as_str().unwrap().to_owned();
    assert_ne!(e1, c.etag);
    let f = app.entity(&format!("/flows/{}", c.flow)).await;
    assert_eq!(f["state"], "disabled");
    assert_eq!(f["etag"], e1.as_str());
    assert_flow_error(
        &app.api(Method::POST, &action("disable"), None).await,
        400,
        1422,
    );
    assert_flow_error(
        &app.api(Method::POST, &action("FINALIZE"), None).await,
        400,
        1422,
    );
    assert_flow_error(
        &app.api(Method::POST, &action("explode"), None).await,
        400,
        1451,
    );
    assert_flow_error(
        &app.api(Method::POST, &format!("/flows/{}/action", c.flow), None)
            .await,
        400,
        1451,
    );
    assert_flow_error(
        &app.api(Method::POST, "/flows/nope/action?op=enable", None)
            .await,
        404,
        1439,
    );

    let r = app.api(Method::POST, &action("ENABLE"), None).await;
    assert_eq!(r.status, 200);
    assert_ne!(r.body["etag"], e1.as_str());
    assert_eq!(
        app.entity(&format!("/flows/{}", c.flow)).await["state"],
        "enabled"
    );
}
