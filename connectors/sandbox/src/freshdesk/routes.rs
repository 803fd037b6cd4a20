//! Freshdesk endpoints: the ticket listing (with its page ceiling), conversations per ticket,
//! contacts, companies, agents, groups and satisfaction ratings. Every list is a bare JSON
//! array paged by `page` / `per_page` with a `Link: <…>; rel="next"` header when more follow.

// Parameter checks return the finished error response.
#![allow(clippy::result_large_err)]

use std::ops::Bound;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use chrono::{DateTime, NaiveDate};
use http::{HeaderValue, StatusCode};

use super::ids::*;
use super::{FreshdeskState, json, validation};
use crate::json::{push_iso_secs, push_str};
use crate::jw::Obj;
use crate::server::RouteInfo;
use crate::world::World;
use crate::world::support::{Author, Ticket, TicketChannel, TicketKind, TicketStatus};

type St = State<Arc<FreshdeskState>>;
type Q = Query<Vec<(String, String)>>;

/// Default `per_page`.
const DEFAULT_PER_PAGE: usize = 30;
/// Largest `per_page`.
const MAX_PER_PAGE: usize = 100;
/// Without `updated_since`, the listing only shows tickets created this recently.
const DEFAULT_WINDOW_MS: i64 = 30 * 86_400_000;
/// The support mailbox.
const SUPPORT_ADDRESS: &str = "support@revline.freshdesk.com";

pub(super) fn router(state: Arc<FreshdeskState>) -> Router {
    Router::new()
        .route("/api/v2/tickets", get(tickets))
        .route("/api/v2/tickets/{id}/conversations", get(conversations))
        .route("/api/v2/contacts", get(contacts))
        .route("/api/v2/companies", get(companies))
        .route("/api/v2/agents", get(agents))
        .route("/api/v2/agents/me", get(me))
        .route("/api/v2/groups", get(groups))
        .route(
            "/api/v2/surveys/satisfaction_ratings",
            get(satisfaction_ratings),
        )
        .fallback(not_found)
        .with_state(state)
}

/// The route kind of a path (for answers that never reach a handler).
pub(super) fn kind_of(path: &str, query: Option<&str>) -> &'static str {
    let p = path.trim_end_matches('/');
    match p {
        "/api/v2/tickets" => tickets_kind(query.is_some_and(|q| {
            q.split('&')
                .any(|kv| kv.starts_with("include=") && kv.len() > "include=".len())
        })),
        "/api/v2/contacts" => "freshdesk.contacts.list",
        "/api/v2/companies" => "freshdesk.companies.list",
        "/api/v2/agents" => "freshdesk.agents.list",
        "/api/v2/agents/me" => "freshdesk.agents.me",
        "/api/v2/groups" => "freshdesk.groups.list",
        "/api/v2/surveys/satisfaction_ratings" => "freshdesk.satisfaction_ratings.list",
        p if p.starts_with("/api/v2/tickets/") && p.ends_with("/conversations") => {
            "freshdesk.conversations.list"
        }
        _ => "freshdesk.not_found",
    }
}

fn tagged(mut resp: Response, kind: &'static str, records: u64) -> Response {
    resp.extensions_mut().insert(RouteInfo { kind, records });
    resp
}

fn param<'a>(q: &'a [(String, String)], key: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

async fn not_found() -> Response {
    // Freshdesk answers unknown resources with an empty 404.
    tagged(
        json(StatusCode::NOT_FOUND, Vec::new()),
        "freshdesk.not_found",
        0,
    )
}

/// `page` (from 1) and `per_page` of a list request.
#[derive(Debug, Clone, Copy)]
struct Paging {
    page: usize,
    per_page: usize,
}

impl Paging {
    fn skip(&self) -> usize {
        (self.page - 1).saturating_mul(self.per_page)
    }
}

fn paging(q: &[(String, String)]) -> Result<Paging, Response> {
    let page = match param(q, "page") {
        None => 1,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n >= 1 => n,
            _ => return Err(validation("page", "It should be a Positive Number")),
        },
    };
    let per_page = match param(q, "per_page") {
        None => DEFAULT_PER_PAGE,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=MAX_PER_PAGE).contains(&n) => n,
            _ => {
                return Err(validation(
                    "per_page",
                    "It should be a Positive Number less than or equal to 100",
                ));
            }
        },
    };
    Ok(Paging { page, per_page })
}

/// Percent-encodes a query component.
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

/// `<{base}{path}?{query with page+1}>; rel="next"`.
fn next_link(base: &str, path: &str, q: &[(String, String)], page: usize) -> String {
    let mut parts: Vec<String> = q
        .iter()
        .filter(|(k, _)| k != "page")
        .map(|(k, v)| format!("{}={}", pct(k), pct(v)))
        .collect();
    parts.push(format!("page={}", page + 1));
    format!("<{base}{path}?{}>; rel=\"next\"", parts.join("&"))
}

/// A bare-array page with a `Link` header when `more`.
fn page_response(
    s: &FreshdeskState,
    path: &str,
    q: &[(String, String)],
    paging: Paging,
    more: bool,
    body: Vec<u8>,
) -> Response {
    let mut resp = json(StatusCode::OK, body);
    if more {
        let link = next_link(&s.base_url, path, q, paging.page);
        if let Ok(v) = HeaderValue::from_str(&link) {
            resp.headers_mut().insert(http::header::LINK, v);
        }
    }
    resp
}

/// One page of `items` plus whether more follow.
fn slice<T>(items: impl Iterator<Item = T>, paging: Paging) -> (Vec<T>, bool) {
    let mut rest = items.skip(paging.skip());
    let page: Vec<T> = rest.by_ref().take(paging.per_page).collect();
    let more = rest.next().is_some();
    (page, more)
}

/// Parses Freshdesk's date filters: `2024-05-01T00:00:00Z` (any RFC 3339) or `2024-05-01`.
fn parse_since(v: &str) -> Option<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Some(t.timestamp_millis());
    }
    NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_millis())
}

fn since_param(q: &[(String, String)], key: &str) -> Result<Option<i64>, Response> {
    match param(q, key) {
        None => Ok(None),
        Some(v) => parse_since(v)
            .map(Some)
            .ok_or_else(|| validation(key, "It should be in the 'valid date' format")),
    }
}

fn array<T>(out: &mut Vec<u8>, items: &[T], mut f: impl FnMut(&mut Vec<u8>, &T)) {
    out.push(b'[');
    for (k, it) in items.iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        f(out, it);
    }
    out.push(b']');
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

fn plan_of(w: &World, company: u32) -> Option<&'static str> {
    let won = w
        .deals()
        .iter()
        .filter(|d| d.company == company && d.stage == crate::DealStage::ClosedWon)
        .map(|d| d.amount_cents)
        .max()?;
    Some(if won >= 5_000_000 {
        "enterprise"
    } else if won >= 1_000_000 {
        "growth"
    } else {
        "starter"
    })
}

// ----- tickets ---------------------------------------------------------------------------

/// What the ticket listing embeds (`include=…`).
#[derive(Debug, Default, Clone, Copy)]
struct Includes {
    description: bool,
    requester: bool,
    stats: bool,
    company: bool,
}

fn includes(q: &[(String, String)]) -> Result<Includes, Response> {
    let mut inc = Includes::default();
    for part in param(q, "include")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        match part {
            "description" => inc.description = true,
            "requester" => inc.requester = true,
            "stats" => inc.stats = true,
            "company" => inc.company = true,
            _ => {
                return Err(validation(
                    "include",
                    "It should be one of these values: 'requester,stats,company,description'",
                ));
            }
        }
    }
    Ok(inc)
}

/// Listings with `include=…` are counted apart (a connector's ticket stream embeds, its
/// conversation fan-out lists bare tickets).
fn tickets_kind(with_include: bool) -> &'static str {
    if with_include {
        "freshdesk.tickets.list_with_include"
    } else {
        "freshdesk.tickets.list"
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    Created,
    Updated,
}

async fn tickets(State(s): St, Query(q): Q) -> Response {
    let kind = tickets_kind(param(&q, "include").is_some_and(|i| !i.is_empty()));
    let paging = match paging(&q) {
        Ok(p) => p,
        Err(r) => return tagged(r, kind, 0),
    };
    let max_pages = s.config.max_pages.max(1) as usize;
    if paging.page > max_pages {
        return tagged(
            validation(
                "page",
                &format!("It should be a Positive Number less than or equal to {max_pages}"),
            ),
            kind,
            0,
        );
    }
    let inc = match includes(&q) {
        Ok(i) => i,
        Err(r) => return tagged(r, kind, 0),
    };
    let since = match since_param(&q, "updated_since") {
        Ok(v) => v,
        Err(r) => return tagged(r, kind, 0),
    };
    let order = match param(&q, "order_by") {
        None | Some("created_at") => Order::Created,
        Some("updated_at") => Order::Updated,
        Some(_) => {
            return tagged(
                validation(
                    "order_by",
                    "It should be one of these values: 'created_at,due_by,updated_at,status'",
                ),
                kind,
                0,
            );
        }
    };
    let descending = match param(&q, "order_type") {
        None | Some("desc") => true,
        Some("asc") => false,
        Some(_) => {
            return tagged(
                validation("order_type", "It should be one of these values: 'asc,desc'"),
                kind,
                0,
            );
        }
    };
    let deleted = match param(&q, "filter") {
        None => false,
        Some("deleted") => true,
        Some(_) => {
            return tagged(
                validation(
                    "filter",
                    "It should be one of these values: 'new_and_my_open,watching,spam,deleted'",
                ),
                kind,
                0,
            );
        }
    };
    let w = s.world.read();
    let support = w.support();
    let created_floor = w.now_ms() - DEFAULT_WINDOW_MS;
    let keep = |t: &&Ticket| {
        t.deleted == deleted
            && match since {
                Some(ms) => t.updated_ms.div_euclid(1000) >= ms.div_euclid(1000),
                None => t.created_ms >= created_floor,
            }
    };
    let (page, more) = if order == Order::Updated && !descending {
        // The change order, from the requested second on.
        let from = since.map_or(Bound::Unbounded, |ms| {
            Bound::Included((ms.div_euclid(1000), 0))
        });
        slice(support.by_change(from).filter(keep), paging)
    } else {
        let mut all: Vec<&Ticket> = support.tickets().iter().filter(keep).collect();
        if order == Order::Updated {
            all.sort_by_key(|t| (t.updated_ms.div_euclid(1000), t.index));
        }
        if descending {
            all.reverse();
        }
        slice(all.into_iter(), paging)
    };
    let mut out = Vec::with_capacity(64 + page.len() * 1_500);
    array(&mut out, &page, |b, t| {
        render_ticket(b, &w, t, inc, deleted)
    });
    // The listing stops at the ceiling: no link beyond it.
    let more = more && paging.page < max_pages;
    tagged(
        page_response(&s, "/api/v2/tickets", &q, paging, more, out),
        kind,
        page.len() as u64,
    )
}

fn ticket_type(k: TicketKind) -> &'static str {
    match k {
        TicketKind::Question => "Question",
        TicketKind::Incident => "Incident",
        TicketKind::Problem => "Problem",
        TicketKind::Task => "Feature Request",
    }
}

/// Hours until the first response and the resolution are due, by priority.
fn sla_hours(t: &Ticket) -> (i64, i64) {
    match crate::freshdesk::ids::priority_code(t.priority) {
        4 => (1, 4),
        3 => (4, 24),
        2 => (8, 48),
        _ => (24, 72),
    }
}

fn html(text: &str) -> String {
    let escaped = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    format!("<div>{escaped}</div>")
}

/// One ticket as the listing renders it.
fn render_ticket(out: &mut Vec<u8>, w: &World, t: &Ticket, inc: Includes, deleted: bool) {
    let messages = w.ticket_messages(t);
    let person = w.person(t.requester);
    let (fr_hours, due_hours) = sla_hours(t);
    let fr_due = t.created_ms + fr_hours * 3_600_000;
    let due = t.created_ms + due_hours * 3_600_000;
    let now = w.now_ms();
    let fr_escalated = t.first_response_ms.map_or(now > fr_due, |r| r > fr_due);
    let is_escalated = t.first_solved_ms.map_or(now > due, |r| r > due);
    let mut o = Obj::new(out);
    o.raw("cc_emails", b"[]")
        .raw("fwd_emails", b"[]")
        .raw("reply_cc_emails", b"[]")
        .raw("ticket_cc_emails", b"[]")
        .bool("fr_escalated", fr_escalated)
        .bool("spam", false)
        .int("email_config_id", EMAIL_CONFIG_ID as i64)
        .int("group_id", group_id(t.group) as i64)
        .int("priority", priority_code(t.priority))
        .int("requester_id", contact_id(t.requester) as i64)
        .opt_int("responder_id", t.assignee.map(|a| agent_id(a) as i64))
        .int("source", source_code(t.channel))
        .int("company_id", company_id(t.company) as i64)
        .int("status", status_code(t.status))
        .str("subject", t.subject)
        .null("association_type")
        .null("support_email")
        .with("to_emails", |b| {
            if t.channel == TicketChannel::Email {
                b.push(b'[');
                push_str(b, SUPPORT_ADDRESS);
                b.push(b']');
            } else {
                b.extend_from_slice(b"null");
            }
        })
        .null("product_id")
        .int("id", ticket_id(t.index) as i64)
        .str("type", ticket_type(t.kind))
        .with("due_by", |b| push_iso_secs(b, due))
        .with("fr_due_by", |b| push_iso_secs(b, fr_due))
        .bool("is_escalated", is_escalated)
        .with("custom_fields", |b| {
            let mut f = Obj::new(b);
            f.opt_str("cf_plan", plan_of(w, t.company))
                .str("cf_topic", t.topic);
            f.end();
        })
        .with("created_at", |b| push_iso_secs(b, t.created_ms))
        .with("updated_at", |b| push_iso_secs(b, t.updated_ms))
        .null("associated_tickets_count")
        .with("tags", |b| {
            b.push(b'[');
            push_str(b, t.topic);
            b.push(b']');
        })
        .null("nr_due_by")
        .bool("nr_escalated", false);
    if deleted {
        o.bool("deleted", true);
    }
    let first = messages.first().map_or("", |m| m.body);
    if inc.description {
        o.str("description", &html(first))
            .str("description_text", first);
    }
    if inc.requester {
        o.with("requester", |b| {
            let mut r = Obj::new(b);
            r.int("id", contact_id(t.requester) as i64);
            match &person {
                Some(p) => {
                    r.str("name", &format!("{} {}", p.first_name, p.last_name))
                        .str("email", &p.email)
                        .null("mobile")
                        .str("phone", &p.phone);
                }
                None => {
                    r.null("name").null("email").null("mobile").null("phone");
                }
            }
            r.end();
        });
    }
    if inc.company {
        let c = &w.companies()[t.company as usize];
        o.with("company", |b| {
            let mut r = Obj::new(b);
            r.int("id", company_id(t.company) as i64)
                .str("name", &c.name);
            r.end();
        });
    }
    if inc.stats {
        let last_agent = messages
            .iter()
            .rev()
            .find(|m| matches!(m.author, Author::Agent(_)) && m.public)
            .map(|m| m.at_ms);
        let last_requester = messages
            .iter()
            .skip(1)
            .rev()
            .find(|m| matches!(m.author, Author::Requester(_)))
            .map(|m| m.at_ms);
        let reopened = if t.reopens > 0 {
            t.first_solved_ms.and_then(|solved| {
                messages
                    .iter()
                    .find(|m| matches!(m.author, Author::Requester(_)) && m.at_ms > solved)
                    .map(|m| m.at_ms)
            })
        } else {
            None
        };
        o.with("stats", |b| {
            let mut st = Obj::new(b);
            opt_time(&mut st, "agent_responded_at", last_agent);
            opt_time(&mut st, "requester_responded_at", last_requester);
            opt_time(&mut st, "first_responded_at", t.first_response_ms);
            opt_time(&mut st, "status_updated_at", Some(t.status_changed_ms));
            opt_time(&mut st, "reopened_at", reopened);
            opt_time(&mut st, "resolved_at", t.solved_ms);
            opt_time(&mut st, "closed_at", t.closed_ms);
            opt_time(
                &mut st,
                "pending_since",
                (t.status == TicketStatus::Pending).then_some(t.status_changed_ms),
            );
            st.end();
        });
    }
    o.end();
}

// ----- conversations ---------------------------------------------------------------------

async fn conversations(State(s): St, Path(id): Path<String>, Query(q): Q) -> Response {
    const KIND: &str = "freshdesk.conversations.list";
    let paging = match paging(&q) {
        Ok(p) => p,
        Err(r) => return tagged(r, KIND, 0),
    };
    let w = s.world.read();
    let ticket = id
        .parse::<u64>()
        .ok()
        .and_then(ticket_index)
        .and_then(|i| w.support().tickets().get(i as usize))
        .filter(|t| !t.deleted);
    let Some(t) = ticket else {
        return tagged(json(StatusCode::NOT_FOUND, Vec::new()), KIND, 0);
    };
    let messages = w.ticket_messages(t);
    // The opening message is the ticket's description, not a conversation.
    let (page, more) = slice(messages.iter().skip(1), paging);
    let person = w.person(t.requester);
    let requester_email = person.as_ref().map(|p| p.email.clone());
    let mut out = Vec::with_capacity(64 + page.len() * 700);
    array(&mut out, &page, |b, m| {
        let mut o = Obj::new(b);
        let incoming = matches!(m.author, Author::Requester(_));
        let (user, from) = match m.author {
            Author::Requester(p) => (contact_id(p), requester_email.clone()),
            Author::Agent(a) => (
                agent_id(a),
                Some(w.support().agents()[a as usize].email.clone()),
            ),
        };
        o.str("body", &html(m.body))
            .str("body_text", m.body)
            .int("id", conversation_id(t.index, m.seq) as i64)
            .bool("incoming", incoming)
            .bool("private", !m.public)
            .int("user_id", user as i64)
            .opt_str(
                "support_email",
                (m.public && !incoming).then_some(SUPPORT_ADDRESS),
            )
            .int("source", if m.public { 0 } else { 2 })
            .int("category", if incoming { 2 } else { 3 })
            .with("to_emails", |b| {
                b.push(b'[');
                if m.public {
                    if incoming {
                        push_str(b, SUPPORT_ADDRESS);
                    } else if let Some(e) = &requester_email {
                        push_str(b, e);
                    }
                }
                b.push(b']');
            })
            .opt_str("from_email", if m.public { from.as_deref() } else { None })
            .raw("cc_emails", b"[]")
            .raw("bcc_emails", b"[]")
            .null("email_failure_count")
            .null("outgoing_failures")
            .with("created_at", |b| push_iso_secs(b, m.at_ms))
            .with("updated_at", |b| push_iso_secs(b, m.at_ms))
            .raw("attachments", b"[]")
            .int("ticket_id", ticket_id(t.index) as i64)
            .null("source_additional_info");
        o.end();
    });
    let path = format!("/api/v2/tickets/{}/conversations", ticket_id(t.index));
    tagged(
        page_response(&s, &path, &q, paging, more, out),
        KIND,
        page.len() as u64,
    )
}

// ----- contacts, companies, agents, groups ------------------------------------------------

const TIME_ZONES: &[&str] = &[
    "Eastern Time (US & Canada)",
    "Pacific Time (US & Canada)",
    "London",
    "Berlin",
];

async fn contacts(State(s): St, Query(q): Q) -> Response {
    const KIND: &str = "freshdesk.contacts.list";
    let paging = match paging(&q) {
        Ok(p) => p,
        Err(r) => return tagged(r, KIND, 0),
    };
    let since = match since_param(&q, "_updated_since") {
        Ok(v) => v,
        Err(r) => return tagged(r, KIND, 0),
    };
    let w = s.world.read();
    let mut users: Vec<(u64, i64, i64)> = w
        .support()
        .users()
        .filter(|u| since.is_none_or(|ms| u.modified_ms.div_euclid(1000) >= ms.div_euclid(1000)))
        .map(|u| (u.person, u.created_ms, u.modified_ms))
        .collect();
    users.sort_unstable_by_key(|u| u.0);
    let (page, more) = slice(users.into_iter(), paging);
    let mut out = Vec::with_capacity(64 + page.len() * 600);
    array(&mut out, &page, |b, (person, created, modified)| {
        let Some(p) = w.person(*person) else {
            b.extend_from_slice(b"null");
            return;
        };
        let id = contact_id(*person);
        let mut o = Obj::new(b);
        o.bool("active", true)
            .null("address")
            .int("company_id", company_id(p.company) as i64)
            .null("description")
            .str("email", &p.email)
            .int("id", id as i64)
            .str("job_title", p.job_title)
            .str("language", "en")
            .null("mobile")
            .str("name", &format!("{} {}", p.first_name, p.last_name))
            .str("phone", &p.phone)
            .str(
                "time_zone",
                TIME_ZONES[(id % TIME_ZONES.len() as u64) as usize],
            )
            .null("twitter_id")
            .raw("other_emails", b"[]")
            .null("facebook_id")
            .with("created_at", |b| push_iso_secs(b, *created))
            .with("updated_at", |b| push_iso_secs(b, *modified))
            .null("csat_rating")
            .null("preferred_source")
            .str("unique_external_id", &p.id.to_string())
            .raw("custom_fields", b"{}");
        o.end();
    });
    tagged(
        page_response(&s, "/api/v2/contacts", &q, paging, more, out),
        KIND,
        page.len() as u64,
    )
}

async fn companies(State(s): St, Query(q): Q) -> Response {
    const KIND: &str = "freshdesk.companies.list";
    let paging = match paging(&q) {
        Ok(p) => p,
        Err(r) => return tagged(r, KIND, 0),
    };
    let w = s.world.read();
    let (page, more) = slice(w.companies().iter(), paging);
    let mut out = Vec::with_capacity(64 + page.len() * 500);
    array(&mut out, &page, |b, c| {
        let plan = plan_of(&w, c.index);
        let mut o = Obj::new(b);
        o.int("id", company_id(c.index) as i64)
            .str("name", &c.name)
            .null("description")
            .str("note", &format!("{}, {}", c.city, c.country))
            .with("domains", |b| {
                b.push(b'[');
                push_str(b, &c.domain);
                b.push(b']');
            })
            .with("created_at", |b| push_iso_secs(b, c.created_ms))
            .with("updated_at", |b| push_iso_secs(b, c.modified_ms))
            .with("custom_fields", |b| {
                let mut f = Obj::new(b);
                f.opt_str("plan", plan)
                    .int("employees", i64::from(c.employees))
                    .str("crm_id", &c.id.to_string());
                f.end();
            })
            .opt_str(
                "health_score",
                plan.map(|_| {
                    if c.employees > 200 {
                        "Happy"
                    } else {
                        "Doing okay"
                    }
                }),
            )
            .str(
                "account_tier",
                match plan {
                    Some("enterprise") => "Premium",
                    Some(_) => "Basic",
                    None => "Free",
                },
            )
            .null("renewal_date")
            .str("industry", c.industry.label());
        o.end();
    });
    tagged(
        page_response(&s, "/api/v2/companies", &q, paging, more, out),
        KIND,
        page.len() as u64,
    )
}

fn render_agent(out: &mut Vec<u8>, w: &World, agent: u32) {
    let a = &w.support().agents()[agent as usize];
    let id = agent_id(agent);
    let mut o = Obj::new(out);
    o.bool("available", agent % 3 != 2)
        .bool("occasional", false)
        .int("id", id as i64)
        .int("ticket_scope", 2)
        .str(
            "signature",
            &format!("<div>{}<br>Revline Support</div>", a.name()),
        )
        .with("group_ids", |b| {
            b.push(b'[');
            crate::json::push_u64(b, group_id(a.group));
            b.push(b']');
        })
        .raw("role_ids", b"[48000000201]")
        .raw("skill_ids", b"[]")
        .null("available_since")
        .str("type", "support_agent")
        .bool("focus_mode", true)
        .with("contact", |b| {
            let mut c = Obj::new(b);
            c.bool("active", true)
                .str("email", &a.email)
                .str("job_title", "Support Agent")
                .str("language", "en")
                .with("last_login_at", |b| push_iso_secs(b, a.modified_ms))
                .null("mobile")
                .str("name", &a.name())
                .null("phone")
                .str(
                    "time_zone",
                    TIME_ZONES[(id % TIME_ZONES.len() as u64) as usize],
                )
                .with("created_at", |b| push_iso_secs(b, a.created_ms))
                .with("updated_at", |b| push_iso_secs(b, a.modified_ms));
            c.end();
        })
        .with("created_at", |b| push_iso_secs(b, a.created_ms))
        .with("updated_at", |b| push_iso_secs(b, a.modified_ms))
        .with("last_active_at", |b| push_iso_secs(b, a.modified_ms));
    o.end();
}

async fn agents(State(s): St, Query(q): Q) -> Response {
    const KIND: &str = "freshdesk.agents.list";
    let paging = match paging(&q) {
        Ok(p) => p,
        Err(r) => return tagged(r, KIND, 0),
    };
    let w = s.world.read();
    let (page, more) = slice(0..w.support().agents().len() as u32, paging);
    let mut out = Vec::with_capacity(64 + page.len() * 800);
    array(&mut out, &page, |b, a| render_agent(b, &w, *a));
    tagged(
        page_response(&s, "/api/v2/agents", &q, paging, more, out),
        KIND,
        page.len() as u64,
    )
}

async fn me(State(s): St) -> Response {
    let w = s.world.read();
    let mut out = Vec::with_capacity(800);
    render_agent(&mut out, &w, 0);
    tagged(json(StatusCode::OK, out), "freshdesk.agents.me", 1)
}

async fn groups(State(s): St, Query(q): Q) -> Response {
    const KIND: &str = "freshdesk.groups.list";
    let paging = match paging(&q) {
        Ok(p) => p,
        Err(r) => return tagged(r, KIND, 0),
    };
    let w = s.world.read();
    let support = w.support();
    let (page, more) = slice(support.groups().iter(), paging);
    let mut out = Vec::with_capacity(64 + page.len() * 400);
    array(&mut out, &page, |b, g| {
        let mut o = Obj::new(b);
        o.int("id", group_id(g.index) as i64)
            .str("name", g.name)
            .str("description", g.description)
            .null("escalate_to")
            .str("unassigned_for", "30m")
            .null("business_hour_id")
            .str("group_type", "support_agent_group")
            .with("agent_ids", |b| {
                b.push(b'[');
                let mut first = true;
                for a in support.agents().iter().filter(|a| a.group == g.index) {
                    if !first {
                        b.push(b',');
                    }
                    first = false;
                    crate::json::push_u64(b, agent_id(a.index));
                }
                b.push(b']');
            })
            .bool("auto_ticket_assign", g.index == 0)
            .with("created_at", |b| push_iso_secs(b, g.created_ms))
            .with("updated_at", |b| push_iso_secs(b, g.modified_ms));
        o.end();
    });
    tagged(
        page_response(&s, "/api/v2/groups", &q, paging, more, out),
        KIND,
        page.len() as u64,
    )
}

// ----- satisfaction ratings ----------------------------------------------------------------

async fn satisfaction_ratings(State(s): St, Query(q): Q) -> Response {
    const KIND: &str = "freshdesk.satisfaction_ratings.list";
    let paging = match paging(&q) {
        Ok(p) => p,
        Err(r) => return tagged(r, KIND, 0),
    };
    let since = match since_param(&q, "created_since") {
        Ok(v) => v,
        Err(r) => return tagged(r, KIND, 0),
    };
    let w = s.world.read();
    let mut rated: Vec<&Ticket> = w
        .support()
        .rated_tickets()
        .filter(|t| !t.deleted)
        .filter(|t| {
            let c = t.csat.as_ref().expect("rated");
            since.is_none_or(|ms| c.created_ms.div_euclid(1000) >= ms.div_euclid(1000))
        })
        .collect();
    rated.sort_unstable_by_key(|t| t.csat.as_ref().map(|c| c.index));
    let (page, more) = slice(rated.into_iter(), paging);
    let mut out = Vec::with_capacity(64 + page.len() * 400);
    array(&mut out, &page, |b, t| {
        let c = t.csat.as_ref().expect("rated");
        let mut o = Obj::new(b);
        o.int("id", rating_id(c.index) as i64)
            .int("survey_id", SURVEY_ID as i64)
            .int("user_id", contact_id(t.requester) as i64)
            .opt_int("agent_id", t.assignee.map(|a| agent_id(a) as i64))
            .opt_str("feedback", c.comment)
            .int("group_id", group_id(t.group) as i64)
            .int("ticket_id", ticket_id(t.index) as i64)
            .with("created_at", |b| push_iso_secs(b, c.created_ms))
            .with("updated_at", |b| push_iso_secs(b, c.modified_ms))
            .with("ratings", |b| {
                let mut r = Obj::new(b);
                r.int("default_question", rating_value(c.score));
                r.end();
            });
        o.end();
    });
    tagged(
        page_response(
            &s,
            "/api/v2/surveys/satisfaction_ratings",
            &q,
            paging,
            more,
            out,
        ),
        KIND,
        page.len() as u64,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_keep_the_query_and_move_the_page() {
        let q = vec![
            (
                "updated_since".to_string(),
                "2024-05-01T00:00:00Z".to_string(),
            ),
            ("page".to_string(), "2".to_string()),
            ("per_page".to_string(), "100".to_string()),
        ];
        assert_eq!(
            next_link("http://h", "/api/v2/tickets", &q, 2),
            "<http://h/api/v2/tickets?updated_since=2024-05-01T00%3A00%3A00Z&per_page=100&page=3>; rel=\"next\""
        );
        assert_eq!(
            parse_since("2024-05-01"),
            parse_since("2024-05-01T00:00:00Z")
        );
        assert!(parse_since("yesterday").is_none());
        assert_eq!(
            kind_of("/api/v2/tickets/12/conversations", None),
            "freshdesk.conversations.list"
        );
        assert_eq!(
            kind_of("/api/v2/tickets", Some("page=2&include=stats")),
            "freshdesk.tickets.list_with_include"
        );
        assert_eq!(
            kind_of("/api/v2/tickets", Some("include=&page=2")),
            "freshdesk.tickets.list"
        );
    }
}
