//! The non-JSON pages a CDN or load balancer in front of an API answers with (502/503/504),
//! shared by the emulators.

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};

/// A Cloudflare-style HTML error page with status `code`.
pub(crate) fn gateway_page(code: u16) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY);
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
