//! Zendesk endpoints: the cursor-based incremental exports of tickets and users, and the
//! cursor-paginated lists of ticket metrics, satisfaction ratings, organizations and groups.

// Parameter checks return the finished error response.
#![allow(clippy::result_large_err)]

use std::ops::Bound;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use http::StatusCode;

use super::ids::{self, *};
use super::{ZendeskState, error, json};
use crate::json::{push_iso_secs, push_str};
use crate::jw::Obj;
use crate::server::RouteInfo;
use crate::world::World;
use crate::world::support::{Author, Ticket, TicketChannel, business_minutes};

type St = State<Arc<ZendeskState>>;
type Q = Query<Vec<(String, String)>>;

/// Largest (and default) page of the incremental exports.
const EXPORT_PAGE_MAX: usize = 1000;
/// Largest (and default) `page[size]` of list endpoints.
const LIST_PAGE_MAX: usize = 100;
/// The support address tickets are sent to.
const SUPPORT_ADDRESS: &str = "support@revline.zendesk.com";

pub(super) fn router(state: Arc<ZendeskState>) -> Router {
    Router::new()
        .route(
            "/api/v2/incremental/tickets/cursor.json",
            get(tickets_export),
        )
        .route("/api/v2/incremental/users/cursor.json", get(users_export))
        .route("/api/v2/ticket_metrics", get(ticket_metrics))
        .route("/api/v2/ticket_metrics.json", get(ticket_metrics))
        .route("/api/v2/satisfaction_ratings", get(satisfaction_ratings))
        .route(
            "/api/v2/satisfaction_ratings.json",
            get(satisfaction_ratings),
        )
        .route("/api/v2/organizations", get(organizations))
        .route("/api/v2/organizations.json", get(organizations))
        .route("/api/v2/groups", get(groups))
        .route("/api/v2/groups.json", get(groups))
        .route("/api/v2/users/me", get(me))
        .route("/api/v2/users/me.json", get(me))
        .fallback(not_found)
        .with_state(state)
}

fn tagged(mut resp: Response, kind: &'static str, records: u64) -> Response {
    resp.extensions_mut().insert(RouteInfo { kind, records });
    resp
}

fn param<'a>(q: &'a [(String, String)], key: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn invalid(description: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "InvalidValue", Some(description))
}

async fn not_found() -> Response {
    tagged(
        error(StatusCode::NOT_FOUND, "InvalidEndpoint", Some("Not found")),
        "zendesk.not_found",
        0,
    )
}

fn secs(ms: i64) -> i64 {
    ms.div_euclid(1000)
}

// ----- incremental exports -------------------------------------------------------------

/// Where an export continues: after a cursor, or from `start_time`.
struct ExportStart {
    bound: Bound<(i64, u64)>,
    per_page: usize,
}

fn export_start(q: &[(String, String)]) -> Result<ExportStart, Response> {
    let per_page = match param(q, "per_page") {
        None => EXPORT_PAGE_MAX,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=EXPORT_PAGE_MAX).contains(&n) => n,
            _ => return Err(invalid("per_page must be between 1 and 1000")),
        },
    };
    if let Some(c) = param(q, "cursor") {
        let Some((sec, id)) = ids::parse_export_cursor(c) else {
            return Err(invalid("Invalid cursor"));
        };
        // Cursors point at the last item served; id 0 is "before every item of that second".
        let bound = if id == 0 {
            Bound::Included((sec, 0))
        } else {
            Bound::Excluded((sec, id))
        };
        return Ok(ExportStart { bound, per_page });
    }
    let Some(start) = param(q, "start_time") else {
        return Err(invalid("start_time or cursor is required"));
    };
    let Ok(start) = start.parse::<i64>() else {
        return Err(invalid("start_time must be a Unix epoch time in seconds"));
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    if start > now - 60 {
        return Err(invalid(
            "Too recent start_time. Use a start_time older than 1 minute",
        ));
    }
    Ok(ExportStart {
        bound: Bound::Included((start.max(0), 0)),
        per_page,
    })
}

/// Writes an export envelope: `{"<key>":[…],"after_url",…,"end_of_stream"}`.
fn export_envelope(
    out: &mut Vec<u8>,
    base: &str,
    path: &str,
    after: Option<String>,
    end: bool,
    keep: &[(String, String)],
) {
    let mut o = ObjTail::new(out);
    let after_url = after.as_ref().map(|c| {
        let mut url = format!("{base}{path}?cursor={}", pct(c));
        for (k, v) in keep {
            url.push_str(&format!("&{k}={}", pct(v)));
        }
        url
    });
    o.opt_str("after_url", after_url.as_deref());
    o.opt_str("after_cursor", after.as_deref());
    o.null("before_url");
    o.null("before_cursor");
    o.bool("end_of_stream", end);
    o.end();
}

/// Percent-encodes a query value (base64 cursors carry `+`, `/` and `=`).
fn pct(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Continues an object whose first key was already written (the records array).
struct ObjTail<'a> {
    out: &'a mut Vec<u8>,
}

impl<'a> ObjTail<'a> {
    fn new(out: &'a mut Vec<u8>) -> Self {
        ObjTail { out }
    }
    fn key(&mut self, k: &str) -> &mut Vec<u8> {
        self.out.extend_from_slice(b",\"");
        self.out.extend_from_slice(k.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }
    fn opt_str(&mut self, k: &str, v: Option<&str>) {
        match v {
            Some(s) => push_str(self.key(k), s),
            None => self.null(k),
        }
    }
    fn null(&mut self, k: &str) {
        self.key(k).extend_from_slice(b"null");
    }
    fn bool(&mut self, k: &str, v: bool) {
        self.key(k)
            .extend_from_slice(if v { b"true" } else { b"false" });
    }
    fn end(&mut self) {
        self.out.push(b'}');
    }
}

fn keep_params(q: &[(String, String)]) -> Vec<(String, String)> {
    q.iter()
        .filter(|(k, _)| matches!(k.as_str(), "per_page" | "exclude_deleted" | "include"))
        .cloned()
        .collect()
}

async fn tickets_export(State(s): St, Query(q): Q) -> Response {
    const KIND: &str = "zendesk.tickets.export";
    let start = match export_start(&q) {
        Ok(s) => s,
        Err(r) => return tagged(r, KIND, 0),
    };
    let exclude_deleted = param(&q, "exclude_deleted") == Some("true");
    let w = s.world.read();
    let support = w.support();
    // Export positions use ticket ids; the change order uses indices.
    let bound = match start.bound {
        Bound::Included((sec, _)) => Bound::Included((sec, 0)),
        Bound::Excluded((sec, id)) => match ids::ticket_index(id) {
            Some(i) => Bound::Excluded((sec, i)),
            None => Bound::Included((sec, 0)),
        },
        Bound::Unbounded => Bound::Unbounded,
    };
    let mut page: Vec<&Ticket> = Vec::with_capacity(start.per_page.min(1024));
    let mut more = false;
    for t in support.by_change(bound) {
        if exclude_deleted && t.deleted {
            continue;
        }
        if page.len() == start.per_page {
            more = true;
            break;
        }
        page.push(t);
    }
    let mut out = Vec::with_capacity(128 + page.len() * 1_400);
    out.extend_from_slice(b"{\"tickets\":[");
    for (k, t) in page.iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        render_ticket(&mut out, &w, t, &s.base_url);
    }
    out.push(b']');
    let after = match page.last() {
        Some(t) => Some(ids::export_cursor(secs(t.updated_ms), ticket_id(t.index))),
        None => param(&q, "cursor").map(str::to_string).or_else(|| {
            param(&q, "start_time")
                .and_then(|v| v.parse::<i64>().ok())
                .map(|st| ids::export_cursor(st, 0))
        }),
    };
    export_envelope(
        &mut out,
        &s.base_url,
        "/api/v2/incremental/tickets/cursor.json",
        after,
        !more,
        &keep_params(&q),
    );
    tagged(json(StatusCode::OK, out), KIND, page.len() as u64)
}

fn plan_of(w: &World, company: u32) -> Option<&'static str> {
    let won = w
        .deals()
        .iter()
        .filter(|d| d.company == company && d.stage == crate::DealStage::ClosedWon)
        .map(|d| d.amount_cents)
        .max()?;
    Some(if won >= 5_000_000 {
        "plan_enterprise"
    } else if won >= 1_000_000 {
        "plan_growth"
    } else {
        "plan_starter"
    })
}

/// One ticket as the export (and `GET /tickets`) renders it.
pub(super) fn render_ticket(out: &mut Vec<u8>, w: &World, t: &Ticket, base: &str) {
    let id = ticket_id(t.index);
    let person = w.person(t.requester);
    let messages = w.ticket_messages(t);
    let mut o = Obj::new(out);
    o.str("url", &format!("{base}/api/v2/tickets/{id}.json"))
        .int("id", id as i64)
        .null("external_id")
        .with("via", |b| {
            let mut via = Obj::new(b);
            via.str(
                "channel",
                match t.channel {
                    TicketChannel::Email => "email",
                    TicketChannel::Web => "web",
                    TicketChannel::Chat => "chat",
                    TicketChannel::Phone => "voice",
                },
            );
            via.with("source", |b| {
                let mut src = Obj::new(b);
                if t.channel == TicketChannel::Email {
                    src.with("from", |b| {
                        let mut f = Obj::new(b);
                        if let Some(p) = &person {
                            f.str("address", &p.email)
                                .str("name", &format!("{} {}", p.first_name, p.last_name));
                        }
                        f.end();
                    })
                    .with("to", |b| {
                        let mut to = Obj::new(b);
                        to.str("name", "Revline Support")
                            .str("address", SUPPORT_ADDRESS);
                        to.end();
                    });
                } else {
                    src.raw("from", b"{}").raw("to", b"{}");
                }
                src.null("rel");
                src.end();
            });
            via.end();
        })
        .with("created_at", |b| push_iso_secs(b, t.created_ms))
        .with("updated_at", |b| push_iso_secs(b, t.updated_ms))
        .int("generated_timestamp", secs(t.updated_ms))
        .str("type", t.kind.as_str())
        .str("subject", t.subject)
        .str("raw_subject", t.subject)
        .str("description", messages.first().map_or("", |m| m.body))
        .str("priority", t.priority.as_str())
        .str(
            "status",
            if t.deleted {
                "deleted"
            } else {
                t.status.as_str()
            },
        )
        .opt_str(
            "recipient",
            (t.channel == TicketChannel::Email).then_some(SUPPORT_ADDRESS),
        )
        .int("requester_id", user_id(t.requester) as i64)
        .int("submitter_id", user_id(t.requester) as i64)
        .opt_int("assignee_id", t.assignee.map(|a| agent_id(a) as i64))
        .int("organization_id", org_id(t.company) as i64)
        .int("group_id", group_id(t.group) as i64)
        .raw("collaborator_ids", b"[]")
        .raw("follower_ids", b"[]")
        .raw("email_cc_ids", b"[]")
        .null("forum_topic_id")
        .null("problem_id")
        .bool("has_incidents", false)
        .bool("is_public", true);
    match t.kind {
        crate::world::support::TicketKind::Task => {
            o.with("due_at", |b| {
                push_iso_secs(b, t.created_ms + 7 * 86_400_000)
            });
        }
        _ => {
            o.null("due_at");
        }
    }
    o.with("tags", |b| {
        b.push(b'[');
        push_str(b, t.topic);
        b.push(b']');
    });
    let plan = plan_of(w, t.company);
    let fields = |b: &mut Vec<u8>| {
        b.push(b'[');
        let mut f = Obj::new(b);
        f.int("id", PLAN_FIELD_ID as i64).opt_str("value", plan);
        f.end();
        b.push(b']');
    };
    o.with("custom_fields", fields);
    o.with("satisfaction_rating", |b| {
        let mut r = Obj::new(b);
        match &t.csat {
            Some(c) => {
                r.str("score", if c.is_good() { "good" } else { "bad" })
                    .int("id", rating_id(c.index) as i64)
                    .opt_str("comment", c.comment);
            }
            None if t.status.is_solved() => {
                r.str("score", "offered");
            }
            None => {
                r.str("score", "unoffered");
            }
        }
        r.end();
    });
    o.raw("sharing_agreement_ids", b"[]")
        .with("fields", fields)
        .raw("followup_ids", b"[]")
        .int("ticket_form_id", 360_000_111_000)
        .int("brand_id", BRAND_ID as i64)
        .bool("allow_channelback", false)
        .bool("allow_attachments", true)
        .bool("from_messaging_channel", t.channel == TicketChannel::Chat);
    o.end();
}

/// A user of the account: a requester or an agent, with its export position.
enum UserRef {
    Requester(u64),
    Agent(u32),
}

async fn users_export(State(s): St, Query(q): Q) -> Response {
    const KIND: &str = "zendesk.users.export";
    let start = match export_start(&q) {
        Ok(s) => s,
        Err(r) => return tagged(r, KIND, 0),
    };
    let w = s.world.read();
    let support = w.support();
    let mut all: Vec<(i64, u64, UserRef)> = support
        .users()
        .map(|u| {
            (
                secs(u.modified_ms),
                user_id(u.person),
                UserRef::Requester(u.person),
            )
        })
        .chain(support.agents().iter().map(|a| {
            (
                secs(a.modified_ms),
                agent_id(a.index),
                UserRef::Agent(a.index),
            )
        }))
        .collect();
    all.sort_unstable_by_key(|(sec, id, _)| (*sec, *id));
    let after = |(sec, id): (i64, u64)| match start.bound {
        Bound::Included(b) => (sec, id) >= b,
        Bound::Excluded(b) => (sec, id) > b,
        Bound::Unbounded => true,
    };
    let mut rest = all.into_iter().filter(|(sec, id, _)| after((*sec, *id)));
    let page: Vec<(i64, u64, UserRef)> = rest.by_ref().take(start.per_page).collect();
    let more = rest.next().is_some();
    let mut out = Vec::with_capacity(128 + page.len() * 900);
    out.extend_from_slice(b"{\"users\":[");
    for (k, (_, _, u)) in page.iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        match u {
            UserRef::Requester(p) => render_requester(&mut out, &w, *p, &s.base_url),
            UserRef::Agent(a) => render_agent(&mut out, &w, *a, &s.base_url),
        }
    }
    out.push(b']');
    let after_cursor = match page.last() {
        Some((sec, id, _)) => Some(ids::export_cursor(*sec, *id)),
        None => param(&q, "cursor").map(str::to_string).or_else(|| {
            param(&q, "start_time")
                .and_then(|v| v.parse::<i64>().ok())
                .map(|st| ids::export_cursor(st, 0))
        }),
    };
    export_envelope(
        &mut out,
        &s.base_url,
        "/api/v2/incremental/users/cursor.json",
        after_cursor,
        !more,
        &keep_params(&q),
    );
    tagged(json(StatusCode::OK, out), KIND, page.len() as u64)
}

const TIME_ZONES: &[(&str, &str)] = &[
    ("Eastern Time (US & Canada)", "America/New_York"),
    ("Pacific Time (US & Canada)", "America/Los_Angeles"),
    ("London", "Europe/London"),
    ("Berlin", "Europe/Berlin"),
];

fn render_user_common(
    o: &mut Obj<'_>,
    base: &str,
    id: u64,
    name: &str,
    email: &str,
    created_ms: i64,
    modified_ms: i64,
) {
    let (tz, iana) = TIME_ZONES[(id % TIME_ZONES.len() as u64) as usize];
    o.int("id", id as i64)
        .str("url", &format!("{base}/api/v2/users/{id}.json"))
        .str("name", name)
        .str("email", email)
        .with("created_at", |b| push_iso_secs(b, created_ms))
        .with("updated_at", |b| push_iso_secs(b, modified_ms))
        .str("time_zone", tz)
        .str("iana_time_zone", iana);
}

fn render_requester(out: &mut Vec<u8>, w: &World, person: u64, base: &str) {
    let Some(p) = w.person(person) else {
        out.extend_from_slice(b"null");
        return;
    };
    let u = w.support().user(person).expect("a requester");
    let mut o = Obj::new(out);
    render_user_common(
        &mut o,
        base,
        user_id(person),
        &format!("{} {}", p.first_name, p.last_name),
        &p.email,
        u.created_ms,
        u.modified_ms,
    );
    o.str("phone", &p.phone)
        .bool("shared_phone_number", false)
        .null("photo")
        .int("locale_id", 1)
        .str("locale", "en-US")
        .int("organization_id", org_id(p.company) as i64)
        .str("role", "end-user")
        .bool("verified", true)
        .str("external_id", &p.id.to_string())
        .raw("tags", b"[]")
        .str("alias", "")
        .bool("active", true)
        .bool("shared", false)
        .bool("shared_agent", false)
        .null("last_login_at")
        .bool("two_factor_auth_enabled", false)
        .null("signature")
        .str("details", "")
        .str("notes", "")
        .null("role_type")
        .null("custom_role_id")
        .bool("moderator", false)
        .str("ticket_restriction", "requested")
        .bool("only_private_comments", false)
        .bool("restricted_agent", true)
        .bool("suspended", false)
        .null("default_group_id")
        .bool("report_csv", false)
        .raw("user_fields", b"{}");
    o.end();
}

fn render_agent(out: &mut Vec<u8>, w: &World, agent: u32, base: &str) {
    let a = &w.support().agents()[agent as usize];
    let mut o = Obj::new(out);
    render_user_common(
        &mut o,
        base,
        agent_id(agent),
        &a.name(),
        &a.email,
        a.created_ms,
        a.modified_ms,
    );
    o.null("phone")
        .bool("shared_phone_number", false)
        .null("photo")
        .int("locale_id", 1)
        .str("locale", "en-US")
        .null("organization_id")
        .str("role", "agent")
        .bool("verified", true)
        .null("external_id")
        .raw("tags", b"[]")
        .str("alias", "")
        .bool("active", true)
        .bool("shared", false)
        .bool("shared_agent", false)
        .with("last_login_at", |b| push_iso_secs(b, a.modified_ms))
        .bool("two_factor_auth_enabled", true)
        .str("signature", &format!("{}\nRevline Support", a.name()))
        .str("details", "")
        .str("notes", "")
        .int("role_type", 0)
        .null("custom_role_id")
        .bool("moderator", true)
        .str("ticket_restriction", "groups")
        .bool("only_private_comments", false)
        .bool("restricted_agent", false)
        .bool("suspended", false)
        .int("default_group_id", group_id(a.group) as i64)
        .bool("report_csv", true)
        .raw("user_fields", b"{}");
    o.end();
}

async fn me(State(s): St) -> Response {
    let mut out = Vec::with_capacity(512);
    let mut o = Obj::new(&mut out);
    o.with("user", |b| {
        let mut u = Obj::new(b);
        let world = s.world.read();
        render_user_common(
            &mut u,
            &s.base_url,
            AGENT_ID_BASE - 1,
            "Revline Admin",
            &s.config.email,
            world.config().start.timestamp_millis(),
            world.config().start.timestamp_millis(),
        );
        u.str("role", "admin").bool("active", true);
        u.end();
    });
    o.end();
    tagged(json(StatusCode::OK, out), "zendesk.users.me", 1)
}

// ----- cursor-paginated lists ------------------------------------------------------------

/// `page[size]` and `page[after]` of a list request: (size, first position to serve).
fn list_page(q: &[(String, String)]) -> Result<(usize, u64), Response> {
    let size = match param(q, "page[size]") {
        None => LIST_PAGE_MAX,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=LIST_PAGE_MAX).contains(&n) => n,
            _ => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "InvalidPaginationParameter",
                    Some("page[size] must be between 1 and 100"),
                ));
            }
        },
    };
    let from = match param(q, "page[after]") {
        None | Some("") => 0,
        Some(c) => match ids::parse_list_cursor(c) {
            Some(p) => p + 1,
            None => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "InvalidPaginationParameter",
                    Some("page[after] is not a valid cursor"),
                ));
            }
        },
    };
    Ok((size, from))
}

/// A list page: the records key, the positions served and whether more follow.
fn list_envelope(
    out: &mut Vec<u8>,
    base: &str,
    path: &str,
    positions: &[u64],
    more: bool,
    size: usize,
    keep: &[(String, String)],
) {
    let mut o = ObjTail::new(out);
    let after = positions.last().map(|p| ids::list_cursor(*p));
    let before = positions.first().map(|p| ids::list_cursor(*p));
    o.key("meta");
    {
        let b = &mut *o.out;
        let mut m = Obj::new(b);
        m.bool("has_more", more)
            .opt_str("after_cursor", after.as_deref())
            .opt_str("before_cursor", before.as_deref());
        m.end();
    }
    o.key("links");
    {
        let extra: String = keep
            .iter()
            .map(|(k, v)| format!("&{}={}", pct(k), pct(v)))
            .collect();
        let next = (more && after.is_some()).then(|| {
            format!(
                "{base}{path}?page%5Bafter%5D={}&page%5Bsize%5D={size}{extra}",
                pct(after.as_deref().unwrap_or_default())
            )
        });
        let prev = before.as_ref().map(|c| {
            format!(
                "{base}{path}?page%5Bbefore%5D={}&page%5Bsize%5D={size}{extra}",
                pct(c)
            )
        });
        let b = &mut *o.out;
        let mut l = Obj::new(b);
        l.opt_str("prev", prev.as_deref())
            .opt_str("next", next.as_deref());
        l.end();
    }
    o.end();
}

/// Serves one page of `items` (positions in a stable order) from `from`.
fn page_of(items: impl Iterator<Item = u64>, from: u64, size: usize) -> (Vec<u64>, bool) {
    let mut rest = items.filter(|p| *p >= from);
    let page: Vec<u64> = rest.by_ref().take(size).collect();
    let more = rest.next().is_some();
    (page, more)
}

fn minutes_pair(o: &mut Obj<'_>, key: &str, span: Option<(i64, i64)>) {
    o.with(key, |b| {
        let mut m = Obj::new(b);
        match span {
            Some((from, to)) => {
                m.int("calendar", (to - from) / 60_000)
                    .int("business", business_minutes(from, to));
            }
            None => {
                m.null("calendar").null("business");
            }
        }
        m.end();
    });
}

fn opt_time(o: &mut Obj<'_>, key: &str, ms: Option<i64>) {
    match ms {
        Some(t) => {
            o.with(key, |b| push_iso_secs(b, t));
        }
        None => {
            o.null(key);
        }
    }
}

/// One ticket's metric set.
fn render_metrics(out: &mut Vec<u8>, w: &World, t: &Ticket, base: &str) {
    let id = metric_id(t.index);
    let messages = w.ticket_messages(t);
    let last_by = |requester: bool| {
        messages
            .iter()
            .rev()
            .find(|m| matches!(m.author, Author::Requester(_)) == requester)
            .map(|m| m.at_ms)
    };
    let mut o = Obj::new(out);
    o.str("url", &format!("{base}/api/v2/ticket_metrics/{id}.json"))
        .int("id", id as i64)
        .int("ticket_id", ticket_id(t.index) as i64)
        .with("created_at", |b| push_iso_secs(b, t.created_ms))
        .with("updated_at", |b| push_iso_secs(b, t.updated_ms))
        .int("group_stations", 1)
        .int("assignee_stations", i64::from(t.assignee.is_some()))
        .int("reopens", i64::from(t.reopens))
        .int("replies", i64::from(t.replies));
    opt_time(&mut o, "assignee_updated_at", last_by(false));
    opt_time(&mut o, "requester_updated_at", last_by(true));
    opt_time(&mut o, "status_updated_at", Some(t.status_changed_ms));
    opt_time(&mut o, "initially_assigned_at", t.assigned_ms);
    opt_time(&mut o, "assigned_at", t.assigned_ms);
    opt_time(&mut o, "solved_at", t.solved_ms);
    opt_time(
        &mut o,
        "latest_comment_added_at",
        messages.last().map(|m| m.at_ms),
    );
    minutes_pair(
        &mut o,
        "reply_time_in_minutes",
        t.first_response_ms.map(|r| (t.created_ms, r)),
    );
    minutes_pair(
        &mut o,
        "first_resolution_time_in_minutes",
        t.first_solved_ms.map(|r| (t.created_ms, r)),
    );
    minutes_pair(
        &mut o,
        "full_resolution_time_in_minutes",
        t.solved_ms.map(|r| (t.created_ms, r)),
    );
    // The agent waits on the requester while the ticket is pending: not modelled, so zero.
    minutes_pair(
        &mut o,
        "agent_wait_time_in_minutes",
        t.solved_ms.map(|_| (t.created_ms, t.created_ms)),
    );
    minutes_pair(
        &mut o,
        "requester_wait_time_in_minutes",
        t.solved_ms.map(|r| (t.created_ms, r)),
    );
    minutes_pair(
        &mut o,
        "on_hold_time_in_minutes",
        Some((t.created_ms, t.created_ms)),
    );
    opt_time(
        &mut o,
        "custom_status_updated_at",
        Some(t.status_changed_ms),
    );
    o.end();
}

async fn ticket_metrics(State(s): St, Query(q): Q) -> Response {
    const KIND: &str = "zendesk.ticket_metrics.list";
    let (size, from) = match list_page(&q) {
        Ok(v) => v,
        Err(r) => return tagged(r, KIND, 0),
    };
    let w = s.world.read();
    let tickets = w.support().tickets();
    let (page, more) = page_of(
        tickets
            .iter()
            .filter(|t| !t.deleted)
            .map(|t| u64::from(t.index)),
        from,
        size,
    );
    let mut out = Vec::with_capacity(128 + page.len() * 1_200);
    out.extend_from_slice(b"{\"ticket_metrics\":[");
    for (k, i) in page.iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        render_metrics(&mut out, &w, &tickets[*i as usize], &s.base_url);
    }
    out.push(b']');
    list_envelope(
        &mut out,
        &s.base_url,
        "/api/v2/ticket_metrics",
        &page,
        more,
        size,
        &[],
    );
    tagged(json(StatusCode::OK, out), KIND, page.len() as u64)
}

async fn satisfaction_ratings(State(s): St, Query(q): Q) -> Response {
    const KIND: &str = "zendesk.satisfaction_ratings.list";
    let (size, from) = match list_page(&q) {
        Ok(v) => v,
        Err(r) => return tagged(r, KIND, 0),
    };
    let time = |key: &str| -> Result<Option<i64>, Response> {
        match param(&q, key) {
            None => Ok(None),
            Some(v) => v
                .parse::<i64>()
                .map(Some)
                .map_err(|_| invalid(&format!("{key} must be a Unix epoch time in seconds"))),
        }
    };
    let (start, end) = match (time("start_time"), time("end_time")) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(r), _) | (_, Err(r)) => return tagged(r, KIND, 0),
    };
    let score = param(&q, "score").unwrap_or("received");
    let wanted: fn(bool) -> bool = match score {
        "received" => |_| true,
        "good" => |good| good,
        "bad" => |good| !good,
        "offered" | "unoffered" => |_| false,
        other => {
            return tagged(invalid(&format!("{other} is not a valid score")), KIND, 0);
        }
    };
    let descending = match param(&q, "sort") {
        None | Some("created_at") => false,
        Some("-created_at") => true,
        Some(other) => {
            return tagged(invalid(&format!("Cannot sort by {other}")), KIND, 0);
        }
    };
    let w = s.world.read();
    let mut rated: Vec<&Ticket> = w
        .support()
        .rated_tickets()
        .filter(|t| !t.deleted)
        .filter(|t| {
            let c = t.csat.as_ref().expect("rated");
            let updated = secs(c.modified_ms);
            wanted(c.is_good())
                && start.is_none_or(|st| updated >= st)
                && end.is_none_or(|e| updated <= e)
        })
        .collect();
    rated.sort_unstable_by_key(|t| t.csat.as_ref().map(|c| c.index));
    if descending {
        rated.reverse();
    }
    // Positions are places in this filtered order.
    let (page, more) = page_of(0..rated.len() as u64, from, size);
    let mut out = Vec::with_capacity(128 + page.len() * 500);
    out.extend_from_slice(b"{\"satisfaction_ratings\":[");
    for (k, p) in page.iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        let t = rated[*p as usize];
        let c = t.csat.as_ref().expect("rated");
        let id = rating_id(c.index);
        let mut o = Obj::new(&mut out);
        o.str(
            "url",
            &format!("{}/api/v2/satisfaction_ratings/{id}.json", s.base_url),
        )
        .int("id", id as i64)
        .opt_int("assignee_id", t.assignee.map(|a| agent_id(a) as i64))
        .int("group_id", group_id(t.group) as i64)
        .int("requester_id", user_id(t.requester) as i64)
        .int("ticket_id", ticket_id(t.index) as i64)
        .str("score", if c.is_good() { "good" } else { "bad" })
        .with("created_at", |b| push_iso_secs(b, c.created_ms))
        .with("updated_at", |b| push_iso_secs(b, c.modified_ms))
        .opt_str("comment", c.comment);
        if c.is_good() {
            o.str("reason", "No reason provided").int("reason_code", 0);
        } else {
            o.str("reason", "The issue took too long to resolve")
                .int("reason_code", 5);
        }
        o.end();
    }
    out.push(b']');
    let keep: Vec<(String, String)> = q
        .iter()
        .filter(|(k, _)| matches!(k.as_str(), "start_time" | "end_time" | "score" | "sort"))
        .cloned()
        .collect();
    list_envelope(
        &mut out,
        &s.base_url,
        "/api/v2/satisfaction_ratings",
        &page,
        more,
        size,
        &keep,
    );
    tagged(json(StatusCode::OK, out), KIND, page.len() as u64)
}

async fn organizations(State(s): St, Query(q): Q) -> Response {
    const KIND: &str = "zendesk.organizations.list";
    let (size, from) = match list_page(&q) {
        Ok(v) => v,
        Err(r) => return tagged(r, KIND, 0),
    };
    let w = s.world.read();
    let companies = w.companies();
    let (page, more) = page_of(0..companies.len() as u64, from, size);
    let mut out = Vec::with_capacity(128 + page.len() * 500);
    out.extend_from_slice(b"{\"organizations\":[");
    for (k, i) in page.iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        let c = &companies[*i as usize];
        let id = org_id(c.index);
        let mut o = Obj::new(&mut out);
        o.str(
            "url",
            &format!("{}/api/v2/organizations/{id}.json", s.base_url),
        )
        .int("id", id as i64)
        .str("name", &c.name)
        .bool("shared_tickets", false)
        .bool("shared_comments", false)
        .str("external_id", &c.id.to_string())
        .with("created_at", |b| push_iso_secs(b, c.created_ms))
        .with("updated_at", |b| push_iso_secs(b, c.modified_ms))
        .with("domain_names", |b| {
            b.push(b'[');
            push_str(b, &c.domain);
            b.push(b']');
        })
        .str("details", &format!("{}, {}", c.city, c.country))
        .str("notes", "")
        .null("group_id")
        .with("tags", |b| {
            b.push(b'[');
            if let Some(p) = plan_of(&w, c.index) {
                push_str(b, p);
            }
            b.push(b']');
        })
        .with("organization_fields", |b| {
            let mut f = Obj::new(b);
            f.str("industry", c.industry.label())
                .int("employees", i64::from(c.employees));
            f.end();
        });
        o.end();
    }
    out.push(b']');
    list_envelope(
        &mut out,
        &s.base_url,
        "/api/v2/organizations",
        &page,
        more,
        size,
        &[],
    );
    tagged(json(StatusCode::OK, out), KIND, page.len() as u64)
}

async fn groups(State(s): St, Query(q): Q) -> Response {
    const KIND: &str = "zendesk.groups.list";
    let (size, from) = match list_page(&q) {
        Ok(v) => v,
        Err(r) => return tagged(r, KIND, 0),
    };
    let w = s.world.read();
    let groups = w.support().groups();
    let (page, more) = page_of(0..groups.len() as u64, from, size);
    let mut out = Vec::with_capacity(128 + page.len() * 300);
    out.extend_from_slice(b"{\"groups\":[");
    for (k, i) in page.iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        let g = &groups[*i as usize];
        let id = group_id(g.index);
        let mut o = Obj::new(&mut out);
        o.str("url", &format!("{}/api/v2/groups/{id}.json", s.base_url))
            .int("id", id as i64)
            .bool("is_public", true)
            .str("name", g.name)
            .str("description", g.description)
            .bool("default", g.index == 0)
            .bool("deleted", false)
            .with("created_at", |b| push_iso_secs(b, g.created_ms))
            .with("updated_at", |b| push_iso_secs(b, g.modified_ms));
        o.end();
    }
    out.push(b']');
    list_envelope(
        &mut out,
        &s.base_url,
        "/api/v2/groups",
        &page,
        more,
        size,
        &[],
    );
    tagged(json(StatusCode::OK, out), KIND, page.len() as u64)
}
