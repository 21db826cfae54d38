//! IMS: `POST /ims/token/v3` (OAuth server-to-server, `client_credentials`), the credentials
//! it accepts, and the tokens it issued.
//!
//! Without a credential list any non-empty `client_id`/`client_secret` pair gets a token that
//! every org accepts. With one ([`ImsCredential`], `destctl emulator --ims-credential
//! ID:SECRET[:ORG]`), only the listed pairs get tokens: an unknown `client_id` is answered 400
//! `{"error":"invalid_client","error_description":"invalid client_id parameter"}`, a known id
//! with another secret 401 `{"error":"invalid_client","error_description":"invalid
//! client_secret parameter"}` (IMS's OAuth error shape; Adobe documents no other body). A pair
//! listed with an org gets a token entitled to that org only: the gateway answers 403 `403025`
//! "Profile is not valid" when it is used with another `x-gw-ims-org-id`.

use super::query::decode_pairs;
use axum::http::StatusCode;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One OAuth server-to-server credential the emulator's IMS accepts, written
/// `CLIENT_ID:CLIENT_SECRET[:ORG_ID]`.
#[derive(Clone, PartialEq, Eq)]
pub struct ImsCredential {
    /// The client id (also the `x-api-key`).
    pub client_id: String,
    /// The client secret.
    pub client_secret: String,
    /// The IMS org its tokens are entitled to; `None`: every org.
    pub org: Option<String>,
}

impl std::fmt::Debug for ImsCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImsCredential")
            .field("client_id", &self.client_id)
            .field("client_secret", &"***")
            .field("org", &self.org)
            .finish()
    }
}

/// A credential not written `CLIENT_ID:CLIENT_SECRET[:ORG_ID]`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ImsCredentialError {
    /// No `:` between a non-empty id and a non-empty secret.
    #[error("write the credential as CLIENT_ID:CLIENT_SECRET or CLIENT_ID:CLIENT_SECRET:ORG_ID")]
    Shape,
    /// The org part is not `<letters and digits>@AdobeOrg`.
    #[error("`{0}` is not an IMS org id (<letters and digits>@AdobeOrg)")]
    Org(String),
}

impl std::str::FromStr for ImsCredential {
    type Err = ImsCredentialError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (id, rest) = s.split_once(':').ok_or(ImsCredentialError::Shape)?;
        let (secret, org) = match rest.rsplit_once(':') {
            Some((secret, org)) if org.ends_with("@AdobeOrg") => (secret, Some(org)),
            _ => (rest, None),
        };
        if id.is_empty() || secret.is_empty() {
            return Err(ImsCredentialError::Shape);
        }
        if let Some(o) = org.filter(|o| !super::gateway::valid_org(o)) {
            return Err(ImsCredentialError::Org(o.to_owned()));
        }
        Ok(ImsCredential {
            client_id: id.to_owned(),
            client_secret: secret.to_owned(),
            org: org.map(str::to_owned),
        })
    }
}

/// What a token was issued to.
#[derive(Clone, Debug)]
pub(crate) struct TokenInfo {
    pub client_id: String,
    /// The org the token is entitled to; `None`: every org.
    pub org: Option<String>,
    expires: Instant,
}

/// Tokens issued by this emulator (in memory only: a restart invalidates them, as a client
/// must expect of any token), and the credentials that may obtain them.
#[derive(Debug, Default)]
pub(crate) struct Tokens {
    map: Mutex<HashMap<String, TokenInfo>>,
    /// Accepted credentials; empty: any non-empty pair.
    credentials: Vec<ImsCredential>,
}

impl Tokens {
    /// Tokens for these credentials (empty: any non-empty pair).
    pub(crate) fn with_credentials(credentials: Vec<ImsCredential>) -> Tokens {
        Tokens {
            map: Mutex::default(),
            credentials,
        }
    }

    /// Issues a token to `client_id`, entitled to every org, valid for `lifetime`.
    pub(crate) fn issue(&self, client_id: &str, lifetime: Duration) -> String {
        self.issue_for(client_id, None, lifetime)
    }

    /// Issues a token to `client_id`, entitled to `org` (or every org), valid for `lifetime`.
    fn issue_for(&self, client_id: &str, org: Option<&str>, lifetime: Duration) -> String {
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
                org: org.map(str::to_owned),
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
    let mut org = None;
    if !tokens.credentials.is_empty() {
        let Some(c) = tokens
            .credentials
            .iter()
            .find(|c| c.client_id == get("client_id"))
        else {
            return oauth_error("invalid_client", "invalid client_id parameter");
        };
        if c.client_secret != get("client_secret") {
            return (
                StatusCode::UNAUTHORIZED,
                json!({"error": "invalid_client", "error_description": "invalid client_secret parameter"}),
            );
        }
        org = c.org.as_deref();
    }
    let token = tokens.issue_for(get("client_id"), org, lifetime);
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
    fn credential_list() {
        let c: ImsCredential = "id:se:cret:ABC123@AdobeOrg".parse().unwrap();
        assert_eq!(c.client_secret, "se:cret");
        assert_eq!(c.org.as_deref(), Some("ABC123@AdobeOrg"));
        let c: ImsCredential = "id:secret".parse().unwrap();
        assert_eq!(c.org, None);
        assert!("id".parse::<ImsCredential>().is_err());
        assert!(":s".parse::<ImsCredential>().is_err());
        assert!("i:s:bad-org@AdobeOrg".parse::<ImsCredential>().is_err());
        assert!(!format!("{c:?}").contains("secret\""));
        let t = Tokens::with_credentials(vec!["a:b:ORG1@AdobeOrg".parse().unwrap()]);
        let d = Duration::from_secs(5);
        let grant = |id: &str, secret: &str| {
            token_response(
                &t,
                d,
                "",
                &format!("grant_type=client_credentials&client_id={id}&client_secret={secret}"),
            )
        };
        let (s, v) = grant("x", "b");
        assert_eq!(
            (s.as_u16(), v["error_description"].as_str()),
            (400, Some("invalid client_id parameter"))
        );
        let (s, v) = grant("a", "c");
        assert_eq!(
            (s.as_u16(), v["error_description"].as_str()),
            (401, Some("invalid client_secret parameter"))
        );
        let (s, v) = grant("a", "b");
        assert_eq!(s, 200);
        let info = t.check(v["access_token"].as_str().unwrap()).unwrap();
        assert_eq!(info.org.as_deref(), Some("ORG1@AdobeOrg"));
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
