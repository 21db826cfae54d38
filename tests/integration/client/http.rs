//! The Flow Service client against mock servers on loopback: headers, tokens, retries, errors,
//! paging, writes.

use crate::support::fake_server::*;
use destctl::client::{ClientError, ErrorShape, FlowAction};
use destctl::wire::{EntityId, Etag, PatchOp, PatchOpKind, Resource};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn ok_items(items: serde_json::Value) -> Reply {
    Reply::json(200, json!({"items": items, "_links": {}}))
}

#[tokio::test]
async fn every_call_carries_the_required_headers() {
    let mock = Mock::start(|s, _| match (s.method.as_str(), s.path.as_str()) {
        ("POST", "/ims/token/v3") => token_reply(TOKEN, 86_399),
        ("GET", _) => ok_items(json!([])),
        ("POST", _) => Reply::json(201, json!({"id": "c1", "etag": "\"e1\""})),
        ("PATCH", _) => Reply::json(200, json!({"id": "f1", "etag": "\"e2\""})),
        _ => Reply::empty(204),
    })
    .await;
    let c = client(&mock.url(), creds(&mock.url()), 0);
    c.list("/flows", &[]).await.unwrap();
    c.create(Resource::Connection, &json!({"name": "x"}))
        .await
        .unwrap();
    let op = PatchOp {
        op: PatchOpKind::Replace,
        path: "/name".into(),
        value: Some(json!("n")),
    };
    c.patch(
        Resource::Flow,
        &EntityId("f1".into()),
        &Etag("\"e1\"".into()),
        std::slice::from_ref(&op),
    )
    .await
    .unwrap();
    c.delete(Resource::Flow, &EntityId("f1".into()))
        .await
        .unwrap();

    let calls = mock.api_calls();
    assert_eq!(calls.len(), 4);
    for s in &calls {
        assert_eq!(s.header("authorization"), Some(&*format!("Bearer {TOKEN}")));
        assert_eq!(s.header("x-api-key"), Some(CLIENT_ID));
        assert_eq!(s.header("x-gw-ims-org-id"), Some(ORG_ID));
        assert_eq!(s.header("x-sandbox-name"), Some("dev"));
        assert_eq!(s.header("accept"), Some("application/json"));
        assert_eq!(
            s.header("user-agent"),
            Some(&*format!("destctl/{}", env!("CARGO_PKG_VERSION")))
        );
        assert!(s.path.starts_with(FS), "{}", s.path);
        let has_body = matches!(s.method.as_str(), "POST" | "PATCH");
        assert_eq!(
            s.header("content-type"),
            has_body.then_some("application/json"),
            "{} {}",
            s.method,
            s.path
        );
    }
    assert_eq!(calls[2].header("if-match"), Some("\"e1\""));
    let sent: serde_json::Value = serde_json::from_slice(&calls[2].body).unwrap();
    assert_eq!(
        sent,
        json!([{"op": "replace", "path": "/name", "value": "n"}])
    );
    assert_eq!(calls[3].method, "DELETE");
    assert_eq!(calls[3].path, format!("{FS}/flows/f1"));
}

#[tokio::test]
async fn ims_token_is_requested_once_and_shared_by_concurrent_callers() {
    let mock = Mock::start(|s, _| {
        if s.path == "/ims/token/v3" {
            token_reply(TOKEN, 86_399).after(Duration::from_millis(150))
        } else {
            ok_items(json!([]))
        }
    })
    .await;
    let c = client(&mock.url(), creds(&mock.url()), 0);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let c = c.clone();
        tasks.push(tokio::spawn(
            async move { c.list("/connections", &[]).await },
        ));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    c.list("/connections", &[]).await.unwrap();
    assert_eq!(mock.token_calls(), 1);
    assert_eq!(c.tokens_minted(), 1);
    assert_eq!(mock.api_calls().len(), 21);

    let token_req = mock
        .seen()
        .into_iter()
        .find(|s| s.path == "/ims/token/v3")
        .unwrap();
    assert_eq!(
        token_req.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let form = token_req.form();
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["client_id"], CLIENT_ID);
    assert_eq!(form["client_secret"], CLIENT_SECRET);
    assert_eq!(form["scope"], "openid,AdobeID");
    assert_eq!(form.len(), 4);
}

#[tokio::test]
async fn a_token_near_expiry_is_refreshed() {
    let minted = Arc::new(AtomicUsize::new(0));
    let m = minted.clone();
    let mock = Mock::start(move |s, _| {
        if s.path == "/ims/token/v3" {
            let n = m.fetch_add(1, Ordering::SeqCst);
            // 2 s lifetime: refreshed 1 s before expiry.
            token_reply(&format!("tok-{n}"), 2)
        } else {
            ok_items(json!([]))
        }
    })
    .await;
    let c = client(&mock.url(), creds(&mock.url()), 0);
    c.list("/flows", &[]).await.unwrap();
    c.list("/flows", &[]).await.unwrap();
    assert_eq!(mock.token_calls(), 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    c.list("/flows", &[]).await.unwrap();
    assert_eq!(mock.token_calls(), 2);
    let auths: Vec<String> = mock
        .api_calls()
        .iter()
        .map(|s| s.header("authorization").unwrap().to_owned())
        .collect();
    assert_eq!(auths, ["Bearer tok-0", "Bearer tok-0", "Bearer tok-1"]);
}

#[tokio::test]
async fn a_rejected_token_is_replaced_once() {
    let mock = Mock::start(|s, i| {
        if s.path == "/ims/token/v3" {
            token_reply(&format!("tok-{i}"), 86_399)
        } else if s.header("authorization") == Some("Bearer tok-0") {
            Reply::json(
                401,
                json!({"error_code": "401013", "message": "Oauth token is not valid"}),
            )
        } else {
            ok_items(json!([{"id": "a"}]))
        }
    })
    .await;
    let c = client(&mock.url(), creds(&mock.url()), 0);
    assert_eq!(c.list("/flows", &[]).await.unwrap().len(), 1);
    assert_eq!(mock.token_calls(), 2);

    // A service that rejects every token: one renewal, then the typed error.
    let mock = Mock::start(|s, _| {
        if s.path == "/ims/token/v3" {
            token_reply(TOKEN, 86_399)
        } else {
            Reply::json(
                401,
                json!({"error_code": 401013, "message": "Oauth token is not valid"}),
            )
        }
    })
    .await;
    let c = client(&mock.url(), creds(&mock.url()), 3);
    let err = c.list("/flows", &[]).await.unwrap_err();
    assert_eq!(mock.token_calls(), 2);
    assert_eq!(mock.api_calls().len(), 2);
    let ClientError::Unauthorized(api) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(api.code.as_deref(), Some("401013"));
    assert_eq!(api.shape, ErrorShape::Gateway);
    assert!(err.hint().unwrap().contains("AEP_CLIENT_SECRET"));
}

#[tokio::test]
async fn ims_failure_is_a_token_error() {
    let mock = Mock::start(|_, _| {
        Reply::json(
            400,
            json!({"error": "invalid_client", "error_description": "invalid client_secret parameter"}),
        )
    })
    .await;
    let c = client(&mock.url(), creds(&mock.url()), 3);
    let err = c.list("/flows", &[]).await.unwrap_err();
    let ClientError::Token(api) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(api.status, 400);
    assert_eq!(api.code.as_deref(), Some("invalid_client"));
    assert_eq!(mock.seen().len(), 1, "a 400 from IMS is not retried");
    assert!(!err.to_string().contains(CLIENT_SECRET));
    assert!(err.hint().is_some());
}

#[tokio::test]
async fn retries_429_honouring_retry_after() {
    let mock = Mock::start(|s, i| {
        if s.path == "/ims/token/v3" {
            return token_reply(TOKEN, 86_399);
        }
        if i <= 1 {
            Reply::json(
                429,
                json!({"error_code": "429001", "message": "Too many requests"}),
            )
            .header("retry-after", "1")
        } else {
            ok_items(json!([{"id": "x"}]))
        }
    })
    .await;
    // max_delay 50 ms would cap the header: give Retry-After room.
    let mut cfg = destctl::client::ClientConfig::new(mock.url(), "dev", creds(&mock.url()));
    cfg.retry = destctl::client::RetryPolicy {
        max_retries: 3,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_secs(10),
    };
    let c = destctl::client::Client::new(cfg).unwrap();
    let started = Instant::now();
    let items = c.list("/flows", &[]).await.unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(mock.api_calls().len(), 2);
    // The backoff alone would wait at most 1 ms; the server asked for 1 s.
    assert!(started.elapsed() >= Duration::from_millis(950));
}

#[tokio::test]
async fn retry_after_is_capped_by_the_policy() {
    let mock = Mock::start(|_, i| {
        if i == 0 {
            Reply::json(503, json!({"errorMessage": "busy"})).header("retry-after", "3600")
        } else {
            ok_items(json!([]))
        }
    })
    .await;
    let c = client(&mock.url(), ready_token(), 2);
    c.list("/flows", &[]).await.unwrap();
    assert_eq!(mock.seen().len(), 2);
}

#[tokio::test]
async fn retries_5xx_then_gives_up_with_the_last_error() {
    let mock = Mock::start(|_, i| match i {
        0 => Reply::json(500, json!({"errorMessage": "boom"})),
        1 => Reply::empty(502),
        2 => Reply::empty(503),
        3 => Reply::empty(504),
        _ => ok_items(json!([{"id": "a"}, {"id": "b"}])),
    })
    .await;
    let c = client(&mock.url(), ready_token(), 5);
    assert_eq!(c.list("/flows", &[]).await.unwrap().len(), 2);
    assert_eq!(mock.seen().len(), 5);
    assert_eq!(c.requests_sent(), 5);

    let mock = Mock::start(|_, _| {
        Reply::json(
            503,
            json!({"type": "https://ns.adobe.com/aep/errors/FLOW-0000-503", "title": "Unavailable",
                   "status": 503, "report": {"detailed-message": "try later"}}),
        )
    })
    .await;
    let c = client(&mock.url(), ready_token(), 2);
    let err = c
        .get(Resource::Flow, &EntityId("f".into()))
        .await
        .unwrap_err();
    assert_eq!(mock.seen().len(), 3);
    let ClientError::Api(api) = &err else {
        panic!("{err:?}")
    };
    assert_eq!((api.status, api.attempts), (503, 3));
    assert_eq!(api.code.as_deref(), Some("FLOW-0000-503"));
    assert_eq!(api.message, "try later");
    assert!(err.to_string().contains("after 3 attempts"), "{err}");
    assert!(err.hint().is_some());
}

#[tokio::test]
async fn post_create_is_retried_only_when_it_cannot_have_been_processed() {
    for (status, expected_calls) in [(500u16, 1usize), (502, 1), (504, 1), (503, 2), (429, 2)] {
        let mock = Mock::start(move |_, i| {
            if i == 0 {
                Reply::json(status, json!({"errorMessage": "x"}))
            } else {
                Reply::json(201, json!({"id": "new", "etag": "\"1\""}))
            }
        })
        .await;
        let c = client(&mock.url(), ready_token(), 3);
        let r = c.create(Resource::Flow, &json!({"name": "f"})).await;
        assert_eq!(mock.seen().len(), expected_calls, "POST answered {status}");
        assert_eq!(r.is_ok(), expected_calls == 2, "POST answered {status}");
    }
}

#[tokio::test]
async fn http_errors_are_decoded_into_typed_variants() {
    let mock = Mock::start(|s, _| match s.path.rsplit('/').next().unwrap() {
        "gone" => Reply::json(
            404,
            json!({"type": "https://ns.adobe.com/aep/errors/FLOW-1439-404", "title": "Resource not found",
                   "status": 404, "report": {"detailed-message": "The requested flows resource gone is not found.",
                   "id": "gone", "request-id": "r-42", "type": "flows"},
                   "errorMessage": "The requested flows resource gone is not found.",
                   "errorDetails": "The requested flows resource gone is not found."}),
        ),
        "stale" => Reply::json(
            412,
            json!({"errorMessage": "Supplied version=[\"\\\"a\\\"\"] does not match the current version on entity=[\"\\\"b\\\"\"]",
                   "errorDetails": "…"}),
        ),
        _ => Reply::json(403, json!({"error_code": "403025", "message": "Profile is not valid"})),
    })
    .await;
    let c = client(&mock.url(), ready_token(), 3);
    let err = c
        .get(Resource::Flow, &EntityId("gone".into()))
        .await
        .unwrap_err();
    let ClientError::NotFound(api) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(api.code.as_deref(), Some("FLOW-1439-404"));
    assert_eq!(api.request_id.as_deref(), Some("r-42"));
    assert_eq!(api.method, "GET");
    assert_eq!(api.path, format!("{FS}/flows/gone"));
    assert!(err.hint().unwrap().contains("outside destctl"));

    let err = c
        .patch(
            Resource::Flow,
            &EntityId("stale".into()),
            &Etag("\"a\"".into()),
            &[],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::PreconditionFailed(_)), "{err:?}");
    assert_eq!(err.status(), Some(412));
    assert!(err.to_string().starts_with(&format!(
        "PATCH {FS}/flows/stale: HTTP 412: Supplied version"
    )));
    assert!(err.hint().unwrap().contains("plan"));

    let err = c.list("/connections", &[]).await.unwrap_err();
    assert!(matches!(err, ClientError::Unauthorized(_)), "{err:?}");
    assert!(
        err.to_string().contains("[403025]: Profile is not valid"),
        "{err}"
    );
    // 4xx are never retried.
    assert_eq!(mock.seen().len(), 3);
}

#[tokio::test]
async fn list_follows_next_links_keeping_filters_and_limit() {
    const TOTAL: usize = 250;
    let mock = Mock::start(|s, _| {
        let start: usize = s
            .param("continuationToken")
            .map(|t| t.trim_start_matches("tok").parse().unwrap())
            .unwrap_or(0);
        let limit: usize = s.param("limit").unwrap().parse().unwrap();
        let end = (start + limit).min(TOTAL);
        let items: Vec<_> = (start..end)
            .map(|i| json!({"id": format!("f{i}")}))
            .collect();
        let links = if end < TOTAL {
            // Like the documented href: the collection and the token only.
            json!({"next": {"href": format!("/flows?continuationToken=tok{end}")}})
        } else {
            json!({})
        };
        Reply::json(200, json!({"items": items, "_links": links}))
    })
    .await;
    let c = client(&mock.url(), ready_token(), 0);
    let filter = "inheritedAttributes.properties.isDestinationFlow==true".to_owned();
    let items = c
        .list("/flows", &[("property", filter.clone())])
        .await
        .unwrap();
    let ids: Vec<&str> = items.iter().map(|v| v["id"].as_str().unwrap()).collect();
    let expected: Vec<String> = (0..TOTAL).map(|i| format!("f{i}")).collect();
    assert_eq!(ids, expected);
    let seen = mock.seen();
    assert_eq!(seen.len(), 3);
    for (n, s) in seen.iter().enumerate() {
        assert_eq!(s.path, format!("{FS}/flows"));
        assert_eq!(s.params("property"), [filter.as_str()]);
        assert_eq!(s.params("limit"), ["100"]);
        assert_eq!(
            s.param("continuationToken"),
            [None, Some("tok100"), Some("tok200")][n]
        );
    }
}

#[tokio::test]
async fn list_does_not_duplicate_filters_repeated_in_the_next_link() {
    let mock = Mock::start(|s, _| {
        if s.param("continuationToken").is_none() {
            Reply::json(
                200,
                json!({"items": [{"id": 1}], "_links": {"next": {"href":
                  "https://platform.adobe.io/data/foundation/flowservice/connections?property=state%3D%3Denabled&limit=100&continuationToken=a%2Bb%3D"}}}),
            )
        } else {
            Reply::json(200, json!({"items": [{"id": 2}]}))
        }
    })
    .await;
    let c = client(&mock.url(), ready_token(), 0);
    let items = c
        .list("/connections", &[("property", "state==enabled".into())])
        .await
        .unwrap();
    assert_eq!(items.len(), 2);
    let second = &mock.seen()[1];
    assert_eq!(second.params("property"), ["state==enabled"]);
    assert_eq!(second.params("limit"), ["100"]);
    assert_eq!(second.params("continuationToken"), ["a+b="]);
}

#[tokio::test]
async fn a_next_link_that_does_not_move_is_an_error_not_a_loop() {
    let mock = Mock::start(|_, _| {
        Reply::json(
            200,
            json!({"items": [{"id": 1}], "_links": {"next": {"href": "/flows?continuationToken=same"}}}),
        )
    })
    .await;
    let c = client(&mock.url(), ready_token(), 0);
    let err = c.list("/flows", &[]).await.unwrap_err();
    assert!(matches!(err, ClientError::Decode { .. }), "{err:?}");
    assert_eq!(mock.seen().len(), 2);
}

#[tokio::test]
async fn writes_return_id_and_etag() {
    let mock = Mock::start(|s, _| match (s.method.as_str(), s.path.as_str()) {
        ("GET", p) if p.ends_with("/flows/f1") => Reply::json(
            200,
            json!({"items": [{"id": "f1", "etag": "\"from-get\"", "name": "n"}]}),
        ),
        // An answer without etag (older docs): the client reads it.
        ("POST", p) if p.ends_with("/sourceConnections") => Reply::json(201, json!({"id": "s1"})),
        ("POST", p) if p.ends_with("/flows") => {
            Reply::json(201, json!({"id": "f1", "etag": "\"e1\""}))
        }
        ("POST", p) if p.ends_with("/flows/f1/action") => {
            Reply::json(200, json!({"id": "f1", "etag": "\"e3\""}))
        }
        ("GET", p) if p.ends_with("/sourceConnections/s1") => {
            Reply::json(200, json!({"items": [{"id": "s1", "etag": "\"s-etag\""}]}))
        }
        _ => Reply::empty(202),
    })
    .await;
    let c = client(&mock.url(), ready_token(), 0);
    let body = json!({"name": "f", "description": "x [destctl:f]"});
    let w = c.create(Resource::Flow, &body).await.unwrap();
    assert_eq!((w.id.0.as_str(), w.etag.0.as_str()), ("f1", "\"e1\""));
    let sent: serde_json::Value = serde_json::from_slice(&mock.seen()[0].body).unwrap();
    assert_eq!(sent, body);

    let w = c
        .create(Resource::SourceConnection, &json!({"name": "s"}))
        .await
        .unwrap();
    assert_eq!(w.etag.0, "\"s-etag\"");

    let flow = c.get(Resource::Flow, &EntityId("f1".into())).await.unwrap();
    assert_eq!(flow["name"], "n");

    let w = c
        .flow_action(&EntityId("f1".into()), FlowAction::Disable)
        .await
        .unwrap();
    assert_eq!(w.etag.0, "\"e3\"");
    let action = mock
        .seen()
        .into_iter()
        .find(|s| s.path.ends_with("/action"))
        .unwrap();
    assert_eq!(action.method, "POST");
    assert_eq!(action.params("op"), ["disable"]);
    assert!(action.body.is_empty());
    assert_eq!(action.header("content-type"), None);

    c.delete(Resource::TargetConnection, &EntityId("t1".into()))
        .await
        .unwrap();
}

#[tokio::test]
async fn ready_token_never_calls_ims() {
    let mock = Mock::start(|_, _| ok_items(json!([]))).await;
    let c = client(&mock.url(), ready_token(), 0);
    c.list("/flows", &[]).await.unwrap();
    assert_eq!(mock.token_calls(), 0);
    assert_eq!(c.tokens_minted(), 0);
}

#[tokio::test]
async fn a_delete_whose_first_answer_was_lost_accepts_the_404_of_its_retry() {
    let mock = Mock::start(|_, i| {
        if i == 0 {
            Reply::json(
                502,
                json!({"error_code": "502000", "message": "Bad gateway"}),
            )
        } else {
            Reply::json(
                404,
                json!({"errorMessage": "flows not found with id = [f1]"}),
            )
        }
    })
    .await;
    let c = client(&mock.url(), ready_token(), 2);
    c.delete(Resource::Flow, &EntityId("f1".into()))
        .await
        .unwrap();
    assert_eq!(mock.seen().len(), 2);

    // Without an earlier unanswered attempt, a 404 is an error.
    let mock = Mock::start(|_, _| Reply::json(404, json!({"errorMessage": "not found"}))).await;
    let c = client(&mock.url(), ready_token(), 2);
    let err = c
        .delete(Resource::Flow, &EntityId("f1".into()))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::NotFound(_)), "{err:?}");
}

#[tokio::test]
async fn a_create_that_may_have_happened_is_looked_for_by_its_marker() {
    let body = json!({"name": "out", "description": "Export [destctl:out credentials=1]",
        "connectionSpec": {"id": "spec-1", "version": "1.0"}});
    // 500 on the POST, and the object is there: adopted, not sent again.
    let mock = Mock::start(|s, _| match s.method.as_str() {
        "POST" => Reply::json(500, json!({"errorMessage": "boom"})),
        _ => ok_items(json!([
            {"id": "other", "etag": "\"9\"", "name": "out",
             "description": "[destctl:out credentials=1]", "connectionSpec": {"id": "spec-2"}},
            {"id": "mine", "etag": "\"3\"", "name": "out",
             "description": "Export [destctl:out credentials=1]", "connectionSpec": {"id": "spec-1"}},
        ])),
    })
    .await;
    let c = client(&mock.url(), ready_token(), 3);
    let w = c.create(Resource::Connection, &body).await.unwrap();
    assert_eq!((w.id.0.as_str(), w.etag.0.as_str()), ("mine", "\"3\""));
    let calls = mock.api_calls();
    assert_eq!(calls.len(), 2, "one POST, one look-up");
    assert_eq!(calls[1].method, "GET");
    assert_eq!(calls[1].params("property"), vec!["name==out"]);

    // Not there: the POST is sent again, once.
    let mock = Mock::start(|s, i| match (s.method.as_str(), i) {
        ("POST", 0) => Reply::json(504, json!({"errorMessage": "gateway timeout"})),
        ("POST", _) => Reply::json(201, json!({"id": "new", "etag": "\"1\""})),
        _ => ok_items(json!([])),
    })
    .await;
    let c = client(&mock.url(), ready_token(), 3);
    let w = c.create(Resource::Connection, &body).await.unwrap();
    assert_eq!(w.id.0, "new");
    let methods: Vec<_> = mock
        .api_calls()
        .iter()
        .map(|s| s.method.to_string())
        .collect();
    assert_eq!(methods, ["POST", "GET", "POST"]);

    // A 400 is not a write that may have happened: no look-up.
    let mock = Mock::start(|_, _| Reply::json(400, json!({"errorMessage": "bad"}))).await;
    let c = client(&mock.url(), ready_token(), 3);
    assert!(c.create(Resource::Connection, &body).await.is_err());
    assert_eq!(mock.api_calls().len(), 1);
}

#[tokio::test]
async fn a_412_after_a_lost_patch_answer_is_checked_against_the_entity() {
    let op = PatchOp {
        op: PatchOpKind::Replace,
        path: "/name".into(),
        value: Some(json!("renamed")),
    };
    for (name_now, applied) in [("renamed", true), ("someone else's", false)] {
        let mock = Mock::start(move |s, i| match (s.method.as_str(), i) {
            ("PATCH", 0) => Reply::json(502, json!({"message": "bad gateway"})),
            ("PATCH", _) => Reply::json(412, json!({"errorMessage": "etag mismatch"})),
            _ => ok_items(json!([{"id": "f1", "etag": "\"7\"", "name": name_now}])),
        })
        .await;
        let c = client(&mock.url(), ready_token(), 3);
        let r = c
            .patch(
                Resource::Flow,
                &EntityId("f1".into()),
                &Etag("\"5\"".into()),
                std::slice::from_ref(&op),
            )
            .await;
        if applied {
            assert_eq!(r.unwrap().etag.0, "\"7\"");
        } else {
            assert!(
                matches!(r, Err(ClientError::PreconditionFailed(_))),
                "{r:?}"
            );
        }
        let methods: Vec<_> = mock
            .api_calls()
            .iter()
            .map(|s| s.method.to_string())
            .collect();
        assert_eq!(methods, ["PATCH", "PATCH", "GET"]);
    }
    // A 412 at the first attempt is an ordinary conflict: no read.
    let mock = Mock::start(|_, _| Reply::json(412, json!({"errorMessage": "etag mismatch"}))).await;
    let c = client(&mock.url(), ready_token(), 3);
    let r = c
        .patch(
            Resource::Flow,
            &EntityId("f1".into()),
            &Etag("\"5\"".into()),
            std::slice::from_ref(&op),
        )
        .await;
    assert!(matches!(r, Err(ClientError::PreconditionFailed(_))));
    assert_eq!(mock.api_calls().len(), 1);
}
