//! Issue 3, points 2 and 3: IMS tokens and the gateway checks (token, API key, org id,
//! content type, sandbox selection and isolation).

use crate::support::router::*;
use axum::http::Method;
use destctl::emulator::{EMBEDDED_CLIENT_ID, EMBEDDED_ORG_ID, EmulatorConfig};
use serde_json::json;
use std::time::Duration;

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

#[tokio::test]
async fn ims_issues_bearer_tokens_that_the_api_accepts() {
    let app = App::new();
    let r = app
        .raw(
            Method::POST,
            "/ims/token/v3",
            &[FORM],
            Some("grant_type=client_credentials&client_id=my-client&client_secret=s3cr3t&scope=openid,AdobeID"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["token_type"], "bearer");
    assert_eq!(r.body["expires_in"], 86400);
    let token = r.body["access_token"].as_str().unwrap();
    let auth = format!("Bearer {token}");
    let ok = app
        .raw(
            Method::GET,
            &format!("{FS}/flows"),
            &[
                ("authorization", &auth),
                ("x-api-key", "my-client"),
                ("x-gw-ims-org-id", EMBEDDED_ORG_ID),
            ],
            None,
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.body, json!({"items": [], "_links": {}}));
    // Parameters may also travel in the query string.
    let q = app
        .raw(
            Method::POST,
            "/ims/token/v3?grant_type=client_credentials&client_id=a&client_secret=b",
            &[],
            None,
        )
        .await;
    assert_eq!(q.status, 200);
}

#[tokio::test]
async fn ims_refuses_bad_grants() {
    let app = App::new();
    let r = app
        .raw(
            Method::POST,
            "/ims/token/v3",
            &[FORM],
            Some("grant_type=password&client_id=a&client_secret=b"),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"], "unsupported_grant_type");
    let r = app
        .raw(
            Method::POST,
            "/ims/token/v3",
            &[FORM],
            Some("grant_type=client_credentials&client_secret=b"),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"], "invalid_request");
    let r = app
        .raw(
            Method::POST,
            "/ims/token/v3",
            &[FORM],
            Some("grant_type=client_credentials&client_id=a"),
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["error"], "invalid_client");
}

#[tokio::test]
async fn expired_and_unknown_tokens_get_401013() {
    let app = App::with_config(EmulatorConfig {
        token_lifetime: Duration::from_millis(50),
        ..EmulatorConfig::default()
    });
    assert_eq!(app.get("/flows").await.status, 200);
    tokio::time::sleep(Duration::from_millis(80)).await;
    let r = app.get("/flows").await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.body,
        json!({"error_code": "401013", "message": "Oauth token is not valid"})
    );
    let mut other = App::new();
    other.token = "eyJnot-a-token".into();
    let r = other.get("/flows").await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["error_code"], "401013");
}

#[tokio::test]
async fn header_checks_in_order_with_documented_bodies() {
    let app = App::new();
    let auth = format!("Bearer {}", app.token);
    let path = format!("{FS}/connections");
    type Case<'a> = (Vec<(&'a str, &'a str)>, u16, serde_json::Value);
    let cases: Vec<Case<'_>> = vec![
        (
            vec![],
            403,
            json!({"error_code": "403010", "message": "Oauth token is missing."}),
        ),
        (
            vec![("authorization", &auth)],
            403,
            json!({"error_code": "403000", "message": "Api Key is required"}),
        ),
        (
            vec![("authorization", &auth), ("x-api-key", "someone-else")],
            403,
            json!({"error_code": "403003", "message": "Api Key is invalid"}),
        ),
        (
            vec![("authorization", &auth), ("x-api-key", EMBEDDED_CLIENT_ID)],
            400,
            json!({"error_code": "400003", "message": "Missing header"}),
        ),
        (
            vec![
                ("authorization", &auth),
                ("x-api-key", EMBEDDED_CLIENT_ID),
                ("x-gw-ims-org-id", "acme"),
            ],
            403,
            json!({"error_code": "403027", "message": "User region is missing"}),
        ),
    ];
    for (headers, status, body) in cases {
        let r = app.raw(Method::GET, &path, &headers, None).await;
        assert_eq!(r.status.as_u16(), status, "{headers:?}: {}", r.text);
        assert_eq!(r.body, body);
    }
}

#[tokio::test]
async fn writes_need_json_content_type() {
    let app = App::new();
    let auth = format!("Bearer {}", app.token);
    let body = profile_base().to_string();
    for ct in [
        None,
        Some("text/plain"),
        Some("application/json-patch+json"),
    ] {
        let mut h = vec![
            ("authorization", auth.as_str()),
            ("x-api-key", EMBEDDED_CLIENT_ID),
            ("x-gw-ims-org-id", EMBEDDED_ORG_ID),
        ];
        if let Some(ct) = ct {
            h.push(("content-type", ct));
        }
        let r = app
            .raw(Method::POST, &format!("{FS}/connections"), &h, Some(&body))
            .await;
        assert_eq!(r.status, 400, "{ct:?}");
        assert_eq!(
            r.body,
            json!({"type": "/placeholder/type/uri", "status": 400, "title": "BadRequestError",
                   "detail": "A valid content-type must be specified"})
        );
    }
    let r = app
        .api_with(
            Method::POST,
            "/connections",
            &[("content-type", "application/json; charset=utf-8")],
            None,
        )
        .await;
    // No body: the content type is not checked, the empty body is.
    assert_flow_error(&r, 400, 1405);
}

#[tokio::test]
async fn sandbox_defaults_to_prod_and_strict_mode_requires_it() {
    let app = App::new();
    let no_header = app.as_caller(EMBEDDED_ORG_ID, None);
    let id = no_header.create("/connections", profile_base()).await;
    let c = app.entity(&format!("/connections/{id}")).await;
    assert_eq!(c["sandboxName"], "prod");
    assert!(c["sandboxId"].is_string());

    let strict = App::with_config(EmulatorConfig {
        strict_sandbox: true,
        ..EmulatorConfig::default()
    });
    let r = strict.as_caller(EMBEDDED_ORG_ID, None).get("/flows").await;
    let msg = assert_flow_error(&r, 400, 2105);
    assert_eq!(msg, "The header x-sandbox-name is missing");
    assert_eq!(strict.get("/flows").await.status, 200);

    let r = app
        .as_caller(EMBEDDED_ORG_ID, Some("Dev"))
        .get("/flows")
        .await;
    assert_flow_error(&r, 404, 2100);
}

#[tokio::test]
async fn orgs_and_sandboxes_are_isolated() {
    let app = App::new();
    let id = app.create("/connections", profile_base()).await;
    let dev = app.as_caller(EMBEDDED_ORG_ID, Some("dev"));
    let other_org = app.as_caller("1234567890ABCDEF12345678@AdobeOrg", Some("prod"));
    for view in [&dev, &other_org] {
        assert_eq!(view.get("/connections").await.body["items"], json!([]));
        let r = view.get(&format!("/connections/{id}")).await;
        assert_flow_error(&r, 404, 1101);
    }
    let dev_id = dev.create("/connections", profile_base()).await;
    let prod_items = app.get("/connections").await.body["items"].clone();
    assert_eq!(prod_items.as_array().unwrap().len(), 1);
    assert_eq!(prod_items[0]["id"], id.as_str());
    let dev_entity = dev.entity(&format!("/connections/{dev_id}")).await;
    let prod_entity = app.entity(&format!("/connections/{id}")).await;
    assert_eq!(dev_entity["sandboxName"], "dev");
    assert_ne!(dev_entity["sandboxId"], prod_entity["sandboxId"]);
    assert_eq!(prod_entity["imsOrgId"], EMBEDDED_ORG_ID);
}

#[tokio::test]
async fn unsupported_methods_and_unknown_paths_get_flow_service_error_bodies() {
    let app = App::new();
    let chain = app.flow_chain("m").await;
    let r = app
        .api(
            Method::PUT,
            &format!("/flows/{}", chain.flow),
            Some(json!({"name": "x"})),
        )
        .await;
    let msg = assert_flow_error(&r, 405, 1000);
    assert!(msg.contains("PUT"), "{msg}");
    assert!(r.headers.contains_key("x-request-id"));
    let r = app.api(Method::DELETE, "/connectionSpecs", None).await;
    assert_flow_error(&r, 405, 1000);
    let r = app.get("/no-such-collection").await;
    assert_flow_error(&r, 404, 1101);
    assert!(r.headers.contains_key("x-request-id"));
}
