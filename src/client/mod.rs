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

/// The reqwest client: rustls with the ring provider, platform certificate verification,
/// timeouts, no redirects (credentials never follow one).
fn build_http(
    timeout: Duration,
    connect_timeout: Duration,
) -> Result<reqwest::Client, ClientError> {
    ensure_crypto_provider();
    reqwest::Client::builder()
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
        let http = build_http(config.timeout, config.connect_timeout)?;
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

    /// `{base}{collection}/{id}[/{extra}…]`, each segment percent-encoded.
    fn entity_url(&self, resource: Resource, id: &EntityId, extra: &[&str]) -> Url {
        let mut url = self.inner.base.clone();
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
    /// an item type that skips fields never materialises them (the page body is then the
    /// only large transient).
    ///
    /// Each page is parsed as it arrives, on the blocking pool; only its typed items are kept.
    pub async fn list_as<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<T>, ClientError> {
        self.list_parsed(path, query, ParseOn::BlockingPool).await
    }

    /// [`Client::list_as`] with each page parsed on the calling thread (`block_in_place`) when
    /// the runtime is multi-threaded: the items are then allocated by the caller's thread, in
    /// its malloc arena, reusing memory it freed earlier (the manifest loader's) instead of
    /// growing another arena — for a 21 MB flow page, about 10 MB less peak RSS.
    ///
    /// While a page is parsed, nothing else in the calling task runs: do not join this future
    /// with others in one task (`join!`, `select!`); spawn those instead.
    pub async fn list_as_alone<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<T>, ClientError> {
        self.list_parsed(path, query, ParseOn::Caller).await
    }

    async fn list_parsed<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        path: &str,
        query: &[(&str, String)],
        parse_on: ParseOn,
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
                    |resp| read_page::<T>(resp, page_path.clone(), parse_on),
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
        let (_, body) = self
            .execute(Call {
                method: Method::GET,
                url: url.clone(),
                body: None,
                if_match: None,
                class: RetryClass::Idempotent,
            })
            .await?;
        let v = Self::decode_json(&Method::GET, &url, &body)?;
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
        let url = self.url(resource.collection())?;
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

/// Chunks of a list page kept in flight between the socket and the parser (each up to hyper's
/// read buffer, a few hundred KB): enough to keep the parser fed, few enough that the buffers
/// they pin stay small.
const PAGE_CHUNKS_IN_FLIGHT: usize = 2;

/// A page announced at most this long is read whole and parsed in place, without a thread hop.
const SMALL_PAGE_BYTES: u64 = 1024 * 1024;

/// Where a list page is parsed.
#[derive(Clone, Copy)]
enum ParseOn {
    /// A blocking-pool thread: safe whatever else the calling task runs.
    BlockingPool,
    /// The calling thread (`block_in_place`) on a multi-threaded runtime, which stalls the
    /// rest of the calling task meanwhile; the blocking pool on a current-thread runtime,
    /// whose only thread cannot block.
    Caller,
}

/// One list page parsed as it arrives (one announced small is read whole first): a task
/// passes the body's chunks through a small bounded channel to `serde_json`, so a 20 MB page
/// is never held whole (only its typed items are).
async fn read_page<T: serde::de::DeserializeOwned + Send + 'static>(
    mut resp: reqwest::Response,
    path: String,
    parse_on: ParseOn,
) -> Result<Page<T>, BodyError> {
    if resp
        .content_length()
        .is_some_and(|len| len <= SMALL_PAGE_BYTES)
    {
        let body = retry::read_body(resp).await.map_err(BodyError::Transport)?;
        return serde_json::from_slice(&body).map_err(|e| not_a_page(path, &e));
    }
    let (tx, rx) = tokio::sync::mpsc::channel(PAGE_CHUNKS_IN_FLIGHT);
    let producer = tokio::spawn(async move {
        while let Some(chunk) = resp.chunk().await? {
            if tx.send(chunk).await.is_err() {
                // The parser stopped early: its error says why.
                break;
            }
        }
        Ok::<(), reqwest::Error>(())
    });
    let parse = move || {
        let reader = std::io::BufReader::new(ChunkReader {
            chunks: rx,
            current: Default::default(),
        });
        serde_json::from_reader::<_, Page<T>>(reader)
    };
    let multi_thread = !matches!(
        tokio::runtime::Handle::current().runtime_flavor(),
        tokio::runtime::RuntimeFlavor::CurrentThread
    );
    let parsed = match parse_on {
        ParseOn::Caller if multi_thread => tokio::task::block_in_place(parse),
        _ => match tokio::task::spawn_blocking(parse).await {
            Ok(parsed) => parsed,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        },
    };
    match producer.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(BodyError::Transport(e)),
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
    parsed.map_err(|e| not_a_page(path, &e))
}

fn not_a_page(path: String, e: &serde_json::Error) -> BodyError {
    BodyError::Client(ClientError::Decode {
        method: Method::GET,
        path,
        message: format!("not a list page ({e})"),
    })
}

/// The chunks received on a channel as one byte stream; the end of the stream is the channel
/// closing.
struct ChunkReader {
    chunks: tokio::sync::mpsc::Receiver<axum::body::Bytes>,
    current: axum::body::Bytes,
}

impl std::io::Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.chunks.blocking_recv() {
                Some(chunk) => self.current = chunk,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
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

    async fn parse_big_page(parse_on: ParseOn) {
        let body = big_page(600);
        assert!(
            body.len() as u64 > SMALL_PAGE_BYTES,
            "takes the streaming path"
        );
        let page = read_page::<Item>(answer(body), "/flows".into(), parse_on)
            .await
            .expect("a valid page parses");
        let items = page.items.expect("items");
        assert_eq!(items.len(), 600);
        assert_eq!(items[599].id, "flow-599");
        let href = page.links.and_then(|l| l.next).and_then(|n| n.href);
        assert_eq!(href.as_deref(), Some("/flows?continuationToken=t"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_large_page_streams_into_the_parser_on_the_calling_thread() {
        parse_big_page(ParseOn::Caller).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_large_page_streams_into_the_parser_on_the_blocking_pool() {
        parse_big_page(ParseOn::BlockingPool).await;
    }

    #[tokio::test]
    async fn a_current_thread_runtime_parses_a_large_page_on_the_blocking_pool() {
        parse_big_page(ParseOn::Caller).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_large_body_that_is_not_a_page_is_a_decode_error() {
        let mut body = big_page(600);
        body.truncate(body.len() - 3);
        for parse_on in [ParseOn::Caller, ParseOn::BlockingPool] {
            match read_page::<Item>(answer(body.clone()), "/flows".into(), parse_on).await {
                Err(BodyError::Client(ClientError::Decode { path, message, .. })) => {
                    assert_eq!(path, "/flows");
                    assert!(message.starts_with("not a list page (EOF"), "{message}");
                }
                Err(BodyError::Client(e)) => panic!("unexpected error: {e}"),
                Err(BodyError::Transport(e)) => panic!("unexpected transport error: {e}"),
                Ok(_) => panic!("a truncated page parsed"),
            }
        }
    }

    #[tokio::test]
    async fn a_small_page_is_parsed_in_place() {
        let body = br#"{"items":[{"id":"a"}]}"#.to_vec();
        let page = read_page::<Item>(answer(body), "/flows".into(), ParseOn::Caller)
            .await
            .expect("a valid page parses");
        assert_eq!(page.items.expect("items")[0].id, "a");
        assert!(page.links.is_none());
    }
}
