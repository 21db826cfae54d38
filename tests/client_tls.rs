//! A real https round trip: the client (rustls, ring provider, platform verifier) talks to a
//! loopback TLS server whose certificate is signed by a test CA (tests/fixtures/tls). The CA is
//! trusted through `SSL_CERT_FILE`, which the platform verifier reads on Linux.

mod client_support;

use client_support::*;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

#[tokio::test]
async fn https_round_trip_with_certificate_verification() {
    // SAFETY: the only test of this binary; nothing else reads the environment concurrently.
    unsafe { std::env::set_var("SSL_CERT_FILE", fixture("ca.pem")) };

    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(fixture("server.pem"))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(fixture("server.key")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (sock, _) = listener.accept().await.unwrap();
        let mut tls = acceptor.accept(sock).await.unwrap();
        let mut buf = vec![0u8; 65536];
        let n = tls.read(&mut buf).await.unwrap();
        let request = String::from_utf8_lossy(&buf[..n]).into_owned();
        let body = r#"{"items":[{"id":"over-tls"}],"_links":{}}"#;
        let resp = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        tls.write_all(resp.as_bytes()).await.unwrap();
        tls.shutdown().await.unwrap();
        request
    });

    let c = client(&format!("https://localhost:{port}"), ready_token(), 0);
    let items = c.list("/flows", &[]).await.unwrap();
    assert_eq!(items, [serde_json::json!({"id": "over-tls"})]);
    let request = server.await.unwrap();
    assert!(
        request.starts_with("GET /data/foundation/flowservice/flows?limit=100 HTTP/1.1"),
        "{request}"
    );
}
