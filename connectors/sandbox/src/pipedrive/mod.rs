//! Pipedrive API emulator: renders the world's CRM as Pipedrive does (see
//! `shared/reference/source-apis.md` §3): organizations (companies), persons (live people),
//! deals, activities (calls, meetings, emails and tasks on deals), one pipeline and its stages.
//!
//! * **v2** (`/api/v2/…`): cursor paging (`cursor`, `limit` ≤ 500, `additional_data.next_cursor`
//!   `null` at the end), `updated_since` / `updated_until` (RFC 3339, inclusive),
//!   `sort_by=id|update_time|add_time`, `sort_direction=asc|desc`; RFC 3339 timestamps, flat
//!   integer ids, custom fields under `custom_fields` with 40-hex keys.
//! * **v1** (`/v1/…` or `/api/v1/…`): `start`/`limit` paging with
//!   `additional_data.pagination = {start, limit, more_items_in_collection, next_start}`;
//!   timestamps `YYYY-MM-DD HH:MM:SS` (UTC).
//! * **Auth**: the `x-api-token` header, the `api_token` query parameter, or an OAuth
//!   `Authorization: Bearer` token; otherwise 401 `unauthorized access`.
//! * **Burst limit** (when configured): a rolling 2-second window per token; every response
//!   carries `x-ratelimit-limit`, `x-ratelimit-remaining` and `x-ratelimit-reset` (seconds);
//!   over the limit: 429 `Request over limit` (no `Retry-After`).
//! * Errors: `{"success":false,"error":…,"errorCode":…,"error_info":…}`.
//!
//! | Route | Stats route kind |
//! |---|---|
//! | `GET /api/v2/deals` | `pipedrive.deals.list` |
//! | `GET /api/v2/persons` | `pipedrive.persons.list` |
//! | `GET /api/v2/organizations` | `pipedrive.organizations.list` |
//! | `GET /api/v2/activities` | `pipedrive.activities.list` |
//! | `GET /v1/pipelines` | `pipedrive.pipelines.list` |
//! | `GET /v1/stages` | `pipedrive.stages.list` |
//! | anything else | `pipedrive.not_found` |

use std::collections::VecDeque;
use std::fmt;
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
use crate::world::activities::ActivityKind;
use crate::world::{Channel, DealStage, SharedWorld, World};

/// The API token the emulator accepts by default.
pub const DEFAULT_API_TOKEN: &str = "8f2c3d9e1a7b4c6d5e0f9a8b7c6d5e4f3a2b1c0d";
/// The OAuth access token the emulator accepts by default.
pub const DEFAULT_OAUTH_TOKEN: &str = "v1u:AQIBAHj-sandbox-oauth-access-token";

/// Pipedrive user id of owner `index`.
pub fn user_id(owner: u32) -> u64 {
    901 + u64::from(owner)
}
/// Pipedrive id of person `index`.
pub fn person_id(index: u64) -> u64 {
    index + 1
}
/// Pipedrive id of company `index`.
pub fn org_id(company: u32) -> u64 {
    u64::from(company) + 1
}
/// Pipedrive id of deal `index`.
pub fn deal_id(deal: u32) -> u64 {
    u64::from(deal) + 1
}
/// Pipedrive id of activity `index`.
pub fn activity_id(activity: u32) -> u64 {
    u64::from(activity) + 1
}
/// The one pipeline's id.
pub const PIPELINE_ID: u64 = 1;
/// The pipeline's open stages (won and lost are deal statuses in Pipedrive, not stages).
pub const STAGES: [DealStage; 5] = [
    DealStage::AppointmentScheduled,
    DealStage::QualifiedToBuy,
    DealStage::PresentationScheduled,
    DealStage::DecisionMakerBoughtIn,
    DealStage::ContractSent,
];
/// Stage id of a deal stage (closed deals stay in the last stage).
pub fn stage_id(s: DealStage) -> u64 {
    s.display_order().min(STAGES.len() - 1) as u64 + 1
}
/// Deal status (`open`, `won`, `lost`).
pub fn deal_status(s: DealStage) -> &'static str {
    match s {
        DealStage::ClosedWon => "won",
        DealStage::ClosedLost => "lost",
        _ => "open",
    }
}
/// Custom-field keys (40 hex characters, as Pipedrive generates them).
pub mod fields {
    /// Deal and person: utm_source.
    pub const UTM_SOURCE: &str = "5c1e0b7a9d2f4e6a8b3c1d0e9f8a7b6c5d4e3f2a";
    /// Deal and person: utm_campaign.
    pub const UTM_CAMPAIGN: &str = "9f1c0a7d2b3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a";
    /// Person: Google click id.
    pub const GCLID: &str = "2b7e151628aed2a6abf7158809cf4f3c762e7160";
    /// Organization: website domain.
    pub const WEBSITE: &str = "d1f4e0c2b3a5968778695a4b3c2d1e0f9a8b7c6d";
}

fn default_token() -> String {
    DEFAULT_API_TOKEN.to_string()
}
fn default_oauth() -> String {
    DEFAULT_OAUTH_TOKEN.to_string()
}

/// Settings of the Pipedrive emulator (`[pipedrive]` in a sandbox TOML file).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PipedriveConfig {
    /// The API token accepted in `x-api-token` or `api_token`.
    #[serde(default = "default_token")]
    pub api_token: String,
    /// The OAuth access token accepted as `Authorization: Bearer`.
    #[serde(default = "default_oauth")]
    pub oauth_token: String,
    /// Requests per rolling 2-second window (Pipedrive's burst limit: 20–120 for API tokens
    /// by plan). `None` (default): not emulated, and no `x-ratelimit-*` headers are sent.
    pub rate_limit: Option<u32>,
}

impl Default for PipedriveConfig {
    fn default() -> Self {
        PipedriveConfig {
            api_token: default_token(),
            oauth_token: default_oauth(),
            rate_limit: None,
        }
    }
}

impl fmt::Debug for PipedriveConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipedriveConfig")
            .field("api_token", &"<redacted>")
            .field("oauth_token", &"<redacted>")
            .field("rate_limit", &self.rate_limit)
            .finish()
    }
}

const WINDOW: Duration = Duration::from_secs(2);
const ERROR_INFO: &str =
    "Please check developers.pipedrive.com for more information about Pipedrive API.";

/// `{"success":false,"error":…,"errorCode":…,"error_info":…}`.
pub(crate) fn error(status: StatusCode, message: Option<&str>) -> Response {
    let mut out = Vec::with_capacity(160);
    let mut o = Obj::new(&mut out);
    o.bool("success", false);
    if let Some(m) = message {
        o.str("error", m);
    }
    o.int("errorCode", i64::from(status.as_u16()))
        .str("error_info", ERROR_INFO);
    o.end();
    json_response(status, out)
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

fn tagged(mut resp: Response, kind: &'static str, records: u64) -> Response {
    resp.extensions_mut().insert(RouteInfo { kind, records });
    resp
}

fn bad(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, Some(message))
}

/// Sort order of a v2 list: by the key, then by id.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum SortBy {
    Id,
    UpdateTime,
    AddTime,
}

/// The persons' `(update_time, add_time, index)` for one world version (people are lazy:
/// building this is the expensive part of a persons page, so it is kept while the world
/// does not change).
struct PersonIndex {
    version: (i64, u64, u64),
    rows: Arc<Vec<Row>>,
}

/// One listable item: its sort keys and where to find it.
#[derive(Clone, Copy, Debug)]
struct Row {
    id: u64,
    update_ms: i64,
    add_ms: i64,
    /// Index into the world collection.
    index: u64,
}

struct State {
    world: SharedWorld,
    config: PipedriveConfig,
    window: Mutex<VecDeque<Instant>>,
    persons: Mutex<Option<PersonIndex>>,
    /// The last list sorted for a v2 page, so paging through a large list does not sort it
    /// again for every page.
    sorted: Mutex<Option<SortedRows>>,
}

/// `rows` sorted ascending by `(key, id)` for one sort order of one row list (`source`, kept
/// alive so the cache can be matched by identity).
struct SortedRows {
    source: Arc<Vec<Row>>,
    sort: SortBy,
    rows: Arc<Vec<Row>>,
}

/// One running Pipedrive emulator.
pub(crate) struct PipedriveApp {
    state: Arc<State>,
}

impl State {
    /// Admits a request under the rolling 2-second limit; returns the headers to send and
    /// whether it is admitted.
    fn admit(&self) -> (Option<[(&'static str, HeaderValue); 3]>, bool) {
        let Some(max) = self.config.rate_limit else {
            return (None, true);
        };
        let now = Instant::now();
        let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
        while w.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
            w.pop_front();
        }
        let admitted = (w.len() as u64) < u64::from(max);
        if admitted {
            w.push_back(now);
        }
        let remaining = u64::from(max).saturating_sub(w.len() as u64);
        let reset = w
            .front()
            .map(|t| {
                (WINDOW.saturating_sub(now.duration_since(*t)))
                    .as_secs_f64()
                    .ceil() as u64
            })
            .unwrap_or(0)
            .max(if admitted { 0 } else { 1 });
        (
            Some([
                ("x-ratelimit-limit", HeaderValue::from(max)),
                ("x-ratelimit-remaining", HeaderValue::from(remaining)),
                ("x-ratelimit-reset", HeaderValue::from(reset)),
            ]),
            admitted,
        )
    }

    /// `rows` sorted ascending by `(key, id)` for `sort`, from the cache when the same list
    /// was sorted the same way last time.
    fn sorted_rows(&self, rows: &Arc<Vec<Row>>, sort: SortBy, p: &V2Params) -> Arc<Vec<Row>> {
        let mut cache = self.sorted.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = cache.as_ref()
            && c.sort == sort
            && Arc::ptr_eq(&c.source, rows)
        {
            return c.rows.clone();
        }
        let mut sorted: Vec<Row> = rows.as_ref().clone();
        sorted.sort_by_key(|r| (p.key(r), r.id));
        let sorted = Arc::new(sorted);
        *cache = Some(SortedRows {
            source: rows.clone(),
            sort,
            rows: sorted.clone(),
        });
        sorted
    }

    fn person_rows(&self, w: &World) -> Arc<Vec<Row>> {
        let version = (w.now_ms(), w.people_total(), w.people_count());
        let mut cache = self.persons.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = cache.as_ref()
            && c.version == version
        {
            return c.rows.clone();
        }
        let rows: Arc<Vec<Row>> = Arc::new(
            w.people()
                .map(|p| Row {
                    id: person_id(p.index),
                    update_ms: p.modified_ms,
                    add_ms: p.created_ms,
                    index: p.index,
                })
                .collect(),
        );
        *cache = Some(PersonIndex {
            version,
            rows: rows.clone(),
        });
        rows
    }
}

/// The opaque v2 cursor: the last item's sort key and id, hex-encoded.
fn encode_cursor(key: i64, id: u64) -> String {
    let text = format!("{key}:{id}");
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_cursor(c: &str) -> Option<(i64, u64)> {
    if !c.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..c.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(c.get(i..i + 2)?, 16).ok())
        .collect();
    let text = String::from_utf8(bytes?).ok()?;
    let (k, id) = text.split_once(':')?;
    Some((k.parse().ok()?, id.parse().ok()?))
}

fn parse_rfc3339(v: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(v)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// `YYYY-MM-DD HH:MM:SS` (v1).
fn push_v1_time(out: &mut Vec<u8>, ms: i64) {
    let mut tmp = Vec::with_capacity(24);
    json::push_iso_millis_body(&mut tmp, ms.div_euclid(1000) * 1000);
    let text = String::from_utf8_lossy(&tmp);
    let text = text.trim_end_matches('Z');
    let text = text.split('.').next().unwrap_or_default().replace('T', " ");
    json::push_str(out, &text);
}

fn push_v2_time(out: &mut Vec<u8>, ms: i64) {
    json::push_iso_secs(out, ms);
}

fn date_string(ms: i64) -> String {
    let mut tmp = Vec::with_capacity(10);
    json::push_date_body(&mut tmp, ms);
    String::from_utf8_lossy(&tmp).into_owned()
}

fn channel_name(c: Channel) -> &'static str {
    c.as_str()
}

/// Parsed v2 list parameters.
struct V2Params {
    limit: usize,
    after: Option<(i64, u64)>,
    since: Option<i64>,
    until: Option<i64>,
    sort: SortBy,
    desc: bool,
}

// Validation errors are ready-made responses, built once per bad request.
#[allow(clippy::result_large_err)]
fn v2_params(p: &Params) -> Result<V2Params, Response> {
    let limit = match p.get("limit") {
        None => 100,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=500).contains(&n) => n,
            _ => {
                return Err(bad(&format!(
                    "Validation failed: limit: Parameter 'limit' must be an integer between 1 and 500 (got '{v}')"
                )));
            }
        },
    };
    let after = match p.get("cursor") {
        None | Some("") => None,
        Some(c) => {
            Some(decode_cursor(c).ok_or_else(|| bad("Validation failed: cursor: Invalid cursor"))?)
        }
    };
    let time = |name: &str| -> Result<Option<i64>, Response> {
        match p.get(name) {
            None | Some("") => Ok(None),
            Some(v) => parse_rfc3339(v).map(Some).ok_or_else(|| {
                bad(&format!(
                    "Validation failed: {name}: Parameter '{name}' must be a valid RFC3339 date-time (got '{v}')"
                ))
            }),
        }
    };
    let sort = match p.get("sort_by").unwrap_or("id") {
        "id" => SortBy::Id,
        "update_time" => SortBy::UpdateTime,
        "add_time" => SortBy::AddTime,
        other => {
            return Err(bad(&format!(
                "Validation failed: sort_by: Parameter 'sort_by' must be one of id, update_time, add_time (got '{other}')"
            )));
        }
    };
    let desc = match p.get("sort_direction").unwrap_or("asc") {
        "asc" => false,
        "desc" => true,
        other => {
            return Err(bad(&format!(
                "Validation failed: sort_direction: Parameter 'sort_direction' must be one of asc, desc (got '{other}')"
            )));
        }
    };
    Ok(V2Params {
        limit,
        after,
        since: time("updated_since")?,
        until: time("updated_until")?,
        sort,
        desc,
    })
}

impl V2Params {
    fn key(&self, r: &Row) -> i64 {
        match self.sort {
            SortBy::Id => r.id as i64,
            SortBy::UpdateTime => r.update_ms.div_euclid(1000),
            SortBy::AddTime => r.add_ms.div_euclid(1000),
        }
    }

    /// Whether `r` is within the `updated_since`/`updated_until` filter.
    fn in_window(&self, r: &Row) -> bool {
        self.since
            .is_none_or(|s| r.update_ms.div_euclid(1000) >= s.div_euclid(1000))
            && self
                .until
                .is_none_or(|u| r.update_ms.div_euclid(1000) < u.div_euclid(1000))
    }

    /// The page: rows within the time filter, in order, after the cursor; and the cursor
    /// of the next page. `sorted` is the list sorted ascending by `(key, id)` for this sort
    /// order; the cursor is found by binary search, so a page costs its own size.
    fn page(&self, sorted: &[Row]) -> (Vec<Row>, Option<String>) {
        let key = |r: &Row| (self.key(r), r.id);
        let mut page = Vec::with_capacity(self.limit.min(sorted.len()));
        let mut more = false;
        {
            let mut take = |r: &Row| -> bool {
                if !self.in_window(r) {
                    return true;
                }
                if page.len() == self.limit {
                    more = true;
                    return false;
                }
                page.push(*r);
                true
            };
            if self.desc {
                let end = match self.after {
                    None => sorted.len(),
                    Some(a) => sorted.partition_point(|r| key(r) < a),
                };
                for r in sorted[..end].iter().rev() {
                    if !take(r) {
                        break;
                    }
                }
            } else {
                let start = match self.after {
                    None => 0,
                    Some(a) => sorted.partition_point(|r| key(r) <= a),
                };
                for r in &sorted[start..] {
                    if !take(r) {
                        break;
                    }
                }
            }
        }
        let next = more
            .then(|| page.last().map(|r| encode_cursor(self.key(r), r.id)))
            .flatten();
        (page, next)
    }
}

fn v2_envelope(items: impl FnOnce(&mut Vec<u8>), next: Option<&str>, cap: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(cap + 96);
    out.extend_from_slice(b"{\"success\":true,\"data\":[");
    items(&mut out);
    out.extend_from_slice(b"],\"additional_data\":{\"next_cursor\":");
    match next {
        Some(c) => json::push_str(&mut out, c),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b"}}");
    out
}

fn render_person(out: &mut Vec<u8>, w: &World, index: u64) {
    let Some(p) = w.person(index) else {
        return;
    };
    let mut o = Obj::new(out);
    o.int("id", person_id(p.index) as i64)
        .str("name", &format!("{} {}", p.first_name, p.last_name))
        .str("first_name", p.first_name)
        .str("last_name", p.last_name)
        .int("owner_id", user_id(person_owner(w, p.index)) as i64)
        .int("org_id", org_id(p.company) as i64);
    push_v2_time(o.key("add_time"), p.created_ms);
    push_v2_time(o.key("update_time"), p.modified_ms);
    o.with("emails", |b| {
        b.push(b'[');
        let mut e = Obj::new(b);
        e.str("value", &p.email)
            .bool("primary", true)
            .str("label", "work");
        e.end();
        b.push(b']');
    });
    o.with("phones", |b| {
        b.push(b'[');
        let mut e = Obj::new(b);
        e.str("value", &p.phone)
            .bool("primary", true)
            .str("label", "work");
        e.end();
        b.push(b']');
    });
    o.bool("is_deleted", false)
        .int("visible_to", 3)
        .raw("label_ids", b"[]")
        .null("picture_id");
    o.with("custom_fields", |b| {
        let mut c = Obj::new(b);
        let utm = w.utm_of(&p);
        c.opt_str(fields::UTM_SOURCE, utm.map(|u| u.0))
            .opt_str(fields::UTM_CAMPAIGN, utm.map(|u| u.2))
            .opt_str(fields::GCLID, p.click_id.as_deref());
        c.end();
    });
    o.end();
}

fn person_owner(w: &World, index: u64) -> u32 {
    match w.deals_of_person(index).first() {
        Some(&d) => w.deals()[d as usize].owner,
        None => (index % w.owners().len().max(1) as u64) as u32,
    }
}

fn render_org(out: &mut Vec<u8>, w: &World, index: u64) {
    let c = &w.companies()[index as usize];
    let mut o = Obj::new(out);
    o.int("id", org_id(c.index) as i64)
        .str("name", &c.name)
        .int(
            "owner_id",
            user_id(c.index % w.owners().len().max(1) as u32) as i64,
        );
    push_v2_time(o.key("add_time"), c.created_ms);
    push_v2_time(o.key("update_time"), c.modified_ms);
    o.bool("is_deleted", false).int("visible_to", 3);
    o.with("address", |b| {
        let mut a = Obj::new(b);
        a.str("value", &format!("{}, {}", c.city, c.country))
            .str("locality", c.city)
            .str("country", c.country);
        a.end();
    });
    o.raw("label_ids", b"[]");
    o.with("custom_fields", |b| {
        let mut f = Obj::new(b);
        f.str(fields::WEBSITE, &format!("https://www.{}", c.domain));
        f.end();
    });
    o.end();
}

fn render_deal(out: &mut Vec<u8>, w: &World, index: u64) {
    let d = &w.deals()[index as usize];
    let mut o = Obj::new(out);
    o.int("id", deal_id(d.index) as i64)
        .str("title", &d.name)
        .int("owner_id", user_id(d.owner) as i64)
        .opt_int("person_id", d.contact.map(|p| person_id(p) as i64))
        .int("org_id", org_id(d.company) as i64)
        .int("pipeline_id", PIPELINE_ID as i64)
        .int("stage_id", stage_id(d.stage) as i64);
    let value = o.key("value");
    if d.amount_cents.is_multiple_of(100) {
        json::push_u64(value, d.amount_cents / 100);
    } else {
        json::push_f64(value, d.amount_cents as f64 / 100.0);
    }
    o.str("currency", "USD");
    push_v2_time(o.key("add_time"), d.created_ms);
    push_v2_time(o.key("update_time"), d.modified_ms);
    push_v2_time(o.key("stage_change_time"), d.modified_ms);
    o.bool("is_deleted", false)
        .str("status", deal_status(d.stage))
        .null("probability")
        .null("lost_reason")
        .int("visible_to", 3);
    let closed = d.stage.is_closed();
    for (key, on) in [
        ("close_time", closed),
        ("won_time", d.stage == DealStage::ClosedWon),
        ("lost_time", d.stage == DealStage::ClosedLost),
    ] {
        if on {
            push_v2_time(o.key(key), d.close_ms);
        } else {
            o.null(key);
        }
    }
    o.str("expected_close_date", &date_string(d.close_ms))
        .raw("label_ids", b"[]")
        .str("origin", "ManuallyCreated")
        .str("channel_id", channel_name(d.channel));
    let person = d.contact.and_then(|p| w.person(p));
    o.with("custom_fields", |b| {
        let mut c = Obj::new(b);
        let utm = person.as_ref().and_then(|p| w.utm_of(p));
        c.opt_str(fields::UTM_SOURCE, utm.map(|u| u.0))
            .opt_str(fields::UTM_CAMPAIGN, utm.map(|u| u.2));
        c.end();
    });
    o.end();
}

fn render_activity(out: &mut Vec<u8>, a: &crate::world::activities::Activity) {
    let mut o = Obj::new(out);
    o.int("id", activity_id(a.index) as i64)
        .str("subject", &a.subject)
        .str("type", a.kind.as_str())
        .int("owner_id", user_id(a.owner) as i64)
        .bool("is_deleted", false);
    push_v2_time(o.key("add_time"), a.created_ms);
    push_v2_time(o.key("update_time"), a.modified_ms);
    o.int("deal_id", deal_id(a.deal) as i64)
        .null("lead_id")
        .opt_int("person_id", a.person.map(|p| person_id(p) as i64))
        .int("org_id", org_id(a.company) as i64)
        .null("project_id")
        .str("due_date", &date_string(a.due_ms));
    let mins = (a.due_ms.div_euclid(60_000)).rem_euclid(24 * 60);
    o.str("due_time", &format!("{:02}:{:02}", mins / 60, mins % 60))
        .str(
            "duration",
            &format!("{:02}:{:02}", a.duration_min / 60, a.duration_min % 60),
        )
        .bool(
            "busy",
            matches!(a.kind, ActivityKind::Meeting | ActivityKind::Call),
        )
        .bool("done", a.done);
    if a.done {
        push_v2_time(o.key("marked_as_done_time"), a.modified_ms);
    } else {
        o.null("marked_as_done_time");
    }
    o.null("location");
    o.with("participants", |b| {
        b.push(b'[');
        if let Some(p) = a.person {
            let mut e = Obj::new(b);
            e.int("person_id", person_id(p) as i64)
                .bool("primary", true);
            e.end();
        }
        b.push(b']');
    });
    o.null("note").str("priority", "normal");
    o.end();
}

impl State {
    fn v2_list(&self, what: &str, params: &Params) -> Response {
        let kind: &'static str = match what {
            "deals" => "pipedrive.deals.list",
            "persons" => "pipedrive.persons.list",
            "organizations" => "pipedrive.organizations.list",
            "activities" => "pipedrive.activities.list",
            _ => return not_found(),
        };
        let p = match v2_params(params) {
            Ok(p) => p,
            Err(r) => return tagged(r, kind, 0),
        };
        let w = self.world.read();
        let activities = (what == "activities").then(|| w.activities());
        let rows: Arc<Vec<Row>> = match what {
            "persons" => self.person_rows(&w),
            "organizations" => Arc::new(
                w.companies()
                    .iter()
                    .map(|c| Row {
                        id: org_id(c.index),
                        update_ms: c.modified_ms,
                        add_ms: c.created_ms,
                        index: u64::from(c.index),
                    })
                    .collect(),
            ),
            "deals" => {
                let statuses: Vec<&str> = params
                    .get("status")
                    .unwrap_or("open,won,lost")
                    .split(',')
                    .map(str::trim)
                    .collect();
                if let Some(bad_status) = statuses
                    .iter()
                    .find(|s| !["open", "won", "lost", "deleted"].contains(s))
                {
                    return tagged(
                        bad(&format!(
                            "Validation failed: status: Parameter 'status' must be one of open, won, lost, deleted (got '{bad_status}')"
                        )),
                        kind,
                        0,
                    );
                }
                Arc::new(
                    w.deals()
                        .iter()
                        .filter(|d| statuses.contains(&deal_status(d.stage)))
                        .map(|d| Row {
                            id: deal_id(d.index),
                            update_ms: d.modified_ms,
                            add_ms: d.created_ms,
                            index: u64::from(d.index),
                        })
                        .collect(),
                )
            }
            _ => Arc::new(
                activities
                    .as_deref()
                    .unwrap_or_default()
                    .iter()
                    .map(|a| Row {
                        id: activity_id(a.index),
                        update_ms: a.modified_ms,
                        add_ms: a.created_ms,
                        index: u64::from(a.index),
                    })
                    .collect(),
            ),
        };
        let sorted = self.sorted_rows(&rows, p.sort, &p);
        let (page, next) = p.page(&sorted);
        let n = page.len() as u64;
        let body = v2_envelope(
            |out| {
                for (i, r) in page.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    match what {
                        "persons" => render_person(out, &w, r.index),
                        "organizations" => render_org(out, &w, r.index),
                        "deals" => render_deal(out, &w, r.index),
                        _ => render_activity(
                            out,
                            &activities.as_deref().unwrap_or_default()[r.index as usize],
                        ),
                    }
                }
            },
            next.as_deref(),
            page.len() * 700,
        );
        tagged(json_response(StatusCode::OK, body), kind, n)
    }

    fn v1_list(&self, what: &str, params: &Params) -> Response {
        let kind: &'static str = match what {
            "pipelines" => "pipedrive.pipelines.list",
            "stages" => "pipedrive.stages.list",
            _ => return not_found(),
        };
        let start = match params.get("start").map(str::parse::<usize>) {
            None => 0,
            Some(Ok(s)) => s,
            Some(Err(_)) => return tagged(bad("start must be a non-negative integer"), kind, 0),
        };
        let limit = match params.get("limit").map(str::parse::<usize>) {
            None => 100,
            Some(Ok(l)) if (1..=500).contains(&l) => l,
            Some(_) => return tagged(bad("limit must be an integer between 1 and 500"), kind, 0),
        };
        let w = self.world.read();
        let origin = w.config().start.timestamp_millis();
        let total = match what {
            "pipelines" => 1,
            _ => match params.get("pipeline_id") {
                None => STAGES.len(),
                Some(p) if p == PIPELINE_ID.to_string() => STAGES.len(),
                Some(_) => 0,
            },
        };
        let end = (start + limit).min(total);
        let mut out = Vec::with_capacity(512);
        out.extend_from_slice(b"{\"success\":true,\"data\":[");
        #[allow(clippy::needless_range_loop)] // `i` is also the order number
        for i in start.min(end)..end {
            if i > start {
                out.push(b',');
            }
            let mut o = Obj::new(&mut out);
            if what == "pipelines" {
                o.int("id", PIPELINE_ID as i64)
                    .str("name", "Sales Pipeline")
                    .str("url_title", "sales-pipeline")
                    .int("order_nr", 0)
                    .bool("active", true)
                    .bool("deal_probability", true);
                push_v1_time(o.key("add_time"), origin);
                push_v1_time(o.key("update_time"), origin);
                o.bool("selected", true);
            } else {
                let s = STAGES[i];
                let prob: f64 = s.probability().parse().unwrap_or(0.0);
                o.int("id", stage_id(s) as i64)
                    .int("order_nr", i as i64 + 1)
                    .str("name", s.label())
                    .bool("active_flag", true)
                    .int("deal_probability", (prob * 100.0).round() as i64)
                    .int("pipeline_id", PIPELINE_ID as i64)
                    .bool("rotten_flag", false)
                    .null("rotten_days");
                push_v1_time(o.key("add_time"), origin);
                push_v1_time(o.key("update_time"), origin);
                o.str("pipeline_name", "Sales Pipeline")
                    .bool("pipeline_deal_probability", true);
            }
            o.end();
        }
        out.extend_from_slice(b"],\"additional_data\":{\"pagination\":");
        let mut pg = Obj::new(&mut out);
        pg.int("start", start as i64)
            .int("limit", limit as i64)
            .bool("more_items_in_collection", end < total);
        if end < total {
            pg.int("next_start", end as i64);
        }
        pg.end();
        out.extend_from_slice(b"}}");
        let n = end.saturating_sub(start) as u64;
        tagged(json_response(StatusCode::OK, out), kind, n)
    }
}

fn not_found() -> Response {
    tagged(
        error(StatusCode::NOT_FOUND, Some("Unknown method .")),
        "pipedrive.not_found",
        0,
    )
}

fn too_many(reset: Option<u64>) -> Response {
    let mut r = error(StatusCode::TOO_MANY_REQUESTS, Some("Request over limit"));
    if let Some(s) = reset {
        r.headers_mut()
            .insert("x-ratelimit-reset", HeaderValue::from(s));
        r.headers_mut()
            .insert("x-ratelimit-remaining", HeaderValue::from(0u32));
    }
    r
}

impl PipedriveApp {
    /// Creates the emulator over `world`.
    pub(crate) fn new(world: SharedWorld, config: PipedriveConfig) -> PipedriveApp {
        PipedriveApp {
            state: Arc::new(State {
                world,
                config,
                window: Mutex::new(VecDeque::new()),
                persons: Mutex::new(None),
                sorted: Mutex::new(None),
            }),
        }
    }

    /// The response an injected fault produces.
    pub(crate) fn fault_response(&self, fault: &Fault) -> Option<Response> {
        Some(match fault {
            Fault::TooManyRequests { retry_after } => too_many(*retry_after),
            // Pipedrive's 5xx bodies may have no `error` text.
            Fault::Status { code: 500 } => error(StatusCode::INTERNAL_SERVER_ERROR, None),
            Fault::Status { code } => crate::gateway::gateway_page(*code),
            Fault::Unauthorized => error(StatusCode::UNAUTHORIZED, Some("unauthorized access")),
            Fault::Latency { .. } | Fault::ConnectionReset | Fault::TruncatedBody => return None,
        })
    }

    /// Handles one request: auth, the burst limit, routing.
    pub(crate) async fn handle(&self, req: Request<Body>) -> Response {
        let st = &self.state;
        let params = Params::parse(req.uri().query());
        let header_token = req
            .headers()
            .get("x-api-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bearer = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_string);
        let authorized = header_token.as_deref() == Some(st.config.api_token.as_str())
            || params.get("api_token") == Some(st.config.api_token.as_str())
            || bearer.as_deref() == Some(st.config.oauth_token.as_str());
        if !authorized {
            return error(StatusCode::UNAUTHORIZED, Some("unauthorized access"));
        }
        let (headers, admitted) = st.admit();
        let mut resp = if !admitted {
            too_many(None)
        } else if req.method() != Method::GET {
            tagged(
                error(StatusCode::METHOD_NOT_ALLOWED, Some("Method not allowed")),
                "pipedrive.not_found",
                0,
            )
        } else {
            let path = req.uri().path();
            if let Some(what) = path.strip_prefix("/api/v2/") {
                st.v2_list(what.trim_end_matches('/'), &params)
            } else if let Some(what) = path
                .strip_prefix("/v1/")
                .or_else(|| path.strip_prefix("/api/v1/"))
            {
                st.v1_list(what.trim_end_matches('/'), &params)
            } else {
                not_found()
            }
        };
        if let Some(hs) = headers {
            for (k, v) in hs {
                resp.headers_mut().insert(k, v);
            }
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_times_print_like_pipedrive() {
        let c = encode_cursor(1_714_658_591, 42);
        assert!(c.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(decode_cursor(&c), Some((1_714_658_591, 42)));
        assert_eq!(decode_cursor("zz"), None);
        let mut out = Vec::new();
        push_v1_time(&mut out, 1_714_658_591_482);
        assert_eq!(String::from_utf8(out).unwrap(), "\"2024-05-02 14:03:11\"");
        let mut out = Vec::new();
        push_v2_time(&mut out, 1_714_658_591_482);
        assert_eq!(String::from_utf8(out).unwrap(), "\"2024-05-02T14:03:11Z\"");
    }
}
