//! Tokens, API keys, client secrets and request bodies never reach logs or errors, whatever the
//! log level.

use crate::support::fake_server::*;
use crate::support::in_own_process;
use destctl::client::ClientConfig;
use destctl::wire::{EntityId, Etag, PatchOp, PatchOpKind, Resource};
use serde_json::json;
use std::io::Write;
use std::sync::{Arc, Mutex};

const BODY_SECRET: &str = "AKIA-BODY-SECRET-VALUE";

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn assert_clean(what: &str, text: &str) {
    for secret in [TOKEN, CLIENT_ID, CLIENT_SECRET, BODY_SECRET] {
        assert!(!text.contains(secret), "{what} leaks {secret:?}:\n{text}");
    }
}

// A current-thread runtime: everything, the client's connection tasks included, logs into the
// subscriber installed for this thread.
#[tokio::test(flavor = "current_thread")]
async fn secrets_never_reach_logs_or_errors() {
    // Alone in its process: `tracing` caches per call site whether anyone listens, and other
    // tests logging at the same call sites from other threads can leave that cache stale.
    if !in_own_process(
        concat!(module_path!(), "::secrets_never_reach_logs_or_errors"),
        &[],
    ) {
        return;
    }
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let mock = Mock::start(|s, i| match (s.method.as_str(), s.path.as_str()) {
        ("POST", "/ims/token/v3") => token_reply(TOKEN, 86_399),
        // First create: 429 then success.
        ("POST", _) if i == 1 => Reply::json(
            429,
            json!({"error_code": "429050", "message": "Too many requests"}),
        ),
        ("POST", _) => Reply::json(201, json!({"id": "c1", "etag": "\"e\""})),
        ("PATCH", _) => Reply::json(
            400,
            json!({"errorMessage": "patch instruction validation failed", "errorDetails": "x"}),
        ),
        _ => Reply::json(500, json!({"errorMessage": "internal"})),
    })
    .await;
    let auth = creds(&mock.url());
    let config = ClientConfig::new(mock.url(), "prod", auth.clone());
    let c = client(&mock.url(), auth.clone(), 1);

    let body = json!({"name": "acct", "auth": {"specName": "Access Key",
        "params": {"s3AccessKey": "AKIAIOSFODNN7EXAMPLE", "s3SecretKey": BODY_SECRET}}});
    c.create(Resource::Connection, &body).await.unwrap();
    let patch_err = c
        .patch(
            Resource::Connection,
            &EntityId("c1".into()),
            &Etag("\"e\"".into()),
            &[PatchOp {
                op: PatchOpKind::Replace,
                path: "/auth/params".into(),
                value: Some(json!({"s3SecretKey": BODY_SECRET})),
            }],
        )
        .await
        .unwrap_err();
    let list_err = c.list("/flows", &[]).await.unwrap_err();

    let logs = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    // The logs say what happened…
    assert!(
        logs.contains("POST") && logs.contains("/data/foundation/flowservice/connections"),
        "{logs}"
    );
    assert!(
        logs.contains("status=429") && logs.contains("attempt=2"),
        "{logs}"
    );
    assert!(logs.contains("/ims/token/v3"), "{logs}");
    // …and nothing secret.
    assert_clean("logs", &logs);
    for err in [&patch_err, &list_err] {
        assert_clean("error", &err.to_string());
        assert_clean("error debug", &format!("{err:?}"));
    }
    assert_clean("config debug", &format!("{config:?} {config:#?}"));
    assert_clean("auth debug", &format!("{auth:?}"));
    assert_clean("token auth debug", &format!("{:?}", ready_token()));
    assert_clean("client debug", &format!("{c:?}"));
}

/// A server that echoes the request into its error answers, or quotes the token in a list
/// page of the wrong shape: the client secret, the minted token and a secret value the caller
/// registered are `<redacted>` in every error, whatever the error shape.
#[tokio::test]
async fn echoed_secrets_are_redacted_from_errors() {
    let mock = Mock::start(|s, _| {
        let headers: Vec<String> = s
            .headers
            .iter()
            .map(|(k, v)| format!("{k}={}", v.to_str().unwrap_or("")))
            .collect();
        let echo = format!("{} {}", headers.join(" "), String::from_utf8_lossy(&s.body));
        match (s.method.as_str(), s.path.as_str()) {
            ("POST", "/ims/token/v3") => token_reply(TOKEN, 86_399),
            ("GET", p) if p.ends_with("/flows") => Reply::json(200, json!({"items": TOKEN})),
            ("GET", _) => Reply::json(400, json!({"error_code": "400", "message": echo})),
            ("POST", _) => Reply::json(422, json!({"title": "Bad", "detail": echo})),
            _ => Reply::json(500, json!({"errorMessage": echo})),
        }
    })
    .await;
    let c = client(&mock.url(), creds(&mock.url()), 0);
    c.redactor()
        .add(&secrecy::SecretString::from(BODY_SECRET.to_owned()));
    let body = json!({"name": "acct", "auth": {"specName": "Access Key",
        "params": {"s3SecretKey": BODY_SECRET}}});
    let create_err = c.create(Resource::Connection, &body).await.unwrap_err();
    let list_err = c.list("/flows", &[]).await.unwrap_err();
    let get_err = c.list("/connections", &[]).await.unwrap_err();
    let ims = Mock::start(|s, _| {
        Reply::json(
            401,
            json!({"error": "invalid_client", "error_description": String::from_utf8_lossy(&s.body)}),
        )
    })
    .await;
    let token_err = client(&ims.url(), creds(&ims.url()), 0)
        .list("/flows", &[])
        .await
        .unwrap_err();
    for err in [&create_err, &list_err, &get_err, &token_err] {
        let shown = err.to_string();
        for secret in [TOKEN, CLIENT_SECRET, BODY_SECRET] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("<redacted>"), "{shown}");
    }
    // The server did see them: the redaction, not the request, hid them.
    let seen: String = mock
        .seen()
        .iter()
        .map(|s| format!("{:?}{}", s.headers, String::from_utf8_lossy(&s.body)))
        .collect();
    assert!(seen.contains(TOKEN) && seen.contains(BODY_SECRET));
}
