//! When to retry, and how long to wait: exponential backoff with full jitter, `Retry-After`
//! honoured (capped at the policy's maximum delay).
//!
//! Which failures are retried depends on whether repeating the request is safe:
//!
//! * `GET`, `DELETE`, and `PATCH` (always sent with `If-Match`, so a repeated patch cannot apply
//!   twice: a repeat after a lost answer fails with 412) and the IMS token request are retried on
//!   429, 500, 502, 503, 504, connection errors, closed connections and timeouts.
//! * `POST` creates and flow actions are repeated by this loop only when the request cannot
//!   have been processed: a connection error before anything was sent, or a 429 or 503 answer.
//!   A 500, 502 or 504, a timeout or a connection closed after sending may hide a create that
//!   happened: `client/resolve.rs` looks for the object by its ownership marker before sending
//!   the create again.
//! * A timeout is retried at most [`MAX_TIMEOUT_ATTEMPTS`]` - 1` times: an endpoint that accepts
//!   and never answers fails in about `MAX_TIMEOUT_ATTEMPTS × request timeout`.
//!
//! Every retry is reported to the [`RetryObserver`] (attempt, reason, next delay) before the
//! wait. A run-wide deadline (the total timeout) and a stop token (Ctrl-C, SIGTERM) bound the
//! loop: once stopped, nothing new is sent and an answer in flight is awaited for a grace
//! period only.

//!
//! [`Retrier::run`] is the one retry loop: the IMS token request and every Flow Service call
//! go through it.

use super::error::ApiError;
use super::{ClientError, RetryPolicy};
use axum::body::Bytes;
use rand::RngExt;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Retries of one request after its first attempt, by default.
pub const DEFAULT_MAX_RETRIES: u32 = 10;

/// Attempts of one request that may end in a timeout before it is given up.
pub const MAX_TIMEOUT_ATTEMPTS: u32 = 3;

impl Default for RetryPolicy {
    /// [`DEFAULT_MAX_RETRIES`] retries, 500 ms first backoff, 15 s cap.
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_retries: DEFAULT_MAX_RETRIES,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(15),
        }
    }
}

/// One retry about to happen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryNotice {
    /// Request method.
    pub method: Method,
    /// Request path (no query).
    pub path: String,
    /// The attempt about to be sent (2 for the first retry).
    pub attempt: u32,
    /// The most attempts this request may take.
    pub max_attempts: u32,
    /// Why the last attempt failed (`HTTP 503`, `timed out`, …).
    pub reason: String,
    /// The wait before the next attempt.
    pub delay: Duration,
}

/// Told about retries and about writes whose answer was lost, for the user to see; the client
/// itself prints nothing.
pub trait RetryObserver: Send + Sync {
    /// A request is about to be retried after `notice.delay`.
    fn retrying(&self, notice: &RetryNotice);
    /// A write may have happened without a success answer (500, timeout, connection cut): the
    /// client checks what the service holds (`what` says what it looks for) before sending it
    /// again.
    fn resolving(&self, _method: &Method, _path: &str, _what: &str) {}
}

/// The run-wide bounds of a client: observer, deadline and stop token (set once).
#[derive(Default)]
pub(crate) struct Hooks {
    pub(crate) observer: OnceLock<Arc<dyn RetryObserver>>,
    pub(crate) stop: OnceLock<(CancellationToken, Duration)>,
    pub(crate) deadline: Option<Instant>,
}

impl Hooks {
    pub(crate) fn new(total: Option<Duration>) -> Hooks {
        Hooks {
            deadline: total.and_then(|t| Instant::now().checked_add(t)),
            ..Hooks::default()
        }
    }

    /// Whether the run was stopped (Ctrl-C, SIGTERM).
    pub(crate) fn stopped(&self) -> bool {
        self.stop.get().is_some_and(|(c, _)| c.is_cancelled())
    }

    /// Time left before the total deadline.
    pub(crate) fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// Runs one exchange, cut at the total deadline, or at the grace period after a stop.
    pub(crate) async fn bound<T>(&self, fut: impl Future<Output = T>) -> Result<T, Cut> {
        let deadline = async {
            match self.remaining() {
                Some(left) => tokio::time::sleep(left).await,
                None => std::future::pending().await,
            }
        };
        let stopped = async {
            match self.stop.get() {
                Some((token, grace)) => {
                    token.cancelled().await;
                    tokio::time::sleep(*grace).await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            out = fut => Ok(out),
            () = deadline => Err(Cut::Deadline),
            () = stopped => Err(Cut::Stopped),
        }
    }
}

/// Why [`Hooks::bound`] cut an exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cut {
    /// The total timeout passed.
    Deadline,
    /// The run was stopped and the grace period passed.
    Stopped,
}

/// How safe a request is to repeat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RetryClass {
    /// Repeating it has no extra effect.
    Idempotent,
    /// Repeating it after it reached the server could create a duplicate.
    NotIdempotent,
}

/// The attempt counter of one logical request.
#[derive(Clone, Debug)]
pub(crate) struct Attempt {
    number: u32,
    class: RetryClass,
    /// Whether an earlier attempt may have reached the server without an answer.
    pub(crate) ambiguous: bool,
    /// Attempts that timed out.
    timeouts: u32,
    /// Why the last attempt failed, for the observer.
    reason: String,
}

impl Attempt {
    pub(crate) fn new(class: RetryClass) -> Attempt {
        Attempt {
            number: 1,
            class,
            ambiguous: false,
            timeouts: 0,
            reason: String::new(),
        }
    }

    /// 1 for the first attempt.
    pub(crate) fn number(&self) -> u32 {
        self.number
    }
}

/// What one attempt of [`Retrier::run`] came to.
pub(crate) enum Outcome<T> {
    /// Finished: a result, or an error no retry can mend.
    Done(Result<T, ClientError>),
    /// No complete answer (connection, timeout, body): retried as the policy allows.
    Transport(reqwest::Error),
    /// An error status: retried as the policy allows, else reported with the body.
    Status {
        /// The status.
        status: StatusCode,
        /// The answer's `Retry-After`.
        retry_after: Option<Duration>,
        /// The error body.
        body: Bytes,
    },
    /// Send again at once without counting an attempt (a token was renewed).
    Again,
}

/// Upper bound of the buffer reserved up front from `Content-Length`.
const MAX_BODY_RESERVE: u64 = 256 * 1024 * 1024;

/// The whole response body in one buffer reserved from `Content-Length`, filled chunk by chunk:
/// a 20 MB list page is held once, not as its chunks plus a contiguous copy of them.
pub(crate) async fn read_body(mut resp: reqwest::Response) -> Result<Bytes, reqwest::Error> {
    let reserve = resp.content_length().unwrap_or(0).min(MAX_BODY_RESERVE);
    let mut buf = Vec::with_capacity(usize::try_from(reserve).unwrap_or(0));
    while let Some(chunk) = resp.chunk().await? {
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.into())
}

/// A complete answer: status, `Retry-After` and body.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) body: Bytes,
}

impl Answer {
    /// Sends `request` and reads the whole answer.
    pub(crate) async fn exchange(
        request: reqwest::RequestBuilder,
    ) -> Result<Answer, reqwest::Error> {
        Answer::read(request.send().await?).await
    }

    /// Reads the whole answer of `resp`.
    pub(crate) async fn read(resp: reqwest::Response) -> Result<Answer, reqwest::Error> {
        let status = resp.status();
        let retry_after = retry_after(resp.headers());
        let body = read_body(resp).await?;
        Ok(Answer {
            status,
            retry_after,
            body,
        })
    }

    /// The error status as an [`Outcome`] for the retry loop.
    pub(crate) fn retry_or_fail<T>(self) -> Outcome<T> {
        Outcome::Status {
            status: self.status,
            retry_after: self.retry_after,
            body: self.body,
        }
    }
}

/// Applies a [`RetryPolicy`] within the client's [`Hooks`].
#[derive(Clone)]
pub(crate) struct Retrier {
    policy: RetryPolicy,
    /// Cleans the server text of the errors it builds.
    redactor: super::error::Redactor,
    pub(crate) hooks: Arc<Hooks>,
}

impl std::fmt::Debug for Retrier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Retrier")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// Statuses worth retrying for idempotent requests.
pub(crate) fn is_retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504)
}

impl Retrier {
    #[cfg(test)]
    pub(crate) fn new(policy: RetryPolicy) -> Retrier {
        Retrier::with_hooks(policy, Arc::new(Hooks::default()))
    }

    pub(crate) fn with_hooks(policy: RetryPolicy, hooks: Arc<Hooks>) -> Retrier {
        Retrier {
            policy,
            hooks,
            redactor: Default::default(),
        }
    }

    /// This retrier, redacting the errors it builds with `redactor`.
    pub(crate) fn redacting(self, redactor: super::error::Redactor) -> Retrier {
        Retrier { redactor, ..self }
    }

    /// The values its errors are redacted of.
    pub(crate) fn redactor(&self) -> &super::error::Redactor {
        &self.redactor
    }

    /// The most attempts of one request.
    pub(crate) fn max_attempts(&self) -> u32 {
        self.policy.max_retries.saturating_add(1)
    }

    /// Tells the observer about a retry.
    fn notify(&self, method: &Method, path: &str, attempt: &Attempt, delay: Duration) {
        tracing::debug!(method = %method, path = %path, attempt = attempt.number(),
            reason = %attempt.reason, wait_ms = delay.as_millis() as u64, "retrying");
        if let Some(observer) = self.hooks.observer.get() {
            observer.retrying(&RetryNotice {
                method: method.clone(),
                path: path.to_owned(),
                attempt: attempt.number(),
                max_attempts: self.max_attempts(),
                reason: attempt.reason.clone(),
                delay,
            });
        }
    }

    /// Whether a wait of `wait` would end before the total deadline.
    fn may_wait(&self, wait: Duration) -> bool {
        self.hooks.remaining().is_none_or(|left| wait < left)
    }

    /// Runs `attempt_once` until it is done, retrying transport failures and error statuses
    /// as the policy allows (sleeping between attempts). A status that is not retried
    /// becomes `fail(the decoded error body)`; a transport failure that is not retried, a
    /// [`ClientError::Transport`].
    pub(crate) async fn run<T, F, Fut>(
        &self,
        class: RetryClass,
        method: &Method,
        path: &str,
        mut attempt_once: F,
        fail: impl FnOnce(ApiError) -> ClientError,
    ) -> Result<T, ClientError>
    where
        F: FnMut(Attempt) -> Fut,
        Fut: Future<Output = Outcome<T>>,
    {
        let mut attempt = Attempt::new(class);
        loop {
            let wait = match attempt_once(attempt.clone()).await {
                Outcome::Done(result) => return result,
                Outcome::Again => continue,
                Outcome::Transport(e) => match self
                    .after_transport_error(&mut attempt, &e)
                    .filter(|w| self.may_wait(*w))
                {
                    Some(wait) => wait,
                    None => {
                        return Err(super::transport_error(
                            method.clone(),
                            path.to_owned(),
                            &e,
                            attempt.number(),
                        ));
                    }
                },
                Outcome::Status {
                    status,
                    retry_after,
                    body,
                } => match self
                    .after_status(&mut attempt, status, retry_after)
                    .filter(|w| self.may_wait(*w))
                {
                    Some(wait) => wait,
                    None => {
                        return Err(fail(super::error::api_error(
                            method.clone(),
                            path.to_owned(),
                            status.as_u16(),
                            &body,
                            attempt.number(),
                            &self.redactor,
                        )));
                    }
                },
            };
            if self.hooks.stopped() {
                return Err(ClientError::Interrupted {
                    method: method.clone(),
                    path: path.to_owned(),
                    what: super::error::NOT_SENT,
                });
            }
            self.notify(method, path, &attempt, wait);
            tokio::time::sleep(wait).await;
        }
    }

    /// The wait before the next attempt after a transport failure, or `None` to give up.
    pub(crate) fn after_transport_error(
        &self,
        attempt: &mut Attempt,
        err: &reqwest::Error,
    ) -> Option<Duration> {
        let before_sending = err.is_connect();
        if tls_rejected(err) {
            // A certificate the client refuses will not change on a retry.
            return None;
        }
        attempt.reason = super::transport_message(err);
        if err.is_timeout() {
            attempt.timeouts += 1;
            if attempt.timeouts >= MAX_TIMEOUT_ATTEMPTS {
                attempt.ambiguous = true;
                return None;
            }
        }
        let retryable = match attempt.class {
            RetryClass::Idempotent => {
                before_sending
                    || err.is_timeout()
                    || err.is_request()
                    || err.is_body()
                    || err.is_decode()
            }
            RetryClass::NotIdempotent => before_sending,
        };
        if !before_sending {
            attempt.ambiguous = true;
        }
        self.next(attempt, retryable, None)
    }

    /// The wait before the next attempt after an HTTP error status, or `None` to give up.
    pub(crate) fn after_status(
        &self,
        attempt: &mut Attempt,
        status: StatusCode,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        attempt.reason = format!(
            "HTTP {}{}",
            status.as_u16(),
            status
                .canonical_reason()
                .map(|r| format!(" {r}"))
                .unwrap_or_default()
        );
        let retryable = match attempt.class {
            RetryClass::Idempotent => is_retryable_status(status),
            RetryClass::NotIdempotent => matches!(status.as_u16(), 429 | 503),
        };
        if retryable && !matches!(status.as_u16(), 429 | 503) {
            attempt.ambiguous = true;
        }
        self.next(attempt, retryable, retry_after)
    }

    fn next(
        &self,
        attempt: &mut Attempt,
        retryable: bool,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        if !retryable || attempt.number > self.policy.max_retries {
            return None;
        }
        let wait = match retry_after {
            Some(d) => d.min(self.policy.max_delay),
            None => self.backoff(attempt.number),
        };
        attempt.number += 1;
        Some(wait)
    }

    /// Full jitter: uniform in `[0, min(max_delay, base_delay · 2^(n-1))]` for retry `n`.
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        let exp = 2u32.saturating_pow(retry.saturating_sub(1).min(30));
        let ceiling = self
            .policy
            .base_delay
            .saturating_mul(exp)
            .min(self.policy.max_delay);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rand::rng().random_range(0..=nanos))
    }
}

/// Whether the TLS handshake failed because the server's certificate was refused (unknown
/// issuer, wrong name, expired): a configuration problem, not a transient one.
pub(crate) fn tls_rejected(err: &reqwest::Error) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        // tokio-rustls reports it inside (possibly nested) `io::Error`s, whose `source()`
        // skips the wrapped error: unwrap them by hand.
        let mut inner: &(dyn std::error::Error + 'static) = e;
        while let Some(wrapped) = inner
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            inner = wrapped;
        }
        let rustls_err = inner.downcast_ref::<rustls::Error>();
        if matches!(
            rustls_err,
            Some(rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented)
        ) {
            return true;
        }
        cur = e.source();
    }
    false
}

/// `Retry-After` as a wait: delta-seconds, or an HTTP date (a past date means no wait).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Some(Duration::from_secs_f64(secs.min(86_400.0)));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let delta = date.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn policy(max_retries: u32) -> Retrier {
        Retrier::new(RetryPolicy {
            max_retries,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
        })
    }

    #[test]
    fn backoff_is_bounded_by_exponential_ceiling_and_cap() {
        let r = policy(10);
        for retry in 1..=12 {
            let ceiling =
                Duration::from_millis(100 * 2u64.pow(retry - 1)).min(Duration::from_secs(2));
            for _ in 0..50 {
                assert!(r.backoff(retry) <= ceiling);
            }
        }
        // Jitter: not always the same value.
        let samples: std::collections::BTreeSet<_> = (0..50).map(|_| r.backoff(5)).collect();
        assert!(samples.len() > 1);
    }

    #[test]
    fn status_classes() {
        let r = policy(3);
        for code in [429, 500, 502, 503, 504] {
            let mut a = Attempt::new(RetryClass::Idempotent);
            assert!(
                r.after_status(&mut a, StatusCode::from_u16(code).unwrap(), None)
                    .is_some()
            );
        }
        for code in [400, 401, 403, 404, 409, 412, 422, 501] {
            let mut a = Attempt::new(RetryClass::Idempotent);
            assert!(
                r.after_status(&mut a, StatusCode::from_u16(code).unwrap(), None)
                    .is_none()
            );
        }
        for (code, retried) in [
            (429, true),
            (503, true),
            (500, false),
            (502, false),
            (504, false),
        ] {
            let mut a = Attempt::new(RetryClass::NotIdempotent);
            let got = r.after_status(&mut a, StatusCode::from_u16(code).unwrap(), None);
            assert_eq!(got.is_some(), retried, "POST {code}");
        }
    }

    #[test]
    fn gives_up_after_max_retries_and_caps_retry_after() {
        let r = policy(2);
        let mut a = Attempt::new(RetryClass::Idempotent);
        let s = StatusCode::TOO_MANY_REQUESTS;
        assert_eq!(
            r.after_status(&mut a, s, Some(Duration::from_secs(1))),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            r.after_status(&mut a, s, Some(Duration::from_secs(3600))),
            Some(Duration::from_secs(2))
        );
        assert_eq!(a.number(), 3);
        assert_eq!(r.after_status(&mut a, s, None), None);
    }

    fn fast(max_retries: u32) -> Retrier {
        Retrier::new(RetryPolicy {
            max_retries,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
        })
    }

    /// Runs `answers` in order (the last one repeated) through [`Retrier::run`]; the result
    /// and how many attempts were made.
    async fn run_with(
        r: &Retrier,
        class: RetryClass,
        answers: &[Option<u16>],
    ) -> (Result<u16, ClientError>, usize) {
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let calls_ref = &calls;
        let result = r
            .run(
                class,
                &Method::GET,
                "/flows",
                |_attempt| async move {
                    let n = calls_ref.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    match answers[n.min(answers.len() - 1)] {
                        None => Outcome::Again,
                        Some(code) if code < 400 => Outcome::Done(Ok(code)),
                        Some(code) => Outcome::Status {
                            status: StatusCode::from_u16(code).expect("a status"),
                            retry_after: None,
                            body: Bytes::from_static(b"{}"),
                        },
                    }
                },
                ClientError::from_api,
            )
            .await;
        (result, calls.into_inner())
    }

    #[tokio::test]
    async fn one_loop_retries_as_the_policy_says() {
        let r = fast(2);
        let (result, calls) = run_with(&r, RetryClass::Idempotent, &[Some(503), Some(200)]).await;
        assert_eq!((result.ok(), calls), (Some(200), 2));
        // Exhausted: the last status is reported with the number of attempts.
        let (result, calls) = run_with(&r, RetryClass::Idempotent, &[Some(500)]).await;
        assert_eq!(calls, 3);
        let err = result.expect_err("gives up");
        assert_eq!(err.status(), Some(500));
        assert_eq!(err.api_error().map(|e| e.attempts), Some(3));
        // A create is not repeated after a 500, which may hide a create that happened.
        let (result, calls) = run_with(&r, RetryClass::NotIdempotent, &[Some(500)]).await;
        assert_eq!((result.is_err(), calls), (true, 1));
        // `Again` (a renewed token) does not count as an attempt.
        let (result, calls) = run_with(
            &r,
            RetryClass::Idempotent,
            &[None, Some(503), Some(503), Some(201)],
        )
        .await;
        assert_eq!((result.ok(), calls), (Some(201), 4));
    }

    #[tokio::test]
    async fn once_stopped_nothing_is_sent_again() {
        let hooks = Arc::new(Hooks::default());
        let stop = CancellationToken::new();
        let _ = hooks.stop.set((stop.clone(), Duration::from_millis(10)));
        let r = Retrier::with_hooks(
            RetryPolicy {
                max_retries: 5,
                base_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(2),
            },
            hooks.clone(),
        );
        stop.cancel();
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let result: Result<(), ClientError> = r
            .run(
                RetryClass::Idempotent,
                &Method::GET,
                "/flows",
                |_| {
                    calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    async {
                        Outcome::Status {
                            status: StatusCode::SERVICE_UNAVAILABLE,
                            retry_after: None,
                            body: Bytes::new(),
                        }
                    }
                },
                ClientError::from_api,
            )
            .await;
        assert!(matches!(result, Err(ClientError::Interrupted { .. })));
        assert_eq!(calls.into_inner(), 1);
        // An answer in flight is awaited for the grace period only.
        let cut = hooks.bound(std::future::pending::<()>()).await;
        assert_eq!(cut, Err(Cut::Stopped));
    }

    #[tokio::test]
    async fn a_retry_that_would_end_past_the_deadline_is_not_made() {
        let hooks = Arc::new(Hooks::new(Some(Duration::from_millis(50))));
        let r = Retrier::with_hooks(
            RetryPolicy {
                max_retries: 5,
                base_delay: Duration::from_secs(10),
                max_delay: Duration::from_secs(10),
            },
            hooks,
        );
        let (result, calls) = run_with(&r, RetryClass::Idempotent, &[Some(503)]).await;
        // Full jitter may draw a wait shorter than the deadline; most draws are longer.
        assert!(calls <= 3, "{calls}");
        assert_eq!(result.expect_err("gives up").status(), Some(503));
    }

    #[test]
    fn parses_retry_after() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(RETRY_AFTER, HeaderValue::from_static("0.5"));
        assert_eq!(retry_after(&h), Some(Duration::from_millis(500)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        let future = (chrono::Utc::now() + chrono::Duration::seconds(120)).to_rfc2822();
        h.insert(RETRY_AFTER, HeaderValue::from_str(&future).unwrap());
        let d = retry_after(&h).unwrap();
        assert!(d > Duration::from_secs(100) && d <= Duration::from_secs(120));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }
}
