//! Helpers shared by the emulator tests: a oneshot client over the router, and fixtures.
#![allow(dead_code)]

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use destctl::emulator::{
    EMBEDDED_CLIENT_ID, EMBEDDED_ORG_ID, EmulatorConfig, EmulatorState, router,
};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

pub const FS: &str = "/data/foundation/flowservice";
pub const PROFILE: &str = "8a9c3494-9708-43d7-ae3f-cda01e5030e1";
pub const CAMPAIGN: &str = "0b23e41a-cb4a-4321-a78f-3b654f5d7d97";
pub const S3: &str = "4890fc95-5a1f-4983-94bb-e060c08e3f81";
pub const LEGACY_FLOW_SPEC: &str = "71471eba-b620-49e4-90fd-23f1fa0174d8";
pub const SEG_PATH: &str = "/transformations/0/params/segmentSelectors/selectors/-";
pub const PROF_PATH: &str = "/transformations/0/params/profileSelectors/selectors/-";

/// A response.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

/// An emulator reached without a socket.
pub struct App {
    pub router: Router,
    pub state: EmulatorState,
    pub token: String,
    pub org: String,
    pub sandbox: Option<String>,
}

impl App {
    pub fn new() -> App {
        App::with_config(EmulatorConfig::default())
    }

    pub fn with_config(cfg: EmulatorConfig) -> App {
        let state = EmulatorState::new(&cfg).unwrap();
        let token = state.issue_token(EMBEDDED_CLIENT_ID);
        App {
            router: router(state.clone()),
            state,
            token,
            org: EMBEDDED_ORG_ID.into(),
            sandbox: Some("prod".into()),
        }
    }

    /// The same emulator as another org or sandbox.
    pub fn as_caller(&self, org: &str, sandbox: Option<&str>) -> App {
        App {
            router: self.router.clone(),
            state: self.state.clone(),
            token: self.token.clone(),
            org: org.into(),
            sandbox: sandbox.map(str::to_owned),
        }
    }

    /// A raw request: exactly these headers.
    pub async fn raw(
        &self,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Resp {
        let uri: String = uri
            .chars()
            .map(|c| match c {
                '[' | ']' | '<' | '>' | '"' | '{' | '}' | '|' | ' ' => format!("%{:02X}", c as u32),
                c => c.to_string(),
            })
            .collect();
        let mut b = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let req = b
            .body(
                body.map(|s| Body::from(s.to_owned()))
                    .unwrap_or_else(Body::empty),
            )
            .unwrap();
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            body,
            text,
        }
    }

    fn auth_headers(&self) -> Vec<(String, String)> {
        let mut h = vec![
            ("authorization".to_owned(), format!("Bearer {}", self.token)),
            ("x-api-key".to_owned(), EMBEDDED_CLIENT_ID.to_owned()),
            ("x-gw-ims-org-id".to_owned(), self.org.clone()),
        ];
        if let Some(s) = &self.sandbox {
            h.push(("x-sandbox-name".to_owned(), s.clone()));
        }
        h
    }

    /// An API request with the standard headers plus `extra`; a JSON body gets a content type.
    pub async fn api_with(
        &self,
        method: Method,
        path: &str,
        extra: &[(&str, &str)],
        body: Option<Value>,
    ) -> Resp {
        let owned = self.auth_headers();
        let mut h: Vec<(&str, &str)> = owned
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        if body.is_some() {
            h.push(("content-type", "application/json"));
        }
        h.extend_from_slice(extra);
        let text = body.map(|b| b.to_string());
        self.raw(method, &format!("{FS}{path}"), &h, text.as_deref())
            .await
    }

    /// A Data Prep API request (`/data/foundation/conversion` + `path`) with the standard
    /// headers.
    pub async fn data_prep(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        let owned = self.auth_headers();
        let mut h: Vec<(&str, &str)> = owned
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        if body.is_some() {
            h.push(("content-type", "application/json"));
        }
        let text = body.map(|b| b.to_string());
        self.raw(
            method,
            &format!("{}{path}", destctl::emulator::DATA_PREP_BASE),
            &h,
            text.as_deref(),
        )
        .await
    }

    /// Creates a one-column mapping set (output schema by `schemaRef`); returns its id.
    pub async fn mapping_set(&self) -> String {
        let r = self
            .data_prep(
                Method::POST,
                "/mappingSets",
                Some(json!({"outputSchema": {"schemaRef": {"id": "https://ns.adobe.com/x/columns",
                                "contentType": "application/vnd.adobe.xed-full+json;version=1"}},
                            "mappings": [{"source": "personalEmail.address", "destination": "email"}]})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body["id"].as_str().unwrap().to_owned()
    }

    pub async fn api(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        self.api_with(method, path, &[], body).await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.api(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.api(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, etag: &str, ops: Value) -> Resp {
        self.api_with(Method::PATCH, path, &[("if-match", etag)], Some(ops))
            .await
    }

    /// `POST`, asserting 201; returns the id.
    pub async fn create(&self, path: &str, body: Value) -> String {
        let r = self.post(path, body).await;
        assert_eq!(r.status, 201, "{path}: {}", r.text);
        r.body["id"].as_str().unwrap().to_owned()
    }

    /// The single entity at `path`.
    pub async fn entity(&self, path: &str) -> Value {
        let r = self.get(path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        r.body["items"][0].clone()
    }

    /// Creates the seed tutorial's chain for Adobe Campaign over S3; returns its ids.
    pub async fn flow_chain(&self, name: &str) -> Chain {
        let base = self.create("/connections", profile_base()).await;
        let source = self.create("/sourceConnections", source_body(&base)).await;
        let dest = self.create("/connections", campaign_base(name)).await;
        let target = self
            .create("/targetConnections", campaign_target(&dest))
            .await;
        let r = self.post("/flows", flow_body(name, &source, &target)).await;
        assert_eq!(r.status, 201, "{}", r.text);
        Chain {
            base,
            source,
            dest,
            target,
            flow: r.body["id"].as_str().unwrap().to_owned(),
            etag: r.body["etag"].as_str().unwrap().to_owned(),
        }
    }
}

/// Ids of a created chain.
#[derive(Clone, Debug)]
pub struct Chain {
    pub base: String,
    pub source: String,
    pub dest: String,
    pub target: String,
    pub flow: String,
    pub etag: String,
}

pub fn profile_base() -> Value {
    json!({"name": "Base connection to Experience Platform",
           "description": "This call establishes the connection to Experience Platform data",
           "connectionSpec": {"id": PROFILE, "version": "1.0"}})
}

pub fn source_body(base: &str) -> Value {
    json!({"name": "Connecting to Profile store", "description": "Optional",
           "connectionSpec": {"id": PROFILE, "version": "1.0"},
           "baseConnectionId": base, "data": {"format": "CSV", "schema": null}, "params": {}})
}

pub fn campaign_base(name: &str) -> Value {
    json!({"name": "S3 Connection for Adobe Campaign", "description": format!("summer [destctl:{name} credentials=1]"),
           "connectionSpec": {"id": CAMPAIGN, "version": "1.0"},
           "auth": {"specName": "S3", "params": {"accessId": "ACCESS", "secretKey": "SECRET-VALUE"}}})
}

pub fn campaign_target(base: &str) -> Value {
    json!({"name": "TargetConnection for Adobe Campaign", "description": "Connection to Adobe Campaign",
           "baseConnectionId": base, "connectionSpec": {"id": CAMPAIGN, "version": "1.0"},
           "data": {"format": "json", "schema": {"id": "1.0", "version": "1.0"}},
           "params": {"mode": "S3", "bucketName": "acme-exports", "path": "/campaign", "format": "CSV",
                      "includeFileManifest": true}})
}

pub fn campaign_flow_spec() -> &'static str {
    destctl::catalog::EMULATOR_CAMPAIGN_FLOW_SPEC_ID
}

pub fn flow_body(name: &str, source: &str, target: &str) -> Value {
    json!({"name": name, "description": format!("[destctl:{name}]"),
           "flowSpec": {"id": campaign_flow_spec(), "version": "1.0"},
           "sourceConnectionIds": [source], "targetConnectionIds": [target],
           "transformations": [{"name": "GeneralTransform", "params": {
               "segmentSelectors": {"selectors": []}, "profileSelectors": {"selectors": []}}}]})
}

pub fn segment(id: &str) -> Value {
    json!({"type": "PLATFORM_SEGMENT", "value": {"id": id, "name": "Audience",
        "filenameTemplate": "%DESTINATION_NAME%_%SEGMENT_ID%_%DATETIME(YYYYMMdd_HHmmss)%",
        "exportMode": "DAILY_FULL_EXPORT",
        "schedule": {"frequency": "ONCE", "triggerType": "SCHEDULED", "startDate": "2021-12-20", "startTime": "17:00"}}})
}

pub fn attribute(path: &str) -> Value {
    json!({"type": "JSON_PATH", "value": {"path": path}})
}

/// The Flow Service error type URI of a code and status.
pub fn flow_error(code: u32, status: u16) -> String {
    format!("https://ns.adobe.com/aep/errors/FLOW-{code}-{status}")
}

/// Asserts a Flow Service error body and returns its message.
pub fn assert_flow_error(r: &Resp, status: u16, code: u32) -> String {
    assert_eq!(r.status.as_u16(), status, "{}", r.text);
    assert_eq!(r.body["type"], flow_error(code, status), "{}", r.text);
    assert_eq!(r.body["status"], status);
    assert!(r.body["report"]["request-id"].is_string(), "{}", r.text);
    assert_eq!(r.body["errorMessage"], r.body["errorDetails"]);
    assert_eq!(r.body["errorMessage"], r.body["report"]["detailed-message"]);
    r.body["errorMessage"].as_str().unwrap().to_owned()
}

/// Replaces generated values (UUIDs, etags, timestamps) with placeholders, for snapshots.
pub fn normalize(v: &Value) -> Value {
    fn is_uuid(s: &str) -> bool {
        s.len() == 36
            && s.bytes().enumerate().all(|(i, c)| {
                if [8, 13, 18, 23].contains(&i) {
                    c == b'-'
                } else {
                    c.is_ascii_hexdigit()
                }
            })
    }
    fn walk(key: &str, v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                Value::Object(m.iter().map(|(k, v)| (k.clone(), walk(k, v))).collect())
            }
            Value::Array(a) => Value::Array(a.iter().map(|x| walk(key, x)).collect()),
            Value::String(s) if s.starts_with('"') && s.ends_with('"') => json!("<etag>"),
            Value::String(s) if is_uuid(s) => json!("<uuid>"),
            Value::String(s) if key == "createTime" || key == "updateTime" => {
                assert!(
                    s.len() == 10 && s.bytes().all(|c| c.is_ascii_digit()),
                    "{s}"
                );
                json!("<epoch-seconds>")
            }
            Value::String(s) if key == "runs" || key == "authorizedDate" => {
                json!(
                    s.split("==")
                        .next()
                        .unwrap()
                        .replace(|c: char| c.is_ascii_digit(), "0")
                )
            }
            Value::Number(_) if ["createdAt", "updatedAt", "started", "updated"].contains(&key) => {
                json!("<epoch-ms>")
            }
            other => other.clone(),
        }
    }
    walk("", v)
}
