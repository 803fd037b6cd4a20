//! Stripe object shapes (API version 2024-06-20): money in integer minor units with a
//! lower-case currency, timestamps in unix seconds, ids with prefixes, nested lists with the
//! list envelope, `metadata` as string maps.

use super::ids::{Kind, id};
use crate::jw::Obj;
use crate::world::World;
use crate::world::billing::{
    BillingCustomer, BillingEvent, Charge, ChargeStatus, Discount, EventObject, Invoice,
    InvoiceLine, InvoiceStatus, Price, Product, Refund, Subscription, SubscriptionStatus,
};

/// Epoch milliseconds to Stripe's unix seconds.
pub(crate) fn secs(ms: i64) -> i64 {
    ms.div_euclid(1000)
}

/// ISO 3166 alpha-2 code of a world country.
pub(crate) fn country_code(country: &str) -> &'static str {
    match country {
        "United States" => "US",
        "Canada" => "CA",
        "United Kingdom" => "GB",
        "Ireland" => "IE",
        "Germany" => "DE",
        "France" => "FR",
        "Netherlands" => "NL",
        "Switzerland" => "CH",
        "Brazil" => "BR",
        "Australia" => "AU",
        "Singapore" => "SG",
        "India" => "IN",
        _ => "US",
    }
}

fn address(out: &mut Vec<u8>, w: &World, company: u32) {
    let c = &w.companies()[company as usize];
    let mut a = Obj::new(out);
    a.str("city", c.city)
        .str("country", country_code(c.country))
        .str("line1", &format!("{} Market Street", 100 + company % 900))
        .null("line2")
        .str(
            "postal_code",
            &format!("{:05}", 10_000 + (company * 37) % 89_999),
        )
        .null("state");
    a.end();
}

/// A customer.
pub(crate) fn customer(out: &mut Vec<u8>, w: &World, c: &BillingCustomer) {
    let company = &w.companies()[c.company as usize];
    let cid = id(Kind::Customer, u64::from(c.index));
    let mut o = Obj::new(out);
    o.str("id", &cid)
        .str("object", "customer")
        .with("address", |b| address(b, w, c.company))
        .int("balance", 0)
        .int("created", secs(c.created_ms))
        .str("currency", c.currency.code())
        .null("default_source")
        .bool("delinquent", c.delinquent)
        .str("description", &company.name)
        .null("discount")
        .str("email", &c.email)
        .str("invoice_prefix", &cid[4..12].to_uppercase())
        .with("invoice_settings", |b| {
            let mut s = Obj::new(b);
            s.null("custom_fields")
                .str(
                    "default_payment_method",
                    &id(Kind::PaymentMethod, u64::from(c.index)),
                )
                .null("footer")
                .null("rendering_options");
            s.end();
        })
        .bool("livemode", false)
        .with("metadata", |b| {
            let mut m = Obj::new(b);
            m.str("hubspot_company_id", &company.id.to_string());
            m.end();
        })
        .str("name", &company.name)
        .int("next_invoice_sequence", 1)
        .null("phone")
        .raw("preferred_locales", b"[]")
        .null("shipping")
        .str("tax_exempt", "none")
        .null("test_clock");
    o.end();
}

/// A product.
pub(crate) fn product(out: &mut Vec<u8>, p: &Product) {
    let mut o = Obj::new(out);
    o.str("id", &id(Kind::Product, u64::from(p.index)))
        .str("object", "product")
        .bool("active", true)
        .raw("attributes", b"[]")
        .int("created", secs(p.created_ms))
        .str("default_price", &id(Kind::Price, u64::from(p.index)))
        .str("description", &p.description)
        .raw("images", b"[]")
        .bool("livemode", false)
        .raw("marketing_features", b"[]")
        .raw("metadata", b"{}")
        .str("name", p.name)
        .null("package_dimensions")
        .null("shippable")
        .null("statement_descriptor")
        .str("tax_code", "txcd_10103001")
        .str("type", "service")
        .null("unit_label")
        .int("updated", secs(p.modified_ms))
        .null("url");
    o.end();
}

/// A price.
pub(crate) fn price(out: &mut Vec<u8>, w: &World, p: &Price) {
    let mut o = Obj::new(out);
    o.str("id", &id(Kind::Price, u64::from(p.index)))
        .str("object", "price")
        .bool("active", true)
        .str("billing_scheme", "per_unit")
        .int("created", secs(p.created_ms))
        .str("currency", p.currency.code())
        .null("custom_unit_amount")
        .bool("livemode", false);
    if p.list {
        let name = w.billing().products()[p.product as usize].name;
        let key = name.to_lowercase().replace([' ', '-'], "_");
        o.str("lookup_key", &key);
    } else {
        o.null("lookup_key");
    }
    o.with("metadata", |b| {
        let mut m = Obj::new(b);
        if let Some(d) = p.deal {
            m.str("hubspot_deal_id", &w.deals()[d as usize].id.to_string());
        }
        m.end();
    })
    .null("nickname")
    .str("product", &id(Kind::Product, u64::from(p.product)));
    if p.recurring {
        o.with("recurring", |b| {
            let mut r = Obj::new(b);
            r.null("aggregate_usage")
                .str("interval", "month")
                .int("interval_count", 1)
                .null("meter")
                .null("trial_period_days")
                .str("usage_type", "licensed");
            r.end();
        });
    } else {
        o.null("recurring");
    }
    o.str("tax_behavior", "unspecified")
        .null("tiers_mode")
        .null("transform_quantity")
        .str("type", if p.recurring { "recurring" } else { "one_time" })
        .int("unit_amount", p.unit_amount)
        .str("unit_amount_decimal", &p.unit_amount.to_string());
    o.end();
}

fn subscription_item(out: &mut Vec<u8>, w: &World, s: &Subscription) {
    let b = w.billing();
    let mut o = Obj::new(out);
    o.str("id", &id(Kind::SubscriptionItem, u64::from(s.index)))
        .str("object", "subscription_item")
        .null("billing_thresholds")
        .int("created", secs(s.created_ms))
        .raw("discounts", b"[]")
        .raw("metadata", b"{}")
        .with("price", |buf| price(buf, w, &b.prices()[s.price as usize]))
        .int("quantity", i64::from(s.quantity))
        .str("subscription", &id(Kind::Subscription, u64::from(s.index)))
        .raw("tax_rates", b"[]");
    o.end();
}

/// The items of a subscription as a page of a list (one item per subscription).
pub(crate) fn subscription_items(out: &mut Vec<u8>, w: &World, s: &Subscription, limit: usize) {
    let sid = id(Kind::Subscription, u64::from(s.index));
    let mut l = Obj::new(out);
    l.str("object", "list").with("data", |b| {
        b.push(b'[');
        if limit > 0 {
            subscription_item(b, w, s);
        }
        b.push(b']');
    });
    l.bool("has_more", limit == 0)
        .int("total_count", 1)
        .str("url", &format!("/v1/subscription_items?subscription={sid}"));
    l.end();
}

/// The current billing period of a subscription: its latest invoice's period.
fn current_period(w: &World, s: &Subscription) -> (i64, i64) {
    match s.latest_invoice {
        Some(i) => {
            let inv = &w.billing().invoices()[i as usize];
            (inv.period_start_ms, inv.period_end_ms)
        }
        None => (s.created_ms, s.created_ms),
    }
}

/// A subscription, with its items embedded (up to `embedded` of them).
pub(crate) fn subscription(out: &mut Vec<u8>, w: &World, s: &Subscription, embedded: usize) {
    let b = w.billing();
    let customer = &b.customers()[s.customer as usize];
    let price = &b.prices()[s.price as usize];
    let (start, end) = current_period(w, s);
    let mut o = Obj::new(out);
    o.str("id", &id(Kind::Subscription, u64::from(s.index)))
        .str("object", "subscription")
        .null("application")
        .int("billing_cycle_anchor", secs(s.created_ms))
        .null("cancel_at")
        .bool("cancel_at_period_end", false)
        .opt_int("canceled_at", s.canceled_ms.map(secs))
        .str("collection_method", "charge_automatically")
        .int("created", secs(s.created_ms))
        .str("currency", price.currency.code())
        .int("current_period_end", secs(end))
        .int("current_period_start", secs(start))
        .str("customer", &id(Kind::Customer, u64::from(customer.index)))
        .null("days_until_due")
        .null("default_payment_method")
        .null("description");
    match &s.discount {
        Some(d) => {
            o.with("discount", |buf| discount(buf, w, s, d));
        }
        None => {
            o.null("discount");
        }
    }
    o.opt_int("ended_at", s.canceled_ms.map(secs))
        .with("items", |buf| subscription_items(buf, w, s, embedded))
        .opt_str(
            "latest_invoice",
            s.latest_invoice
                .map(|i| id(Kind::Invoice, u64::from(i)))
                .as_deref(),
        )
        .bool("livemode", false)
        .with("metadata", |buf| {
            let mut m = Obj::new(buf);
            m.str(
                "hubspot_deal_id",
                &w.deals()[s.deal as usize].id.to_string(),
            );
            m.end();
        })
        .int("quantity", i64::from(s.quantity))
        .int("start_date", secs(s.created_ms))
        .str("status", s.status.as_str())
        .null("trial_end")
        .null("trial_start");
    o.end();
}

/// The Stripe id of a subscription's discount.
fn discount_id(s: &Subscription) -> String {
    format!("di_{}", &id(Kind::Subscription, u64::from(s.index))[4..])
}

/// A coupon's id: its terms, as teams name them (`10OFF_FOREVER`, `25OFF_3M`, `AMOUNT_FOREVER`).
fn coupon_id(d: &Discount) -> String {
    let what = match d.percent_off {
        Some(p) => format!("{p}OFF"),
        None => "AMOUNT".to_string(),
    };
    match d.months {
        Some(m) => format!("{what}_{m}M"),
        None => format!("{what}_FOREVER"),
    }
}

/// A subscription's discount object with its coupon.
fn discount(out: &mut Vec<u8>, w: &World, s: &Subscription, d: &Discount) {
    let b = w.billing();
    let currency = b.prices()[s.price as usize].currency;
    let mut o = Obj::new(out);
    o.str("id", &discount_id(s))
        .str("object", "discount")
        .null("checkout_session")
        .with("coupon", |buf| {
            let mut c = Obj::new(buf);
            c.str("id", &coupon_id(d))
                .str("object", "coupon")
                .opt_int("amount_off", d.amount_off)
                .opt_str("currency", d.amount_off.map(|_| currency.code()))
                .str(
                    "duration",
                    if d.months.is_some() {
                        "repeating"
                    } else {
                        "forever"
                    },
                )
                .opt_int("duration_in_months", d.months.map(i64::from))
                .bool("livemode", false)
                .null("max_redemptions")
                .raw("metadata", b"{}")
                .null("name");
            match d.percent_off {
                Some(p) => {
                    c.float("percent_off", f64::from(p));
                }
                None => {
                    c.null("percent_off");
                }
            }
            c.bool("valid", true);
            c.end();
        })
        .str("customer", &id(Kind::Customer, u64::from(s.customer)))
        .opt_int("end", d.end_ms().map(secs))
        .null("invoice")
        .null("invoice_item")
        .null("promotion_code")
        .int("start", secs(d.start_ms))
        .str("subscription", &id(Kind::Subscription, u64::from(s.index)));
    o.end();
}

/// One invoice line item.
pub(crate) fn line_item(out: &mut Vec<u8>, w: &World, inv: &Invoice, l: &InvoiceLine) {
    let b = w.billing();
    let currency = b.customers()[inv.customer as usize].currency;
    let key = u64::from(inv.index) * 4 + u64::from(l.number);
    let mut o = Obj::new(out);
    o.str("id", &id(Kind::LineItem, key))
        .str("object", "line_item")
        .int("amount", l.amount)
        .int("amount_excluding_tax", l.amount)
        .str("currency", currency.code())
        .str("description", &l.description);
    let off = if l.subscription_line {
        b.invoice_discount(inv)
    } else {
        0
    };
    let sub = inv.subscription.map(|s| &b.subscriptions()[s as usize]);
    discount_amounts(&mut o, "discount_amounts", off, sub);
    o.bool("discountable", true)
        .raw("discounts", b"[]")
        .str("invoice", &id(Kind::Invoice, u64::from(inv.index)));
    if l.subscription_line {
        o.null("invoice_item");
    } else {
        o.str("invoice_item", &id(Kind::InvoiceItem, key));
    }
    o.bool("livemode", false)
        .raw("metadata", b"{}")
        .with("period", |buf| {
            let mut p = Obj::new(buf);
            p.int("end", secs(inv.period_end_ms))
                .int("start", secs(inv.period_start_ms));
            p.end();
        })
        .with("price", |buf| price(buf, w, &b.prices()[l.price as usize]))
        .bool("proration", false)
        .int("quantity", i64::from(l.quantity));
    match inv.subscription {
        Some(s) => {
            o.str("subscription", &id(Kind::Subscription, u64::from(s)))
                .str(
                    "subscription_item",
                    &id(Kind::SubscriptionItem, u64::from(s)),
                );
        }
        None => {
            o.null("subscription").null("subscription_item");
        }
    }
    o.raw("tax_amounts", b"[]")
        .str(
            "type",
            if l.subscription_line {
                "subscription"
            } else {
                "invoiceitem"
            },
        )
        .str(
            "unit_amount_excluding_tax",
            &(l.amount / i64::from(l.quantity.max(1))).to_string(),
        );
    o.end();
}

/// A page of an invoice's lines: `lines[skip..skip + limit]`.
pub(crate) fn invoice_lines(
    out: &mut Vec<u8>,
    w: &World,
    inv: &Invoice,
    lines: &[InvoiceLine],
    skip: usize,
    limit: usize,
) -> usize {
    let iid = id(Kind::Invoice, u64::from(inv.index));
    let page: Vec<&InvoiceLine> = lines.iter().skip(skip).take(limit).collect();
    let mut l = Obj::new(out);
    l.str("object", "list").with("data", |b| {
        b.push(b'[');
        for (k, line) in page.iter().enumerate() {
            if k > 0 {
                b.push(b',');
            }
            line_item(b, w, inv, line);
        }
        b.push(b']');
    });
    l.bool("has_more", skip + page.len() < lines.len())
        .int("total_count", lines.len() as i64)
        .str("url", &format!("/v1/invoices/{iid}/lines"));
    l.end();
    page.len()
}

/// An invoice, with up to `embedded` lines.
pub(crate) fn invoice(out: &mut Vec<u8>, w: &World, inv: &Invoice, embedded: usize) {
    let b = w.billing();
    let customer = &b.customers()[inv.customer as usize];
    let company = &w.companies()[customer.company as usize];
    let lines = b.invoice_lines(inv);
    let subtotal: i64 = lines.iter().map(|l| l.amount).sum();
    let off = b.invoice_discount(inv);
    let total = subtotal - off;
    let paid = inv.status == InvoiceStatus::Paid;
    let iid = id(Kind::Invoice, u64::from(inv.index));
    let cid = id(Kind::Customer, u64::from(customer.index));
    let mut o = Obj::new(out);
    o.str("id", &iid)
        .str("object", "invoice")
        .str("account_country", "US")
        .str("account_name", "Revline Demo Inc.")
        .int("amount_due", total)
        .int("amount_paid", if paid { total } else { 0 })
        .int(
            "amount_remaining",
            if paid || inv.status == InvoiceStatus::Void {
                0
            } else {
                total
            },
        )
        .int("amount_shipping", 0)
        .int("attempt_count", i64::from(inv.attempts))
        .bool("attempted", inv.attempts > 0)
        .bool("auto_advance", inv.status == InvoiceStatus::Open)
        .str(
            "billing_reason",
            match (inv.subscription, inv.period) {
                (None, _) => "manual",
                (Some(_), 0) => "subscription_create",
                (Some(_), _) => "subscription_cycle",
            },
        )
        .opt_str(
            "charge",
            inv.charge
                .map(|c| id(Kind::Charge, u64::from(c)))
                .as_deref(),
        )
        .str("collection_method", "charge_automatically")
        .int("created", secs(inv.created_ms))
        .str("currency", customer.currency.code())
        .str("customer", &cid)
        .str("customer_email", &customer.email)
        .str("customer_name", &company.name)
        .opt_str("description", inv.note.as_deref())
        .null("due_date")
        .int("ending_balance", 0)
        .null("footer")
        .str(
            "hosted_invoice_url",
            &format!(
                "https://invoice.stripe.com/i/acct_1LkdIwHu7ix/test_{}",
                &iid[3..]
            ),
        )
        .with("lines", |buf| {
            invoice_lines(buf, w, inv, &lines, 0, embedded);
        })
        .bool("livemode", false)
        .with("metadata", |buf| {
            let mut m = Obj::new(buf);
            m.str(
                "hubspot_deal_id",
                &w.deals()[inv.deal as usize].id.to_string(),
            );
            m.end();
        })
        .str(
            "number",
            &format!(
                "{}-{:04}",
                &cid[4..12].to_uppercase(),
                inv.index % 10_000 + 1
            ),
        )
        .bool("paid", paid)
        .bool("paid_out_of_band", false)
        .opt_str(
            "payment_intent",
            (inv.attempts > 0)
                .then(|| id(Kind::PaymentIntent, u64::from(inv.index)))
                .as_deref(),
        )
        .int("period_end", secs(inv.period_end_ms))
        .int("period_start", secs(inv.period_start_ms))
        .str("status", inv.status.as_str())
        .with("status_transitions", |buf| {
            let mut t = Obj::new(buf);
            t.int("finalized_at", secs(inv.created_ms) + 1)
                .null("marked_uncollectible_at")
                .opt_int("paid_at", inv.paid_ms.map(secs))
                .null("voided_at");
            t.end();
        })
        .opt_str(
            "subscription",
            inv.subscription
                .map(|s| id(Kind::Subscription, u64::from(s)))
                .as_deref(),
        )
        .int("subtotal", subtotal)
        .null("tax")
        .int("total", total);
    let sub = inv.subscription.map(|s| &b.subscriptions()[s as usize]);
    discount_amounts(&mut o, "total_discount_amounts", off, sub);
    o.int("webhooks_delivered_at", secs(inv.created_ms) + 2);
    o.end();
}

/// A charge.
pub(crate) fn charge(out: &mut Vec<u8>, w: &World, c: &Charge) {
    let b = w.billing();
    let customer = &b.customers()[c.customer as usize];
    let company = &w.companies()[customer.company as usize];
    let inv = &b.invoices()[c.invoice as usize];
    let ok = c.status == ChargeStatus::Succeeded;
    let brands = ["visa", "mastercard", "amex"];
    let mut o = Obj::new(out);
    o.str("id", &id(Kind::Charge, u64::from(c.index)))
        .str("object", "charge")
        .int("amount", c.amount)
        .int("amount_captured", if ok { c.amount } else { 0 })
        .int("amount_refunded", c.refunded)
        .opt_str(
            "balance_transaction",
            ok.then(|| id(Kind::BalanceTransaction, u64::from(c.index)))
                .as_deref(),
        )
        .with("billing_details", |buf| {
            let mut d = Obj::new(buf);
            d.with("address", |a| address(a, w, customer.company))
                .str("email", &customer.email)
                .str("name", &company.name)
                .null("phone");
            d.end();
        })
        .str("calculated_statement_descriptor", "REVLINE DEMO")
        .bool("captured", ok)
        .int("created", secs(c.created_ms))
        .str("currency", customer.currency.code())
        .str("customer", &id(Kind::Customer, u64::from(customer.index)))
        .str(
            "description",
            if inv.period == 0 {
                "Subscription creation"
            } else {
                "Subscription update"
            },
        )
        .bool("disputed", false)
        .opt_str("failure_code", (!ok).then_some("card_declined"))
        .opt_str(
            "failure_message",
            (!ok).then_some("Your card was declined."),
        )
        .str("invoice", &id(Kind::Invoice, u64::from(c.invoice)))
        .bool("livemode", false)
        .raw("metadata", b"{}")
        .with("outcome", |buf| {
            let mut d = Obj::new(buf);
            d.str(
                "network_status",
                if ok {
                    "approved_by_network"
                } else {
                    "declined_by_network"
                },
            )
            .opt_str("reason", (!ok).then_some("generic_decline"))
            .str("risk_level", "normal")
            .int("risk_score", i64::from(c.index % 60))
            .str(
                "seller_message",
                if ok {
                    "Payment complete."
                } else {
                    "The bank did not return any further details with this decline."
                },
            )
            .str("type", if ok { "authorized" } else { "issuer_declined" });
            d.end();
        })
        .bool("paid", ok)
        .str(
            "payment_intent",
            &id(Kind::PaymentIntent, u64::from(c.invoice)),
        )
        .str(
            "payment_method",
            &id(Kind::PaymentMethod, u64::from(customer.index)),
        )
        .with("payment_method_details", |buf| {
            let mut d = Obj::new(buf);
            d.with("card", |cb| {
                let mut card = Obj::new(cb);
                card.str("brand", brands[customer.index as usize % 3])
                    .str("country", country_code(company.country))
                    .int("exp_month", i64::from(1 + customer.index % 12))
                    .int("exp_year", 2027 + i64::from(customer.index % 4))
                    .str("funding", "credit")
                    .str("last4", &format!("{:04}", 4242 + customer.index % 5000));
                card.end();
            })
            .str("type", "card");
            d.end();
        })
        .null("receipt_email")
        .str(
            "receipt_url",
            &format!(
                "https://pay.stripe.com/receipts/invoices/{}",
                id(Kind::Charge, u64::from(c.index))
            ),
        )
        .bool("refunded", c.refunded >= c.amount && c.amount > 0)
        .str("status", if ok { "succeeded" } else { "failed" });
    o.end();
}

/// A refund.
pub(crate) fn refund(out: &mut Vec<u8>, w: &World, r: &Refund) {
    let b = w.billing();
    let c = &b.charges()[r.charge as usize];
    let currency = b.customers()[c.customer as usize].currency;
    let mut o = Obj::new(out);
    o.str("id", &id(Kind::Refund, u64::from(r.index)))
        .str("object", "refund")
        .int("amount", r.amount)
        .str(
            "balance_transaction",
            &id(Kind::BalanceTransaction, 1_000_000 + u64::from(r.index)),
        )
        .str("charge", &id(Kind::Charge, u64::from(r.charge)))
        .int("created", secs(r.created_ms))
        .str("currency", currency.code())
        .raw("metadata", b"{}")
        .str(
            "payment_intent",
            &id(Kind::PaymentIntent, u64::from(c.invoice)),
        )
        .str("reason", r.reason)
        .null("receipt_number")
        .null("source_transfer_reversal")
        .str("status", "succeeded")
        .null("transfer_reversal");
    o.end();
}

/// An event with a snapshot of its object.
pub(crate) fn event(out: &mut Vec<u8>, w: &World, e: &BillingEvent, embedded: usize) {
    let mut o = Obj::new(out);
    o.str("id", &id(Kind::Event, u64::from(e.index)))
        .str("object", "event")
        .str("api_version", super::API_VERSION)
        .int("created", secs(e.created_ms))
        .with("data", |buf| {
            let mut d = Obj::new(buf);
            d.with("object", |ob| match &e.object {
                EventObject::Product(p) => product(ob, p),
                EventObject::Price(p) => price(ob, w, p),
                EventObject::Customer(c) => customer(ob, w, c),
                EventObject::Subscription(s) => subscription(ob, w, s, embedded),
                EventObject::Invoice(i) => invoice(ob, w, i, embedded),
                EventObject::Charge(c) => charge(ob, w, c),
                EventObject::Refund(r) => refund(ob, w, r),
            });
            d.end();
        })
        .bool("livemode", false)
        .int("pending_webhooks", 0)
        .with("request", |buf| {
            let mut r = Obj::new(buf);
            r.null("id").null("idempotency_key");
            r.end();
        })
        .str("type", e.kind);
    o.end();
}

/// Whether a subscription is listed by `?status=` (`None`: the default, every status except
/// canceled).
pub(crate) fn subscription_status_matches(s: &Subscription, filter: Option<&str>) -> bool {
    match filter {
        None => s.status != SubscriptionStatus::Canceled,
        Some("all") => true,
        Some(f) => s.status.as_str() == f,
    }
}

/// `[{"amount": off, "discount": "di_…"}]`, or `[]` when nothing is taken off.
fn discount_amounts(o: &mut Obj<'_>, key: &str, off: i64, sub: Option<&Subscription>) {
    match sub {
        Some(s) if off > 0 => {
            o.with(key, |buf| {
                buf.push(b'[');
                let mut a = Obj::new(buf);
                a.int("amount", off).str("discount", &discount_id(s));
                a.end();
                buf.push(b']');
            });
        }
        _ => {
            o.raw(key, b"[]");
        }
    }
}
