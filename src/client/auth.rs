//! Access tokens: a ready token, or IMS client credentials exchanged for a token that is cached
//! and refreshed before it expires. Concurrent callers share one refresh.

use super::error::{ApiError, ClientError, ErrorShape};
use super::retry::{Answer, Outcome, Retrier, RetryClass};
use super::{Auth, Redacted};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// A bearer token, shared by the requests that use it. Its `Debug` never shows the value, and
/// the memory holding it is zeroed when the last copy is dropped.
#[derive(Clone)]
pub(crate) struct AccessToken(Arc<SecretString>);

impl AccessToken {
    fn new(token: SecretString) -> AccessToken {
        AccessToken(Arc::new(token))
    }

    /// The token's text, for the `Authorization` header only.
    pub(crate) fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl PartialEq for AccessToken {
    fn eq(&self, other: &AccessToken) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.expose() == other.expose()
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Redacted::TEXT)
    }
}

#[derive(Debug)]
struct CachedToken {
    token: AccessToken,
    refresh_at: Instant,
}

/// The token endpoint's answer.
#[derive(Deserialize)]
struct TokenResponse {
    access_token: SecretString,
    #[serde(default)]
    expires_in: Option<ExpiresIn>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ExpiresIn {
    Number(u64),
    Text(String),
}

impl ExpiresIn {
    fn seconds(&self) -> Option<u64> {
        match self {
            ExpiresIn::Number(n) => Some(*n),
            ExpiresIn::Text(s) => s.trim().parse().ok(),
        }
    }
}

/// Lifetime assumed when IMS does not say (IMS tokens last ~24 h).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

/// How long before expiry a token is refreshed: a tenth of its lifetime, at least 60 s, at
/// most half of it.
pub(crate) fn refresh_margin(lifetime: Duration) -> Duration {
    (lifetime / 10)
        .max(Duration::from_secs(60))
        .min(lifetime / 2)
}

/// Hands out tokens for [`Auth`].
pub(crate) struct TokenSource {
    auth: Auth,
    /// The ready token of [`Auth::Token`].
    ready: Option<AccessToken>,
    cache: Mutex<Option<CachedToken>>,
    /// Number of IMS token requests answered with a token (for tests and `-vv`).
    minted: std::sync::atomic::AtomicU64,
}

impl TokenSource {
    pub(crate) fn new(auth: Auth) -> TokenSource {
        let ready = match &auth {
            Auth::Token { access_token, .. } => Some(AccessToken::new(access_token.clone())),
            Auth::ClientCredentials { .. } => None,
        };
        TokenSource {
            auth,
            ready,
            cache: Mutex::new(None),
            minted: Default::default(),
        }
    }

    pub(crate) fn minted(&self) -> u64 {
        self.minted.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether a rejected token can be replaced by asking IMS again.
    pub(crate) fn can_refresh(&self) -> bool {
        matches!(self.auth, Auth::ClientCredentials { .. })
    }

    /// A valid token: the cached one, or a fresh one from IMS. Callers arriving during a
    /// refresh wait for it and share its result.
    pub(crate) async fn token(
        &self,
        http: &reqwest::Client,
        retrier: &Retrier,
    ) -> Result<AccessToken, ClientError> {
        let (ims_url, client_id, client_secret, scopes) = match &self.auth {
            Auth::Token { access_token, .. } => {
                let ready = self.ready.clone();
                return Ok(ready.unwrap_or_else(|| AccessToken::new(access_token.clone())));
            }
            Auth::ClientCredentials {
                ims_url,
                client_id,
                client_secret,
                scopes,
                ..
            } => (ims_url, client_id, client_secret, scopes),
        };
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.as_ref()
            && Instant::now() < c.refresh_at
        {
            return Ok(c.token.clone());
        }
        let (token, lifetime) =
            fetch_token(http, retrier, ims_url, client_id, client_secret, scopes).await?;
        self.minted
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        retrier.redactor().add(&token.0);
        *cache = Some(CachedToken {
            token: token.clone(),
            refresh_at: Instant::now() + lifetime - refresh_margin(lifetime),
        });
        Ok(token)
    }

    /// Drops `rejected` from the cache (the service answered 401 to it), so the next call
    /// asks IMS again. A newer token cached meanwhile is kept.
    pub(crate) async fn invalidate(&self, rejected: &AccessToken) {
        let mut cache = self.cache.lock().await;
        if cache.as_ref().is_some_and(|c| &c.token == rejected) {
            *cache = None;
        }
    }
}

const TOKEN_PATH: &str = "/ims/token/v3";

async fn fetch_token(
    http: &reqwest::Client,
    retrier: &Retrier,
    ims_url: &str,
    client_id: &str,
    client_secret: &SecretString,
    scopes: &str,
) -> Result<(AccessToken, Duration), ClientError> {
    let url = format!("{}{TOKEN_PATH}", ims_url.trim_end_matches('/'));
    let url = reqwest::Url::parse(&url)
        .map_err(|e| ClientError::Config(format!("invalid IMS URL: {e}")))?;
    let path = url.path().to_owned();
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        ("client_secret", client_secret.expose_secret()),
        ("scope", scopes),
    ];
    let (url, path_ref, form) = (&url, path.as_str(), &form);
    // Minting a token twice is harmless, so every retryable failure is retried.
    retrier
        .run(
            RetryClass::Idempotent,
            &Method::POST,
            path_ref,
            |attempt| async move {
                let started = std::time::Instant::now();
                let request = http
                    .post(url.clone())
                    .header(reqwest::header::ACCEPT, "application/json")
                    .form(form);
                let answer = match Answer::exchange(request).await {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::debug!(method = "POST", path = %path_ref,
                            attempt = attempt.number(),
                            elapsed_ms = started.elapsed().as_millis() as u64,
                            error = %super::transport_message(&e), "IMS token request failed");
                        return Outcome::Transport(e);
                    }
                };
                let status = answer.status;
                tracing::debug!(method = "POST", path = %path_ref, status = status.as_u16(),
                    attempt = attempt.number(), elapsed_ms = started.elapsed().as_millis() as u64,
                    "IMS token request");
                if !status.is_success() {
                    return answer.retry_or_fail();
                }
                let Ok(parsed) = serde_json::from_slice::<TokenResponse>(&answer.body) else {
                    return Outcome::Done(Err(ClientError::Token(Box::new(ApiError {
                        method: Method::POST,
                        path: path_ref.to_owned(),
                        status: status.as_u16(),
                        code: None,
                        title: None,
                        message: "the token response is not {access_token, expires_in}".into(),
                        request_id: None,
                        shape: ErrorShape::Unknown,
                        attempts: attempt.number(),
                    }))));
                };
                let lifetime = parsed
                    .expires_in
                    .as_ref()
                    .and_then(ExpiresIn::seconds)
                    .map(Duration::from_secs)
                    .unwrap_or(DEFAULT_LIFETIME);
                Outcome::Done(Ok((AccessToken::new(parsed.access_token), lifetime)))
            },
            |e| ClientError::Token(Box::new(e)),
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margin_is_a_tenth_at_least_a_minute_at_most_half() {
        assert_eq!(
            refresh_margin(Duration::from_secs(86_399)),
            Duration::from_millis(8_639_900)
        );
        assert_eq!(
            refresh_margin(Duration::from_secs(300)),
            Duration::from_secs(60)
        );
        assert_eq!(
            refresh_margin(Duration::from_secs(100)),
            Duration::from_secs(50)
        );
        assert_eq!(
            refresh_margin(Duration::from_secs(2)),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn token_debug_is_redacted() {
        let t = AccessToken::new("eyJhbGciOi-secret".into());
        assert_eq!(format!("{t:?}"), "<redacted>");
        assert_eq!(t.expose(), "eyJhbGciOi-secret");
        assert_eq!(t, AccessToken::new("eyJhbGciOi-secret".into()));
    }
}
