//! The Flow Service HTTP client: IMS tokens, the required headers, retries with backoff, typed
//! errors. Secrets and tokens never reach logs.
//!
//! CONTRACT SURFACE: the signatures below are what `live` and `apply` use.
//!
//! Every request carries `Authorization: Bearer …`, `x-api-key`, `x-gw-ims-org-id`,
//! `x-sandbox-name`, `Accept: application/json`, `User-Agent: destctl/<version>` and, with a
//! body, `Content-Type: application/json`. Failures are retried as `client/retry.rs` documents
//! (idempotent requests on 429/5xx/connection errors; creates only when nothing can have been
//! processed).
//! Logging (`tracing`, debug level) records method, path, status, attempt and elapsed time, never
//! headers, bodies or query strings.

mod auth;
mod error;
mod resolve;
mod retry;

pub use error::{ApiError, ClientError, ErrorShape, REDACTED, Redactor, find_hint};
pub use retry::{DEFAULT_MAX_RETRIES, MAX_TIMEOUT_ATTEMPTS, RetryNotice, RetryObserver};

use crate::wire::{EntityId, Etag, PatchOp, Resource};
use auth::{AccessToken, TokenSource};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue, IF_MATCH};
use reqwest::{Method, StatusCode, Url};
use retry::{Answer, Cut, Hooks, Outcome, Retrier, RetryClass};
use secrecy::SecretString;
use serde_json::Value;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How the client authenticates.
#[derive(Clone)]
pub enum Auth {
    /// A ready token (`AEP_ACCESS_TOKEN`).
    Token {
        /// The bearer token.
        access_token: SecretString,
        /// `x-api-key` (`AEP_CLIENT_ID`).
        client_id: String,
        /// `x-gw-ims-org-id` (`AEP_ORG_ID`).
        org_id: String,
    },
    /// OAuth server-to-server through the IMS token endpoint, cached and refreshed before expiry.
    ClientCredentials {
        /// IMS base URL (token endpoint is `{ims_url}/ims/token/v3`).
        ims_url: String,
        /// `AEP_CLIENT_ID`, also sent as `x-api-key`.
        client_id: String,
        /// `AEP_CLIENT_SECRET`.
        client_secret: SecretString,
        /// `AEP_ORG_ID`.
        org_id: String,
        /// `AEP_SCOPES`, comma-separated.
        scopes: String,
    },
}

/// Retry policy for 429, 500, 502, 503, 504 and connection errors.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Attempts after the first.
    pub max_retries: u32,
    /// First backoff; doubles each retry, with jitter.
    pub base_delay: Duration,
    /// Upper bound of one wait (also caps `Retry-After`).
    pub max_delay: Duration,
}

/// Everything needed to talk to one sandbox.
#[derive(Clone)]
pub struct ClientConfig {
    /// Platform base URL, e.g. `https://platform.adobe.io` or `http://127.0.0.1:PORT`; the Flow
    /// Service lives under `/data/foundation/flowservice`.
    pub endpoint: String,
    /// `x-sandbox-name`.
    pub sandbox: String,
    /// Credentials.
    pub auth: Auth,
    /// Per-request timeout (one attempt, connection included).
    pub timeout: Duration,
    /// Connection timeout (TCP and TLS).
    pub connect_timeout: Duration,
    /// Bound of everything the client sends, from its creation; `None`: unbounded.
    pub total_timeout: Option<Duration>,
    /// Retries.
    pub retry: RetryPolicy,
}

/// The result of a successful write: `{id, etag}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteResult {
    /// Entity id.
    pub id: EntityId,
    /// Its new etag.
    pub etag: Etag,
}

/// A flow action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowAction {
    /// `op=enable`.
    Enable,
    /// `op=disable`.
    Disable,
}

/// The Flow Service's path under the platform base URL.
pub const FLOW_SERVICE_PATH: &str = "/data/foundation/flowservice";

/// The Data Prep API's path under the platform base URL (mapping sets).
pub const DATA_PREP_PATH: &str = "/data/foundation/conversion";

/// How many of the newest mapping sets the live read lists to find managed ones that no flow
/// references yet (one request).
pub const MAPPING_SET_PAGE: u32 = 50;

/// The page size asked of list endpoints (the service's maximum).
pub const PAGE_LIMIT: u32 = 100;

/// `User-Agent` of every request.
pub const USER_AGENT: &str = concat!("destctl/", env!("CARGO_PKG_VERSION"));

/// Default per-request timeout: with [`MAX_TIMEOUT_ATTEMPTS`] and the default backoff, an
/// endpoint that accepts and never answers fails in about 92 s.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Default connection timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Default total timeout of one command's requests.
pub const DEFAULT_TOTAL_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// What redacted values print as.
pub(crate) struct Redacted;

impl Redacted {
    pub(crate) const TEXT: &'static str = "<redacted>";
}

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Redacted::TEXT)
    }
}

impl fmt::Debug for Auth {
    /// Shows the kind, the org and the IMS URL; tokens, client ids (API keys) and secrets are
    /// redacted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::Token { org_id, .. } => f
                .debug_struct("Token")
                .field("access_token", &Redacted)
                .field("client_id", &Redacted)
                .field("org_id", org_id)
                .finish(),
            Auth::ClientCredentials {
                ims_url,
                org_id,
                scopes,
                ..
            } => f
                .debug_struct("ClientCredentials")
                .field("ims_url", ims_url)
                .field("client_id", &Redacted)
                .field("client_secret", &Redacted)
                .field("org_id", org_id)
                .field("scopes", scopes)
                .finish(),
        }
    }
}

impl Auth {
    /// The client id, sent as `x-api-key`.
    pub fn client_id(&self) -> &str {
        match self {
            Auth::Token { client_id, .. } | Auth::ClientCredentials { client_id, .. } => client_id,
        }
    }

    /// The org id, sent as `x-gw-ims-org-id`.
    pub fn org_id(&self) -> &str {
        match self {
            Auth::Token { org_id, .. } | Auth::ClientCredentials { org_id, .. } => org_id,
        }
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("endpoint", &self.endpoint)
            .field("sandbox", &self.sandbox)
            .field("auth", &self.auth)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("total_timeout", &self.total_timeout)
            .field("retry", &self.retry)
            .finish()
    }
}

impl ClientConfig {
    /// A configuration with the default timeout and retry policy.
    pub fn new(
        endpoint: impl Into<String>,
        sandbox: impl Into<String>,
        auth: Auth,
    ) -> ClientConfig {
        ClientConfig {
            endpoint: endpoint.into(),
            sandbox: sandbox.into(),
            auth,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            total_timeout: Some(DEFAULT_TOTAL_TIMEOUT),
            retry: RetryPolicy::default(),
        }
    }
}

impl FlowAction {
    /// The `op` query value.
    pub fn op(self) -> &'static str {
        match self {
            FlowAction::Enable => "enable",
            FlowAction::Disable => "disable",
        }
    }
}

/// Makes sure rustls has a process-wide crypto provider: installs `ring` unless one is already
/// installed (by the application or an earlier client). Never panics.
pub fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race against another installer is fine: a provider is installed either way.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// Whether a client for `config` may speak TLS: its Flow Service endpoint or its IMS endpoint
/// is `https`. A client for a plain-HTTP target (the emulator on loopback) trusts no root at
/// all, so it skips loading the platform's certificates (a cost paid by every process) and
/// would refuse any `https` URL rather than trust it.
fn needs_tls(base: &Url, auth: &Auth) -> bool {
    base.scheme() != "http"
        || match auth {
            Auth::Token { .. } => false,
            Auth::ClientCredentials { ims_url, .. } => !ims_url.starts_with("http://"),
        }
}

/// The reqwest client: rustls with the ring provider, platform certificate verification (or
/// no trusted root at all when `tls` is false), timeouts, no redirects (credentials never
/// follow one).
fn build_http(
    timeout: Duration,
    connect_timeout: Duration,
    tls: bool,
) -> Result<reqwest::Client, ClientError> {
    ensure_crypto_provider();
    let builder = if tls {
        reqwest::Client::builder()
    } else {
        reqwest::Client::builder().tls_certs_only([])
    };
    builder
        .user_agent(USER_AGENT)
        .timeout(timeout)
        .connect_timeout(connect_timeout.min(timeout))
        .pool_idle_timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| ClientError::Config(format!("cannot build the HTTP client: {}", chain(&e))))
}

/// An error and its sources, joined; reqwest errors carry no URL here.
fn chain(e: &dyn std::error::Error) -> String {
    let mut parts = Vec::new();
    let mut cur: Option<&dyn std::error::Error> = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !parts.contains(&text) {
            parts.push(text);
        }
        cur = s.source();
    }
    parts.join(": ")
}

/// A transport failure described without URL, headers or body.
pub(crate) fn transport_message(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "failed reading the response"
    } else {
        "request failed"
    };
    let detail = chain(e);
    if detail.is_empty() {
        what.to_owned()
    } else {
        format!("{what}: {detail}")
    }
}

pub(crate) fn transport_error(
    method: Method,
    path: String,
    e: &reqwest::Error,
    attempts: u32,
) -> ClientError {
    let mut message = transport_message(e);
    if attempts > 1 {
        message.push_str(&format!(" (after {attempts} attempts)"));
    }
    ClientError::Transport {
        method,
        path,
        message,
        timeout: e.is_timeout(),
        attempts,
    }
}

/// The error of a request not sent, or cut, because the total timeout passed.
fn total_timeout_error(method: &Method, path: &str, attempts: u32) -> ClientError {
    ClientError::Transport {
        method: method.clone(),
        path: path.to_owned(),
        message: "the total timeout passed".to_owned(),
        timeout: true,
        attempts,
    }
}

struct Inner {
    config: ClientConfig,
    http: reqwest::Client,
    /// `{endpoint}/data/foundation/flowservice`.
    base: Url,
    tokens: TokenSource,
    retrier: Retrier,
    /// HTTP requests sent to the Flow Service (every attempt).
    requests: AtomicU64,
    /// The `Date` of the last answer, epoch ms (0: none yet).
    server_date_ms: std::sync::atomic::AtomicI64,
}

/// A Flow Service client for one sandbox; cheap to clone, safe to share between tasks.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// One request to send, possibly several times.
struct Call<'a> {
    method: Method,
    url: Url,
    body: Option<Vec<u8>>,
    if_match: Option<&'a Etag>,
    class: RetryClass,
}

impl Client {
    /// A client for `config`.
    pub fn new(config: ClientConfig) -> Result<Client, ClientError> {
        let endpoint = config.endpoint.trim_end_matches('/');
        let base = Url::parse(&format!("{endpoint}{FLOW_SERVICE_PATH}"))
            .map_err(|e| ClientError::Config(format!("invalid endpoint {endpoint:?}: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(ClientError::Config(format!(
                "invalid endpoint {endpoint:?}: the scheme must be http or https"
            )));
        }
        let http = build_http(
            config.timeout,
            config.connect_timeout,
            needs_tls(&base, &config.auth),
        )?;
        let hooks = Arc::new(Hooks::new(config.total_timeout));
        let redactor = Redactor::new();
        match &config.auth {
            Auth::Token { access_token, .. } => redactor.add(access_token),
            Auth::ClientCredentials { client_secret, .. } => redactor.add(client_secret),
        }
        Ok(Client {
            inner: Arc::new(Inner {
                tokens: TokenSource::new(config.auth.clone()),
                retrier: Retrier::with_hooks(config.retry.clone(), hooks).redacting(redactor),
                http,
                base,
                config,
                requests: AtomicU64::new(0),
                server_date_ms: std::sync::atomic::AtomicI64::new(0),
            }),
        })
    }

    /// Reports every retry (and every lookup after a lost answer) to `observer`; the first
    /// observer set stays.
    pub fn observe_retries(&self, observer: Arc<dyn RetryObserver>) {
        let _ = self.inner.retrier.hooks.observer.set(observer);
    }

    /// Once `stop` is cancelled, sends nothing new (no request, no retry) and waits at most
    /// `grace` for answers in flight; the first token set stays.
    pub fn stop_on(&self, stop: tokio_util::sync::CancellationToken, grace: Duration) {
        let _ = self.inner.retrier.hooks.stop.set((stop, grace));
    }

    /// The configuration this client was built from.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The platform base URL.
    pub fn endpoint(&self) -> &str {
        &self.inner.config.endpoint
    }

    /// The sandbox.
    pub fn sandbox(&self) -> &str {
        &self.inner.config.sandbox
    }

    /// The values this client's errors are redacted of: its client secret or ready token and
    /// every token it minted; add the secret values of the requests it sends.
    pub fn redactor(&self) -> &Redactor {
        self.inner.retrier.redactor()
    }

    /// `e` with the message of a decode error redacted: serde quotes the offending value,
    /// which is server text.
    fn redact_decode(&self, e: ClientError) -> ClientError {
        match e {
            ClientError::Decode {
                method,
                path,
                message,
            } => ClientError::Decode {
                method,
                path,
                message: self.redactor().redact(&message),
            },
            e => e,
        }
    }

    /// HTTP requests sent to the Flow Service so far, retries included (token requests not
    /// counted).
    pub fn requests_sent(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    /// The service's time: the `Date` header of the last answer, epoch ms (`None` before the
    /// first answer or when the header is missing or unreadable). The emulator sends its
    /// simulated clock there.
    pub fn server_time_ms(&self) -> Option<i64> {
        match self.inner.server_date_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(ms),
        }
    }

    /// IMS tokens obtained so far.
    pub fn tokens_minted(&self) -> u64 {
        self.inner.tokens.minted()
    }

    /// `{base}{path}`; `path` is a collection path (`/flows`), optionally with `/{id}`
    /// segments already encoded.
    fn url(&self, path: &str) -> Result<Url, ClientError> {
        let mut url = self.inner.base.clone();
        let base_path = url.path().trim_end_matches('/').to_owned();
        let rel = path.trim_start_matches('/');
        url.set_path(&format!("{base_path}/{rel}"));
        Ok(url)
    }

    /// The base URL of `resource`'s API: the Flow Service's, or the Data Prep API's for
    /// mapping sets (the same host, `/data/foundation/conversion`).
    fn base_for(&self, resource: Resource) -> Url {
        let mut url = self.inner.base.clone();
        if resource == Resource::MappingSet {
            let path = url.path().to_owned();
            let root = path.strip_suffix(FLOW_SERVICE_PATH).unwrap_or(&path);
            url.set_path(&format!("{}{DATA_PREP_PATH}", root.trim_end_matches('/')));
        }
        url
    }

    /// `{base}{collection}` of `resource`.
    fn collection_url(&self, resource: Resource) -> Url {
        let mut url = self.base_for(resource);
        let base_path = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base_path}{}", resource.collection()));
        url
    }

    /// `{base}{collection}/{id}[/{extra}…]`, each segment percent-encoded.
    fn entity_url(&self, resource: Resource, id: &EntityId, extra: &[&str]) -> Url {
        let mut url = self.base_for(resource);
        {
            let mut segs = url.path_segments_mut().expect("http(s) URLs have a path");
            segs.pop_if_empty();
            segs.push(resource.collection().trim_start_matches('/'));
            segs.push(&id.0);
            for e in extra {
                segs.push(e);
            }
        }
        url
    }

    /// Sends `call`, retrying as the policy allows; the body of a 2xx answer.
    async fn execute(
        &self,
        call: Call<'_>,
    ) -> Result<(StatusCode, axum::body::Bytes), ClientError> {
        self.execute_with(call, |resp| async move {
            retry::read_body(resp).await.map_err(BodyError::Transport)
        })
        .await
    }

    /// [`Client::execute`] with the body of a 2xx answer consumed by `read` (which may parse
    /// it as it arrives); a transport failure while reading is retried like any other.
    async fn execute_with<R, F, Fut>(
        &self,
        call: Call<'_>,
        read: F,
    ) -> Result<(StatusCode, R), ClientError>
    where
        F: Fn(reqwest::Response) -> Fut,
        Fut: Future<Output = Result<R, BodyError>>,
        R: Default,
    {
        let inner = &*self.inner;
        let read = &read;
        let path = call.url.path().to_owned();
        let renewed_token = std::sync::atomic::AtomicBool::new(false);
        let (call, path_ref, renewed_token) = (&call, path.as_str(), &renewed_token);
        inner
            .retrier
            .run(
                call.class,
                &call.method,
                path_ref,
                |attempt| async move {
                    let hooks = &inner.retrier.hooks;
                    if hooks.stopped() {
                        return Outcome::Done(Err(ClientError::Interrupted {
                            method: call.method.clone(),
                            path: path_ref.to_owned(),
                            what: error::NOT_SENT,
                        }));
                    }
                    if hooks.remaining().is_some_and(|left| left.is_zero()) {
                        return Outcome::Done(Err(total_timeout_error(
                            &call.method,
                            path_ref,
                            attempt.number(),
                        )));
                    }
                    let token: AccessToken =
                        match inner.tokens.token(&inner.http, &inner.retrier).await {
                            Ok(t) => t,
                            Err(e) => return Outcome::Done(Err(e)),
                        };
                    let req = match self.request(call, &token) {
                        Ok(r) => r,
                        Err(e) => return Outcome::Done(Err(e)),
                    };
                    let started = std::time::Instant::now();
                    inner.requests.fetch_add(1, Ordering::Relaxed);
                    let failed = |e: reqwest::Error| {
                        tracing::debug!(method = %call.method, path = %path_ref,
                            attempt = attempt.number(),
                            elapsed_ms = started.elapsed().as_millis() as u64,
                            error = %transport_message(&e), "request failed");
                        Outcome::Transport(e)
                    };
                    // `Err`: the attempt's final outcome (a success, or a failure to retry).
                    let exchange = async {
                        let resp = match req.send().await {
                            Ok(r) => r,
                            Err(e) => return Err(failed(e)),
                        };
                        if let Some(ms) = resp
                            .headers()
                            .get(reqwest::header::DATE)
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok())
                        {
                            inner
                                .server_date_ms
                                .store(ms.timestamp_millis(), Ordering::Relaxed);
                        }
                        let status = resp.status();
                        if status.is_success() {
                            let body = match read(resp).await {
                                Ok(body) => body,
                                Err(BodyError::Transport(e)) => return Err(failed(e)),
                                Err(BodyError::Client(e)) => return Err(Outcome::Done(Err(e))),
                            };
                            tracing::debug!(method = %call.method, path = %path_ref,
                                status = status.as_u16(), attempt = attempt.number(),
                                elapsed_ms = started.elapsed().as_millis() as u64, "request");
                            return Err(Outcome::Done(Ok((status, body))));
                        }
                        match Answer::read(resp).await {
                            Ok(a) => Ok((status, a)),
                            Err(e) => Err(failed(e)),
                        }
                    };
                    let (status, answer) = match hooks.bound(exchange).await {
                        Err(Cut::Stopped) => {
                            return Outcome::Done(Err(ClientError::Interrupted {
                                method: call.method.clone(),
                                path: path_ref.to_owned(),
                                what: "the answer was not awaited",
                            }));
                        }
                        Err(Cut::Deadline) => {
                            return Outcome::Done(Err(total_timeout_error(
                                &call.method,
                                path_ref,
                                attempt.number(),
                            )));
                        }
                        Ok(Err(outcome)) => return outcome,
                        Ok(Ok(answered)) => answered,
                    };
                    tracing::debug!(method = %call.method, path = %path_ref,
                        status = status.as_u16(), attempt = attempt.number(),
                        elapsed_ms = started.elapsed().as_millis() as u64, "request");
                    if status == StatusCode::UNAUTHORIZED
                        && !renewed_token.load(Ordering::Relaxed)
                        && inner.tokens.can_refresh()
                    {
                        // The cached token was revoked or expired early: get a new one, once.
                        renewed_token.store(true, Ordering::Relaxed);
                        inner.tokens.invalidate(&token).await;
                        return Outcome::Again;
                    }
                    if status == StatusCode::NOT_FOUND
                        && call.method == Method::DELETE
                        && attempt.ambiguous
                    {
                        // An earlier attempt whose answer was lost did the delete.
                        tracing::debug!(method = %call.method, path = %path_ref,
                            "404 after an unanswered attempt: already deleted");
                        return Outcome::Done(Ok((StatusCode::NO_CONTENT, Default::default())));
                    }
                    if status == StatusCode::PRECONDITION_FAILED
                        && call.method == Method::PATCH
                        && attempt.ambiguous
                    {
                        // An earlier attempt whose answer was lost may have applied the patch:
                        // `patch` checks the entity.
                        return Outcome::Done(Ok((status, Default::default())));
                    }
                    answer.retry_or_fail()
                },
                ClientError::from_api,
            )
            .await
    }

    /// The request of one attempt of `call`, headers included; the token is exposed only
    /// here, into a header marked sensitive.
    fn request(
        &self,
        call: &Call<'_>,
        token: &AccessToken,
    ) -> Result<reqwest::RequestBuilder, ClientError> {
        let inner = &*self.inner;
        let mut auth =
            HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| {
                ClientError::Config(
                    "the access token contains characters not allowed in a header".into(),
                )
            })?;
        auth.set_sensitive(true);
        let mut api_key = HeaderValue::from_str(inner.config.auth.client_id()).map_err(|_| {
            ClientError::Config("AEP_CLIENT_ID contains characters not allowed in a header".into())
        })?;
        api_key.set_sensitive(true);
        let mut req = inner
            .http
            .request(call.method.clone(), call.url.clone())
            .header(AUTHORIZATION, auth)
            .header("x-api-key", api_key)
            .header("x-gw-ims-org-id", inner.config.auth.org_id())
            .header("x-sandbox-name", inner.config.sandbox.as_str())
            .header(ACCEPT, "application/json");
        if let Some(etag) = call.if_match {
            req = req.header(IF_MATCH, etag.0.as_str());
        }
        if let Some(body) = &call.body {
            req = req
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        Ok(req)
    }

    /// An idempotent `GET url`, its body decoded as JSON.
    async fn get_json(&self, url: &Url) -> Result<Value, ClientError> {
        let (_, body) = self
            .execute(Call {
                method: Method::GET,
                url: url.clone(),
                body: None,
                if_match: None,
                class: RetryClass::Idempotent,
            })
            .await?;
        Self::decode_json(&Method::GET, url, &body)
    }

    fn decode_json(method: &Method, url: &Url, body: &[u8]) -> Result<Value, ClientError> {
        serde_json::from_slice(body).map_err(|e| ClientError::Decode {
            method: method.clone(),
            path: url.path().to_owned(),
            message: format!("the body is not JSON ({e})"),
        })
    }

    /// All items of a list endpoint (`/flows`, `/connections`, `/flowSpecs`, …), following
    /// `_links.next` until the last page; `query` holds `property` filters and the like
    /// (`limit=100` is added).
    ///
    /// Each next page is requested with the original query plus the parameters of the
    /// `_links.next.href` that the original query does not already have (in practice
    /// `continuationToken`): the href is not documented to repeat the filters.
    pub async fn list(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<Value>, ClientError> {
        self.list_as(path, query).await
    }

    /// [`Client::list`] with each item deserialized straight from the page bytes as `T`, so
    /// an item type that skips fields never materialises them.
    ///
    /// Each page is parsed as it arrives, one item at a time on the calling task (so in the
    /// calling thread's malloc arena); only one item's bytes and the typed items are held.
    pub async fn list_as<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<T>, ClientError> {
        let (path, inline_query) = match path.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path, None),
        };
        let mut params: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        if let Some(q) = inline_query {
            params.extend(parse_query(q));
        }
        if !params.iter().any(|(k, _)| k == "limit") {
            params.push(("limit".to_owned(), PAGE_LIMIT.to_string()));
        }
        let mut items = Vec::new();
        let mut paging: Vec<(String, String)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        loop {
            let mut url = self.url(path)?;
            {
                let mut qp = url.query_pairs_mut();
                for (k, v) in params.iter().chain(&paging) {
                    qp.append_pair(k, v);
                }
            }
            let page_path = url.path().to_owned();
            let (_, page) = self
                .execute_with(
                    Call {
                        method: Method::GET,
                        url: url.clone(),
                        body: None,
                        if_match: None,
                        class: RetryClass::Idempotent,
                    },
                    |resp| read_page::<T>(resp, page_path.clone()),
                )
                .await
                .map_err(|e| self.redact_decode(e))?;
            items.extend(page.items.unwrap_or_default());
            let next = page
                .links
                .and_then(|l| l.next)
                .and_then(|n| n.href)
                .filter(|h| !h.trim().is_empty());
            let Some(href) = next.as_deref() else { break };
            let next_params: Vec<(String, String)> = href
                .split_once('?')
                .map(|(_, q)| parse_query(q))
                .unwrap_or_default()
                .into_iter()
                .filter(|(k, _)| !params.iter().any(|(pk, _)| pk == k))
                .collect();
            if next_params.is_empty() || !seen.insert(next_params.clone()) {
                return Err(ClientError::Decode {
                    method: Method::GET,
                    path: url.path().to_owned(),
                    message: "`_links.next.href` does not move to another page".into(),
                });
            }
            paging = next_params;
        }
        Ok(items)
    }

    /// `GET {collection}/{id}`, unwrapped from `{"items":[…]}`.
    pub async fn get(&self, resource: Resource, id: &EntityId) -> Result<Value, ClientError> {
        let url = self.entity_url(resource, id, &[]);
        let v = self.get_json(&url).await?;
        match v {
            Value::Object(mut m) if m.contains_key("items") => match m.remove("items") {
                Some(Value::Array(mut items)) if !items.is_empty() => Ok(items.swap_remove(0)),
                _ => Err(ClientError::Decode {
                    method: Method::GET,
                    path: url.path().to_owned(),
                    message: "`items` is empty".into(),
                }),
            },
            Value::Object(m) if m.contains_key("id") => Ok(Value::Object(m)),
            _ => Err(ClientError::Decode {
                method: Method::GET,
                path: url.path().to_owned(),
                message: "expected {\"items\": [entity]}".into(),
            }),
        }
    }

    /// Reads `{id, etag}` from a write answer; when the service leaves the etag out (older
    /// docs show `{id}` alone, or 202 without a body), reads it with a GET.
    async fn write_result(
        &self,
        method: &Method,
        url: &Url,
        resource: Resource,
        known_id: Option<&EntityId>,
        body: &[u8],
    ) -> Result<WriteResult, ClientError> {
        let v = if body.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            Self::decode_json(method, url, body)?
        };
        let id = v
            .get("id")
            .and_then(Value::as_str)
            .map(|s| EntityId(s.to_owned()))
            .or_else(|| known_id.cloned())
            .ok_or_else(|| ClientError::Decode {
                method: method.clone(),
                path: url.path().to_owned(),
                message: "the answer has no `id`".into(),
            })?;
        if resource == Resource::MappingSet {
            // Data Prep has no etags; a mapping set version never changes, so its version
            // stands in for one.
            let version = v.get("version").and_then(Value::as_u64).unwrap_or(0);
            return Ok(WriteResult {
                id,
                etag: Etag(format!("version {version}")),
            });
        }
        if let Some(etag) = v.get("etag").and_then(Value::as_str) {
            return Ok(WriteResult {
                id,
                etag: Etag(etag.to_owned()),
            });
        }
        tracing::debug!(method = %method, path = %url.path(), "write answer without etag; reading it");
        let entity = self.get(resource, &id).await?;
        let etag =
            entity
                .get("etag")
                .and_then(Value::as_str)
                .ok_or_else(|| ClientError::Decode {
                    method: Method::GET,
                    path: url.path().to_owned(),
                    message: "the entity has no `etag`".into(),
                })?;
        Ok(WriteResult {
            id,
            etag: Etag(etag.to_owned()),
        })
    }

    /// One `POST {collection}` (retried only where nothing can have been created).
    async fn create_once(
        &self,
        resource: Resource,
        body: &Value,
    ) -> Result<WriteResult, ClientError> {
        let url = self.collection_url(resource);
        let (_, answer) = self
            .execute(Call {
                method: Method::POST,
                url: url.clone(),
                body: Some(serde_json::to_vec(body).expect("a Value serializes")),
                if_match: None,
                class: RetryClass::NotIdempotent,
            })
            .await?;
        self.write_result(&Method::POST, &url, resource, None, &answer)
            .await
    }

    /// `PATCH {collection}/{id}` with `If-Match: etag`. A 412 after an attempt whose answer
    /// was lost is checked against the entity: when it already holds the patch, that is the
    /// result.
    pub async fn patch(
        &self,
        resource: Resource,
        id: &EntityId,
        etag: &Etag,
        ops: &[PatchOp],
    ) -> Result<WriteResult, ClientError> {
        let url = self.entity_url(resource, id, &[]);
        let (status, answer) = self
            .execute(Call {
                method: Method::PATCH,
                url: url.clone(),
                body: Some(serde_json::to_vec(ops).expect("patch ops serialize")),
                if_match: Some(etag),
                class: RetryClass::Idempotent,
            })
            .await?;
        if status == StatusCode::PRECONDITION_FAILED {
            return self
                .patch_after_lost_answer(resource, id, ops, &url, &answer)
                .await;
        }
        self.write_result(&Method::PATCH, &url, resource, Some(id), &answer)
            .await
    }

    /// `GET /mappingSets/{id}?version=N` of the Data Prep API: one mapping set version.
    pub async fn mapping_set(&self, id: &str, version: u64) -> Result<Value, ClientError> {
        let mut url = self.entity_url(Resource::MappingSet, &EntityId(id.to_owned()), &[]);
        url.query_pairs_mut()
            .append_pair("version", &version.to_string());
        self.get_json(&url).await
    }

    /// `GET /mappingSets?limit=N&start=0` of the Data Prep API: the newest `limit` mapping
    /// sets (their latest versions), one request.
    pub async fn newest_mapping_sets(&self, limit: u32) -> Result<Vec<Value>, ClientError> {
        let mut url = self.collection_url(Resource::MappingSet);
        url.query_pairs_mut()
            .append_pair("limit", &limit.to_string())
            .append_pair("start", "0");
        let v = self.get_json(&url).await?;
        match v.get("data") {
            Some(Value::Array(items)) => Ok(items.clone()),
            _ => Err(ClientError::Decode {
                method: Method::GET,
                path: url.path().to_owned(),
                message: "expected {\"data\": [mapping set…]}".into(),
            }),
        }
    }

    /// `DELETE {collection}/{id}`.
    pub async fn delete(&self, resource: Resource, id: &EntityId) -> Result<(), ClientError> {
        let url = self.entity_url(resource, id, &[]);
        self.execute(Call {
            method: Method::DELETE,
            url,
            body: None,
            if_match: None,
            class: RetryClass::Idempotent,
        })
        .await?;
        Ok(())
    }

    /// One `POST /flows/{id}/action?op=…`.
    async fn flow_action_once(
        &self,
        id: &EntityId,
        action: FlowAction,
    ) -> Result<WriteResult, ClientError> {
        let mut url = self.entity_url(Resource::Flow, id, &["action"]);
        url.query_pairs_mut().append_pair("op", action.op());
        let (_, answer) = self
            .execute(Call {
                method: Method::POST,
                url: url.clone(),
                body: None,
                if_match: None,
                class: RetryClass::NotIdempotent,
            })
            .await?;
        self.write_result(&Method::POST, &url, Resource::Flow, Some(id), &answer)
            .await
    }
}

/// Why reading a 2xx body failed.
#[derive(Debug)]
enum BodyError {
    /// The body did not arrive whole: retried as the policy allows.
    Transport(reqwest::Error),
    /// It arrived but is not what the API documents.
    Client(ClientError),
}

/// A page announced at most this long is read whole and parsed in place.
const SMALL_PAGE_BYTES: u64 = 1024 * 1024;

/// An item buffer that grew beyond this (one unusually large item) is released after use.
const ITEM_BUFFER_KEPT: usize = 4 * 1024 * 1024;

/// One list page parsed as it arrives (one announced small is read whole first): the body's
/// chunks go through a [`PageScanner`] on this task, which holds one item's bytes at a time,
/// so a 20 MB page is never held whole (only its typed items are).
async fn read_page<T: serde::de::DeserializeOwned>(
    mut resp: reqwest::Response,
    path: String,
) -> Result<Page<T>, BodyError> {
    if resp
        .content_length()
        .is_some_and(|len| len <= SMALL_PAGE_BYTES)
    {
        let body = retry::read_body(resp).await.map_err(BodyError::Transport)?;
        return serde_json::from_slice(&body).map_err(|e| not_a_page(path, &e));
    }
    let mut scanner = PageScanner::<T>::default();
    while let Some(chunk) = resp.chunk().await.map_err(BodyError::Transport)? {
        scanner
            .feed(&chunk)
            .map_err(|e| not_a_page(path.clone(), &e))?;
    }
    scanner.finish().map_err(|e| not_a_page(path, &e))
}

fn not_a_page(path: String, e: &dyn fmt::Display) -> BodyError {
    BodyError::Client(ClientError::Decode {
        method: Method::GET,
        path,
        message: format!("not a list page ({e})"),
    })
}

/// A parse error of the page as a whole, worded as `serde_json` words it.
#[derive(Debug)]
struct PageError(String);

impl fmt::Display for PageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A line and column as `serde_json` counts them: 1-based lines, bytes since the last newline.
#[derive(Clone, Copy, Debug, Default)]
struct Pos {
    line: usize,
    column: usize,
}

impl Pos {
    fn start() -> Pos {
        Pos { line: 1, column: 0 }
    }

    fn advance(&mut self, b: u8) {
        if b == b'\n' {
            self.line += 1;
            self.column = 0;
        } else {
            self.column += 1;
        }
    }

    /// The position `rel` (counted within a fragment that starts right after `self`) in the
    /// whole stream.
    fn then(self, rel: Pos) -> Pos {
        if rel.line <= 1 {
            Pos {
                line: self.line,
                column: self.column + rel.column,
            }
        } else {
            Pos {
                line: self.line + rel.line - 1,
                column: rel.column,
            }
        }
    }
}

/// `e` (from parsing a fragment that starts right after `base`) reworded with its position in
/// the whole stream.
fn relocate(e: &serde_json::Error, base: Pos) -> PageError {
    reword(
        e,
        base.then(Pos {
            line: e.line(),
            column: e.column(),
        }),
    )
}

/// `e` reworded as raised at `at`.
fn reword(e: &serde_json::Error, at: Pos) -> PageError {
    let text = e.to_string();
    if e.line() == 0 {
        return PageError(text);
    }
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let what = text.strip_suffix(&suffix).unwrap_or(&text);
    PageError(format!("{what} at line {} column {}", at.line, at.column))
}

/// The page's shape alone (its values stood in for by `0`): parsing what was seen of it words a
/// structural error exactly as parsing the whole page would.
#[derive(serde::Deserialize)]
#[serde(rename = "Page")]
#[allow(dead_code)]
struct Skeleton {
    #[serde(default)]
    items: Option<Vec<serde::de::IgnoredAny>>,
    #[serde(default, rename = "_links")]
    links: Option<serde::de::IgnoredAny>,
}

/// Where the scanner is in the page's top-level object.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum At {
    /// Before the opening `{`.
    Start,
    /// After `{`: a key or `}`.
    KeyOrEnd,
    /// After `,`: a key.
    Key,
    /// After a key: `:`.
    Colon,
    /// After `:`: the value.
    Value,
    /// After a value: `,` or `}`.
    CommaOrEnd,
    /// After `"items":[`: an item or `]`.
    ItemOrEnd,
    /// After an item's `,`: an item.
    Item,
    /// After an item: `,` or `]`.
    ItemCommaOrEnd,
    /// After the closing `}`: whitespace only.
    Done,
}

/// What the buffered value is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Buffered {
    Key,
    Item,
    Items,
    Links,
    Other,
}

/// The bytes of one JSON value as they arrive, with enough state (nesting, strings, escapes) to
/// tell where it ends.
#[derive(Default)]
struct ValueBuf {
    bytes: Vec<u8>,
    depth: usize,
    in_string: bool,
    escaped: bool,
    /// A number, `true`, `false` or `null`: ends before a delimiter.
    scalar: bool,
    /// The delimiter that ended a scalar.
    delimiter: Option<u8>,
}

impl ValueBuf {
    fn begin(&mut self, first: u8) {
        self.bytes.clear();
        self.depth = 0;
        self.in_string = false;
        self.escaped = false;
        self.scalar = !matches!(first, b'{' | b'[' | b'"');
        self.delimiter = None;
    }

    /// The value parsed as `U`; a scalar cut short by its delimiter fails on the delimiter, as
    /// it does when the page is parsed whole.
    fn parse<U: serde::de::DeserializeOwned>(&self) -> Result<U, serde_json::Error> {
        match (serde_json::from_slice(&self.bytes), self.delimiter) {
            (Err(e), Some(d)) if e.is_eof() => {
                let mut with = self.bytes.clone();
                with.push(d);
                match serde_json::from_slice::<U>(&with) {
                    Err(e) => Err(e),
                    Ok(_) => Err(e),
                }
            }
            (parsed, _) => parsed,
        }
    }

    /// Takes bytes of `input` until the value ends; returns how many were taken and whether it
    /// ended. A scalar's terminating delimiter is not taken.
    fn take(&mut self, input: &[u8], pos: &mut Pos) -> (usize, bool) {
        if self.scalar {
            let n = input
                .iter()
                .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(input.len());
            self.bytes.extend_from_slice(&input[..n]);
            pos.column += n;
            self.delimiter = input.get(n).copied();
            return (n, n < input.len());
        }
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                    if self.depth == 0 {
                        pos.advance(b);
                        self.bytes.extend_from_slice(&input[..=i]);
                        return (i + 1, true);
                    }
                } else {
                    // The rest of a plain run inside the string.
                    let run = input[i..]
                        .iter()
                        .position(|&c| c == b'"' || c == b'\\' || c == b'\n')
                        .unwrap_or(input.len() - i);
                    if run > 0 {
                        pos.column += run;
                        i += run;
                        continue;
                    }
                }
            } else {
                match b {
                    b'"' => self.in_string = true,
                    b'{' | b'[' => self.depth += 1,
                    b'}' | b']' => {
                        self.depth = self.depth.saturating_sub(1);
                        if self.depth == 0 {
                            pos.advance(b);
                            self.bytes.extend_from_slice(&input[..=i]);
                            return (i + 1, true);
                        }
                    }
                    _ => {}
                }
            }
            pos.advance(b);
            i += 1;
        }
        self.bytes.extend_from_slice(input);
        (input.len(), false)
    }
}

/// Cuts a streamed list page (`{"items":[{…},{…}],"_links":{…},…}`) into its top-level
/// values, holding one value's bytes at a time, and parses each with `serde_json::from_slice`
/// (much faster than its reader-based parser); errors are worded and placed as parsing the
/// whole page would.
struct PageScanner<T> {
    at: At,
    /// Where the stream is: after the last byte taken.
    pos: Pos,
    /// The value being buffered, what it is, and where it started (just before its first byte).
    value: Option<(Buffered, Pos)>,
    buf: ValueBuf,
    /// The last key read.
    key: String,
    skeleton: Vec<u8>,
    items: Option<Vec<T>>,
    links: Option<Links>,
    /// `items` / `_links` keys already read.
    seen: [bool; 2],
    /// The body does not open an object: kept whole and parsed as one, for its error.
    whole: Option<Vec<u8>>,
}

impl<T> Default for PageScanner<T> {
    fn default() -> Self {
        PageScanner {
            at: At::Start,
            pos: Pos::start(),
            value: None,
            buf: ValueBuf::default(),
            key: String::new(),
            skeleton: Vec::new(),
            items: None,
            links: None,
            seen: [false; 2],
            whole: None,
        }
    }
}

impl<T: serde::de::DeserializeOwned> PageScanner<T> {
    /// Takes the next chunk of the body.
    fn feed(&mut self, mut input: &[u8]) -> Result<(), PageError> {
        if let Some(whole) = &mut self.whole {
            whole.extend_from_slice(input);
            return Ok(());
        }
        while !input.is_empty() {
            if let Some((kind, start)) = self.value {
                let (n, done) = self.buf.take(input, &mut self.pos);
                input = &input[n..];
                if done {
                    self.value = None;
                    self.value_done(kind, start)?;
                }
                continue;
            }
            let b = input[0];
            if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                let n = input
                    .iter()
                    .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
                    .unwrap_or(input.len());
                for &w in &input[..n] {
                    self.pos.advance(w);
                }
                input = &input[n..];
                continue;
            }
            if self.at == At::Start && b != b'{' {
                // Whitespace standing in for what was skipped keeps positions as they were.
                let mut whole = vec![b'\n'; self.pos.line - 1];
                whole.resize(whole.len() + self.pos.column, b' ');
                whole.extend_from_slice(input);
                self.whole = Some(whole);
                return Ok(());
            }
            let start = self.pos;
            let begin = |kind| Some((kind, start));
            let next = match (self.at, b) {
                (At::Start, b'{') => At::KeyOrEnd,
                (At::KeyOrEnd | At::Key, b'"') => {
                    self.value = begin(Buffered::Key);
                    At::Colon
                }
                (At::KeyOrEnd | At::CommaOrEnd, b'}') => At::Done,
                (At::Colon, b':') => At::Value,
                (At::ItemOrEnd | At::ItemCommaOrEnd, b']') => {
                    self.items.get_or_insert_with(Vec::new);
                    At::CommaOrEnd
                }
                (At::Value | At::ItemOrEnd | At::Item, b',' | b'}' | b']' | b':') => {
                    return Err(self.structure_error(Some(b)));
                }
                (At::Value, b'[') if self.key == "items" => At::ItemOrEnd,
                (At::Value, _) => {
                    self.value = begin(match self.key.as_str() {
                        "items" => Buffered::Items,
                        "_links" => Buffered::Links,
                        _ => Buffered::Other,
                    });
                    At::CommaOrEnd
                }
                (At::CommaOrEnd, b',') => At::Key,
                (At::ItemOrEnd | At::Item, _) => {
                    self.items.get_or_insert_with(Vec::new);
                    self.value = begin(Buffered::Item);
                    At::ItemCommaOrEnd
                }
                (At::ItemCommaOrEnd, b',') => At::Item,
                _ => return Err(self.structure_error(Some(b))),
            };
            self.at = next;
            if self.value.is_some() {
                self.buf.begin(b);
            } else {
                self.skeleton.push(b);
                self.pos.advance(b);
                input = &input[1..];
            }
        }
        Ok(())
    }

    /// A value ended: parses it.
    fn value_done(&mut self, kind: Buffered, start: Pos) -> Result<(), PageError> {
        let buf = &self.buf;
        let err = |e: serde_json::Error| relocate(&e, start);
        match kind {
            Buffered::Key => {
                self.key = buf.parse().map_err(err)?;
                self.skeleton.extend_from_slice(&buf.bytes);
                let slot = match self.key.as_str() {
                    "items" => Some(0),
                    "_links" => Some(1),
                    _ => None,
                };
                if let Some(slot) = slot
                    && std::mem::replace(&mut self.seen[slot], true)
                {
                    return Err(self.structure_error(None));
                }
                return Ok(());
            }
            Buffered::Item => {
                let item = buf.parse().map_err(err)?;
                self.items.get_or_insert_with(Vec::new).push(item);
            }
            Buffered::Items => self.items = buf.parse().map_err(err)?,
            Buffered::Links => self.links = buf.parse().map_err(err)?,
            Buffered::Other => {
                buf.parse::<serde::de::IgnoredAny>().map_err(err)?;
            }
        }
        if kind == Buffered::Items {
            self.skeleton.extend_from_slice(b"null");
        } else {
            self.skeleton.push(b'0');
        }
        if self.buf.bytes.capacity() > ITEM_BUFFER_KEPT {
            self.buf.bytes = Vec::new();
        }
        Ok(())
    }

    /// The error parsing the whole page gives at the current position, on byte `b` (`None`:
    /// right after the bytes taken, or at the end of the body).
    fn structure_error(&mut self, b: Option<u8>) -> PageError {
        let mut skeleton = std::mem::take(&mut self.skeleton);
        let mut at = self.pos;
        if let Some(b) = b {
            if skeleton.last().is_some_and(u8::is_ascii_alphanumeric) {
                // Not read as part of the stand-in number.
                skeleton.push(b' ');
            }
            skeleton.push(b);
            at.advance(b);
        }
        match serde_json::from_slice::<Skeleton>(&skeleton) {
            // The skeleton is one line, whose end is `at`.
            Err(e) => {
                let column = (at.column + e.column()).saturating_sub(skeleton.len());
                reword(
                    &e,
                    Pos {
                        line: at.line,
                        column,
                    },
                )
            }
            Ok(_) => PageError(format!(
                "EOF while parsing an object at line {} column {}",
                at.line, at.column
            )),
        }
    }

    /// The page once the body has ended.
    fn finish(mut self) -> Result<Page<T>, PageError> {
        if let Some(whole) = self.whole.take() {
            return serde_json::from_slice(&whole).map_err(|e| PageError(e.to_string()));
        }
        if let Some((kind, start)) = self.value.take() {
            if self.buf.scalar {
                self.value_done(kind, start)?;
            } else {
                let e = match kind {
                    Buffered::Key => serde_json::from_slice::<String>(&self.buf.bytes).err(),
                    Buffered::Item => serde_json::from_slice::<T>(&self.buf.bytes).err(),
                    _ => serde_json::from_slice::<serde::de::IgnoredAny>(&self.buf.bytes).err(),
                };
                if let Some(e) = e {
                    return Err(relocate(&e, start));
                }
            }
        }
        if self.at == At::Start {
            return serde_json::from_slice::<Page<T>>(b"").map_err(|e| relocate(&e, self.pos));
        }
        if self.at != At::Done {
            return Err(self.structure_error(None));
        }
        Ok(Page {
            items: self.items,
            links: self.links,
        })
    }
}

/// One page of a list answer; other fields are ignored.
#[derive(serde::Deserialize)]
struct Page<T> {
    #[serde(default = "Option::default")]
    items: Option<Vec<T>>,
    #[serde(default, rename = "_links")]
    links: Option<Links>,
}

impl<T> Default for Page<T> {
    fn default() -> Self {
        Page {
            items: None,
            links: None,
        }
    }
}

#[derive(serde::Deserialize)]
struct Links {
    #[serde(default)]
    next: Option<Link>,
}

#[derive(serde::Deserialize)]
struct Link {
    #[serde(default)]
    href: Option<String>,
}

/// `a=1&b=2` decoded.
fn parse_query(q: &str) -> Vec<(String, String)> {
    let url = Url::parse(&format!("http://h/?{q}")).expect("a query after a fixed prefix parses");
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Auth {
        Auth::ClientCredentials {
            ims_url: "https://ims-na1.adobelogin.com".into(),
            client_id: "CLIENT-ID-abc123".into(),
            client_secret: "p8e-SECRET-xyz".into(),
            org_id: "ORG@AdobeOrg".into(),
            scopes: "openid,AdobeID".into(),
        }
    }

    #[test]
    fn tls_roots_are_loaded_only_for_an_https_endpoint_or_ims() {
        let url = |u: &str| Url::parse(u).expect("a fixed URL parses");
        let token = Auth::Token {
            access_token: "t".into(),
            client_id: "c".into(),
            org_id: "o".into(),
        };
        let http_ims = match creds() {
            Auth::ClientCredentials {
                client_id,
                client_secret,
                org_id,
                scopes,
                ..
            } => Auth::ClientCredentials {
                ims_url: "http://127.0.0.1:9".into(),
                client_id,
                client_secret,
                org_id,
                scopes,
            },
            other => other,
        };
        assert!(!needs_tls(&url("http://127.0.0.1:1"), &token));
        assert!(!needs_tls(&url("http://127.0.0.1:1"), &http_ims));
        assert!(needs_tls(&url("http://127.0.0.1:1"), &creds()));
        assert!(needs_tls(&url("https://platform.adobe.io"), &token));
        assert!(needs_tls(&url("https://platform.adobe.io"), &http_ims));
    }

    #[test]
    fn debug_redacts_secrets() {
        let cfg = ClientConfig::new("https://platform.adobe.io", "prod", creds());
        let shown = format!("{cfg:?} {cfg:#?}");
        assert!(!shown.contains("CLIENT-ID-abc123"), "{shown}");
        assert!(!shown.contains("p8e-SECRET-xyz"), "{shown}");
        assert!(shown.contains("ORG@AdobeOrg") && shown.contains("<redacted>"));
        let tok = Auth::Token {
            access_token: "eyJTOKEN".into(),
            client_id: "CLIENT-ID-abc123".into(),
            org_id: "ORG@AdobeOrg".into(),
        };
        let shown = format!("{tok:?}");
        assert!(
            !shown.contains("eyJTOKEN") && !shown.contains("CLIENT-ID-abc123"),
            "{shown}"
        );
        let client = Client::new(cfg).unwrap();
        let shown = format!("{client:?}");
        assert!(!shown.contains("p8e-SECRET-xyz") && !shown.contains("CLIENT-ID-abc123"));
    }

    #[test]
    fn urls_are_built_under_the_flow_service() {
        let c = Client::new(ClientConfig::new("http://127.0.0.1:9/", "prod", creds())).unwrap();
        assert_eq!(
            c.url("/flows").unwrap().as_str(),
            "http://127.0.0.1:9/data/foundation/flowservice/flows"
        );
        assert_eq!(
            c.entity_url(Resource::Flow, &EntityId("a/b c".into()), &["action"])
                .as_str(),
            "http://127.0.0.1:9/data/foundation/flowservice/flows/a%2Fb%20c/action"
        );
        assert!(matches!(
            Client::new(ClientConfig::new("ftp://x", "prod", creds())),
            Err(ClientError::Config(_))
        ));
    }

    #[test]
    fn query_parsing() {
        assert_eq!(
            parse_query("continuationToken=abc%3D&x=1"),
            vec![
                ("continuationToken".into(), "abc=".into()),
                ("x".into(), "1".into())
            ]
        );
    }

    #[test]
    fn default_timeouts_fail_a_dead_endpoint_in_under_two_minutes() {
        // An endpoint that accepts and never answers: every attempt runs to the request
        // timeout, and a request is given up after `MAX_TIMEOUT_ATTEMPTS` of them, with at
        // most the first backoffs between.
        let cfg = ClientConfig::new("http://127.0.0.1:9", "prod", creds());
        let policy = &cfg.retry;
        let backoffs: Duration = (0..MAX_TIMEOUT_ATTEMPTS - 1)
            .map(|k| (policy.base_delay * 2u32.pow(k)).min(policy.max_delay))
            .sum();
        let worst = cfg.timeout * MAX_TIMEOUT_ATTEMPTS + backoffs;
        assert!(worst < Duration::from_secs(120), "{worst:?}");
        assert!(cfg.connect_timeout <= cfg.timeout);
        assert!(cfg.total_timeout.is_some());
    }

    #[test]
    fn user_agent_names_the_version() {
        assert_eq!(USER_AGENT, format!("destctl/{}", env!("CARGO_PKG_VERSION")));
    }

    /// A 2xx answer whose body is `body` (its length known, so `Content-Length` is set).
    fn answer(body: Vec<u8>) -> reqwest::Response {
        reqwest::Response::from(
            axum::http::Response::builder()
                .status(200)
                .body(body)
                .expect("a static response builds"),
        )
    }

    /// A list page of `n` items, each with a long field the item type skips.
    fn big_page(n: usize) -> Vec<u8> {
        let filler = "x".repeat(4096);
        let items: Vec<String> = (0..n)
            .map(|i| format!(r#"{{"lastOperation":"{filler}","id":"flow-{i}"}}"#))
            .collect();
        format!(
            r#"{{"items":[{}],"_links":{{"next":{{"href":"/flows?continuationToken=t"}}}}}}"#,
            items.join(",")
        )
        .into_bytes()
    }

    #[derive(serde::Deserialize)]
    struct Item {
        id: String,
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_large_page_streams_into_the_parser() {
        let body = big_page(600);
        assert!(
            body.len() as u64 > SMALL_PAGE_BYTES,
            "takes the streaming path"
        );
        let page = read_page::<Item>(answer(body), "/flows".into())
            .await
            .expect("a valid page parses");
        let items = page.items.expect("items");
        assert_eq!(items.len(), 600);
        assert_eq!(items[599].id, "flow-599");
        let href = page.links.and_then(|l| l.next).and_then(|n| n.href);
        assert_eq!(href.as_deref(), Some("/flows?continuationToken=t"));
    }

    #[tokio::test]
    async fn a_large_body_that_is_not_a_page_is_a_decode_error() {
        let mut body = big_page(600);
        body.truncate(body.len() - 3);
        let whole = serde_json::from_slice::<Page<Item>>(&body)
            .err()
            .expect("a truncated page does not parse");
        match read_page::<Item>(answer(body), "/flows".into()).await {
            Err(BodyError::Client(ClientError::Decode { path, message, .. })) => {
                assert_eq!(path, "/flows");
                assert_eq!(message, format!("not a list page ({whole})"));
                assert!(message.starts_with("not a list page (EOF"), "{message}");
            }
            Err(BodyError::Client(e)) => panic!("unexpected error: {e}"),
            Err(BodyError::Transport(e)) => panic!("unexpected transport error: {e}"),
            Ok(_) => panic!("a truncated page parsed"),
        }
    }

    /// An item with braces, brackets, quotes and escapes inside strings, and nested arrays.
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Tricky {
        id: String,
        #[serde(default)]
        tags: Vec<Vec<String>>,
    }

    /// `body` fed to a scanner in the pieces `cuts` makes, then finished.
    fn scan<T: serde::de::DeserializeOwned>(
        body: &[u8],
        cuts: &[usize],
    ) -> Result<Page<T>, String> {
        let mut scanner = PageScanner::<T>::default();
        let mut from = 0;
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
        cuts.sort_unstable();
        for cut in cuts.into_iter().chain([body.len()]) {
            scanner.feed(&body[from..cut]).map_err(|e| e.to_string())?;
            from = cut;
        }
        scanner.finish().map_err(|e| e.to_string())
    }

    /// What parsing `body` whole gives, in the scanner's terms.
    fn whole<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<Page<T>, String> {
        serde_json::from_slice(body).map_err(|e| e.to_string())
    }

    const TRICKY: &str = r#" {"count": 2, "items" : [
  {"id":"a{b}[c]\"}","tags":[["x]","{y"],[]],"skip":{"s":"\\\"","n":[1,[2,{"z":null}]]}},
  {"skip":"\u0041}","id":"\"q\""} ],
 "_links": {"next": {"href": "/flows?continuationToken=a%7Bb"}}, "x": [true, -1.5e3]}
"#;

    fn same<T: serde::de::DeserializeOwned + PartialEq + fmt::Debug>(
        a: Result<Page<T>, String>,
        b: Result<Page<T>, String>,
    ) {
        let flat = |p: Result<Page<T>, String>| {
            p.map(|p| (p.items, p.links.and_then(|l| l.next).and_then(|n| n.href)))
        };
        assert_eq!(flat(a), flat(b));
    }

    #[test]
    fn strings_with_braces_quotes_and_escapes_and_nested_arrays() {
        let page = scan::<Tricky>(TRICKY.as_bytes(), &[]).expect("parses");
        let items = page.items.expect("items");
        assert_eq!(items[0].id, "a{b}[c]\"}");
        assert_eq!(
            items[0].tags,
            vec![vec!["x]".to_owned(), "{y".to_owned()], vec![]]
        );
        assert_eq!(items[1].id, "\"q\"");
        same(
            scan::<Tricky>(TRICKY.as_bytes(), &[]),
            whole(TRICKY.as_bytes()),
        );
    }

    #[test]
    fn empty_and_missing_items() {
        for body in [
            r#"{"items":[]}"#,
            r#"{"items":[ ] , "_links":{}}"#,
            r#"{}"#,
            r#"{"items":null}"#,
            r#"{"_links":{"next":{"href":"/x?continuationToken=1"}}}"#,
        ] {
            same(
                scan::<Tricky>(body.as_bytes(), &[3]),
                whole(body.as_bytes()),
            );
        }
        assert_eq!(
            scan::<Tricky>(b"{\"items\":[]}", &[])
                .expect("parses")
                .items,
            Some(vec![])
        );
    }

    #[test]
    fn bodies_that_are_not_pages_fail_as_parsing_them_whole_does() {
        for body in [
            "",
            "  ",
            "[1,2]",
            "\n  \"items\"",
            "null",
            r#"{"items":{"id":"a"}}"#,
            r#"{"items":[{"id":1}]}"#,
            r#"{"items":[{"id":"a"} {"id":"b"}]}"#,
            r#"{"items":[{"id":"a"},]}"#,
            r#"{"items":[{"id":"a"}],}"#,
            r#"{"items":[,]}"#,
            r#"{"items":[] "x":1}"#,
            r#"{"items":[], "items":[]}"#,
            r#"{"items":null, "items":[]}"#,
            r#"{"_links":{}, "_links":{}}"#,
            r#"{"_links":5}"#,
            r#"{"x":}"#,
            r#"{"x"::1}"#,
            r#"{"x":tru}"#,
            r#"{"x":1}  x"#,
            r#"{"items":[{"id":"a"}]}]"#,
            r#"{1:2}"#,
            "{\n\"items\": [\n {\"id\": \"a\"},\n {\"id\": 2}]}",
            "{\n\"items\": [\n {\"id\": \"a\"},\n 7 ]}",
        ] {
            let expected = whole::<Tricky>(body.as_bytes());
            assert!(expected.is_err(), "{body}");
            same(scan::<Tricky>(body.as_bytes(), &[]), expected);
        }
    }

    #[test]
    fn truncated_pages_fail_as_parsing_them_whole_does() {
        let body = TRICKY.trim_end().as_bytes();
        for len in 0..body.len() {
            let expected = whole::<Tricky>(&body[..len]);
            assert!(expected.is_err(), "{len}");
            same(scan::<Tricky>(&body[..len], &[len / 2]), expected);
        }
    }

    proptest::proptest! {
        #[test]
        fn any_chunking_gives_what_parsing_whole_gives(
            cuts in proptest::collection::vec(0usize..400, 0..12),
            len in 0usize..400,
        ) {
            let body = TRICKY.as_bytes();
            same(scan::<Tricky>(body, &cuts), whole(body));
            let cut = &body[..len.min(body.len())];
            same(scan::<Tricky>(cut, &cuts), whole(cut));
        }
    }

    #[tokio::test]
    async fn a_small_page_is_parsed_in_place() {
        let body = br#"{"items":[{"id":"a"}]}"#.to_vec();
        let page = read_page::<Item>(answer(body), "/flows".into())
            .await
            .expect("a valid page parses");
        assert_eq!(page.items.expect("items")[0].id, "a");
        assert!(page.links.is_none());
    }
}
