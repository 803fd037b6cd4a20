//! Salesforce REST emulator: the OAuth2 token endpoint (refresh-token and client-credentials
//! grants, answering with the `instance_url` to use), SOQL `query` and `queryAll` with
//! `nextRecordsUrl` locators and `Sforce-Query-Options: batchSize`, `describe`, `limits`, the
//! daily API allocation reported in `Sforce-Limit-Info` on every response and enforced with
//! 403 `REQUEST_LIMIT_EXCEEDED`, sessions that expire (401 `INVALID_SESSION_ID`) and
//! Salesforce's JSON-array error bodies (see `shared/reference/source-apis.md` §2).
//!
//! The world is rendered as Account (companies), Contact (converted people), Lead (every
//! person; archived people are deleted and only `queryAll` returns them, with
//! `IsDeleted = true`), Opportunity (deals), OpportunityHistory (deal history), User (owners)
//! and Campaign (campaigns). Numbers are JSON numbers, date-times
//! `2024-05-02T14:03:11.000+0000` (second precision), dates `2024-06-28`, every record has an
//! `attributes` object and relationship fields nest the related record (or `null`).
//!
//! | Route | Stats route kind |
//! |---|---|
//! | `POST /services/oauth2/token` | `salesforce.token` |
//! | `GET /services/data/vNN.N/query?q=…` and its `nextRecordsUrl` pages | `salesforce.<object>.query` |
//! | `GET /services/data/vNN.N/queryAll?q=…` | `salesforce.<object>.query_all` |
//! | `GET /services/data/vNN.N/sobjects/{Object}/describe` | `salesforce.describe` |
//! | `GET /services/data/vNN.N/limits` | `salesforce.limits` |
//! | anything else | `salesforce.not_found` |

pub mod ids;
pub mod objects;
pub mod soql;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, Method, Request, StatusCode, header};
use serde::{Deserialize, Serialize};

use crate::faults::Fault;
use crate::json;
use crate::jw::Obj;
use crate::qs::Params;
use crate::server::RouteInfo;
use crate::world::{SharedWorld, World};
use objects::{FType, Key, Rec, Val};
use soql::Query;

/// The emulator's default connected-app client id.
pub const DEFAULT_CLIENT_ID: &str = "3MVG9sandboxRevlineConnectedApp";

fn default_client_id() -> String {
    DEFAULT_CLIENT_ID.to_string()
}
fn default_client_secret() -> String {
    "sandbox-client-secret".to_string()
}
fn default_refresh_token() -> String {
    "5Aep861sandboxRefreshToken".to_string()
}
fn default_daily_limit() -> u64 {
    100_000
}
fn default_locator_ttl() -> u64 {
    900
}
fn yes() -> bool {
    true
}

/// Settings of the Salesforce emulator (`[salesforce]` in a sandbox TOML file).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SalesforceConfig {
    /// The connected app's client id.
    #[serde(default = "default_client_id")]
    pub client_id: String,
    /// The connected app's client secret.
    #[serde(default = "default_client_secret")]
    pub client_secret: String,
    /// The refresh token the token endpoint accepts.
    #[serde(default = "default_refresh_token")]
    pub refresh_token: String,
    /// Whether the client-credentials grant is enabled for the app (default true).
    #[serde(default = "yes")]
    pub client_credentials: bool,
    /// `instance_url` the token endpoint returns; default: the emulator's own URL. `{port}`
    /// is replaced by the emulator's port, so `"http://localhost:{port}"` names the emulator
    /// under another host than the login URL's `127.0.0.1` (to check a client uses it).
    pub instance_url: Option<String>,
    /// The org's daily API allocation (`Sforce-Limit-Info: api-usage=…/<this>`).
    #[serde(default = "default_daily_limit")]
    pub daily_limit: u64,
    /// API requests already used today when the sandbox starts.
    pub daily_used: u64,
    /// Seconds a query locator lives without being used (then `INVALID_QUERY_LOCATOR`).
    #[serde(default = "default_locator_ttl")]
    pub locator_ttl_secs: u64,
}

impl Default for SalesforceConfig {
    fn default() -> Self {
        SalesforceConfig {
            client_id: default_client_id(),
            client_secret: default_client_secret(),
            refresh_token: default_refresh_token(),
            client_credentials: true,
            instance_url: None,
            daily_limit: default_daily_limit(),
            daily_used: 0,
            locator_ttl_secs: default_locator_ttl(),
        }
    }
}

impl fmt::Debug for SalesforceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SalesforceConfig")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("refresh_token", &"<redacted>")
            .field("client_credentials", &self.client_credentials)
            .field("instance_url", &self.instance_url)
            .field("daily_limit", &self.daily_limit)
            .field("daily_used", &self.daily_used)
            .field("locator_ttl_secs", &self.locator_ttl_secs)
            .finish()
    }
}

/// An open query: its records in result order and where the next page starts.
struct Locator {
    query: Arc<Query>,
    keys: Arc<Vec<Key>>,
    batch: usize,
    all: bool,
    last_used: Instant,
}

/// Shared state of one Salesforce emulator.
pub(crate) struct SalesforceState {
    world: SharedWorld,
    config: SalesforceConfig,
    base_url: String,
    sessions: Mutex<HashSet<String>>,
    issued: AtomicU64,
    used: AtomicU64,
    locators: Mutex<HashMap<String, Locator>>,
    next_locator: AtomicU64,
    /// `Host` headers of API calls (not of token requests).
    api_hosts: Mutex<HashSet<String>>,
}

/// A handle to change a running Salesforce emulator from a test.
#[derive(Clone)]
pub struct SalesforceControl(Arc<SalesforceState>);

impl fmt::Debug for SalesforceControl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SalesforceControl")
    }
}

impl SalesforceControl {
    /// Ends every session: the next API call with an issued token gets 401
    /// `INVALID_SESSION_ID` (as after the org's session timeout).
    pub fn expire_sessions(&self) {
        self.0
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Sets the API requests used today (a new day: 0).
    pub fn set_daily_used(&self, used: u64) {
        self.0.used.store(used, Ordering::SeqCst);
    }

    /// API requests used today.
    pub fn daily_used(&self) -> u64 {
        self.0.used.load(Ordering::SeqCst)
    }

    /// Access tokens issued so far.
    pub fn tokens_issued(&self) -> u64 {
        self.0.issued.load(Ordering::SeqCst)
    }

    /// The `instance_url` the token endpoint hands out.
    pub fn instance_url(&self) -> String {
        self.0.instance_url()
    }

    /// The `Host` headers API calls arrived with (token requests excluded).
    pub fn api_hosts(&self) -> Vec<String> {
        let mut h: Vec<String> = self
            .0
            .api_hosts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect();
        h.sort();
        h
    }
}

/// `[{"message":…,"errorCode":…}]` with `status`.
pub(crate) fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let mut out = Vec::with_capacity(64 + message.len());
    out.push(b'[');
    let mut o = Obj::new(&mut out);
    o.str("message", message).str("errorCode", code);
    o.end();
    out.push(b']');
    json_response(status, out)
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    resp
}

fn tagged(mut resp: Response, kind: &'static str, records: u64) -> Response {
    resp.extensions_mut().insert(RouteInfo { kind, records });
    resp
}

/// Appends a date-time the way Salesforce prints it: `2024-05-02T14:03:11.000+0000`.
fn push_datetime(out: &mut Vec<u8>, ms: i64) {
    let secs_ms = ms.div_euclid(1000) * 1000;
    out.push(b'"');
    let start = out.len();
    json::push_iso_millis_body(out, secs_ms);
    // `…:11Z` → `…:11.000+0000`
    if out.last() == Some(&b'Z') {
        out.pop();
    }
    if !out[start..].contains(&b'.') {
        out.extend_from_slice(b".000");
    }
    out.extend_from_slice(b"+0000\"");
}

fn push_val(out: &mut Vec<u8>, v: &Val<'_>) {
    match v {
        Val::Null => out.extend_from_slice(b"null"),
        Val::Str(s) => json::push_str(out, s),
        Val::Num(n) => {
            // Salesforce prints doubles with a fraction: 42000.0, 80.0.
            if n.fract() == 0.0 && n.abs() < 1e15 {
                json::push_i64(out, *n as i64);
                out.extend_from_slice(b".0");
            } else {
                json::push_f64(out, *n);
            }
        }
        Val::Int(i) => json::push_i64(out, *i),
        Val::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Val::DateTime(ms) => push_datetime(out, *ms),
        Val::Date(ms) => {
            out.push(b'"');
            json::push_date_body(out, *ms);
            out.push(b'"');
        }
    }
}

fn push_attributes(out: &mut Vec<u8>, version: &str, object: &str, id: &str) {
    out.extend_from_slice(b"\"attributes\":{\"type\":");
    json::push_str(out, object);
    out.extend_from_slice(b",\"url\":\"/services/data/");
    out.extend_from_slice(version.as_bytes());
    out.extend_from_slice(b"/sobjects/");
    out.extend_from_slice(object.as_bytes());
    out.push(b'/');
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(b"\"}");
}

/// Renders a record with the selected fields, related fields nested under their
/// relationship (at the first selected field of that relationship).
fn push_record(out: &mut Vec<u8>, w: &World, version: &str, q: &Query, rec: &Rec<'_>) {
    out.push(b'{');
    push_attributes(out, version, rec.object(), &rec.id());
    let mut done_rels: Vec<&str> = Vec::new();
    for sel in &q.select {
        match sel.rel {
            None => {
                out.push(b',');
                json::push_str(out, sel.field.name);
                out.push(b':');
                push_val(out, &rec.get(w, sel.field.name));
            }
            Some(rel) => {
                if done_rels.contains(&rel) {
                    continue;
                }
                done_rels.push(rel);
                out.push(b',');
                json::push_str(out, rel);
                out.push(b':');
                match rec.related(w, rel) {
                    None => out.extend_from_slice(b"null"),
                    Some(r) => {
                        out.push(b'{');
                        push_attributes(out, version, r.object(), &r.id());
                        for s in q.select.iter().filter(|s| s.rel == Some(rel)) {
                            out.push(b',');
                            json::push_str(out, s.field.name);
                            out.push(b':');
                            push_val(out, &r.get(w, s.field.name));
                        }
                        out.push(b'}');
                    }
                }
            }
        }
    }
    out.push(b'}');
}

/// The stats route kind of a query on `object`.
fn query_kind(object: &str, all: bool) -> &'static str {
    match (object, all) {
        ("Account", false) => "salesforce.account.query",
        ("Account", true) => "salesforce.account.query_all",
        ("Contact", false) => "salesforce.contact.query",
        ("Contact", true) => "salesforce.contact.query_all",
        ("Lead", false) => "salesforce.lead.query",
        ("Lead", true) => "salesforce.lead.query_all",
        ("Opportunity", false) => "salesforce.opportunity.query",
        ("Opportunity", true) => "salesforce.opportunity.query_all",
        ("OpportunityHistory", false) => "salesforce.opportunity_history.query",
        ("OpportunityHistory", true) => "salesforce.opportunity_history.query_all",
        ("User", false) => "salesforce.user.query",
        ("User", true) => "salesforce.user.query_all",
        ("Campaign", false) => "salesforce.campaign.query",
        ("Campaign", true) => "salesforce.campaign.query_all",
        _ => "salesforce.query",
    }
}

impl SalesforceState {
    fn instance_url(&self) -> String {
        match &self.config.instance_url {
            Some(u) => {
                let port = self.base_url.rsplit(':').next().unwrap_or_default();
                u.replace("{port}", port)
            }
            None => self.base_url.clone(),
        }
    }

    fn limit_info(&self) -> HeaderValue {
        let used = self.used.load(Ordering::SeqCst);
        HeaderValue::from_str(&format!("api-usage={used}/{}", self.config.daily_limit))
            .expect("ASCII")
    }

    /// `POST /services/oauth2/token`.
    fn token(&self, body: &[u8]) -> Response {
        let form = Params::parse(std::str::from_utf8(body).ok());
        let bad = |code: &str, desc: &str| {
            let mut out = Vec::new();
            let mut o = Obj::new(&mut out);
            o.str("error", code).str("error_description", desc);
            o.end();
            json_response(StatusCode::BAD_REQUEST, out)
        };
        let client_ok = form.get("client_id") == Some(self.config.client_id.as_str())
            && form.get("client_secret") == Some(self.config.client_secret.as_str());
        match form.get("grant_type") {
            Some("refresh_token") => {
                if form.get("client_id") != Some(self.config.client_id.as_str()) {
                    return bad("invalid_client_id", "client identifier invalid");
                }
                if !client_ok {
                    return bad("invalid_client", "invalid client credentials");
                }
                if form.get("refresh_token") != Some(self.config.refresh_token.as_str()) {
                    return bad("invalid_grant", "expired access/refresh token");
                }
            }
            Some("client_credentials") => {
                if !client_ok {
                    return bad("invalid_client", "invalid client credentials");
                }
                if !self.config.client_credentials {
                    return bad("invalid_grant", "no client credentials user enabled");
                }
            }
            Some(other) => {
                return bad(
                    "unsupported_grant_type",
                    &format!("grant type not supported: {other}"),
                );
            }
            None => return bad("unsupported_grant_type", "grant type not supported"),
        }
        let n = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
        let token = format!(
            "00D8W000000sbox!AQ{}",
            crate::world::rng::uuid_like(n ^ 0x5a1e_5f0c, n).replace('-', "")
        );
        self.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token.clone());
        let instance = self.instance_url();
        let mut out = Vec::new();
        let mut o = Obj::new(&mut out);
        o.str("access_token", &token)
            .str("signature", "c2FuZGJveC1zaWduYXR1cmU=")
            .str("scope", "api refresh_token")
            .str("instance_url", &instance)
            .str(
                "id",
                &format!("{instance}/id/00D8W000000sbox/{}", ids::id("User", 0)),
            )
            .str("token_type", "Bearer")
            .str(
                "issued_at",
                &std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis())
                    .unwrap_or(0)
                    .to_string(),
            );
        o.end();
        json_response(StatusCode::OK, out)
    }

    fn describe(&self, object: &str) -> Response {
        let Some((name, fields)) = objects::object(object) else {
            return tagged(
                error(
                    StatusCode::NOT_FOUND,
                    "NOT_FOUND",
                    "The requested resource does not exist",
                ),
                "salesforce.describe",
                0,
            );
        };
        let label = objects::OBJECTS
            .iter()
            .find(|(n, _, _)| *n == name)
            .map_or(name, |(_, l, _)| l);
        let fields: Vec<serde_json::Value> = fields
            .iter()
            .map(|f| {
                let (digits, precision, scale, length) = match f.ty {
                    FType::Int => (9, 0, 0, 0),
                    FType::Currency | FType::Double => (0, 18, 2, 0),
                    FType::Percent => (0, 3, 0, 0),
                    FType::Id | FType::Reference => (0, 0, 0, 18),
                    FType::String | FType::Email | FType::Url | FType::Phone | FType::Picklist => {
                        (0, 0, 0, 255)
                    }
                    _ => (0, 0, 0, 0),
                };
                serde_json::json!({
                    "name": f.name,
                    "label": f.label,
                    "type": f.ty.as_str(),
                    "soapType": f.ty.soap(),
                    "custom": f.custom(),
                    "nillable": !matches!(f.name, "Id" | "IsDeleted" | "CreatedDate" | "SystemModstamp" | "LastModifiedDate"),
                    "length": length,
                    "digits": digits,
                    "precision": precision,
                    "scale": scale,
                    "referenceTo": f.reference.map(|(to, _)| vec![to]).unwrap_or_default(),
                    "relationshipName": f.reference.map(|(_, r)| r),
                    "filterable": true,
                    "sortable": true,
                    "updateable": !matches!(f.name, "Id" | "IsDeleted" | "CreatedDate" | "SystemModstamp" | "LastModifiedDate"),
                })
            })
            .collect();
        let n = fields.len() as u64;
        let body = serde_json::json!({
            "name": name,
            "label": label,
            "custom": false,
            "queryable": true,
            "replicateable": true,
            "retrieveable": true,
            "keyPrefix": ids::key_prefix(name),
            "fields": fields,
        });
        tagged(
            json_response(
                StatusCode::OK,
                serde_json::to_vec(&body).expect("serialisable"),
            ),
            "salesforce.describe",
            n,
        )
    }

    fn limits(&self) -> Response {
        let used = self.used.load(Ordering::SeqCst);
        let body = serde_json::json!({
            "DailyApiRequests": {"Max": self.config.daily_limit, "Remaining": self.config.daily_limit.saturating_sub(used)},
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
            "ConcurrentAsyncGetReportInstances": {"Max": 200, "Remaining": 200},
        });
        tagged(
            json_response(
                StatusCode::OK,
                serde_json::to_vec(&body).expect("serialisable"),
            ),
            "salesforce.limits",
            0,
        )
    }

    fn batch_size(req: &Request<Body>) -> usize {
        req.headers()
            .get("sforce-query-options")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.split(',')
                    .find_map(|p| p.trim().strip_prefix("batchSize="))
                    .and_then(|n| n.trim().parse::<usize>().ok())
            })
            .unwrap_or(2_000)
            .clamp(200, 2_000)
    }

    /// Runs a new query: every matching record, sorted, as keys.
    fn run(&self, q: &Query, all: bool) -> Vec<Key> {
        let w = self.world.read();
        let keys = objects::keys(&w, q.object);
        let mut matched: Vec<(Key, Rec<'_>)> = keys
            .into_iter()
            .filter_map(|k| objects::record(&w, q.object, k).map(|r| (k, r)))
            .filter(|(_, r)| all || !r.deleted())
            .filter(|(_, r)| q.filter.as_ref().is_none_or(|f| f.matches(&w, r)))
            .collect();
        if !q.order.is_empty() {
            let mut sortable: Vec<(Vec<Val<'_>>, Key)> = matched
                .drain(..)
                .map(|(k, r)| (q.order.iter().map(|o| o.sel.value(&w, &r)).collect(), k))
                .collect();
            sortable.sort_by(|(a, ka), (b, kb)| {
                for (i, o) in q.order.iter().enumerate() {
                    let ord = match (&a[i], &b[i]) {
                        (Val::Null, Val::Null) => std::cmp::Ordering::Equal,
                        (Val::Null, _) => {
                            if o.nulls_first {
                                std::cmp::Ordering::Less
                            } else {
                                std::cmp::Ordering::Greater
                            }
                        }
                        (_, Val::Null) => {
                            if o.nulls_first {
                                std::cmp::Ordering::Greater
                            } else {
                                std::cmp::Ordering::Less
                            }
                        }
                        (x, y) => {
                            let c = soql::cmp_vals(x, y);
                            if o.desc { c.reverse() } else { c }
                        }
                    };
                    if ord != std::cmp::Ordering::Equal {
                        return ord;
                    }
                }
                ka.cmp(kb)
            });
            let mut keys: Vec<Key> = sortable.into_iter().map(|(_, k)| k).collect();
            if let Some(l) = q.limit {
                keys.truncate(l);
            }
            return keys;
        }
        let mut keys: Vec<Key> = matched.into_iter().map(|(k, _)| k).collect();
        if let Some(l) = q.limit {
            keys.truncate(l);
        }
        keys
    }

    /// One page of a result: `keys[offset..offset + batch]`, with the locator of the rest.
    #[allow(clippy::too_many_arguments)]
    fn page(
        &self,
        version: &str,
        q: &Arc<Query>,
        keys: &Arc<Vec<Key>>,
        offset: usize,
        batch: usize,
        locator_id: Option<String>,
        all: bool,
    ) -> Response {
        let w = self.world.read();
        let end = (offset + batch).min(keys.len());
        let mut out = Vec::with_capacity(64 + (end - offset) * (64 + q.select.len() * 40));
        out.extend_from_slice(b"{\"totalSize\":");
        json::push_u64(&mut out, keys.len() as u64);
        out.extend_from_slice(b",\"done\":");
        let done = end >= keys.len();
        out.extend_from_slice(if done { b"true" } else { b"false" });
        if !done {
            let id = locator_id.unwrap_or_else(|| {
                let n = self.next_locator.fetch_add(1, Ordering::SeqCst) + 1;
                format!("01g8W{n:010}")
            });
            out.extend_from_slice(b",\"nextRecordsUrl\":\"/services/data/");
            out.extend_from_slice(version.as_bytes());
            out.extend_from_slice(b"/query/");
            out.extend_from_slice(id.as_bytes());
            out.push(b'-');
            json::push_u64(&mut out, end as u64);
            out.push(b'"');
            self.locators
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(
                    id,
                    Locator {
                        query: q.clone(),
                        keys: keys.clone(),
                        batch,
                        all,
                        last_used: Instant::now(),
                    },
                );
        } else if let Some(id) = locator_id {
            self.locators
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
        }
        out.extend_from_slice(b",\"records\":[");
        let mut n = 0u64;
        for (i, k) in keys[offset..end].iter().enumerate() {
            if let Some(rec) = objects::record(&w, q.object, *k) {
                if i > 0 {
                    out.push(b',');
                }
                push_record(&mut out, &w, version, q, &rec);
                n += 1;
            }
        }
        out.extend_from_slice(b"]}");
        tagged(
            json_response(StatusCode::OK, out),
            query_kind(q.object, all),
            n,
        )
    }

    fn query(&self, req: &Request<Body>, version: &str, all: bool) -> Response {
        let params = Params::parse(req.uri().query());
        let Some(text) = params.get("q") else {
            return tagged(
                error(
                    StatusCode::BAD_REQUEST,
                    "MALFORMED_QUERY",
                    "A query string has to be specified",
                ),
                "salesforce.query",
                0,
            );
        };
        let q = match soql::parse(text) {
            Ok(q) => Arc::new(q),
            Err(e) => {
                return tagged(
                    error(StatusCode::BAD_REQUEST, e.code, &e.message),
                    "salesforce.query",
                    0,
                );
            }
        };
        let keys = Arc::new(self.run(&q, all));
        self.page(version, &q, &keys, 0, Self::batch_size(req), None, all)
    }

    fn more(&self, version: &str, locator: &str) -> Response {
        let expired = || {
            tagged(
                error(
                    StatusCode::BAD_REQUEST,
                    "INVALID_QUERY_LOCATOR",
                    "invalid query locator",
                ),
                "salesforce.query",
                0,
            )
        };
        let Some((id, offset)) = locator.rsplit_once('-') else {
            return expired();
        };
        let Ok(offset) = offset.parse::<usize>() else {
            return expired();
        };
        let ttl = Duration::from_secs(self.config.locator_ttl_secs);
        let found = {
            let mut map = self.locators.lock().unwrap_or_else(|e| e.into_inner());
            map.retain(|_, l| l.last_used.elapsed() < ttl);
            map.get(id)
                .map(|l| (l.query.clone(), l.keys.clone(), l.batch, l.all))
        };
        let Some((q, keys, batch, all)) = found else {
            return expired();
        };
        if offset > keys.len() {
            return expired();
        }
        self.page(version, &q, &keys, offset, batch, Some(id.to_string()), all)
    }
}

/// One running Salesforce emulator.
pub(crate) struct SalesforceApp {
    state: Arc<SalesforceState>,
}

impl SalesforceApp {
    /// Creates the emulator over `world`; `base_url` is its own root (the default
    /// `instance_url`).
    pub(crate) fn new(world: SharedWorld, config: SalesforceConfig, base_url: String) -> Self {
        let used = config.daily_used;
        SalesforceApp {
            state: Arc::new(SalesforceState {
                world,
                config,
                base_url,
                sessions: Mutex::new(HashSet::new()),
                issued: AtomicU64::new(0),
                used: AtomicU64::new(used),
                locators: Mutex::new(HashMap::new()),
                next_locator: AtomicU64::new(0),
                api_hosts: Mutex::new(HashSet::new()),
            }),
        }
    }

    /// `object=<Object>` for a query (from its SOQL) or a `nextRecordsUrl` page (from its
    /// locator), so fault rules can target one object's reads.
    pub(crate) fn fault_hint(&self, uri: &http::Uri) -> Option<String> {
        let path = uri.path();
        let object = if path.ends_with("/query") || path.ends_with("/queryAll") {
            let q = Params::parse(uri.query());
            let text = q.get("q")?.to_string();
            let mut words = text.split_whitespace();
            words.find(|w| w.eq_ignore_ascii_case("FROM"))?;
            objects::object(words.next()?)?.0
        } else {
            let locator = path.rsplit('/').next()?;
            let id = locator.rsplit_once('-')?.0;
            let map = self
                .state
                .locators
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            map.get(id)?.query.object
        };
        Some(format!("object={object}"))
    }

    /// A handle for tests.
    pub(crate) fn control(&self) -> SalesforceControl {
        SalesforceControl(self.state.clone())
    }

    /// The response an injected fault produces.
    pub(crate) fn fault_response(&self, fault: &Fault) -> Option<Response> {
        let mut resp = match fault {
            // Salesforce never answers 429: a momentary limit (concurrent long requests) is
            // a 403 REQUEST_LIMIT_EXCEEDED naming that limit.
            Fault::TooManyRequests { retry_after } => {
                let mut r = error(
                    StatusCode::FORBIDDEN,
                    "REQUEST_LIMIT_EXCEEDED",
                    "ConcurrentPerOrgLongTxn Limit exceeded.",
                );
                if let Some(s) = retry_after {
                    r.headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from(*s));
                }
                r
            }
            Fault::Status { code: 500 } => error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "UNKNOWN_EXCEPTION",
                "An unexpected error occurred. Please include this ErrorId if you contact support: 1946513221-83924 (-1063123587)",
            ),
            Fault::Status { code } => crate::gateway::gateway_page(*code),
            Fault::Unauthorized => error(
                StatusCode::UNAUTHORIZED,
                "INVALID_SESSION_ID",
                "Session expired or invalid",
            ),
            Fault::Latency { .. } | Fault::ConnectionReset | Fault::TruncatedBody => return None,
        };
        resp.headers_mut()
            .insert("sforce-limit-info", self.state.limit_info());
        Some(resp)
    }

    /// Handles one request: token endpoint, auth, the daily allocation, routing.
    pub(crate) async fn handle(&self, req: Request<Body>) -> Response {
        let st = &self.state;
        let path = req.uri().path().to_string();
        if path == "/services/oauth2/token" {
            if req.method() != Method::POST {
                return tagged(
                    error(
                        StatusCode::METHOD_NOT_ALLOWED,
                        "METHOD_NOT_ALLOWED",
                        "HTTP Method 'GET' not allowed. Allowed are POST",
                    ),
                    "salesforce.token",
                    0,
                );
            }
            let body = axum::body::to_bytes(req.into_body(), 1 << 20)
                .await
                .unwrap_or_default();
            return tagged(st.token(&body), "salesforce.token", 0);
        }
        if let Some(host) = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
        {
            st.api_hosts
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(host.to_string());
        }
        let token = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_string);
        let valid = token.is_some_and(|t| {
            st.sessions
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(&t)
        });
        if !valid {
            let mut r = error(
                StatusCode::UNAUTHORIZED,
                "INVALID_SESSION_ID",
                "Session expired or invalid",
            );
            r.headers_mut().insert("sforce-limit-info", st.limit_info());
            return r;
        }
        // Every API call counts against the daily allocation.
        let used = st.used.fetch_add(1, Ordering::SeqCst) + 1;
        if used > st.config.daily_limit {
            st.used.store(st.config.daily_limit, Ordering::SeqCst);
            let mut r = error(
                StatusCode::FORBIDDEN,
                "REQUEST_LIMIT_EXCEEDED",
                "TotalRequests Limit exceeded.",
            );
            r.headers_mut().insert("sforce-limit-info", st.limit_info());
            return r;
        }
        let mut resp = route(st, &req, &path);
        resp.headers_mut()
            .insert("sforce-limit-info", st.limit_info());
        resp
    }
}

fn route(st: &SalesforceState, req: &Request<Body>, path: &str) -> Response {
    let not_found = || {
        tagged(
            error(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                "The requested resource does not exist",
            ),
            "salesforce.not_found",
            0,
        )
    };
    let Some(rest) = path.strip_prefix("/services/data/") else {
        return not_found();
    };
    let (version, rest) = rest.split_once('/').unwrap_or((rest, ""));
    let valid_version = version.starts_with('v')
        && version[1..].split_once('.').is_some_and(|(a, b)| {
            a.parse::<u32>().is_ok_and(|n| (20..=70).contains(&n)) && b == "0"
        });
    if !valid_version {
        return not_found();
    }
    if req.method() != Method::GET {
        return tagged(
            error(
                StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                &format!(
                    "HTTP Method '{}' not allowed. Allowed are GET,HEAD",
                    req.method()
                ),
            ),
            "salesforce.not_found",
            0,
        );
    }
    match rest.split('/').collect::<Vec<_>>().as_slice() {
        ["query"] => st.query(req, version, false),
        ["queryAll"] => st.query(req, version, true),
        ["query", locator] | ["queryAll", locator] => st.more(version, locator),
        ["sobjects", object, "describe"] => st.describe(object),
        ["limits"] => st.limits(),
        _ => not_found(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_print_like_salesforce() {
        let mut out = Vec::new();
        push_datetime(&mut out, 1_714_658_591_482);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"2024-05-02T14:03:11.000+0000\""
        );
        let mut out = Vec::new();
        push_val(&mut out, &Val::Num(42000.0));
        out.push(b' ');
        push_val(&mut out, &Val::Num(42000.5));
        assert_eq!(String::from_utf8(out).unwrap(), "42000.0 42000.5");
    }
}
