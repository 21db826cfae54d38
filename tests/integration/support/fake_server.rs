//! The fake servers, for client tests where the emulator cannot play the part: a programmable
//! HTTP server on a random loopback port (every request recorded, a closure decides each
//! answer: any status, headers, body or delay), and a raw TCP server that closes, hangs or
//! answers garbage.
#![allow(dead_code)]

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::response::Response;
use destctl::client::{Auth, Client, ClientConfig, RetryPolicy};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn params(&self, name: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params(name).first().copied()
    }
    pub fn form(&self) -> BTreeMap<String, String> {
        url_pairs(std::str::from_utf8(&self.body).unwrap())
            .into_iter()
            .collect()
    }
}

fn url_pairs(q: &str) -> Vec<(String, String)> {
    reqwest::Url::parse(&format!("http://h/?{q}"))
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// An answer.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    pub delay: Duration,
}

impl Reply {
    pub fn json(status: u16, v: serde_json::Value) -> Reply {
        Reply {
            status,
            headers: vec![("content-type", "application/json".into())],
            body: v.to_string(),
            delay: Duration::ZERO,
        }
    }
    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            headers: vec![],
            body: String::new(),
            delay: Duration::ZERO,
        }
    }
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }
    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

type Handler = dyn Fn(&Seen, usize) -> Reply + Send + Sync;

/// A running mock server.
pub struct Mock {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Mock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Mock {
    /// Starts a server; `handler(request, index)` answers, `index` counting all requests from 0.
    pub async fn start(handler: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) -> Mock {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let handler: Arc<Handler> = Arc::new(handler);
        let s = seen.clone();
        let app = axum::Router::new().fallback(move |req: Request<Body>| {
            let seen = s.clone();
            let handler = handler.clone();
            async move {
                let (parts, body) = req.into_parts();
                let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
                let rec = Seen {
                    method: parts.method.clone(),
                    path: parts.uri.path().to_owned(),
                    query: parts.uri.query().map(url_pairs).unwrap_or_default(),
                    headers: parts.headers.clone(),
                    body,
                };
                let index = {
                    let mut g = seen.lock().unwrap();
                    g.push(rec.clone());
                    g.len() - 1
                };
                let reply = handler(&rec, index);
                if !reply.delay.is_zero() {
                    tokio::time::sleep(reply.delay).await;
                }
                let mut resp = Response::new(Body::from(reply.body));
                *resp.status_mut() = StatusCode::from_u16(reply.status).unwrap();
                for (k, v) in reply.headers {
                    resp.headers_mut().insert(k, v.parse().unwrap());
                }
                resp
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Mock { addr, seen, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Requests other than IMS token requests.
    pub fn api_calls(&self) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.path != "/ims/token/v3")
            .collect()
    }

    pub fn token_calls(&self) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.path == "/ims/token/v3")
            .count()
    }
}

pub const FS: &str = "/data/foundation/flowservice";
pub const CLIENT_ID: &str = "test-client-id-APIKEY";
pub const CLIENT_SECRET: &str = "p8e-TEST-CLIENT-SECRET";
pub const ORG_ID: &str = "TESTORG@AdobeOrg";
pub const TOKEN: &str = "eyJ-minted-ACCESS-TOKEN";

/// A quick retry policy for tests.
pub fn fast_retry(max_retries: u32) -> RetryPolicy {
    RetryPolicy {
        max_retries,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
    }
}

pub fn creds(ims_url: &str) -> Auth {
    Auth::ClientCredentials {
        ims_url: ims_url.to_owned(),
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        org_id: ORG_ID.into(),
        scopes: "openid,AdobeID".into(),
    }
}

pub fn ready_token() -> Auth {
    Auth::Token {
        access_token: TOKEN.into(),
        client_id: CLIENT_ID.into(),
        org_id: ORG_ID.into(),
    }
}

/// A client for `endpoint`, with a fast retry policy.
pub fn client(endpoint: &str, auth: Auth, max_retries: u32) -> Client {
    let mut cfg = ClientConfig::new(endpoint, "dev", auth);
    cfg.retry = fast_retry(max_retries);
    cfg.timeout = Duration::from_secs(5);
    Client::new(cfg).unwrap()
}

/// The IMS answer used by mocks.
pub fn token_reply(token: &str, expires_in: u64) -> Reply {
    Reply::json(
        200,
        serde_json::json!({"access_token": token, "token_type": "bearer", "expires_in": expires_in}),
    )
}

#[derive(Clone, Copy)]
pub enum Behaviour {
    /// Read the request, then close the connection without answering.
    Close,
    /// Read the request, never answer.
    Hang,
    /// Answer plain bytes that are not TLS.
    NotTls,
}

/// A raw TCP server on a random loopback port that misbehaves as told; counts connections.
pub async fn raw_server(behaviour: Behaviour) -> (String, Arc<AtomicUsize>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    tokio::spawn(async move {
        loop {
            let (mut sock, _) = l.accept().await.unwrap();
            c.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let _ = sock.read(&mut buf).await;
                match behaviour {
                    Behaviour::Close => drop(sock),
                    Behaviour::Hang => {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                    }
                    Behaviour::NotTls => {
                        let _ = sock
                            .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                            .await;
                    }
                }
            });
        }
    });
    (format!("http://{addr}"), count)
}
