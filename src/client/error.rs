//! Client errors and the decoding of Adobe's error bodies.
//!
//! Adobe answers with two shapes: the API gateway's `{"error_code": "401013", "message": …}`
//! (`error_code` a string or a number) and the Flow Service's own
//! `{"type", "title", "status", "report": {"detailed-message", …}, "errorMessage", "errorDetails"}`,
//! sometimes shortened to `{"errorMessage", "errorDetails"}`. IMS answers
//! `{"error", "error_description"}`. All of them become an [`ApiError`]. Nothing here ever
//! holds a request header or a request body, and every text taken from a server answer passes
//! through the client's [`Redactor`] first: a server that echoes the request (its
//! `Authorization` header, a create body with credentials) shows `<redacted>` in their place.

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use std::fmt;
use std::sync::{Arc, RwLock};

/// Longest server message kept in an error, in characters.
const MAX_MESSAGE_CHARS: usize = 500;

/// Which error body shape the server sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorShape {
    /// The API gateway's `{error_code, message}`.
    Gateway,
    /// The Flow Service's `{type, title, status, report, errorMessage, errorDetails}` or its
    /// short form `{errorMessage, errorDetails}`.
    FlowService,
    /// An RFC 7807-like `{type, status, title, detail}` (e.g. a missing `Content-Type`).
    Problem,
    /// IMS's `{error, error_description}`.
    Ims,
    /// A bare `{message}`.
    Message,
    /// Anything else (empty, not JSON, unknown JSON).
    Unknown,
}

/// An HTTP error answer from the Flow Service or IMS, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// Request method.
    pub method: Method,
    /// Request path, without the host and the query (e.g. `/data/foundation/flowservice/flows/…`).
    pub path: String,
    /// HTTP status.
    pub status: u16,
    /// The service's error code (`401013`, `FLOW-1439-404`, `invalid_client`, …), if any.
    pub code: Option<String>,
    /// The service's title (Flow Service shape), if any.
    pub title: Option<String>,
    /// The human-readable message (truncated, one line).
    pub message: String,
    /// The request id the service reported, if any.
    pub request_id: Option<String>,
    /// The body shape it was decoded from.
    pub shape: ErrorShape,
    /// How many attempts were made (more than 1 when retries ran out).
    pub attempts: u32,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: HTTP {}", self.method, self.path, self.status)?;
        if let Some(code) = &self.code {
            write!(f, " [{code}]")?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        } else if let Some(title) = &self.title {
            write!(f, ": {title}")?;
        }
        if self.attempts > 1 {
            write!(f, " (after {} attempts)", self.attempts)?;
        }
        Ok(())
    }
}

/// [`ClientError::Interrupted`]'s `what` for a request that was not sent.
pub(crate) const NOT_SENT: &str = "not sent";

/// Errors of the client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Placeholder kept for compatibility with the original contract surface; never returned.
    #[error("not implemented")]
    Unimplemented,
    /// 401 or 403: the credentials, the API key, the org or the sandbox are not accepted.
    #[error("{0}")]
    Unauthorized(Box<ApiError>),
    /// 404: the object does not exist.
    #[error("{0}")]
    NotFound(Box<ApiError>),
    /// 412: the entity's etag changed since it was read.
    #[error("{0}")]
    PreconditionFailed(Box<ApiError>),
    /// Any other HTTP error (including 429/5xx once retries are exhausted).
    #[error("{0}")]
    Api(Box<ApiError>),
    /// The IMS token request failed.
    #[error("IMS token request failed: {0}")]
    Token(Box<ApiError>),
    /// No HTTP answer: connection refused or closed, timeout, TLS failure.
    #[error("{method} {path}: {message}")]
    Transport {
        /// Request method.
        method: Method,
        /// Request path.
        path: String,
        /// What went wrong (no URL, header or body).
        message: String,
        /// Whether it was a timeout.
        timeout: bool,
        /// Attempts made.
        attempts: u32,
    },
    /// A success answer whose body is not what the API documents.
    #[error("{method} {path}: unexpected response: {message}")]
    Decode {
        /// Request method.
        method: Method,
        /// Request path.
        path: String,
        /// What was wrong.
        message: String,
    },
    /// The configuration cannot be used (bad endpoint URL, TLS set-up).
    #[error("client configuration: {0}")]
    Config(String),
    /// The run was interrupted (Ctrl-C, SIGTERM): the request was not sent, not retried, or
    /// its answer was not awaited past the grace period.
    #[error("{method} {path}: interrupted ({what})")]
    Interrupted {
        /// Request method.
        method: Method,
        /// Request path.
        path: String,
        /// What was given up.
        what: &'static str,
    },
}

impl ClientError {
    /// The decoded HTTP error, for HTTP failures.
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            ClientError::Unauthorized(e)
            | ClientError::NotFound(e)
            | ClientError::PreconditionFailed(e)
            | ClientError::Api(e)
            | ClientError::Token(e) => Some(e),
            _ => None,
        }
    }

    /// Whether the run was stopped before this request was sent (or sent again).
    pub fn interrupted_before_sending(&self) -> bool {
        matches!(self, ClientError::Interrupted { what, .. } if *what == NOT_SENT)
    }

    /// The HTTP status, for HTTP failures.
    pub fn status(&self) -> Option<u16> {
        self.api_error().map(|e| e.status)
    }

    /// What the user can do about it, when there is something to say.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            ClientError::Unauthorized(_) | ClientError::Token(_) => Some(
                "check the credentials: AEP_CLIENT_ID, AEP_CLIENT_SECRET, AEP_ORG_ID, AEP_SCOPES \
                 (or AEP_ACCESS_TOKEN), the IMS URL (DESTCTL_IMS_URL) and the sandbox (AEP_SANDBOX)",
            ),
            ClientError::PreconditionFailed(_) => Some(
                "the object changed since the plan was computed; run `destctl plan` again and \
                 review the new plan",
            ),
            ClientError::NotFound(_) => Some(
                "the object was not found: was it deleted outside destctl? run `destctl plan` again",
            ),
            ClientError::Api(e) if e.status == 429 || e.status >= 500 => {
                Some("the service is busy or unavailable; try again later")
            }
            ClientError::Transport { timeout: true, .. } => {
                Some("the service did not answer in time; try again later")
            }
            ClientError::Transport { .. } => {
                Some("check the endpoint (--endpoint / DESTCTL_ENDPOINT) and the network")
            }
            _ => None,
        }
    }

    /// Builds the variant matching `err.status`.
    pub(crate) fn from_api(err: ApiError) -> ClientError {
        let err = Box::new(err);
        match err.status {
            401 | 403 => ClientError::Unauthorized(err),
            404 => ClientError::NotFound(err),
            412 => ClientError::PreconditionFailed(err),
            _ => ClientError::Api(err),
        }
    }
}

/// The hint of the first [`ClientError`] in `err`'s source chain (`err` included), for `main`
/// to print under any error that wraps a client failure.
pub fn find_hint(err: &(dyn std::error::Error + 'static)) -> Option<&'static str> {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(c) = e.downcast_ref::<ClientError>() {
            return c.hint();
        }
        cur = e.source();
    }
    None
}

/// The sensitive values a client knows of — its client secret, every access token it used, and
/// every secret value resolved for the requests it sends — and the one place server text is
/// cleaned of them before it enters an error or a log line. Cheap to clone: clones share the
/// values. Its `Debug` shows only how many values it holds.
#[derive(Clone, Default)]
pub struct Redactor(Arc<RwLock<Vec<SecretString>>>);

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} values)", self.values().len())
    }
}

/// What a redacted value is replaced with.
pub const REDACTED: &str = "<redacted>";

impl Redactor {
    /// A redactor holding no value.
    pub fn new() -> Redactor {
        Redactor::default()
    }

    fn values(&self) -> std::sync::RwLockReadGuard<'_, Vec<SecretString>> {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds a sensitive value (an empty one is ignored: it would match everywhere).
    pub fn add(&self, value: &SecretString) {
        let v = value.expose_secret();
        if v.is_empty() {
            return;
        }
        let mut values = self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if values.iter().any(|s| s.expose_secret() == v) {
            return;
        }
        values.push(value.clone());
        // Longest first, so that a value containing another one is replaced whole.
        values.sort_by_key(|s| std::cmp::Reverse(s.expose_secret().len()));
    }

    /// `text` with every held value, as written or JSON-escaped (once, twice or three times: a
    /// request body echoed inside an error message inside a JSON answer), replaced by
    /// [`REDACTED`].
    pub fn redact(&self, text: &str) -> String {
        let values = self.values();
        let mut out = text.to_owned();
        for s in values.iter() {
            let mut forms = vec![s.expose_secret().to_owned()];
            for _ in 0..3 {
                let last = forms.last().map(String::as_str).unwrap_or_default();
                let quoted = serde_json::to_string(last).unwrap_or_default();
                let escaped = quoted
                    .strip_prefix('"')
                    .and_then(|e| e.strip_suffix('"'))
                    .unwrap_or_default()
                    .to_owned();
                if escaped == last {
                    break;
                }
                forms.push(escaped);
            }
            // As a form field (the IMS token request's client secret), percent-encoded.
            let form = form_encoded(s.expose_secret());
            if form != s.expose_secret() {
                forms.insert(0, form);
            }
            // The most escaped form first: it contains the others.
            for form in forms.iter().rev() {
                if !form.is_empty() && out.contains(form.as_str()) {
                    out = out.replace(form.as_str(), REDACTED);
                }
            }
        }
        out
    }

    fn redact_opt(&self, text: Option<String>) -> Option<String> {
        text.map(|t| self.redact(&t))
    }
}

/// `s` as `application/x-www-form-urlencoded` writes it.
fn form_encoded(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The parts of an error body.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct DecodedBody {
    pub shape: Option<ErrorShape>,
    pub code: Option<String>,
    pub title: Option<String>,
    pub message: String,
    pub request_id: Option<String>,
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

fn code_field(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// One line, at most [`MAX_MESSAGE_CHARS`] characters.
pub(crate) fn clean_message(s: &str) -> String {
    let one_line: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= MAX_MESSAGE_CHARS {
        one_line
    } else {
        let mut t: String = one_line.chars().take(MAX_MESSAGE_CHARS).collect();
        t.push('…');
        t
    }
}

/// Decodes an error body of any of Adobe's shapes, with every value `redactor` holds replaced
/// (in the raw body before decoding, and in each decoded field).
pub(crate) fn decode_error_body(body: &[u8], redactor: &Redactor) -> DecodedBody {
    let raw = redactor.redact(&String::from_utf8_lossy(body));
    let d = decode_redacted(raw.as_bytes());
    DecodedBody {
        shape: d.shape,
        code: redactor.redact_opt(d.code),
        title: redactor.redact_opt(d.title),
        message: redactor.redact(&d.message),
        request_id: redactor.redact_opt(d.request_id),
    }
}

fn decode_redacted(body: &[u8]) -> DecodedBody {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        let text = String::from_utf8_lossy(body);
        return DecodedBody {
            shape: None,
            message: clean_message(&text),
            ..DecodedBody::default()
        };
    };
    // Some gateways wrap a single error in a list.
    let v = match v {
        Value::Array(mut items) if !items.is_empty() => items.swap_remove(0),
        v => v,
    };
    if !v.is_object() {
        return DecodedBody {
            shape: None,
            message: clean_message(&v.to_string()),
            ..DecodedBody::default()
        };
    }
    let report = v.get("report");
    let request_id = report
        .and_then(|r| str_field(r, "request-id"))
        .or_else(|| str_field(&v, "request_id"))
        .or_else(|| str_field(&v, "requestId"))
        .map(str::to_owned);

    if let Some(code) = code_field(&v, "error_code") {
        return DecodedBody {
            shape: Some(ErrorShape::Gateway),
            code: Some(code),
            title: None,
            message: clean_message(str_field(&v, "message").unwrap_or_default()),
            request_id,
        };
    }
    if v.get("errorMessage").is_some() || v.get("errorDetails").is_some() || report.is_some() {
        let message = report
            .and_then(|r| str_field(r, "detailed-message"))
            .or_else(|| str_field(&v, "errorMessage"))
            .or_else(|| str_field(&v, "errorDetails"))
            .or_else(|| str_field(&v, "detail"))
            .or_else(|| str_field(&v, "title"))
            .unwrap_or_default();
        let code = str_field(&v, "type")
            .map(|t| t.rsplit('/').next().unwrap_or(t).to_owned())
            .filter(|c| !c.is_empty() && c != "type")
            .or_else(|| code_field(&v, "code"));
        return DecodedBody {
            shape: Some(ErrorShape::FlowService),
            code,
            title: str_field(&v, "title").map(str::to_owned),
            message: clean_message(message),
            request_id,
        };
    }
    if let Some(err) = str_field(&v, "error") {
        return DecodedBody {
            shape: Some(ErrorShape::Ims),
            code: Some(err.to_owned()),
            title: None,
            message: clean_message(
                str_field(&v, "error_description")
                    .or_else(|| str_field(&v, "message"))
                    .unwrap_or_default(),
            ),
            request_id,
        };
    }
    if v.get("title").is_some() || v.get("detail").is_some() {
        return DecodedBody {
            shape: Some(ErrorShape::Problem),
            code: str_field(&v, "type")
                .filter(|t| !t.contains("placeholder"))
                .map(str::to_owned),
            title: str_field(&v, "title").map(str::to_owned),
            message: clean_message(
                str_field(&v, "detail")
                    .or_else(|| str_field(&v, "title"))
                    .unwrap_or_default(),
            ),
            request_id,
        };
    }
    if let Some(m) = str_field(&v, "message") {
        return DecodedBody {
            shape: Some(ErrorShape::Message),
            code: code_field(&v, "code"),
            title: None,
            message: clean_message(m),
            request_id,
        };
    }
    DecodedBody {
        shape: None,
        message: clean_message(&v.to_string()),
        ..DecodedBody::default()
    }
}

/// Builds an [`ApiError`] from a response, its server text redacted by `redactor`.
pub(crate) fn api_error(
    method: Method,
    path: String,
    status: u16,
    body: &[u8],
    attempts: u32,
    redactor: &Redactor,
) -> ApiError {
    let d = decode_error_body(body, redactor);
    ApiError {
        method,
        path,
        status,
        code: d.code,
        title: d.title,
        message: d.message,
        request_id: d.request_id,
        shape: d.shape.unwrap_or(ErrorShape::Unknown),
        attempts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode(v: Value) -> DecodedBody {
        decode_error_body(v.to_string().as_bytes(), &Redactor::new())
    }

    #[test]
    fn gateway_string_and_number_codes() {
        let d = decode(json!({"error_code": "401013", "message": "Oauth token is not valid"}));
        assert_eq!(d.shape, Some(ErrorShape::Gateway));
        assert_eq!(d.code.as_deref(), Some("401013"));
        assert_eq!(d.message, "Oauth token is not valid");
        let d = decode(json!({"error_code": 403010, "message": "Oauth token is missing."}));
        assert_eq!(d.code.as_deref(), Some("403010"));
        assert_eq!(d.message, "Oauth token is missing.");
    }

    #[test]
    fn flow_service_full_shape() {
        let d = decode(json!({
            "type": "https://ns.adobe.com/aep/errors/FLOW-1439-404",
            "title": "Resource not found",
            "status": 404,
            "report": {"detailed-message": "The requested flows resource abc is not found.",
                       "id": "abc", "request-id": "req-1", "type": "flows"},
            "errorMessage": "other text",
            "errorDetails": "other text"
        }));
        assert_eq!(d.shape, Some(ErrorShape::FlowService));
        assert_eq!(d.code.as_deref(), Some("FLOW-1439-404"));
        assert_eq!(d.title.as_deref(), Some("Resource not found"));
        assert_eq!(d.message, "The requested flows resource abc is not found.");
        assert_eq!(d.request_id.as_deref(), Some("req-1"));
    }

    #[test]
    fn flow_service_short_shape() {
        let d =
            decode(json!({"errorMessage": "flows not found with id = [x]", "errorDetails": "d"}));
        assert_eq!(d.shape, Some(ErrorShape::FlowService));
        assert_eq!(d.code, None);
        assert_eq!(d.message, "flows not found with id = [x]");
    }

    #[test]
    fn problem_ims_message_and_garbage() {
        let d = decode(json!({"type": "/placeholder/type/uri", "status": 400,
            "title": "BadRequestError", "detail": "A valid content-type must be specified"}));
        assert_eq!(d.shape, Some(ErrorShape::Problem));
        assert_eq!(d.message, "A valid content-type must be specified");
        let d = decode(json!({"error": "invalid_client", "error_description": "bad secret"}));
        assert_eq!(d.shape, Some(ErrorShape::Ims));
        assert_eq!(d.code.as_deref(), Some("invalid_client"));
        let d = decode(json!({"message": "Please provide a valid spec id"}));
        assert_eq!(d.shape, Some(ErrorShape::Message));
        let d = decode_error_body(b"<html>\n  Bad   gateway\n</html>", &Redactor::new());
        assert_eq!(d.shape, None);
        assert_eq!(d.message, "<html> Bad gateway </html>");
        let long = "x".repeat(2000);
        assert_eq!(
            decode_error_body(long.as_bytes(), &Redactor::new())
                .message
                .chars()
                .count(),
            501
        );
    }

    #[test]
    fn variants_and_hints() {
        let mk = |status| {
            ClientError::from_api(api_error(
                Method::GET,
                "/p".into(),
                status,
                b"",
                1,
                &Redactor::new(),
            ))
        };
        assert!(matches!(mk(401), ClientError::Unauthorized(_)));
        assert!(matches!(mk(403), ClientError::Unauthorized(_)));
        assert!(matches!(mk(404), ClientError::NotFound(_)));
        assert!(matches!(mk(412), ClientError::PreconditionFailed(_)));
        assert!(matches!(mk(400), ClientError::Api(_)));
        assert!(mk(401).hint().unwrap().contains("AEP_CLIENT_ID"));
        assert!(mk(412).hint().unwrap().contains("plan"));
        assert!(mk(404).hint().unwrap().contains("outside destctl"));
        assert!(mk(503).hint().is_some());
        assert_eq!(mk(400).hint(), None);
        assert_eq!(mk(412).status(), Some(412));
    }

    #[test]
    fn hint_is_found_through_wrappers() {
        #[derive(Debug, thiserror::Error)]
        #[error("apply failed")]
        struct Wrapper(#[source] ClientError);
        let inner = ClientError::from_api(api_error(
            Method::PATCH,
            "/p".into(),
            412,
            b"",
            1,
            &Redactor::new(),
        ));
        let w = Wrapper(inner);
        assert!(find_hint(&w).unwrap().contains("plan"));
        let plain = std::io::Error::other("x");
        assert_eq!(find_hint(&plain), None);
    }

    #[test]
    fn display_names_method_path_status_code() {
        let e = ClientError::from_api(api_error(
            Method::PATCH,
            "/data/foundation/flowservice/flows/f1".into(),
            412,
            br#"{"errorMessage":"Supplied version does not match"}"#,
            1,
            &Redactor::new(),
        ));
        assert_eq!(
            e.to_string(),
            "PATCH /data/foundation/flowservice/flows/f1: HTTP 412: Supplied version does not match"
        );
    }

    fn redactor(values: &[&str]) -> Redactor {
        let r = Redactor::new();
        for v in values {
            r.add(&SecretString::from(v.to_string()));
        }
        r
    }

    /// An echoing server's body: every held value is gone from every decoded field, whatever
    /// the shape, also when JSON-escaped inside an echoed body or cut by the length limit.
    #[test]
    fn server_text_is_redacted_before_decoding_and_truncation() {
        let r = redactor(&["tok-123", "s3cr\"et/\\x", "s3cr", ""]);
        let echoed = json!({"auth": {"params": {"k": "s3cr\"et/\\x"}}}).to_string();
        let bodies = [
            json!({"error_code": "tok-123", "message": format!("Bearer tok-123 body {echoed}")}),
            json!({"title": "tok-123", "report": {"detailed-message": echoed, "request-id": "s3cr"}, "errorMessage": "x"}),
            json!({"error": "invalid_client", "error_description": "client_secret=s3cr\"et/\\x"}),
            json!({"message": format!("{}{}", "y".repeat(495), "tok-123")}),
        ];
        for b in bodies {
            let d = decode_error_body(b.to_string().as_bytes(), &r);
            let all = format!("{d:?}");
            for leak in ["tok-1", "s3cr", "et/"] {
                assert!(!all.contains(leak), "{leak} in {all}");
            }
            assert!(all.contains("<reda"), "{all}");
        }
        let r2 = redactor(&["a+b/c d"]);
        assert_eq!(
            r2.redact("client_secret=a%2Bb%2Fc+d&x=a+b/c d"),
            "client_secret=<redacted>&x=<redacted>"
        );
        let d = decode_error_body(b"not json: Authorization: Bearer tok-123", &r);
        assert_eq!(d.message, "not json: Authorization: Bearer <redacted>");
        assert_eq!(format!("{r:?}"), "Redactor(3 values)");
        // Adding a value again changes nothing.
        r.add(&SecretString::from("tok-123".to_owned()));
        assert_eq!(format!("{r:?}"), "Redactor(3 values)");
    }
}
