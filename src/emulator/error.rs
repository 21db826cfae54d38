//! Error responses in the shapes Adobe returns: gateway bodies (`error_code`/`message`), the
//! content-type body, and the Flow Service's own (`type`/`title`/`status`/`report`/
//! `errorMessage`/`errorDetails`).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An error response.
#[derive(Clone, Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub body: Value,
    pub retry_after: Option<u64>,
}

fn title(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Resource not found",
        405 => "Method Not Allowed",
        412 => "Precondition Failed",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    }
}

impl ApiError {
    /// A gateway error: `{"error_code":"403010","message":…}` (string code, as TS shows).
    pub(crate) fn gateway(status: StatusCode, code: &str, message: &str) -> ApiError {
        ApiError {
            status,
            body: json!({"error_code": code, "message": message}),
            retry_after: None,
        }
    }

    /// The body of a POST/PUT/PATCH without a valid `Content-Type`.
    pub(crate) fn content_type() -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            body: json!({"type": "/placeholder/type/uri", "status": 400,
                         "title": "BadRequestError", "detail": "A valid content-type must be specified"}),
            retry_after: None,
        }
    }

    /// A Flow Service error `FLOW-<code>-<status>`; `entity` is `(type, id)` for errors about
    /// one resource.
    pub(crate) fn flow(
        status: StatusCode,
        code: u32,
        message: impl Into<String>,
        entity: Option<(&str, &str)>,
    ) -> ApiError {
        let message = message.into();
        let mut report = json!({"detailed-message": message});
        if let Some((ty, id)) = entity {
            report["id"] = json!(id);
            report["type"] = json!(ty);
        }
        ApiError {
            status,
            body: json!({
                "type": format!("https://ns.adobe.com/aep/errors/FLOW-{code}-{}", status.as_u16()),
                "title": title(status),
                "status": status.as_u16(),
                "report": report,
                "errorMessage": message,
                "errorDetails": message
            }),
            retry_after: None,
        }
    }

    /// 400 with a Flow Service code.
    pub(crate) fn bad_request(code: u32, message: impl Into<String>) -> ApiError {
        ApiError::flow(StatusCode::BAD_REQUEST, code, message, None)
    }

    /// 404 for `ty` (`flows`, `connections`, …) `id`: 1439 for flows, 1101 otherwise.
    pub(crate) fn not_found(ty: &str, id: &str) -> ApiError {
        let code = if ty == "flows" { 1439 } else { 1101 };
        ApiError::flow(
            StatusCode::NOT_FOUND,
            code,
            format!(
                "The requested {ty} resource {id} is not found. Verify the resource ID before trying again."
            ),
            Some((ty, id)),
        )
    }

    /// Stamps the request id into a Flow Service body.
    pub(crate) fn with_request_id(mut self, request_id: &str) -> ApiError {
        if let Some(r) = self.body.get_mut("report").and_then(Value::as_object_mut) {
            r.insert("request-id".into(), json!(request_id));
        }
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, axum::Json(self.body)).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}
