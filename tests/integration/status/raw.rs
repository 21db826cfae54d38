//! Plain HTTP against a running emulator, as another client (curl, `aepp`) would talk to it:
//! a token from its IMS endpoint, the gateway headers, JSON bodies; and its test hooks
//! (`/_emulator/clock`, `/_emulator/flows/{id}/fail`).

use destctl::emulator::EMBEDDED_ORG_ID;

/// The API client id these requests come from (as `createdClient`).
pub const CLIENT_ID: &str = "curl-user";
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub const FS: &str = "/data/foundation/flowservice";
pub const PROFILE: &str = "8a9c3494-9708-43d7-ae3f-cda01e5030e1";
/// The Amazon S3 connection spec (today's card).
pub const S3: &str = "4fce964d-3f37-408f-9778-e597338a21ee";
/// Its audience flow spec.
pub const S3_FLOW_SPEC: &str = "1a0514a6-33d4-4c7f-aff8-594799c47549";

/// A client of one emulator, sandbox `prod`.
pub struct Raw {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Raw {
    /// Gets a token from the emulator's IMS endpoint.
    pub async fn new(base: &str) -> Raw {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder().build().unwrap();
        let token = crate::support::emulator::token(&http, base, CLIENT_ID).await;
        Raw {
            http,
            base: base.to_owned(),
            token,
        }
    }

    /// A Flow Service request with the gateway headers (`path` under the Flow Service base).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut rb = self
            .http
            .request(method, format!("{}{FS}{path}", self.base))
            .bearer_auth(&self.token)
            .header("x-api-key", CLIENT_ID)
            .header("x-gw-ims-org-id", EMBEDDED_ORG_ID)
            .header("x-sandbox-name", "prod");
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.unwrap();
        let s = r.status();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    /// `POST` a create; the new id.
    pub async fn create(&self, path: &str, body: Value) -> String {
        let (s, v) = self.call(Method::POST, path, Some(body)).await;
        assert_eq!(s, 201, "{path}: {v}");
        v["id"].as_str().unwrap().to_owned()
    }

    /// `PATCH` with the current etag (read first).
    pub async fn patch(&self, path: &str, ops: Value) {
        let (s, v) = self.call(Method::GET, path, None).await;
        assert_eq!(s, 200, "{v}");
        let etag = v["items"][0]["etag"].as_str().unwrap().to_owned();
        let r = self
            .http
            .patch(format!("{}{FS}{path}", self.base))
            .bearer_auth(&self.token)
            .header("x-api-key", CLIENT_ID)
            .header("x-gw-ims-org-id", EMBEDDED_ORG_ID)
            .header("x-sandbox-name", "prod")
            .header("If-Match", etag)
            .json(&ops)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }

    /// A test hook outside the Flow Service (`/_emulator/...`).
    pub async fn hook(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        let s = r.status();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    /// Advances the simulated clock; the runs made.
    pub async fn advance(&self, by: &str) -> u64 {
        let (s, v) = self.hook("/_emulator/clock", json!({"advance": by})).await;
        assert_eq!(s, 200, "{v}");
        v["runsCreated"].as_u64().unwrap()
    }
}
