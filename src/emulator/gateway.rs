//! The API gateway's checks, in order: token, API key, org id, then the Flow Service's own
//! `Content-Type` and `x-sandbox-name` checks.

use super::error::ApiError;
use super::ims::Tokens;
use axum::http::{HeaderMap, Method, StatusCode, header};

/// Who is calling, and where.
#[derive(Clone, Debug)]
pub(crate) struct Caller {
    /// The token's client id (also the `x-api-key`).
    pub client_id: String,
    /// `x-gw-ims-org-id`.
    pub org: String,
    /// `x-sandbox-name` (default `prod`).
    pub sandbox: String,
}

/// Whether `org` looks like an IMS org id: `<letters and digits>@AdobeOrg`.
pub(crate) fn valid_org(org: &str) -> bool {
    org.strip_suffix("@AdobeOrg")
        .is_some_and(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_alphanumeric()))
}

/// Whether `name` is a possible sandbox name: lower-case letters, digits and `-`.
pub(crate) fn valid_sandbox(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 256
        && name
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// Runs every check for a Flow Service request.
pub(crate) fn check(
    headers: &HeaderMap,
    method: &Method,
    body_len: usize,
    tokens: &Tokens,
    strict_sandbox: bool,
) -> Result<Caller, ApiError> {
    let Some(auth) = header(headers, header::AUTHORIZATION.as_str()) else {
        return Err(ApiError::gateway(
            StatusCode::FORBIDDEN,
            "403010",
            "Oauth token is missing.",
        ));
    };
    let token = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("bearer "))
        .map(str::trim)
        .unwrap_or("");
    let Some(info) = tokens.check(token) else {
        return Err(ApiError::gateway(
            StatusCode::UNAUTHORIZED,
            "401013",
            "Oauth token is not valid",
        ));
    };
    match header(headers, "x-api-key") {
        None | Some("") => {
            return Err(ApiError::gateway(
                StatusCode::FORBIDDEN,
                "403000",
                "Api Key is required",
            ));
        }
        Some(k) if k != info.client_id => {
            return Err(ApiError::gateway(
                StatusCode::FORBIDDEN,
                "403003",
                "Api Key is invalid",
            ));
        }
        Some(_) => {}
    }
    let org = match header(headers, "x-gw-ims-org-id") {
        None | Some("") => {
            return Err(ApiError::gateway(
                StatusCode::BAD_REQUEST,
                "400003",
                "Missing header",
            ));
        }
        Some(o) if !valid_org(o) => {
            return Err(ApiError::gateway(
                StatusCode::FORBIDDEN,
                "403027",
                "User region is missing",
            ));
        }
        Some(o) => o.to_owned(),
    };
    if info.org.as_deref().is_some_and(|entitled| entitled != org) {
        return Err(ApiError::gateway(
            StatusCode::FORBIDDEN,
            "403025",
            "Profile is not valid",
        ));
    }
    let writes = matches!(*method, Method::POST | Method::PUT | Method::PATCH);
    if writes && body_len > 0 {
        let ok = header(headers, header::CONTENT_TYPE.as_str()).is_some_and(|ct| {
            ct.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
        });
        if !ok {
            return Err(ApiError::content_type());
        }
    }
    let sandbox = match header(headers, "x-sandbox-name") {
        None if strict_sandbox => {
            return Err(ApiError::bad_request(
                2105,
                "The header x-sandbox-name is missing",
            ));
        }
        None => "prod".to_owned(),
        Some(s) if !valid_sandbox(s) => {
            return Err(ApiError::flow(
                StatusCode::NOT_FOUND,
                2100,
                format!("Sandbox {s} not found; sandbox names are lower case"),
                None,
            ));
        }
        Some(s) => s.to_owned(),
    };
    Ok(Caller {
        client_id: info.client_id,
        org,
        sandbox,
    })
}
