//! `fetch` against a mock Flow Service: list calls only, paged, concurrent; the
//! `upsToCampaign` look-up only when asked; a GET per flow only when the list omits
//! `transformations`.

use crate::support::fake_server::*;
use destctl::fetch::{
    DESTINATION_FLOW_FILTER, FetchOptions, destination_spec_filter, fetch, profile_store_filter,
    source_connection_filter,
};
use destctl::wire::Resource;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Source-side objects per collection, of the source connection spec below.
const SOURCE_SIDE: usize = 250;

/// Amazon S3 as a source.
const SOURCE_SPEC: &str = "ecadc60c-7455-4d87-84dc-2a0e293d997b";

/// A sandbox of `flows` destination flows (plus one non-destination flow the filter must
/// drop), each with its four connections, paged by 100.
fn sandbox(flows: usize, with_transformations: bool) -> BTreeMap<&'static str, Vec<Value>> {
    let mut m: BTreeMap<&'static str, Vec<Value>> = BTreeMap::new();
    for i in 0..flows {
        let name = format!("dest-{i}");
        let mut flow = json!({"id": format!("flow-{i}"), "etag": format!("\"f{i}\""),
            "name": name, "description": format!("managed [destctl:{name}]"),
            "createdAt": 1000 + i,
            "inheritedAttributes": {"properties": {"isDestinationFlow": true}}});
        if with_transformations {
            flow["transformations"] = json!([{"name": "GeneralTransform", "params": {}}]);
        }
        m.entry("flows").or_default().push(flow);
        m.entry("connections")
            .or_default()
            .push(json!({"id": format!("pc-{i}"),
            "etag": "\"1\"", "description": format!("[destctl:{name}]"),
            "connectionSpec": {"id": "8a9c3494-9708-43d7-ae3f-cda01e5030e1", "version": "1.0"}}));
        m.entry("connections")
            .or_default()
            .push(json!({"id": format!("c-{i}"),
            "etag": "\"1\"", "description": format!("[destctl:{name}]"),
            "connectionSpec": {"id": "4890fc95-5a1f-4983-94bb-e060c08e3f81", "version": "1.0"}}));
        m.entry("sourceConnections")
            .or_default()
            .push(json!({"id": format!("s-{i}"),
            "etag": "\"1\"", "description": format!("[destctl:{name}]"),
            "connectionSpec": {"id": "8a9c3494-9708-43d7-ae3f-cda01e5030e1", "version": "1.0"}}));
        m.entry("targetConnections")
            .or_default()
            .push(json!({"id": format!("t-{i}"),
            "etag": "\"1\"", "description": format!("[destctl:{name}]"),
            "connectionSpec": {"id": "4890fc95-5a1f-4983-94bb-e060c08e3f81", "version": "1.0"}}));
    }
    // The source side of a busy sandbox (ingestion from S3, say): the filters must leave it out.
    for i in 0..SOURCE_SIDE {
        for collection in ["connections", "sourceConnections", "targetConnections"] {
            m.entry(collection)
                .or_default()
                .push(json!({"id": format!("src-{collection}-{i}"),
                "etag": "\"1\"", "description": "ingestion",
                "connectionSpec": {"id": SOURCE_SPEC, "version": "1.0"}}));
        }
    }
    m.entry("flows").or_default().push(json!({"id": "source-flow", "etag": "\"x\"",
        "inheritedAttributes": {"properties": {"isDestinationFlow": false}}, "transformations": []}));
    // An unmanaged account.
    m.entry("connections")
        .or_default()
        .push(json!({"id": "other", "etag": "\"1\"",
        "description": "made by hand",
        "connectionSpec": {"id": "4890fc95-5a1f-4983-94bb-e060c08e3f81", "version": "1.0"}}));
    m.insert(
        "flowSpecs",
        vec![
            json!({"id": "campaign-spec-id", "name": "upsToCampaign"}),
            json!({"id": "other-spec", "name": "upsToEloqua"}),
        ],
    );
    m
}

fn serve(data: BTreeMap<&'static str, Vec<Value>>) -> impl Fn(&Seen, usize) -> Reply {
    move |s, _| {
        let rest = s.path.strip_prefix(FS).unwrap().trim_start_matches('/');
        let mut parts = rest.split('/');
        let collection = parts.next().unwrap();
        let all = data.get(collection).cloned().unwrap_or_default();
        if let Some(id) = parts.next() {
            return match all.iter().find(|v| v["id"] == id) {
                Some(v) => {
                    let mut v = v.clone();
                    v["transformations"] = json!([{"name": "from-get", "params": {}}]);
                    Reply::json(200, json!({"items": [v]}))
                }
                None => Reply::json(404, json!({"errorMessage": "not found"})),
            };
        }
        let mut filtered: Vec<Value> = all;
        for p in s.params("property") {
            if p == DESTINATION_FLOW_FILTER {
                filtered.retain(|v| {
                    v["inheritedAttributes"]["properties"]["isDestinationFlow"] == true
                });
            } else if let Some(ids) = p.strip_prefix("connectionSpec.id==") {
                let ids: Vec<&str> = ids.split(',').collect();
                filtered.retain(|v| {
                    v["connectionSpec"]["id"]
                        .as_str()
                        .is_some_and(|id| ids.contains(&id))
                });
            } else if let Some(name) = p.strip_prefix("name==") {
                filtered.retain(|v| v["name"] == name);
            } else {
                panic!("unexpected filter {p}");
            }
        }
        let limit: usize = s.param("limit").unwrap().parse().unwrap();
        assert!(limit <= 100);
        let start: usize = s
            .param("continuationToken")
            .map(|t| t.parse().unwrap())
            .unwrap_or(0);
        let end = (start + limit).min(filtered.len());
        let links = if end < filtered.len() {
            json!({"next": {"href": format!("/{collection}?continuationToken={end}")}})
        } else {
            json!({})
        };
        Reply::json(200, json!({"items": filtered[start..end], "_links": links}))
    }
}

fn pages(n: usize) -> usize {
    n.div_ceil(100).max(1)
}

#[tokio::test]
async fn lists_everything_with_list_calls_only() {
    const F: usize = 230;
    let mock = Mock::start(serve(sandbox(F, true))).await;
    let c = client(&mock.url(), ready_token(), 0);
    let live = fetch(&c, &FetchOptions::default()).await.unwrap();
    assert_eq!(live.flows.len(), F);
    assert_eq!(live.connections.len(), 2 * F + 1);
    assert_eq!(live.source_connections.len(), F);
    assert_eq!(live.target_connections.len(), F);
    assert_eq!(live.campaign_flow_spec_id, None);
    assert!(live.flows.iter().all(|f| f.resource == Resource::Flow));
    assert_eq!(live.flows[7].marker.as_ref().unwrap().name, "dest-7");

    let managed = live.managed();
    assert_eq!(managed.len(), F);
    let d = &managed["dest-3"];
    assert_eq!(d.flow.as_ref().unwrap().id.0, "flow-3");
    assert_eq!(d.profile_connection.as_ref().unwrap().id.0, "pc-3");
    assert_eq!(d.connection.as_ref().unwrap().id.0, "c-3");
    assert_eq!(d.source_connection.as_ref().unwrap().id.0, "s-3");
    assert_eq!(d.target_connection.as_ref().unwrap().id.0, "t-3");

    let calls = mock.seen();
    assert!(calls.iter().all(|s| s.method == "GET"));
    assert!(calls.iter().all(|s| s.param("limit") == Some("100")));
    for s in calls.iter().filter(|s| s.path.ends_with("/flows")) {
        assert_eq!(s.params("property"), [DESTINATION_FLOW_FILTER]);
    }
    // Base connections: two filtered lists; source connections of the Profile store and Data Lake, target
    // connections of the destination specs. The source side is never listed.
    let profile = profile_store_filter();
    let destination = destination_spec_filter();
    assert_eq!(destination.matches(',').count(), 12, "{destination}");
    let with = |collection: &str, filter: &str| {
        calls
            .iter()
            .filter(|s| s.path.ends_with(collection) && s.params("property") == [filter])
            .count()
    };
    let filtered = with("/connections", &profile) + with("/connections", &destination);
    let all_connections = calls
        .iter()
        .filter(|s| s.path.ends_with("/connections"))
        .count();
    assert_eq!(filtered, all_connections);
    assert_eq!(with("/connections", &profile), pages(F));
    assert_eq!(with("/connections", &destination), pages(F + 1));
    // Source connections: the Profile store's and the Data Lake's (dataset exports).
    assert_eq!(
        with("/sourceConnections", &source_connection_filter()),
        pages(F)
    );
    assert_eq!(with("/targetConnections", &destination), pages(F));
    assert!(
        live.connections
            .iter()
            .chain(&live.source_connections)
            .chain(&live.target_connections)
            .all(|e| !e.id.0.starts_with("src-"))
    );
    // No per-object GET, no flow spec look-up.
    assert!(
        calls.iter().all(|s| s.path.matches('/').count() == 4),
        "{:?}",
        calls.iter().map(|s| &s.path).collect::<Vec<_>>()
    );
    let expected = pages(F) + pages(F) + pages(F + 1) + pages(F) + pages(F);
    assert_eq!(calls.len(), expected);
    assert!(calls.len() <= 4 * pages(F) + 4, "budget");
}

#[tokio::test]
async fn looks_up_the_campaign_flow_spec_when_asked() {
    let mock = Mock::start(serve(sandbox(3, true))).await;
    let c = client(&mock.url(), ready_token(), 0);
    let live = fetch(
        &c,
        &FetchOptions {
            campaign_flow_spec: true,
        },
    )
    .await
    .unwrap();
    assert_eq!(
        live.campaign_flow_spec_id.as_deref(),
        Some("campaign-spec-id")
    );
    let spec_calls: Vec<_> = mock
        .seen()
        .into_iter()
        .filter(|s| s.path.ends_with("/flowSpecs"))
        .collect();
    assert_eq!(spec_calls.len(), 1);
    assert_eq!(spec_calls[0].params("property"), ["name==upsToCampaign"]);
    assert_eq!(mock.seen().len(), 6);
}

#[tokio::test]
async fn falls_back_to_a_get_per_flow_listed_without_transformations() {
    const F: usize = 12;
    let mock = Mock::start(serve(sandbox(F, false))).await;
    let c = client(&mock.url(), ready_token(), 0);
    let live = fetch(&c, &FetchOptions::default()).await.unwrap();
    assert_eq!(live.flows.len(), F);
    for f in &live.flows {
        let first = f.flow().unwrap().transformations.as_ref().unwrap();
        let name = first.typed().unwrap()[0].typed().unwrap().name.as_deref();
        assert_eq!(name, Some("from-get"), "{}", f.id.0);
    }
    let gets = mock
        .seen()
        .into_iter()
        .filter(|s| s.path.contains("/flows/"))
        .count();
    assert_eq!(gets, F);
    assert_eq!(mock.seen().len(), 5 + F);
}

#[tokio::test]
async fn a_failing_list_fails_the_fetch() {
    let mock = Mock::start(|s, _| {
        if s.path.ends_with("/targetConnections") {
            Reply::json(
                403,
                json!({"error_code": "403027", "message": "User region is missing"}),
            )
        } else {
            Reply::json(200, json!({"items": [], "_links": {}}))
        }
    })
    .await;
    let c = client(&mock.url(), ready_token(), 0);
    let err = fetch(&c, &FetchOptions::default()).await.unwrap_err();
    assert_eq!(err.status(), Some(403));
}

#[tokio::test]
async fn a_listed_flow_without_etag_fails_the_fetch_naming_the_flow() {
    let mut data = sandbox(3, true);
    data.get_mut("flows").unwrap()[1]
        .as_object_mut()
        .unwrap()
        .remove("etag");
    let mock = Mock::start(serve(data)).await;
    let c = client(&mock.url(), ready_token(), 0);
    let err = fetch(&c, &FetchOptions::default()).await.unwrap_err();
    let chain = format!("{err} {:?}", err);
    assert!(
        chain.contains("flow flow-1 has no string `etag`"),
        "{chain}"
    );
}

#[tokio::test]
async fn the_cli_says_in_verbose_output_that_it_fell_back_to_gets() {
    const F: usize = 3;
    let mock = Mock::start(serve(sandbox(F, false))).await;
    let dir = crate::support::tempdir();
    crate::support::schedule_only(&dir);
    let run = |verbose: bool| {
        let mut cmd = crate::support::cli::Cli::in_dir(&dir);
        if verbose {
            cmd.arg("-v");
        }
        cmd.args(["plan", "m", "--endpoint", &mock.url()])
            .env("AEP_ACCESS_TOKEN", TOKEN)
            .env("AEP_CLIENT_ID", CLIENT_ID)
            .env("AEP_ORG_ID", ORG_ID);
        cmd.run()
    };
    let message = "the flow list came without transformations; reading those flows one by one";
    let out = run(true).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains(message), "{stderr}");
    assert!(stderr.contains(&format!("flows={F}")), "{stderr}");
    assert!(!stderr.contains(TOKEN), "{stderr}");
    let gets = mock
        .seen()
        .into_iter()
        .filter(|s| s.path.contains("/flows/"))
        .count();
    assert_eq!(gets, F);
    // Not verbose: not said.
    let out = run(false).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains(message), "{stderr}");
    dir.close();
}
