//! Intercom endpoints: the conversation search, contacts (cursor paging), companies (page
//! paging with a `pages.next` URL), admins, teams and `/me`.

// Parameter checks return the finished error response.
#![allow(clippy::result_large_err)]

use std::ops::Bound;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use http::{Method, StatusCode};
use serde_json::Value;

use super::ids::*;
use super::{IntercomState, error, json};
use crate::json::push_str;
use crate::jw::Obj;
use crate::server::RouteInfo;
use crate::world::World;
use crate::world::support::{Author, Ticket, TicketChannel, TicketPriority, TicketStatus};

type St = State<Arc<IntercomState>>;
type Q = Query<Vec<(String, String)>>;

const SEARCH_DEFAULT: usize = 20;
const SEARCH_MAX: usize = 150;
const CONTACTS_DEFAULT: usize = 50;
const CONTACTS_MAX: usize = 150;
const COMPANIES_DEFAULT: usize = 15;
const COMPANIES_MAX: usize = 60;
/// The workspace (app) id.
const WORKSPACE: &str = "ecahpwf5";

pub(super) fn router(state: Arc<IntercomState>) -> Router {
    Router::new()
        .route("/conversations/search", post(search))
        .route("/contacts", get(contacts))
        .route("/companies", get(companies))
        .route("/admins", get(admins))
        .route("/teams", get(teams))
        .route("/me", get(me))
        .fallback(not_found)
        .with_state(state)
}

/// Versions the emulator knows (`Intercom-Version`).
pub(super) fn valid_version(v: &str) -> bool {
    matches!(
        v.trim(),
        "2.7" | "2.8" | "2.9" | "2.10" | "2.11" | "2.12" | "2.13" | "2.14" | "Unstable"
    )
}

/// The route kind of a request (for answers that never reach a handler).
pub(super) fn kind_of(method: &Method, path: &str) -> &'static str {
    match (method.as_str(), path.trim_end_matches('/')) {
        ("POST", "/conversations/search") => "intercom.conversations.search",
        ("GET", "/contacts") => "intercom.contacts.list",
        ("GET", "/companies") => "intercom.companies.list",
        ("GET", "/admins") => "intercom.admins.list",
        ("GET", "/teams") => "intercom.teams.list",
        ("GET", "/me") => "intercom.me",
        _ => "intercom.not_found",
    }
}

fn tagged(mut resp: Response, kind: &'static str, records: u64) -> Response {
    resp.extensions_mut().insert(RouteInfo { kind, records });
    resp
}

fn param<'a>(q: &'a [(String, String)], key: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn invalid(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "parameter_invalid", message)
}

async fn not_found() -> Response {
    tagged(
        error(StatusCode::NOT_FOUND, "not_found", "Resource Not Found"),
        "intercom.not_found",
        0,
    )
}

fn secs(ms: i64) -> i64 {
    ms.div_euclid(1000)
}

/// An opaque cursor: base64 of `a|b|page`.
fn cursor(a: i64, b: u64, page: usize) -> String {
    crate::zendesk::ids::base64_encode(format!("[{a},{b},{page}]").as_bytes())
}

fn parse_cursor(c: &str) -> Option<(i64, u64, usize)> {
    let text = String::from_utf8(crate::zendesk::ids::base64_decode(c)?).ok()?;
    let inner = text.strip_prefix('[')?.strip_suffix(']')?;
    let mut it = inner.split(',');
    let a = it.next()?.parse().ok()?;
    let b = it.next()?.parse().ok()?;
    let p = it.next()?.parse().ok()?;
    Some((a, b, p))
}

fn per_page(v: Option<&Value>, default: usize, max: usize) -> Result<usize, Response> {
    match v {
        None | Some(Value::Null) => Ok(default),
        Some(v) => match v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        {
            Some(n) if (1..=max as u64).contains(&n) => Ok(n as usize),
            _ => Err(invalid(&format!("per_page must be between 1 and {max}"))),
        },
    }
}

fn pages_obj(o: &mut Obj<'_>, page: usize, per_page: usize, total: usize, next: Option<String>) {
    o.with("pages", |b| {
        let mut p = Obj::new(b);
        p.str("type", "pages");
        if let Some(n) = &next {
            p.with("next", |b| {
                let mut nx = Obj::new(b);
                nx.int("page", page as i64 + 1).str("starting_after", n);
                nx.end();
            });
        }
        p.int("page", page as i64)
            .int("per_page", per_page as i64)
            .int("total_pages", total.div_ceil(per_page).max(1) as i64);
        p.end();
    });
}

// ----- conversation search -----------------------------------------------------------------

/// One comparison of a search query.
#[derive(Debug, Clone, Copy)]
struct Cond {
    created: bool,
    op: char,
    value: i64,
}

impl Cond {
    fn holds(&self, t: &Ticket) -> bool {
        let v = secs(if self.created {
            t.created_ms
        } else {
            t.updated_ms
        });
        match self.op {
            '>' => v > self.value,
            '<' => v < self.value,
            '=' => v == self.value,
            _ => v != self.value,
        }
    }
}

fn conds(q: &Value, out: &mut Vec<Cond>) -> Result<(), Response> {
    if let Some(field) = q.get("field").and_then(|f| f.as_str()) {
        let created = match field {
            "updated_at" => false,
            "created_at" => true,
            other => {
                return Err(invalid(&format!(
                    "{other} is not a searchable field in this emulator"
                )));
            }
        };
        let op = match q.get("operator").and_then(|o| o.as_str()) {
            Some(">") => '>',
            Some("<") => '<',
            Some("=") => '=',
            Some("!=") => '!',
            Some(other) => {
                return Err(invalid(&format!(
                    "operator {other} is not valid for {field}"
                )));
            }
            None => return Err(invalid("operator is required")),
        };
        let value = q
            .get("value")
            .and_then(|v| {
                v.as_i64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
            .ok_or_else(|| invalid(&format!("{field} needs an integer value")))?;
        out.push(Cond { created, op, value });
        return Ok(());
    }
    match q.get("operator").and_then(|o| o.as_str()) {
        Some("AND") => {
            for sub in q
                .get("value")
                .and_then(|v| v.as_array())
                .ok_or_else(|| invalid("AND needs a list of conditions"))?
            {
                conds(sub, out)?;
            }
            Ok(())
        }
        _ => Err(invalid("query must be a field condition or an AND of them")),
    }
}

async fn search(State(s): St, body: String) -> Response {
    const KIND: &str = "intercom.conversations.search";
    let Ok(v) = serde_json::from_str::<Value>(&body) else {
        return tagged(invalid("the body is not JSON"), KIND, 0);
    };
    let Some(query) = v.get("query") else {
        return tagged(
            error(
                StatusCode::BAD_REQUEST,
                "parameter_not_found",
                "query is required",
            ),
            KIND,
            0,
        );
    };
    let mut cs = Vec::new();
    if let Err(r) = conds(query, &mut cs) {
        return tagged(r, KIND, 0);
    }
    match (
        v.pointer("/sort/field").and_then(|f| f.as_str()),
        v.pointer("/sort/order").and_then(|f| f.as_str()),
    ) {
        (None | Some("updated_at"), None | Some("ascending")) => {}
        _ => {
            return tagged(
                invalid("this emulator sorts by updated_at ascending only"),
                KIND,
                0,
            );
        }
    }
    let per = match per_page(
        v.pointer("/pagination/per_page"),
        SEARCH_DEFAULT,
        SEARCH_MAX,
    ) {
        Ok(n) => n,
        Err(r) => return tagged(r, KIND, 0),
    };
    let after = match v
        .pointer("/pagination/starting_after")
        .and_then(|c| c.as_str())
    {
        None => None,
        Some(c) => match parse_cursor(c) {
            Some(p) => Some(p),
            None => return tagged(invalid("starting_after is not a valid cursor"), KIND, 0),
        },
    };
    let w = s.world.read();
    let support = w.support();
    // The lower bound of updated_at (the usual incremental filter) narrows the walk.
    let floor = cs
        .iter()
        .filter(|c| !c.created && c.op == '>')
        .map(|c| c.value + 1)
        .max();
    let start = match floor {
        Some(f) => Bound::Included((f, 0)),
        None => Bound::Unbounded,
    };
    let matches = |t: &&Ticket| !t.deleted && cs.iter().all(|c| c.holds(t));
    let total = support.by_change(start).filter(matches).count();
    let from = match after {
        Some((sec, idx, _)) => Bound::Excluded((sec, idx as u32)),
        None => start,
    };
    let page_no = after.map_or(1, |(_, _, p)| p + 1);
    let mut rest = support.by_change(from).filter(matches);
    let page: Vec<&Ticket> = rest.by_ref().take(per).collect();
    let more = rest.next().is_some();
    let next = if more {
        page.last()
            .map(|t| cursor(secs(t.updated_ms), u64::from(t.index), page_no))
    } else {
        None
    };
    let mut out = Vec::with_capacity(256 + page.len() * 1_600);
    let mut o = Obj::new(&mut out);
    o.str("type", "conversation.list");
    pages_obj(&mut o, page_no, per, total, next);
    o.int("total_count", total as i64)
        .with("conversations", |b| {
            b.push(b'[');
            for (k, t) in page.iter().enumerate() {
                if k > 0 {
                    b.push(b',');
                }
                render_conversation(b, &w, t);
            }
            b.push(b']');
        });
    o.end();
    tagged(json(StatusCode::OK, out), KIND, page.len() as u64)
}

fn opt_secs(o: &mut Obj<'_>, key: &str, ms: Option<i64>) {
    o.opt_int(key, ms.map(secs));
}

fn topic_id(topic: &str) -> u64 {
    880 + topic
        .bytes()
        .fold(0u64, |a, b| (a * 31 + u64::from(b)) % 10_000)
}

fn render_conversation(out: &mut Vec<u8>, w: &World, t: &Ticket) {
    let messages = w.ticket_messages(t);
    let person = w.person(t.requester);
    let contact = contact_id(t.requester);
    let (state, open) = match t.status {
        TicketStatus::New | TicketStatus::Open => ("open", true),
        TicketStatus::Pending => ("snoozed", true),
        TicketStatus::Solved | TicketStatus::Closed => ("closed", false),
    };
    let waiting = if open && t.status != TicketStatus::Pending {
        messages
            .last()
            .filter(|m| matches!(m.author, Author::Requester(_)))
            .map(|m| m.at_ms)
    } else {
        None
    };
    let since_created = |ms: Option<i64>| ms.map(|m| (m - t.created_ms).div_euclid(1000));
    let mut o = Obj::new(out);
    o.str("type", "conversation")
        .str("id", &conversation_id(t.index))
        .int("created_at", secs(t.created_ms))
        .int("updated_at", secs(t.updated_ms));
    opt_secs(&mut o, "waiting_since", waiting);
    opt_secs(
        &mut o,
        "snoozed_until",
        (t.status == TicketStatus::Pending).then_some(t.status_changed_ms + 86_400_000),
    );
    o.bool("open", open)
        .str("state", state)
        .bool("read", t.replies > 0)
        .str(
            "priority",
            if matches!(t.priority, TicketPriority::High | TicketPriority::Urgent) {
                "priority"
            } else {
                "not_priority"
            },
        )
        .opt_str(
            "title",
            (t.channel == TicketChannel::Email).then_some(t.subject),
        )
        .opt_int("admin_assignee_id", t.assignee.map(|a| admin_id(a) as i64))
        .opt_int(
            "team_assignee_id",
            t.assignee.map(|_| team_id(t.group) as i64),
        )
        .with("source", |b| {
            let mut src = Obj::new(b);
            src.str(
                "type",
                match t.channel {
                    TicketChannel::Email => "email",
                    TicketChannel::Phone => "phone_call",
                    TicketChannel::Chat | TicketChannel::Web => "conversation",
                },
            )
            .str("id", &(2_101_000_000u64 + u64::from(t.index)).to_string())
            .str("delivered_as", "customer_initiated")
            .str(
                "subject",
                if t.channel == TicketChannel::Email {
                    t.subject
                } else {
                    ""
                },
            )
            .str(
                "body",
                &format!("<p>{}</p>", messages.first().map_or("", |m| m.body)),
            )
            .with("author", |b| {
                let mut a = Obj::new(b);
                a.str("type", "user").str("id", &contact);
                match &person {
                    Some(p) => {
                        a.str("name", &format!("{} {}", p.first_name, p.last_name))
                            .str("email", &p.email);
                    }
                    None => {
                        a.null("name").null("email");
                    }
                }
                a.end();
            })
            .null("url");
            src.end();
        })
        .with("contacts", |b| {
            let mut c = Obj::new(b);
            c.str("type", "contact.list").with("contacts", |b| {
                b.push(b'[');
                let mut x = Obj::new(b);
                x.str("type", "contact").str("id", &contact);
                match &person {
                    Some(p) => {
                        x.str("external_id", &p.id.to_string());
                    }
                    None => {
                        x.null("external_id");
                    }
                }
                x.end();
                b.push(b']');
            });
            c.end();
        })
        .with("tags", |b| {
            let mut tg = Obj::new(b);
            tg.str("type", "tag.list").with("tags", |b| {
                b.push(b'[');
                let mut x = Obj::new(b);
                x.str("type", "tag")
                    .str("id", &topic_id(t.topic).to_string())
                    .str("name", t.topic);
                x.end();
                b.push(b']');
            });
            tg.end();
        });
    match &t.csat {
        Some(c) => {
            o.with("conversation_rating", |b| {
                let mut r = Obj::new(b);
                r.int("rating", i64::from(c.score))
                    .opt_str("remark", c.comment)
                    .int("created_at", secs(c.created_ms))
                    .with("contact", |b| {
                        let mut x = Obj::new(b);
                        x.str("type", "contact").str("id", &contact);
                        x.end();
                    });
                match t.assignee {
                    Some(a) => {
                        r.with("teammate", |b| {
                            let mut x = Obj::new(b);
                            x.str("type", "admin").str("id", &admin_id(a).to_string());
                            x.end();
                        });
                    }
                    None => {
                        r.null("teammate");
                    }
                }
                r.end();
            });
        }
        None => {
            o.null("conversation_rating");
        }
    }
    o.with("statistics", |b| {
        let mut st = Obj::new(b);
        st.str("type", "conversation_statistics")
            .opt_int("time_to_assignment", since_created(t.assigned_ms))
            .opt_int("time_to_admin_reply", since_created(t.first_response_ms))
            .opt_int("time_to_first_close", since_created(t.first_solved_ms))
            .opt_int("time_to_last_close", since_created(t.solved_ms))
            .opt_int("median_time_to_reply", since_created(t.first_response_ms))
            .int("first_contact_reply_at", secs(t.created_ms));
        opt_secs(&mut st, "first_assignment_at", t.assigned_ms);
        opt_secs(&mut st, "first_admin_reply_at", t.first_response_ms);
        opt_secs(&mut st, "first_close_at", t.first_solved_ms);
        opt_secs(&mut st, "last_close_at", t.solved_ms);
        opt_secs(
            &mut st,
            "last_contact_reply_at",
            messages
                .iter()
                .rev()
                .find(|m| matches!(m.author, Author::Requester(_)))
                .map(|m| m.at_ms),
        );
        opt_secs(
            &mut st,
            "last_admin_reply_at",
            messages
                .iter()
                .rev()
                .find(|m| matches!(m.author, Author::Agent(_)) && m.public)
                .map(|m| m.at_ms),
        );
        st.int("count_reopens", i64::from(t.reopens))
            .int("count_assignments", i64::from(t.assignee.is_some()))
            .int("count_conversation_parts", messages.len() as i64);
        st.end();
    })
    .with("custom_attributes", |b| {
        let mut c = Obj::new(b);
        c.str("Topic", t.topic);
        c.end();
    });
    o.end();
}

// ----- contacts and companies ---------------------------------------------------------------

async fn contacts(State(s): St, Query(q): Q) -> Response {
    const KIND: &str = "intercom.contacts.list";
    let per = match per_page(
        param(&q, "per_page")
            .map(|v| Value::String(v.to_string()))
            .as_ref(),
        CONTACTS_DEFAULT,
        CONTACTS_MAX,
    ) {
        Ok(n) => n,
        Err(r) => return tagged(r, KIND, 0),
    };
    let after = match param(&q, "starting_after") {
        None | Some("") => None,
        Some(c) => match parse_cursor(c) {
            Some(p) => Some(p),
            None => return tagged(invalid("starting_after is not a valid cursor"), KIND, 0),
        },
    };
    let w = s.world.read();
    let mut users: Vec<(u64, i64, i64)> = w
        .support()
        .users()
        .map(|u| (u.person, u.created_ms, u.modified_ms))
        .collect();
    users.sort_unstable_by_key(|u| u.0);
    let total = users.len();
    let page_no = after.map_or(1, |(_, _, p)| p + 1);
    let mut rest = users
        .into_iter()
        .filter(|u| after.is_none_or(|(_, p, _)| u.0 > p));
    let page: Vec<(u64, i64, i64)> = rest.by_ref().take(per).collect();
    let more = rest.next().is_some();
    let next = if more {
        page.last().map(|u| cursor(0, u.0, page_no))
    } else {
        None
    };
    let mut out = Vec::with_capacity(256 + page.len() * 900);
    let mut o = Obj::new(&mut out);
    o.str("type", "list").with("data", |b| {
        b.push(b'[');
        for (k, (person, created, modified)) in page.iter().enumerate() {
            if k > 0 {
                b.push(b',');
            }
            let Some(p) = w.person(*person) else {
                b.extend_from_slice(b"null");
                continue;
            };
            let mut c = Obj::new(b);
            c.str("type", "contact")
                .str("id", &contact_id(*person))
                .str("workspace_id", WORKSPACE)
                .str("external_id", &p.id.to_string())
                .str("role", "user")
                .str("email", &p.email)
                .str("phone", &p.phone)
                .str("name", &format!("{} {}", p.first_name, p.last_name))
                .null("avatar")
                .null("owner_id")
                .bool("has_hard_bounced", false)
                .bool("marked_email_as_spam", false)
                .bool("unsubscribed_from_emails", p.email_opt_out)
                .int("created_at", secs(*created))
                .int("updated_at", secs(*modified))
                .int("signed_up_at", secs(*created))
                .int("last_seen_at", secs(*modified))
                .with("companies", |b| {
                    let mut l = Obj::new(b);
                    l.str("type", "list").with("data", |b| {
                        b.push(b'[');
                        let mut x = Obj::new(b);
                        x.str("id", &company_id(p.company))
                            .str("type", "company")
                            .str("url", &format!("/companies/{}", company_id(p.company)));
                        x.end();
                        b.push(b']');
                    });
                    l.end();
                })
                .with("custom_attributes", |b| {
                    let mut x = Obj::new(b);
                    x.str("job_title", p.job_title);
                    x.end();
                });
            c.end();
        }
        b.push(b']');
    });
    o.int("total_count", total as i64);
    pages_obj(&mut o, page_no, per, total, next);
    o.end();
    tagged(json(StatusCode::OK, out), KIND, page.len() as u64)
}

async fn companies(State(s): St, Query(q): Q) -> Response {
    const KIND: &str = "intercom.companies.list";
    let per = match per_page(
        param(&q, "per_page")
            .map(|v| Value::String(v.to_string()))
            .as_ref(),
        COMPANIES_DEFAULT,
        COMPANIES_MAX,
    ) {
        Ok(n) => n,
        Err(r) => return tagged(r, KIND, 0),
    };
    let page_no = match param(&q, "page").map(str::parse::<usize>) {
        None => 1,
        Some(Ok(n)) if n >= 1 => n,
        Some(_) => return tagged(invalid("page must be a positive integer"), KIND, 0),
    };
    let w = s.world.read();
    let all = w.companies();
    let total = all.len();
    let page: Vec<_> = all.iter().skip((page_no - 1) * per).take(per).collect();
    let more = page_no * per < total;
    let mut out = Vec::with_capacity(256 + page.len() * 700);
    let mut o = Obj::new(&mut out);
    o.str("type", "list").with("data", |b| {
        b.push(b'[');
        for (k, c) in page.iter().enumerate() {
            if k > 0 {
                b.push(b',');
            }
            let users = w
                .support()
                .users()
                .filter(|u| w.person(u.person).is_some_and(|p| p.company == c.index))
                .count();
            let mut x = Obj::new(b);
            x.str("type", "company")
                .str("id", &company_id(c.index))
                .str("name", &c.name)
                .str("app_id", WORKSPACE)
                .str("company_id", &c.id.to_string())
                .str("website", &format!("https://{}", c.domain))
                .str("industry", c.industry.label())
                .int("size", i64::from(c.employees))
                .int("monthly_spend", 0)
                .int("session_count", 0)
                .int("user_count", users as i64)
                .int("created_at", secs(c.created_ms))
                .int("updated_at", secs(c.modified_ms))
                .int("remote_created_at", secs(c.created_ms))
                .raw("plan", b"{}")
                .with("tags", |b| {
                    b.extend_from_slice(br#"{"type":"tag.list","tags":[]}"#);
                })
                .with("custom_attributes", |b| {
                    let mut ca = Obj::new(b);
                    ca.str("domain", &c.domain)
                        .str("country", c.country)
                        .int("annual_revenue", c.annual_revenue as i64);
                    ca.end();
                });
            x.end();
        }
        b.push(b']');
    });
    o.with("pages", |b| {
        let mut p = Obj::new(b);
        p.str("type", "pages");
        if more {
            p.str(
                "next",
                &format!(
                    "{}/companies?per_page={per}&page={}",
                    s.base_url,
                    page_no + 1
                ),
            );
        } else {
            p.null("next");
        }
        p.int("page", page_no as i64)
            .int("per_page", per as i64)
            .int("total_pages", total.div_ceil(per).max(1) as i64);
        p.end();
    })
    .int("total_count", total as i64);
    o.end();
    tagged(json(StatusCode::OK, out), KIND, page.len() as u64)
}

// ----- admins, teams, me ----------------------------------------------------------------------

fn render_admin(b: &mut Vec<u8>, w: &World, agent: u32) {
    let a = &w.support().agents()[agent as usize];
    let mut x = Obj::new(b);
    x.str("type", "admin")
        .str("email", &a.email)
        .str("id", &admin_id(agent).to_string())
        .str("name", &a.name())
        .str("job_title", "Support")
        .bool("away_mode_enabled", agent % 5 == 4)
        .bool("away_mode_reassign", false)
        .bool("has_inbox_seat", true)
        .with("team_ids", |b| {
            b.push(b'[');
            crate::json::push_u64(b, team_id(a.group));
            b.push(b']');
        });
    x.end();
}

async fn admins(State(s): St) -> Response {
    let w = s.world.read();
    let n = w.support().agents().len();
    let mut out = Vec::with_capacity(128 + n * 300);
    let mut o = Obj::new(&mut out);
    o.str("type", "admin.list").with("admins", |b| {
        b.push(b'[');
        for a in 0..n as u32 {
            if a > 0 {
                b.push(b',');
            }
            render_admin(b, &w, a);
        }
        b.push(b']');
    });
    o.end();
    tagged(json(StatusCode::OK, out), "intercom.admins.list", n as u64)
}

async fn teams(State(s): St) -> Response {
    let w = s.world.read();
    let support = w.support();
    let groups = support.groups();
    let mut out = Vec::with_capacity(128 + groups.len() * 200);
    let mut o = Obj::new(&mut out);
    o.str("type", "team.list").with("teams", |b| {
        b.push(b'[');
        for (k, g) in groups.iter().enumerate() {
            if k > 0 {
                b.push(b',');
            }
            let mut x = Obj::new(b);
            x.str("type", "team")
                .str("id", &team_id(g.index).to_string())
                .str("name", g.name)
                .with("admin_ids", |b| {
                    b.push(b'[');
                    let mut first = true;
                    for a in support.agents().iter().filter(|a| a.group == g.index) {
                        if !first {
                            b.push(b',');
                        }
                        first = false;
                        crate::json::push_u64(b, admin_id(a.index));
                    }
                    b.push(b']');
                });
            x.end();
        }
        b.push(b']');
    });
    o.end();
    tagged(
        json(StatusCode::OK, out),
        "intercom.teams.list",
        groups.len() as u64,
    )
}

async fn me(State(s): St) -> Response {
    let w = s.world.read();
    let mut out = Vec::with_capacity(512);
    render_admin(&mut out, &w, 0);
    // `/me` adds the workspace.
    out.pop();
    out.extend_from_slice(b",\"app\":{\"type\":\"app\",\"id_code\":");
    push_str(&mut out, WORKSPACE);
    out.extend_from_slice(b",\"name\":\"Revline\",\"region\":\"US\"}}");
    tagged(json(StatusCode::OK, out), "intercom.me", 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_versions_are_checked() {
        let c = cursor(1_714_521_600, 48_213, 3);
        assert_eq!(parse_cursor(&c), Some((1_714_521_600, 48_213, 3)));
        assert!(parse_cursor("nope").is_none());
        assert!(valid_version("2.11"));
        assert!(!valid_version("1.0"));
        assert_eq!(
            kind_of(&Method::POST, "/conversations/search"),
            "intercom.conversations.search"
        );
        assert_eq!(
            kind_of(&Method::GET, "/conversations/search"),
            "intercom.not_found"
        );
    }
}
