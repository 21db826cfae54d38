//! A real https round trip: the client (rustls, ring provider, platform verifier) talks to a
//! loopback TLS server whose certificate is signed by a test CA (tests/fixtures/tls). The CA is
//! trusted through `SSL_CERT_FILE`, which the platform verifier reads on Linux.

use crate::support::fake_server::*;
use crate::support::in_own_process;
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

/// Runs the test in its own process, where `SSL_CERT_FILE` names the test CA (see
/// [`in_own_process`]); `true` there.
fn trust_the_test_ca(test: &str) -> bool {
    in_own_process(test, &[("SSL_CERT_FILE", fixture("ca.pem").as_os_str())])
}

fn acceptor() -> tokio_rustls::TlsAcceptor {
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
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

#[tokio::test]
async fn https_round_trip_with_certificate_verification() {
    if !trust_the_test_ca(concat!(
        module_path!(),
        "::https_round_trip_with_certificate_verification"
    )) {
        return;
    }
    let acceptor = acceptor();
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

#[tokio::test]
async fn a_refused_certificate_is_reported_without_retrying() {
    if !trust_the_test_ca(concat!(
        module_path!(),
        "::a_refused_certificate_is_reported_without_retrying"
    )) {
        return;
    }
    let acceptor = acceptor();
    // 127.0.0.2 is loopback on Linux but not a name in the certificate.
    let listener = tokio::net::TcpListener::bind("127.0.0.2:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let handshakes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let h = handshakes.clone();
    tokio::spawn(async move {
        loop {
            let (sock, _) = listener.accept().await.unwrap();
            h.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let _ = acceptor.accept(sock).await;
            });
        }
    });
    let c = client(&format!("https://127.0.0.2:{port}"), ready_token(), 3);
    let err = c.list("/flows", &[]).await.unwrap_err();
    assert!(
        matches!(
            err,
            destctl::client::ClientError::Transport { attempts: 1, .. }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("certificate"), "{err}");
    assert_eq!(handshakes.load(std::sync::atomic::Ordering::SeqCst), 1);
}
