//! Connection failures: refused, closed without an answer, no answer in time, TLS.

use crate::support::fake_server::*;
use destctl::client::{Client, ClientConfig, ClientError};
use destctl::wire::Resource;
use serde_json::json;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// A port nothing listens on.
async fn closed_port() -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    format!("http://{addr}")
}

#[tokio::test]
async fn connection_refused_is_retried_for_every_method_then_reported() {
    let url = closed_port().await;
    let c = client(&url, ready_token(), 2);
    let err = c.list("/flows", &[]).await.unwrap_err();
    let ClientError::Transport {
        attempts, timeout, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!((*attempts, *timeout), (3, false));
    assert_eq!(c.requests_sent(), 3);
    assert!(err.to_string().contains("connection failed"), "{err}");
    assert!(err.hint().unwrap().contains("DESTCTL_ENDPOINT"));
    // Nothing was sent, so even a create is retried.
    let err = c
        .create(Resource::Flow, &json!({"name": "f"}))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::Transport { attempts: 3, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_closed_connection_is_retried_for_get_but_not_for_create() {
    let (url, conns) = raw_server(Behaviour::Close).await;
    let c = client(&url, ready_token(), 2);
    let err = c.list("/flows", &[]).await.unwrap_err();
    assert!(
        matches!(err, ClientError::Transport { attempts: 3, .. }),
        "{err:?}"
    );
    assert_eq!(conns.load(Ordering::SeqCst), 3);

    let (url, conns) = raw_server(Behaviour::Close).await;
    let c = client(&url, ready_token(), 2);
    let err = c
        .create(Resource::Flow, &json!({"name": "f"}))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::Transport { attempts: 1, .. }),
        "{err:?}"
    );
    assert_eq!(
        conns.load(Ordering::SeqCst),
        1,
        "a create that may have landed is not repeated"
    );
}

#[tokio::test]
async fn timeouts_are_retried_for_get_only() {
    let (url, conns) = raw_server(Behaviour::Hang).await;
    let mut cfg = ClientConfig::new(&url, "prod", ready_token());
    cfg.retry = fast_retry(1);
    cfg.timeout = Duration::from_millis(300);
    let c = Client::new(cfg.clone()).unwrap();
    let err = c.list("/flows", &[]).await.unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Transport {
                timeout: true,
                attempts: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.hint().unwrap().contains("in time"));
    assert_eq!(conns.load(Ordering::SeqCst), 2);

    let (url, conns) = raw_server(Behaviour::Hang).await;
    cfg.endpoint = url;
    let c = Client::new(cfg).unwrap();
    let err = c
        .create(Resource::Connection, &json!({"name": "c"}))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Transport {
                timeout: true,
                attempts: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(conns.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn https_uses_rustls_without_a_globally_installed_provider() {
    // This test binary never installs a provider itself: building the client must not panic,
    // and an https request must go through a TLS handshake (which fails against a server that
    // does not speak TLS) instead of being sent in clear.
    let (url, conns) = raw_server(Behaviour::NotTls).await;
    let https = url.replace("http://", "https://");
    let c = client(&https, ready_token(), 0);
    let err = c.list("/flows", &[]).await.unwrap_err();
    assert!(
        matches!(err, ClientError::Transport { .. }),
        "an https request to a plain server must fail the handshake: {err:?}"
    );
    assert_eq!(conns.load(Ordering::SeqCst), 1);
    assert!(rustls::crypto::CryptoProvider::get_default().is_some());
}
