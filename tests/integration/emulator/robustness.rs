//! Issue 12, point 5: the emulator under slow and garbage clients (header-read timeout, a
//! bounded number of connections) and above its body limit (413).

use destctl::emulator::{
    EMBEDDED_CLIENT_ID, EMBEDDED_ORG_ID, Emulator, EmulatorConfig, RunningEmulator,
};
use serde_json::Value;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const FS: &str = "/data/foundation/flowservice";

async fn start(header_timeout: Duration, max_connections: usize) -> RunningEmulator {
    Emulator::start(EmulatorConfig {
        header_timeout,
        max_connections,
        max_body_bytes: 1024,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap()
}

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

async fn token(http: &reqwest::Client, base: &str) -> String {
    crate::support::emulator::token(http, base, EMBEDDED_CLIENT_ID).await
}

/// A served Flow Service request: its status and how long it took.
async fn list_flow_specs(http: &reqwest::Client, base: &str, token: &str) -> (u16, Duration) {
    let t = Instant::now();
    let r = http
        .get(format!("{base}{FS}/flowSpecs"))
        .bearer_auth(token)
        .header("x-api-key", EMBEDDED_CLIENT_ID)
        .header("x-gw-ims-org-id", EMBEDDED_ORG_ID)
        .header("x-sandbox-name", "prod")
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), t.elapsed())
}

/// Opens a connection and sends the start of a request, never its end.
async fn half_sent(emu: &RunningEmulator) -> TcpStream {
    let mut s = TcpStream::connect(emu.addr()).await.unwrap();
    s.write_all(b"POST /data/foundation/flowservice/flows HTTP/1.1\r\nHost: x\r\nContent-Le")
        .await
        .unwrap();
    s
}

/// Waits until the server closes `s` (EOF or reset), at most `limit`; how long that took.
async fn closed_within(mut s: TcpStream, limit: Duration) -> Option<Duration> {
    let t = Instant::now();
    let mut buf = [0u8; 256];
    loop {
        match tokio::time::timeout(limit.saturating_sub(t.elapsed()), s.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(t.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_garbage_clients_do_not_stop_others_and_are_closed_after_the_timeout() {
    let emu = start(Duration::from_secs(1), 128).await;
    let base = emu.base_url();
    let opened = Instant::now();
    let mut slow = Vec::new();
    for _ in 0..50 {
        slow.push(half_sent(&emu).await);
    }
    let mut garbage = Vec::new();
    for i in 0..10 {
        let mut s = TcpStream::connect(emu.addr()).await.unwrap();
        let junk: Vec<u8> = (0..200u32).map(|j| (j * 7 + i * 13) as u8).collect();
        s.write_all(&junk).await.unwrap();
        s.write_all(b"\r\n\r\n").await.unwrap();
        garbage.push(s);
    }
    // Others are answered at once while the 60 are held open.
    let http = http();
    let token = token(&http, &base).await;
    for _ in 0..5 {
        let (status, took) = list_flow_specs(&http, &base, &token).await;
        assert_eq!(status, 200);
        assert!(took < Duration::from_millis(900), "took {took:?}");
    }
    // Garbage is refused (400) and closed; the half-sent requests are closed after the
    // header timeout, not held forever.
    for mut s in garbage {
        let mut out = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
        let text = String::from_utf8_lossy(&out);
        assert!(
            text.is_empty() || text.starts_with("HTTP/1.1 400"),
            "{text}"
        );
    }
    let closes = futures_join(slow).await;
    for c in &closes {
        let c = c.expect("a half-sent request's connection was kept open");
        assert!(c < Duration::from_secs(5), "{c:?}");
    }
    assert!(opened.elapsed() >= Duration::from_millis(900));
    // None of them reached a handler.
    let counts = emu.request_counts();
    assert_eq!(
        counts.keys().collect::<Vec<_>>(),
        [&format!("GET {FS}/flowSpecs"), "POST /ims/token/v3"],
        "{counts:?}"
    );
    emu.shutdown().await;
}

async fn futures_join(streams: Vec<TcpStream>) -> Vec<Option<Duration>> {
    let tasks: Vec<_> = streams
        .into_iter()
        .map(|s| tokio::spawn(closed_within(s, Duration::from_secs(8))))
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_bounded_and_a_held_slot_frees_after_the_timeout() {
    let emu = start(Duration::from_secs(1), 4).await;
    let base = emu.base_url();
    let http = http();
    let token = token(&http, &base).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(half_sent(&emu).await);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Every slot is taken: the next request waits for one to free, which the header timeout
    // guarantees.
    let (status, took) = list_flow_specs(&http, &base, &token).await;
    assert_eq!(status, 200);
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_secs(5),
        "took {took:?}"
    );
    drop(held);
    let (status, took) = list_flow_specs(&http, &base, &token).await;
    assert_eq!(status, 200);
    assert!(took < Duration::from_millis(900), "took {took:?}");
    emu.shutdown().await;
}

#[tokio::test]
async fn a_body_above_the_limit_is_413_with_the_flow_service_error_body() {
    let emu = start(Duration::from_secs(10), 16).await;
    let base = emu.base_url();
    let http = http();
    let token = token(&http, &base).await;
    let body = format!("{{\"name\": \"{}\"}}", "x".repeat(2000));
    let r = http
        .post(format!("{base}{FS}/flows"))
        .bearer_auth(&token)
        .header("x-api-key", EMBEDDED_CLIENT_ID)
        .header("x-gw-ims-org-id", EMBEDDED_ORG_ID)
        .header("x-sandbox-name", "prod")
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let mut v: Value = r.json().await.unwrap();
    assert!(v["report"]["request-id"].is_string(), "{v}");
    v["report"]["request-id"] = "…".into();
    insta::assert_json_snapshot!("body_above_the_limit", v);

    // The same without a Content-Length (chunked): counted while reading.
    let mut s = TcpStream::connect(emu.addr()).await.unwrap();
    let head = format!(
        "POST {FS}/flows HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nx-api-key: {EMBEDDED_CLIENT_ID}\r\nx-gw-ims-org-id: {EMBEDDED_ORG_ID}\r\nx-sandbox-name: prod\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    for chunk in body.as_bytes().chunks(500) {
        s.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .await
            .unwrap();
        s.write_all(chunk).await.unwrap();
        s.write_all(b"\r\n").await.unwrap();
    }
    s.write_all(b"0\r\n\r\n").await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("FLOW-1405-413"), "{text}");
    // Nothing was created.
    let counts = emu.request_counts();
    assert_eq!(
        counts
            .get(&format!("POST {FS}/flows"))
            .copied()
            .unwrap_or(0),
        2,
        "{counts:?}"
    );
    emu.shutdown().await;
}
