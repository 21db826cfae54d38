//! The emulator's IMS with a credential list: only listed `client_id:client_secret` pairs get
//! a token (IMS's `invalid_client` errors otherwise), and a token of a pair listed with an org
//! used with another org's `x-gw-ims-org-id` gets 403 `403025` "Profile is not valid".

use crate::support::cli::Cli;
use crate::support::emulator::EmulatorProcess;
use crate::support::router::*;
use axum::http::Method;
use destctl::emulator::{EmulatorConfig, ImsCredential};
use serde_json::json;

const ORG_A: &str = "AAAA1111AAAA1111AAAA1111@AdobeOrg";
const ORG_B: &str = "BBBB2222BBBB2222BBBB2222@AdobeOrg";

fn app() -> App {
    App::with_config(EmulatorConfig {
        credentials: vec![
            "client-a:secret-a:AAAA1111AAAA1111AAAA1111@AdobeOrg"
                .parse::<ImsCredential>()
                .unwrap(),
            "client-any:secret-any".parse().unwrap(),
        ],
        ..EmulatorConfig::default()
    })
}

async fn token(app: &App, id: &str, secret: &str) -> Resp {
    app.raw(
        Method::POST,
        "/ims/token/v3",
        &[("content-type", "application/x-www-form-urlencoded")],
        Some(&format!(
            "grant_type=client_credentials&client_id={id}&client_secret={secret}&scope=openid"
        )),
    )
    .await
}

async fn list_flows(app: &App, token: &str, client: &str, org: &str) -> Resp {
    app.raw(
        Method::GET,
        &format!("{FS}/flows"),
        &[
            ("authorization", &format!("Bearer {token}")),
            ("x-api-key", client),
            ("x-gw-ims-org-id", org),
            ("x-sandbox-name", "prod"),
        ],
        None,
    )
    .await
}

#[tokio::test]
async fn only_listed_pairs_get_a_token() {
    let app = app();
    let r = token(&app, "client-x", "secret-a").await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(
        r.body,
        json!({"error": "invalid_client", "error_description": "invalid client_id parameter"})
    );
    let r = token(&app, "client-a", "wrong").await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(
        r.body,
        json!({"error": "invalid_client", "error_description": "invalid client_secret parameter"})
    );
    let r = token(&app, "client-a", "secret-a").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["token_type"], "bearer");
}

#[tokio::test]
async fn a_token_used_with_another_org_gets_403025() {
    let app = app();
    let t = token(&app, "client-a", "secret-a").await.body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let ok = list_flows(&app, &t, "client-a", ORG_A).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    let r = list_flows(&app, &t, "client-a", ORG_B).await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(
        r.body,
        json!({"error_code": "403025", "message": "Profile is not valid"})
    );
    // A pair listed without an org is entitled to every org.
    let any = token(&app, "client-any", "secret-any").await.body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    for org in [ORG_A, ORG_B] {
        let r = list_flows(&app, &any, "client-any", org).await;
        assert_eq!(r.status, 200, "{org}: {}", r.text);
    }
}

/// `destctl emulator --ims-credential` end to end, with `destctl plan` as the client: a wrong
/// secret and a wrong org each stop the run with exit 1 and the service's error, nothing sent.
#[test]
fn the_emulator_option_and_what_destctl_says() {
    let emu = EmulatorProcess::spawn(&["--ims-credential", &format!("ci:ci-secret:{ORG_A}")]);
    let run = |secret: &str, org: &str| {
        let dir = crate::support::tempdir();
        crate::support::write(
            &dir,
            "manifests/s.yaml",
            "apiVersion: destctl/v1\nkind: Schedule\nmetadata: {name: s}\nspec: {exportMode: DAILY_FULL_EXPORT, frequency: DAILY, startDate: 2026-12-01}\n",
        );
        let out = Cli::in_dir(&dir)
            .args(["plan", "--endpoint", emu.base_url()])
            .env("AEP_CLIENT_ID", "ci")
            .env("AEP_CLIENT_SECRET", secret)
            .env("AEP_ORG_ID", org)
            .output();
        (out.status.code(), String::from_utf8(out.stderr).unwrap())
    };
    let (code, err) = run("ci-secret", ORG_A);
    assert_eq!(code, Some(0), "{err}");
    let (code, err) = run("not-the-secret", ORG_A);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("invalid_client") || err.contains("client_secret"),
        "{err}"
    );
    assert!(
        !err.contains("not-the-secret"),
        "the secret is never echoed: {err}"
    );
    let (code, err) = run("ci-secret", ORG_B);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("403025") || err.contains("Profile is not valid"),
        "{err}"
    );
}

#[test]
fn malformed_credentials_are_refused_by_the_cli() {
    for bad in [
        "no-colon",
        ":secret",
        "id:",
        "id:secret:not-an-org@AdobeOrg",
    ] {
        let out = Cli::new()
            .args([
                "emulator",
                "--listen",
                "127.0.0.1:0",
                "--ims-credential",
                bad,
            ])
            .output();
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(1), "{bad}: {err}");
        assert!(err.contains("--ims-credential"), "{bad}: {err}");
    }
}
