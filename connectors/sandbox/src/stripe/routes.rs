//! List endpoints: parameter validation, `created` windows, newest-first paging with
//! `starting_after` / `ending_before`, and the list envelope.

// Validation errors are ready-made responses; they are built once per bad request.
#![allow(clippy::result_large_err)]

use std::collections::HashSet;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::routing::get;
use http::{Request, StatusCode};

use super::ids::{Kind, parse};
use super::render::{self, secs};
use super::{StripeState, error, json};
use crate::jw::Obj;
use crate::qs::Params;
use crate::server::RouteInfo;
use crate::world::World;

/// Events older than this (ms) are no longer listed.
const EVENT_RETENTION_MS: i64 = 30 * 86_400_000;

type St = State<Arc<StripeState>>;

pub(super) fn router(state: Arc<StripeState>) -> Router {
    Router::new()
        .route("/v1/customers", get(customers))
        .route("/v1/products", get(products))
        .route("/v1/prices", get(prices))
        .route("/v1/subscriptions", get(subscriptions))
        .route("/v1/subscription_items", get(subscription_items))
        .route("/v1/invoices", get(invoices))
        .route("/v1/invoices/{id}/lines", get(invoice_lines))
        .route("/v1/charges", get(charges))
        .route("/v1/refunds", get(refunds))
        .route("/v1/events", get(events))
        .fallback(fallback)
        .with_state(state)
}

fn tagged(mut resp: Response, kind: &'static str, records: u64) -> Response {
    resp.extensions_mut().insert(RouteInfo { kind, records });
    resp
}

fn bad(message: &str, code: Option<&str>, param: Option<&str>) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        code,
        message,
        param,
    )
}

/// Validated list parameters.
struct ListParams {
    limit: usize,
    starting_after: Option<u64>,
    ending_before: Option<u64>,
    /// Inclusive `created` bounds in unix seconds.
    gte: Option<i64>,
    lte: Option<i64>,
}

const COMMON: &[&str] = &[
    "limit",
    "starting_after",
    "ending_before",
    "created",
    "created[gt]",
    "created[gte]",
    "created[lt]",
    "created[lte]",
];

fn object_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Customer => "customer",
        Kind::Product => "product",
        Kind::Price => "price",
        Kind::Subscription => "subscription",
        Kind::SubscriptionItem => "subscription_item",
        Kind::Invoice => "invoice",
        Kind::LineItem => "line_item",
        Kind::Charge => "charge",
        Kind::Refund => "refund",
        Kind::Event => "event",
        _ => "object",
    }
}

fn parse_list(p: &Params, kind: Kind, len: usize, extra: &[&str]) -> Result<ListParams, Response> {
    for k in p.keys() {
        if k.starts_with("expand") {
            let v = p.get(k).unwrap_or_default();
            return Err(bad(
                &format!("This property cannot be expanded ({v})."),
                None,
                Some(k),
            ));
        }
        if !COMMON.contains(&k) && !extra.contains(&k) {
            return Err(bad(
                &format!("Received unknown parameter: {k}"),
                Some("parameter_unknown"),
                Some(k),
            ));
        }
    }
    let int = |name: &str| -> Result<Option<i64>, Response> {
        match p.get(name) {
            None => Ok(None),
            Some(v) => v.trim().parse::<i64>().map(Some).map_err(|_| {
                bad(
                    &format!("Invalid integer: {v}"),
                    Some("parameter_invalid_integer"),
                    Some(name),
                )
            }),
        }
    };
    let limit = match int("limit")? {
        None => 10,
        Some(n) if n < 1 => {
            return Err(bad(
                &format!("This value must be greater than or equal to 1 (it currently is '{n}')."),
                Some("parameter_invalid_integer"),
                Some("limit"),
            ));
        }
        Some(n) if n > 100 => {
            return Err(bad(
                &format!("This value must be less than or equal to 100 (it currently is '{n}')."),
                Some("parameter_invalid_integer"),
                Some("limit"),
            ));
        }
        Some(n) => n as usize,
    };
    let mut gte = int("created[gte]")?;
    if let Some(v) = int("created[gt]")? {
        gte = Some(gte.map_or(v + 1, |g| g.max(v + 1)));
    }
    let mut lte = int("created[lte]")?;
    if let Some(v) = int("created[lt]")? {
        lte = Some(lte.map_or(v - 1, |l| l.min(v - 1)));
    }
    if let Some(v) = int("created")? {
        gte = Some(gte.map_or(v, |g| g.max(v)));
        lte = Some(lte.map_or(v, |l| l.min(v)));
    }
    let cursor = |name: &str| -> Result<Option<u64>, Response> {
        match p.get(name) {
            None | Some("") => Ok(None),
            Some(v) => match parse(kind, v) {
                Some(i) if (i as usize) < len => Ok(Some(i)),
                _ => Err(bad(
                    &format!("No such {}: '{v}'", object_name(kind)),
                    Some("resource_missing"),
                    Some(name),
                )),
            },
        }
    };
    let starting_after = cursor("starting_after")?;
    let ending_before = cursor("ending_before")?;
    if starting_after.is_some() && ending_before.is_some() {
        return Err(bad(
            "You may only specify one of these parameters: ending_before, starting_after.",
            None,
            None,
        ));
    }
    Ok(ListParams {
        limit,
        starting_after,
        ending_before,
        gte,
        lte,
    })
}

/// A page of a collection stored in creation order, listed newest first. Returns the indices
/// (newest first) and whether more items follow in the listing direction.
fn page(
    len: usize,
    created_ms: impl Fn(usize) -> i64,
    keep: impl Fn(usize) -> bool,
    lp: &ListParams,
) -> (Vec<usize>, bool) {
    let created = |i: usize| secs(created_ms(i));
    // Window [lo, hi) of indices whose creation second is within the bounds.
    let lo = match lp.gte {
        Some(g) => partition(len, |i| created(i) < g),
        None => 0,
    };
    let hi = match lp.lte {
        Some(l) => partition(len, |i| created(i) <= l),
        None => len,
    };
    let mut out = Vec::with_capacity(lp.limit);
    if let Some(before) = lp.ending_before {
        // The items just newer than the cursor, then shown newest first.
        let mut i = (before as usize + 1).max(lo);
        let mut more = false;
        while i < hi {
            if keep(i) {
                if out.len() == lp.limit {
                    more = true;
                    break;
                }
                out.push(i);
            }
            i += 1;
        }
        out.reverse();
        return (out, more);
    }
    let mut i = match lp.starting_after {
        Some(a) => (a as usize).min(hi),
        None => hi,
    };
    let mut more = false;
    while i > lo {
        i -= 1;
        if keep(i) {
            if out.len() == lp.limit {
                more = true;
                break;
            }
            out.push(i);
        }
    }
    (out, more)
}

/// First index in `0..n` where `pred` is false (`pred` monotone: true then false).
fn partition(n: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Writes the list envelope around `render`ed items.
fn envelope(
    url: &str,
    items: &[usize],
    more: bool,
    size_hint: usize,
    mut render: impl FnMut(&mut Vec<u8>, usize),
) -> Vec<u8> {
    let mut out = Vec::with_capacity(96 + items.len() * size_hint);
    let mut o = Obj::new(&mut out);
    o.str("object", "list").with("data", |b| {
        b.push(b'[');
        for (k, &i) in items.iter().enumerate() {
            if k > 0 {
                b.push(b',');
            }
            render(b, i);
        }
        b.push(b']');
    });
    o.bool("has_more", more).str("url", url);
    o.end();
    out
}

fn respond(kind: &'static str, body: Result<(Vec<u8>, u64), Response>) -> Response {
    match body {
        Ok((b, n)) => tagged(json(StatusCode::OK, b), kind, n),
        Err(resp) => tagged(resp, kind, 0),
    }
}

fn listed(
    w: &World,
    q: &Params,
    kind: Kind,
    len: usize,
    extra: &[&str],
    created_ms: impl Fn(&World, usize) -> i64,
    keep: impl Fn(&World, usize) -> bool,
) -> Result<(Vec<usize>, bool), Response> {
    let lp = parse_list(q, kind, len, extra)?;
    Ok(page(len, |i| created_ms(w, i), |i| keep(w, i), &lp))
}

async fn customers(State(st): St, RawQuery(q): RawQuery) -> Response {
    let q = Params::parse(q.as_deref());
    let w = st.world.read();
    let b = w.billing();
    let email = q.get("email").map(str::to_lowercase);
    let body = listed(
        &w,
        &q,
        Kind::Customer,
        b.customers().len(),
        &["email"],
        |w, i| w.billing().customers()[i].created_ms,
        |w, i| {
            let c = &w.billing().customers()[i];
            !c.deleted && email.as_deref().is_none_or(|e| c.email == e)
        },
    )
    .map(|(items, more)| {
        let body = envelope("/v1/customers", &items, more, 900, |out, i| {
            render::customer(out, &w, &b.customers()[i])
        });
        (body, items.len() as u64)
    });
    respond("stripe.customers.list", body)
}

async fn products(State(st): St, RawQuery(q): RawQuery) -> Response {
    let q = Params::parse(q.as_deref());
    let w = st.world.read();
    let b = w.billing();
    let active = q.get("active").map(|v| v == "true");
    let body = listed(
        &w,
        &q,
        Kind::Product,
        b.products().len(),
        &["active"],
        |w, i| w.billing().products()[i].created_ms,
        |_, _| active != Some(false),
    )
    .map(|(items, more)| {
        let body = envelope("/v1/products", &items, more, 600, |out, i| {
            render::product(out, &b.products()[i])
        });
        (body, items.len() as u64)
    });
    respond("stripe.products.list", body)
}

async fn prices(State(st): St, RawQuery(q): RawQuery) -> Response {
    let q = Params::parse(q.as_deref());
    let w = st.world.read();
    let b = w.billing();
    let active = q.get("active").map(|v| v == "true");
    let product = q
        .get("product")
        .map(|p| parse(Kind::Product, p).map(|i| i as u32));
    let ty = q.get("type").map(str::to_string);
    let body = if product == Some(None) {
        Err(bad(
            &format!(
                "No such product: '{}'",
                q.get("product").unwrap_or_default()
            ),
            Some("resource_missing"),
            Some("product"),
        ))
    } else {
        listed(
            &w,
            &q,
            Kind::Price,
            b.prices().len(),
            &["active", "product", "type", "currency"],
            |w, i| w.billing().prices()[i].created_ms,
            |w, i| {
                let p = &w.billing().prices()[i];
                active != Some(false)
                    && product.flatten().is_none_or(|x| p.product == x)
                    && ty.as_deref().is_none_or(|t| {
                        (t == "recurring") == p.recurring && (t == "one_time") != p.recurring
                    })
                    && q.get("currency").is_none_or(|c| c == p.currency.code())
            },
        )
    }
    .map(|(items, more)| {
        let body = envelope("/v1/prices", &items, more, 700, |out, i| {
            render::price(out, &w, &b.prices()[i])
        });
        (body, items.len() as u64)
    });
    respond("stripe.prices.list", body)
}

const SUBSCRIPTION_STATUSES: &[&str] = &[
    "active",
    "past_due",
    "unpaid",
    "canceled",
    "incomplete",
    "incomplete_expired",
    "trialing",
    "paused",
    "all",
    "ended",
];

async fn subscriptions(State(st): St, RawQuery(q): RawQuery) -> Response {
    let q = Params::parse(q.as_deref());
    let w = st.world.read();
    let b = w.billing();
    let embedded = st.config.embedded_list_limit;
    let status = q.get("status").map(str::to_string);
    if let Some(s) = &status
        && !SUBSCRIPTION_STATUSES.contains(&s.as_str())
    {
        return respond(
            "stripe.subscriptions.list",
            Err(bad(
                &format!(
                    "Invalid status: must be one of {}",
                    SUBSCRIPTION_STATUSES.join(", ")
                ),
                None,
                Some("status"),
            )),
        );
    }
    let customer = q.get("customer").map(|c| parse(Kind::Customer, c));
    let body = listed(
        &w,
        &q,
        Kind::Subscription,
        b.subscriptions().len(),
        &["status", "customer", "price"],
        |w, i| w.billing().subscriptions()[i].created_ms,
        |w, i| {
            let s = &w.billing().subscriptions()[i];
            let st = match status.as_deref() {
                Some("ended") => Some("canceled"),
                other => other,
            };
            render::subscription_status_matches(s, st)
                && customer.is_none_or(|c| c == Some(u64::from(s.customer)))
        },
    )
    .map(|(items, more)| {
        let body = envelope("/v1/subscriptions", &items, more, 2_000, |out, i| {
            render::subscription(out, &w, &b.subscriptions()[i], embedded)
        });
        (body, items.len() as u64)
    });
    respond("stripe.subscriptions.list", body)
}

async fn subscription_items(State(st): St, RawQuery(q): RawQuery) -> Response {
    let kind = "stripe.subscription_items.list";
    let q = Params::parse(q.as_deref());
    let w = st.world.read();
    let Some(sid) = q.get("subscription") else {
        return respond(
            kind,
            Err(bad(
                "Missing required param: subscription.",
                Some("parameter_missing"),
                Some("subscription"),
            )),
        );
    };
    let Some(s) =
        parse(Kind::Subscription, sid).and_then(|i| w.billing().subscriptions().get(i as usize))
    else {
        return respond(
            kind,
            Err(bad(
                &format!("No such subscription: '{sid}'"),
                Some("resource_missing"),
                Some("subscription"),
            )),
        );
    };
    // One item per subscription: the whole list is one page.
    let mut out = Vec::with_capacity(1_500);
    render::subscription_items(&mut out, &w, s, 1);
    respond(kind, Ok((out, 1)))
}

async fn invoices(State(st): St, RawQuery(q): RawQuery) -> Response {
    let q = Params::parse(q.as_deref());
    let w = st.world.read();
    let b = w.billing();
    let embedded = st.config.embedded_list_limit;
    let status = q.get("status").map(str::to_string);
    let customer = q.get("customer").map(|c| parse(Kind::Customer, c));
    let subscription = q.get("subscription").map(|c| parse(Kind::Subscription, c));
    let body = listed(
        &w,
        &q,
        Kind::Invoice,
        b.invoices().len(),
        &["status", "customer", "subscription", "collection_method"],
        |w, i| w.billing().invoices()[i].created_ms,
        |w, i| {
            let inv = &w.billing().invoices()[i];
            status.as_deref().is_none_or(|s| inv.status.as_str() == s)
                && customer.is_none_or(|c| c == Some(u64::from(inv.customer)))
                && subscription.is_none_or(|s| s.is_some() && s == inv.subscription.map(u64::from))
        },
    )
    .map(|(items, more)| {
        let body = envelope("/v1/invoices", &items, more, 3_000, |out, i| {
            render::invoice(out, &w, &b.invoices()[i], embedded)
        });
        (body, items.len() as u64)
    });
    respond("stripe.invoices.list", body)
}

async fn invoice_lines(State(st): St, Path(id): Path<String>, RawQuery(q): RawQuery) -> Response {
    let kind = "stripe.invoice_lines.list";
    let q = Params::parse(q.as_deref());
    let w = st.world.read();
    let b = w.billing();
    let Some(inv) = parse(Kind::Invoice, &id).and_then(|i| b.invoices().get(i as usize)) else {
        return respond(
            kind,
            Err(error(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                Some("resource_missing"),
                &format!("No such invoice: '{id}'"),
                Some("id"),
            )),
        );
    };
    let lines = b.invoice_lines(inv);
    let lp = match parse_list(&q, Kind::LineItem, usize::MAX, &[]) {
        Ok(lp) => lp,
        Err(e) => return respond(kind, Err(e)),
    };
    // Line ids encode `invoice * 4 + line`; lines list in order.
    let skip = match lp.starting_after {
        Some(key) if key / 4 == u64::from(inv.index) => (key % 4) as usize + 1,
        Some(_) => {
            return respond(
                kind,
                Err(bad(
                    "No such line_item for this invoice.",
                    Some("resource_missing"),
                    Some("starting_after"),
                )),
            );
        }
        None => 0,
    };
    let mut out = Vec::with_capacity(2_000);
    let n = render::invoice_lines(&mut out, &w, inv, &lines, skip, lp.limit);
    respond(kind, Ok((out, n as u64)))
}

async fn charges(State(st): St, RawQuery(q): RawQuery) -> Response {
    let q = Params::parse(q.as_deref());
    let w = st.world.read();
    let b = w.billing();
    let customer = q.get("customer").map(|c| parse(Kind::Customer, c));
    let body = listed(
        &w,
        &q,
        Kind::Charge,
        b.charges().len(),
        &["customer", "payment_intent"],
        |w, i| w.billing().charges()[i].created_ms,
        |w, i| {
            let c = &w.billing().charges()[i];
            customer.is_none_or(|x| x == Some(u64::from(c.customer)))
        },
    )
    .map(|(items, more)| {
        let body = envelope("/v1/charges", &items, more, 1_800, |out, i| {
            render::charge(out, &w, &b.charges()[i])
        });
        (body, items.len() as u64)
    });
    respond("stripe.charges.list", body)
}

async fn refunds(State(st): St, RawQuery(q): RawQuery) -> Response {
    let q = Params::parse(q.as_deref());
    let w = st.world.read();
    let b = w.billing();
    let charge = q.get("charge").map(|c| parse(Kind::Charge, c));
    let body = listed(
        &w,
        &q,
        Kind::Refund,
        b.refunds().len(),
        &["charge", "payment_intent"],
        |w, i| w.billing().refunds()[i].created_ms,
        |w, i| charge.is_none_or(|c| c == Some(u64::from(w.billing().refunds()[i].charge))),
    )
    .map(|(items, more)| {
        let body = envelope("/v1/refunds", &items, more, 600, |out, i| {
            render::refund(out, &w, &b.refunds()[i])
        });
        (body, items.len() as u64)
    });
    respond("stripe.refunds.list", body)
}

/// `customer.updated` matches `customer.updated` and `customer.*`.
fn type_matches(patterns: &[&str], kind: &str) -> bool {
    patterns.is_empty()
        || patterns.iter().any(|p| match p.strip_suffix(".*") {
            Some(prefix) => kind
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('.')),
            None => *p == kind,
        })
}

/// The object family of an event type (`customer.subscription.updated` → `subscription`).
fn event_family(kind: &str) -> &'static str {
    for (prefix, family) in [
        ("customer.subscription.", "subscription"),
        ("customer.", "customer"),
        ("invoice.", "invoice"),
        ("charge.refund.", "refund"),
        ("refund.", "refund"),
        ("charge.", "charge"),
        ("product.", "product"),
        ("price.", "price"),
    ] {
        if kind.starts_with(prefix) {
            return family;
        }
    }
    "other"
}

/// The stats route kind of an event listing: per object family when every requested type
/// belongs to one (`stripe.events.invoice.list`), else `stripe.events.list`.
fn events_route_kind(types: &[&str]) -> &'static str {
    let families: HashSet<&str> = types.iter().map(|t| event_family(t)).collect();
    match (families.len(), families.iter().next().copied()) {
        (1, Some("customer")) => "stripe.events.customer.list",
        (1, Some("subscription")) => "stripe.events.subscription.list",
        (1, Some("invoice")) => "stripe.events.invoice.list",
        (1, Some("charge")) => "stripe.events.charge.list",
        (1, Some("refund")) => "stripe.events.refund.list",
        (1, Some("product")) => "stripe.events.product.list",
        (1, Some("price")) => "stripe.events.price.list",
        _ => "stripe.events.list",
    }
}

async fn events(State(st): St, RawQuery(q): RawQuery) -> Response {
    let q = Params::parse(q.as_deref());
    let kind = events_route_kind(&q.all("types[]"));
    let w = st.world.read();
    let embedded = st.config.embedded_list_limit;
    let mut types: Vec<&str> = q.all("types[]");
    if let Some(t) = q.get("type") {
        if !types.is_empty() {
            return respond(
                kind,
                Err(bad(
                    "You may only specify one of these parameters: type, types.",
                    None,
                    None,
                )),
            );
        }
        types.push(t);
    }
    if types.len() > 20 {
        return respond(
            kind,
            Err(bad(
                "You can filter on at most 20 event types.",
                None,
                Some("types"),
            )),
        );
    }
    let retained_from = w.now_ms() - EVENT_RETENTION_MS;
    let events = w.billing().events();
    let body = listed(
        &w,
        &q,
        Kind::Event,
        events.len(),
        &["type", "types[]", "delivery_success"],
        |w, i| w.billing().events()[i].created_ms,
        |_, i| events[i].created_ms >= retained_from && type_matches(&types, events[i].kind),
    )
    .map(|(items, more)| {
        let body = envelope("/v1/events", &items, more, 3_000, |out, i| {
            render::event(out, &w, &events[i], embedded)
        });
        (body, items.len() as u64)
    });
    respond(kind, body)
}

async fn fallback(req: Request<Body>) -> Response {
    let msg = format!(
        "Unrecognized request URL ({}: {}). Please see https://stripe.com/docs or we can help at \
         https://support.stripe.com/.",
        req.method(),
        req.uri().path()
    );
    tagged(
        error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            None,
            &msg,
            None,
        ),
        "stripe.not_found",
        0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lp(limit: usize) -> ListParams {
        ListParams {
            limit,
            starting_after: None,
            ending_before: None,
            gte: None,
            lte: None,
        }
    }

    #[test]
    fn pages_newest_first_within_windows() {
        // Item i was created at second i / 2 (pairs share a second).
        let created = |i: usize| (i as i64 / 2) * 1000;
        let (p, more) = page(10, created, |_| true, &lp(4));
        assert_eq!((p, more), (vec![9, 8, 7, 6], true));
        let mut l = lp(4);
        l.starting_after = Some(6);
        assert_eq!(page(10, created, |_| true, &l), (vec![5, 4, 3, 2], true));
        l.starting_after = Some(2);
        assert_eq!(page(10, created, |_| true, &l), (vec![1, 0], false));
        let mut l = lp(3);
        l.ending_before = Some(2);
        assert_eq!(page(10, created, |_| true, &l), (vec![5, 4, 3], true));
        let mut w = lp(10);
        w.gte = Some(1);
        w.lte = Some(3);
        assert_eq!(
            page(10, created, |_| true, &w),
            (vec![7, 6, 5, 4, 3, 2], false)
        );
        assert_eq!(page(10, created, |i| i % 3 == 0, &w).0, vec![6, 3]);
        assert!(type_matches(&["customer.*"], "customer.updated"));
        assert!(!type_matches(&["customer.*"], "customer"));
        assert!(type_matches(&["invoice.paid"], "invoice.paid"));
        assert!(!type_matches(&["invoice.paid"], "invoice.created"));
        assert_eq!(
            events_route_kind(&[
                "customer.subscription.created",
                "customer.subscription.deleted"
            ]),
            "stripe.events.subscription.list"
        );
        assert_eq!(
            events_route_kind(&["refund.created", "charge.refund.updated"]),
            "stripe.events.refund.list"
        );
        assert_eq!(
            events_route_kind(&["customer.created", "customer.subscription.created"]),
            "stripe.events.list"
        );
    }
}
