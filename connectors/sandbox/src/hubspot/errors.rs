//! HubSpot's error responses: the JSON error envelope, the 429 RATE_LIMIT body and the
//! non-JSON gateway pages that sit in front of the API.

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};

use crate::json;

/// HubSpot's JSON content type.
pub(crate) const JSON_UTF8: &str = "application/json;charset=utf-8";

/// Builds a JSON response with HubSpot's content type and correlation header.
pub(crate) fn json_response(status: StatusCode, body: Vec<u8>, correlation_id: &str) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8));
    if let Ok(v) = HeaderValue::from_str(correlation_id) {
        h.insert("x-hubspot-correlation-id", v);
    }
    resp
}

/// `{"status":"error","message":…,"correlationId":…,"category":…}` with the given status.
pub(crate) fn envelope(
    status: StatusCode,
    category: &str,
    message: &str,
    correlation_id: &str,
) -> Response {
    let mut out = Vec::with_capacity(160 + message.len());
    out.extend_from_slice(b"{\"status\":\"error\",\"message\":");
    json::push_str(&mut out, message);
    out.extend_from_slice(b",\"correlationId\":");
    json::push_str(&mut out, correlation_id);
    out.extend_from_slice(b",\"category\":");
    json::push_str(&mut out, category);
    out.push(b'}');
    json_response(status, out, correlation_id)
}

/// 400 VALIDATION_ERROR.
pub(crate) fn validation(message: &str, correlation_id: &str) -> Response {
    envelope(
        StatusCode::BAD_REQUEST,
        "VALIDATION_ERROR",
        message,
        correlation_id,
    )
}

/// 404 OBJECT_NOT_FOUND.
pub(crate) fn not_found(message: &str, correlation_id: &str) -> Response {
    envelope(
        StatusCode::NOT_FOUND,
        "OBJECT_NOT_FOUND",
        message,
        correlation_id,
    )
}

/// 401 INVALID_AUTHENTICATION. Never includes the presented credentials.
pub(crate) fn unauthorized(correlation_id: &str) -> Response {
    envelope(
        StatusCode::UNAUTHORIZED,
        "INVALID_AUTHENTICATION",
        "Authentication credentials not found. This API supports OAuth 2.0 authentication and \
         you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
        correlation_id,
    )
}

/// 429 with the RATE_LIMIT body (policy TEN_SECONDLY_ROLLING), `Retry-After` when given.
pub(crate) fn rate_limited(
    retry_after: Option<u64>,
    correlation_id: &str,
    request_id: &str,
) -> Response {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(
        b"{\"status\":\"error\",\"message\":\"You have reached your ten_secondly_rolling limit.\",\
\"errorType\":\"RATE_LIMIT\",\"correlationId\":",
    );
    json::push_str(&mut out, correlation_id);
    out.extend_from_slice(b",\"policyName\":\"TEN_SECONDLY_ROLLING\",\"requestId\":");
    json::push_str(&mut out, request_id);
    out.push(b'}');
    let mut resp = json_response(StatusCode::TOO_MANY_REQUESTS, out, correlation_id);
    if let Some(secs) = retry_after {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}

/// A 5xx: 500 is HubSpot's JSON envelope; other codes are a Cloudflare-style HTML page.
pub(crate) fn server_error(code: u16, correlation_id: &str) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status == StatusCode::INTERNAL_SERVER_ERROR || !status.is_server_error() {
        let category = if status.is_server_error() {
            "INTERNAL_ERROR"
        } else {
            "VALIDATION_ERROR"
        };
        return envelope(status, category, "internal error", correlation_id);
    }
    let reason = status.canonical_reason().unwrap_or("Error");
    let html = format!(
        "<!DOCTYPE html>\n<html>\n<head><title>{code} {reason}</title></head>\n<body>\n\
         <center><h1>{code} {reason}</h1></center>\n<hr><center>cloudflare</center>\n\
         </body>\n</html>\n"
    );
    let mut resp = Response::new(Body::from(html));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=UTF-8"),
    );
    h.insert(header::SERVER, HeaderValue::from_static("cloudflare"));
    resp
}
