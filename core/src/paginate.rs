//! Paginators as reusable parts. A connector picks one by declaration; each computes the
//! next request from the current request, the response headers and the body's envelope.

use std::fmt;

use crate::decode::Envelope;
use crate::error::{Error, ErrorKind, Result};
use crate::http::{ApiRequest, HeaderMap};

/// What a paginator sees of a page.
#[derive(Debug)]
pub struct PageContext<'a> {
    /// The request that produced the page.
    pub request: &'a ApiRequest,
    /// Response headers.
    pub headers: &'a HeaderMap,
    /// Non-record fields of the body, the record count and the last record.
    pub envelope: &'a Envelope,
}

/// Computes the request for the next page, or `None` after the last page.
pub trait Paginator: Send + Sync + fmt::Debug {
    /// The first request (e.g. with a page size set).
    fn first(&self, request: ApiRequest) -> ApiRequest {
        request
    }
    /// The next request after this page.
    fn next(&self, page: &PageContext<'_>) -> Result<Option<ApiRequest>>;
}

/// Where a cursor is written in the next request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CursorTarget {
    /// A query parameter.
    Query(String),
    /// A top-level key of the JSON body (POST search endpoints).
    Body(String),
}

impl CursorTarget {
    fn apply(&self, req: &mut ApiRequest, value: serde_json::Value) {
        match self {
            CursorTarget::Query(name) => {
                let text = match value {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                req.set_query(name, text)
            }
            CursorTarget::Body(key) => {
                let body = req.body.get_or_insert_with(|| serde_json::json!({}));
                if let Some(obj) = body.as_object_mut() {
                    obj.insert(key.clone(), value);
                }
            }
        }
    }
}

/// Where a cursor is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CursorSource {
    /// A dotted path in the envelope (`paging.next.after`, `meta.next_cursor`).
    Envelope(String),
    /// A dotted path in the last record (`id` for Stripe's `starting_after`).
    LastRecord(String),
}

/// Cursor in the body: the next page is requested with a token the response carries.
/// Stops when the token is absent or empty, or when `has_more_path` is present and false.
#[derive(Debug, Clone)]
pub struct CursorPaginator {
    /// Where the token is read.
    pub source: CursorSource,
    /// Where it is written.
    pub target: CursorTarget,
    /// Optional boolean flag that must be true for another page (`has_more`).
    pub has_more_path: Option<String>,
}

impl Paginator for CursorPaginator {
    fn next(&self, page: &PageContext<'_>) -> Result<Option<ApiRequest>> {
        if let Some(flag) = &self.has_more_path
            && page.envelope.pointer(flag).and_then(|v| v.as_bool()) != Some(true)
        {
            return Ok(None);
        }
        let token = match &self.source {
            CursorSource::Envelope(path) => page.envelope.pointer(path).cloned(),
            CursorSource::LastRecord(path) => page
                .envelope
                .last_record_value()
                .and_then(|r| pointer(&r, path).cloned()),
        };
        let token = match token {
            None | Some(serde_json::Value::Null) => return Ok(None),
            Some(serde_json::Value::String(s)) if s.is_empty() => return Ok(None),
            Some(t) => t,
        };
        let mut next = page.request.clone();
        if next.query_value_json(&self.target) == Some(&token) {
            return Err(Error::new(
                ErrorKind::Api,
                format!(
                    "the API returned the same page cursor {token} twice; stopping to avoid a loop"
                ),
            ));
        }
        self.target.apply(&mut next, token);
        Ok(Some(next))
    }
}

fn pointer<'v>(v: &'v serde_json::Value, dotted: &str) -> Option<&'v serde_json::Value> {
    dotted.split('.').try_fold(v, |cur, p| cur.get(p))
}

impl ApiRequest {
    fn query_value_json(&self, target: &CursorTarget) -> Option<&serde_json::Value> {
        match target {
            CursorTarget::Body(k) => self.body.as_ref()?.get(k),
            CursorTarget::Query(_) => None,
        }
    }
}

/// Next URL in the body: follow an absolute link (`paging.next`, `nextRecordsUrl`).
/// Relative links are joined to the request's origin; links to another origin are refused
/// (credentials are never sent to a host other than the API's).
#[derive(Debug, Clone)]
pub struct NextUrlPaginator {
    /// Dotted path of the link in the envelope.
    pub path: String,
}

impl Paginator for NextUrlPaginator {
    fn next(&self, page: &PageContext<'_>) -> Result<Option<ApiRequest>> {
        let Some(link) = page.envelope.text(&self.path).filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        follow_link(page.request, &link).map(Some)
    }
}

/// The request for `link`, resolved against `current`'s URL and checked to stay on its origin.
/// The link's query replaces the request's query (links carry their own).
pub fn follow_link(current: &ApiRequest, link: &str) -> Result<ApiRequest> {
    let base = url::Url::parse(&current.url).map_err(|e| {
        Error::internal(format!("bad request URL `{}`", current.url)).with_source(e)
    })?;
    let next = base.join(link).map_err(|e| {
        Error::new(ErrorKind::Api, "the API returned an invalid next-page link").with_source(e)
    })?;
    if next.origin() != base.origin() {
        return Err(Error::new(
            ErrorKind::Api,
            format!(
                "the next-page link points to another host ({}); refusing to send credentials there",
                next.host_str().unwrap_or("?")
            ),
        ));
    }
    let mut req = current.clone();
    req.query = next
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut bare = next.clone();
    bare.set_query(None);
    req.url = bare.to_string();
    if req.url == current.url && req.query == current.query {
        return Err(Error::new(
            ErrorKind::Api,
            "the next-page link points to the same page; stopping to avoid a loop",
        ));
    }
    Ok(req)
}

/// Offset and limit: `offset += records`, until a short page or the total is reached.
#[derive(Debug, Clone)]
pub struct OffsetPaginator {
    /// Offset parameter (`offset`, `start`).
    pub offset_param: CursorTarget,
    /// Limit parameter and value.
    pub limit_param: CursorTarget,
    /// Page size.
    pub limit: u64,
    /// Optional dotted path of the total row count in the envelope.
    pub total_path: Option<String>,
}

impl OffsetPaginator {
    fn current_offset(&self, req: &ApiRequest) -> u64 {
        match &self.offset_param {
            CursorTarget::Query(n) => req.query_value(n).and_then(|v| v.parse().ok()).unwrap_or(0),
            CursorTarget::Body(k) => req
                .body
                .as_ref()
                .and_then(|b| b.get(k))
                .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
                .unwrap_or(0),
        }
    }
}

impl Paginator for OffsetPaginator {
    fn first(&self, mut request: ApiRequest) -> ApiRequest {
        self.limit_param
            .apply(&mut request, serde_json::json!(self.limit));
        request
    }
    fn next(&self, page: &PageContext<'_>) -> Result<Option<ApiRequest>> {
        let count = page.envelope.record_count as u64;
        let next_offset = self.current_offset(page.request) + count;
        if count == 0 || count < self.limit {
            return Ok(None);
        }
        if let Some(total) = self
            .total_path
            .as_deref()
            .and_then(|p| page.envelope.pointer(p)?.as_u64())
            && next_offset >= total
        {
            return Ok(None);
        }
        let mut next = page.request.clone();
        self.offset_param
            .apply(&mut next, serde_json::json!(next_offset));
        Ok(Some(next))
    }
}

/// Page number: `page += 1` until a short or empty page.
#[derive(Debug, Clone)]
pub struct PageNumberPaginator {
    /// Page parameter.
    pub page_param: String,
    /// Page-size parameter, if the API takes one.
    pub size_param: Option<String>,
    /// Page size.
    pub size: u64,
    /// Number of the first page (usually 1).
    pub first_page: u64,
}

impl Paginator for PageNumberPaginator {
    fn first(&self, mut request: ApiRequest) -> ApiRequest {
        request.set_query(&self.page_param, self.first_page.to_string());
        if let Some(s) = &self.size_param {
            request.set_query(s, self.size.to_string());
        }
        request
    }
    fn next(&self, page: &PageContext<'_>) -> Result<Option<ApiRequest>> {
        let count = page.envelope.record_count as u64;
        if count == 0 || count < self.size {
            return Ok(None);
        }
        let current: u64 = page
            .request
            .query_value(&self.page_param)
            .and_then(|v| v.parse().ok())
            .unwrap_or(self.first_page);
        let mut next = page.request.clone();
        next.set_query(&self.page_param, (current + 1).to_string());
        Ok(Some(next))
    }
}

/// RFC 8288 `Link` header with `rel="next"` (Freshdesk, GitHub style).
#[derive(Debug, Clone, Default)]
pub struct LinkHeaderPaginator;

impl Paginator for LinkHeaderPaginator {
    fn next(&self, page: &PageContext<'_>) -> Result<Option<ApiRequest>> {
        let Some(next) = page
            .headers
            .get_all("link")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(next_link)
        else {
            return Ok(None);
        };
        follow_link(page.request, &next).map(Some)
    }
}

/// The `rel="next"` target of a `Link` header value.
pub fn next_link(header: &str) -> Option<String> {
    for part in header.split(',') {
        let mut pieces = part.split(';');
        let target = pieces.next()?.trim();
        let is_next = pieces.any(|p| {
            let p = p.trim();
            p.eq_ignore_ascii_case("rel=\"next\"") || p.eq_ignore_ascii_case("rel=next")
        });
        if is_next && target.starts_with('<') && target.ends_with('>') {
            return Some(target[1..target.len() - 1].to_string());
        }
    }
    None
}

/// A single request, no paging (LinkedIn adAnalytics, Google Ads searchStream).
#[derive(Debug, Clone, Default)]
pub struct NoPaginator;

impl Paginator for NoPaginator {
    fn next(&self, _: &PageContext<'_>) -> Result<Option<ApiRequest>> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::read_envelope;

    fn env(body: &str) -> Envelope {
        read_envelope(body.as_bytes(), &["results".to_string()]).unwrap()
    }

    fn next(
        p: &dyn Paginator,
        req: &ApiRequest,
        body: &str,
        headers: HeaderMap,
    ) -> Option<ApiRequest> {
        let e = env(body);
        p.next(&PageContext {
            request: req,
            headers: &headers,
            envelope: &e,
        })
        .unwrap()
    }

    #[test]
    fn cursor_in_body_to_query_until_absent() {
        let p = CursorPaginator {
            source: CursorSource::Envelope("paging.next.after".into()),
            target: CursorTarget::Query("after".into()),
            has_more_path: None,
        };
        let r = ApiRequest::get("http://h/crm/v3/objects/contacts").with_query("limit", "100");
        let n = next(
            &p,
            &r,
            r#"{"results":[{}],"paging":{"next":{"after":"205"}}}"#,
            HeaderMap::new(),
        )
        .unwrap();
        assert_eq!(
            n.query,
            vec![
                ("limit".into(), "100".into()),
                ("after".into(), "205".into())
            ]
        );
        assert!(next(&p, &n, r#"{"results":[{}]}"#, HeaderMap::new()).is_none());
    }

    #[test]
    fn cursor_from_last_record_with_has_more() {
        let p = CursorPaginator {
            source: CursorSource::LastRecord("id".into()),
            target: CursorTarget::Query("starting_after".into()),
            has_more_path: Some("has_more".into()),
        };
        let r = ApiRequest::get("http://h/v1/customers");
        let body = r#"{"object":"list","results":[{"id":"cus_1"},{"id":"cus_2"}],"has_more":true}"#;
        let n = next(&p, &r, body, HeaderMap::new()).unwrap();
        assert_eq!(n.query_value("starting_after"), Some("cus_2"));
        let body = r#"{"results":[{"id":"cus_3"}],"has_more":false}"#;
        assert!(next(&p, &n, body, HeaderMap::new()).is_none());
    }

    #[test]
    fn cursor_into_post_body() {
        let p = CursorPaginator {
            source: CursorSource::Envelope("paging.next.after".into()),
            target: CursorTarget::Body("after".into()),
            has_more_path: None,
        };
        let r = ApiRequest::post_json("http://h/search", serde_json::json!({"limit":200}));
        let n = next(
            &p,
            &r,
            r#"{"results":[],"paging":{"next":{"after":"200"}}}"#,
            HeaderMap::new(),
        )
        .unwrap();
        assert_eq!(
            n.body.unwrap(),
            serde_json::json!({"limit":200,"after":"200"})
        );
    }

    #[test]
    fn next_url_stays_on_origin() {
        let p = NextUrlPaginator {
            path: "paging.next".into(),
        };
        let r = ApiRequest::get("https://graph.facebook.com/v19.0/act_1/insights")
            .with_query("level", "ad");
        let n = next(
            &p,
            &r,
            r#"{"results":[{}],"paging":{"next":"https://graph.facebook.com/v19.0/act_1/insights?level=ad&after=QVFI"}}"#,
            HeaderMap::new(),
        )
        .unwrap();
        assert_eq!(n.url, "https://graph.facebook.com/v19.0/act_1/insights");
        assert_eq!(n.query_value("after"), Some("QVFI"));
        // Relative links (Salesforce nextRecordsUrl) resolve against the origin.
        let sf = NextUrlPaginator {
            path: "nextRecordsUrl".into(),
        };
        let r = ApiRequest::get("https://x.my.salesforce.com/services/data/v60.0/query")
            .with_query("q", "SELECT Id FROM Account");
        let n = next(
            &sf,
            &r,
            r#"{"results":[],"nextRecordsUrl":"/services/data/v60.0/query/01g-2000"}"#,
            HeaderMap::new(),
        )
        .unwrap();
        assert_eq!(
            n.url,
            "https://x.my.salesforce.com/services/data/v60.0/query/01g-2000"
        );
        assert!(n.query.is_empty());

        let e = env(r#"{"results":[],"paging":{"next":"https://evil.example/steal"}}"#);
        let err = p
            .next(&PageContext {
                request: &r,
                headers: &HeaderMap::new(),
                envelope: &e,
            })
            .unwrap_err();
        assert!(
            err.to_string().contains("another host (evil.example)"),
            "{err}"
        );
    }

    #[test]
    fn offset_limit_stops_on_short_page_or_total() {
        let p = OffsetPaginator {
            offset_param: CursorTarget::Query("start".into()),
            limit_param: CursorTarget::Query("limit".into()),
            limit: 2,
            total_path: Some("total".into()),
        };
        let r = p.first(ApiRequest::get("http://h/v1/deals"));
        assert_eq!(r.query_value("limit"), Some("2"));
        let n = next(&p, &r, r#"{"results":[{},{}],"total":5}"#, HeaderMap::new()).unwrap();
        assert_eq!(n.query_value("start"), Some("2"));
        let n2 = next(&p, &n, r#"{"results":[{},{}],"total":5}"#, HeaderMap::new()).unwrap();
        assert_eq!(n2.query_value("start"), Some("4"));
        assert!(next(&p, &n2, r#"{"results":[{}],"total":5}"#, HeaderMap::new()).is_none());
        assert!(next(&p, &n, r#"{"results":[{},{}],"total":4}"#, HeaderMap::new()).is_none());
    }

    #[test]
    fn page_number_increments_until_short_page() {
        let p = PageNumberPaginator {
            page_param: "page".into(),
            size_param: Some("per_page".into()),
            size: 2,
            first_page: 1,
        };
        let r = p.first(ApiRequest::get("http://h/api/v2/tickets"));
        assert_eq!(r.query_value("page"), Some("1"));
        let n = next(&p, &r, r#"{"results":[{},{}]}"#, HeaderMap::new()).unwrap();
        assert_eq!(n.query_value("page"), Some("2"));
        assert!(next(&p, &n, r#"{"results":[]}"#, HeaderMap::new()).is_none());
    }

    #[test]
    fn link_header() {
        let mut h = HeaderMap::new();
        h.insert(
            "link",
            r#"<https://acme.freshdesk.com/api/v2/tickets?page=1>; rel="prev", <https://acme.freshdesk.com/api/v2/tickets?page=3&per_page=100>; rel="next""#
                .parse()
                .unwrap(),
        );
        let r =
            ApiRequest::get("https://acme.freshdesk.com/api/v2/tickets").with_query("page", "2");
        let n = next(&LinkHeaderPaginator, &r, r#"{"results":[]}"#, h).unwrap();
        assert_eq!(n.query_value("page"), Some("3"));
        assert_eq!(n.query_value("per_page"), Some("100"));
        assert!(
            next(
                &LinkHeaderPaginator,
                &n,
                r#"{"results":[]}"#,
                HeaderMap::new()
            )
            .is_none()
        );
        assert_eq!(next_link("<a>; rel=\"prev\""), None);
    }

    #[test]
    fn none_paginator() {
        assert!(
            next(
                &NoPaginator,
                &ApiRequest::get("http://h/x"),
                r#"{"results":[]}"#,
                HeaderMap::new()
            )
            .is_none()
        );
    }
}
