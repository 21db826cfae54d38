//! IMS: `POST /ims/token/v3` (OAuth server-to-server, `client_credentials`), and the tokens it
//! issued.

use super::query::decode_pairs;
use axum::http::StatusCode;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What a token was issued to.
#[derive(Clone, Debug)]
pub(crate) struct TokenInfo {
    pub client_id: String,
    expires: Instant,
}

/// Tokens issued by this emulator (in memory only: a restart invalidates them, as a client
/// must expect of any token).
#[derive(Debug, Default)]
pub(crate) struct Tokens {
    map: Mutex<HashMap<String, TokenInfo>>,
}

impl Tokens {
    /// Issues a token to `client_id`, valid for `lifetime`.
    pub(crate) fn issue(&self, client_id: &str, lifetime: Duration) -> String {
        let token = format!(
            "eyJ{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let mut map = self.map.lock().expect("lock");
        let now = Instant::now();
        map.retain(|_, t| t.expires > now);
        map.insert(
            token.clone(),
            TokenInfo {
                client_id: client_id.to_owned(),
                expires: now + lifetime,
            },
        );
        token
    }

    /// The token's owner, if the token is known and not expired.
    pub(crate) fn check(&self, token: &str) -> Option<TokenInfo> {
        let map = self.map.lock().expect("lock");
        map.get(token)
            .filter(|t| t.expires > Instant::now())
            .cloned()
    }
}

/// Answers a token request: form fields from the body and the query string.
pub(crate) fn token_response(
    tokens: &Tokens,
    lifetime: Duration,
    query: &str,
    body: &str,
) -> (StatusCode, Value) {
    let mut fields: HashMap<String, String> = decode_pairs(query).into_iter().collect();
    fields.extend(decode_pairs(body));
    let get = |k: &str| fields.get(k).map(String::as_str).unwrap_or("");
    let oauth_error = |error: &str, description: &str| {
        (
            StatusCode::BAD_REQUEST,
            json!({"error": error, "error_description": description}),
        )
    };
    if get("grant_type") != "client_credentials" {
        return oauth_error(
            "unsupported_grant_type",
            "grant_type must be client_credentials",
        );
    }
    if get("client_id").is_empty() {
        return oauth_error("invalid_request", "client_id is required");
    }
    if get("client_secret").is_empty() {
        return (
            StatusCode::UNAUTHORIZED,
            json!({"error": "invalid_client", "error_description": "invalid client_secret parameter"}),
        );
    }
    let token = tokens.issue(get("client_id"), lifetime);
    (
        StatusCode::OK,
        json!({"access_token": token, "token_type": "bearer", "expires_in": lifetime.as_secs()}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_expire() {
        let t = Tokens::default();
        let tok = t.issue("c", Duration::from_millis(0));
        assert!(t.check(&tok).is_none());
        let tok = t.issue("c", Duration::from_secs(60));
        assert_eq!(t.check(&tok).unwrap().client_id, "c");
        assert!(t.check("nope").is_none());
    }

    #[test]
    fn grant_checks() {
        let t = Tokens::default();
        let d = Duration::from_secs(5);
        assert_eq!(token_response(&t, d, "", "grant_type=password").0, 400);
        assert_eq!(
            token_response(&t, d, "", "grant_type=client_credentials&client_id=a").0,
            401
        );
        let (s, v) = token_response(
            &t,
            d,
            "client_id=a",
            "grant_type=client_credentials&client_secret=b",
        );
        assert_eq!(s, 200);
        assert_eq!(v["expires_in"], 5);
        assert_eq!(v["token_type"], "bearer");
    }
}
