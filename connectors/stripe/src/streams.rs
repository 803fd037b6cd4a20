//! The streams: one per Stripe list endpoint, each declared as data (path, columns, amount
//! fields, the event types that signal a change, nested lists).

use revline_core::schema::EpochUnit;
use revline_core::{Column, ColumnType as T, StreamDescriptor, StreamSchema, SyncMode};

use crate::money;

/// A nested list of a parent object that Stripe embeds partially (the first few items, then
/// `has_more`), with the endpoint that pages the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nested {
    /// `invoice.lines`, paged by `GET /v1/invoices/{id}/lines`.
    InvoiceLines,
    /// `subscription.items`, paged by `GET /v1/subscription_items?subscription={id}`.
    SubscriptionItems,
}

impl Nested {
    /// The parent's key holding the list.
    pub fn key(self) -> &'static str {
        match self {
            Nested::InvoiceLines => "lines",
            Nested::SubscriptionItems => "items",
        }
    }
}

/// Everything that distinguishes one Stripe stream from another.
#[derive(Debug, Clone)]
pub struct StreamDef {
    /// Stream (and table) name.
    pub name: &'static str,
    /// List endpoint.
    pub path: &'static str,
    /// One line for `revline connectors`.
    pub description: &'static str,
    /// Columns read from the object.
    pub columns: fn() -> Vec<Column>,
    /// Integer amount fields (minor units of the row's `currency`); each gets a
    /// `<name>_decimal` column.
    pub money: &'static [&'static str],
    /// Whether deletions arrive as `*.deleted` events (the table gets `_deleted`).
    pub deletable: bool,
    /// Whether the object has its own `updated` field (products).
    pub native_updated: bool,
    /// Extra query parameters of every list request.
    pub query: &'static [(&'static str, &'static str)],
    /// Event types whose object is this stream's object.
    pub events: &'static [&'static str],
    /// A partially embedded nested list to complete.
    pub nested: Option<Nested>,
    /// Transaction history (invoices, charges, refunds): a first sync starts at `start_date`.
    /// Entities (customers, the catalog, subscriptions) are always read whole, because the
    /// history refers to them however old they are.
    pub history: bool,
}

fn ts(key: &str) -> Column {
    Column::new(key, T::Timestamp).epoch(EpochUnit::Seconds)
}

fn nested_ts(path: &[&str]) -> Column {
    Column::nested(path, T::Timestamp).epoch(EpochUnit::Seconds)
}

fn customers() -> Vec<Column> {
    vec![
        Column::new("id", T::Utf8),
        Column::new("email", T::Utf8),
        Column::new("name", T::Utf8),
        Column::new("description", T::Utf8),
        Column::new("phone", T::Utf8),
        Column::new("currency", T::Utf8),
        Column::new("balance", T::Int64),
        Column::new("delinquent", T::Boolean),
        Column::nested(&["address", "line1"], T::Utf8),
        Column::nested(&["address", "line2"], T::Utf8),
        Column::nested(&["address", "city"], T::Utf8),
        Column::nested(&["address", "state"], T::Utf8),
        Column::nested(&["address", "postal_code"], T::Utf8),
        Column::nested(&["address", "country"], T::Utf8),
        Column::new("invoice_prefix", T::Utf8),
        Column::nested(&["invoice_settings", "default_payment_method"], T::Utf8),
        Column::new("default_source", T::Utf8),
        Column::new("tax_exempt", T::Utf8),
        Column::new("livemode", T::Boolean),
        Column::new("metadata", T::Json),
        ts("created"),
    ]
}

fn products() -> Vec<Column> {
    vec![
        Column::new("id", T::Utf8),
        Column::new("name", T::Utf8),
        Column::new("description", T::Utf8),
        Column::new("active", T::Boolean),
        Column::new("type", T::Utf8),
        Column::new("default_price", T::Utf8),
        Column::new("unit_label", T::Utf8),
        Column::new("tax_code", T::Utf8),
        Column::new("url", T::Utf8),
        Column::new("livemode", T::Boolean),
        Column::new("metadata", T::Json),
        ts("created"),
        ts("updated"),
    ]
}

fn prices() -> Vec<Column> {
    vec![
        Column::new("id", T::Utf8),
        Column::new("product", T::Utf8).named("product_id"),
        Column::new("active", T::Boolean),
        Column::new("currency", T::Utf8),
        Column::new("unit_amount", T::Int64),
        Column::new("type", T::Utf8),
        Column::new("billing_scheme", T::Utf8),
        Column::new("lookup_key", T::Utf8),
        Column::new("nickname", T::Utf8),
        Column::nested(&["recurring", "interval"], T::Utf8),
        Column::nested(&["recurring", "interval_count"], T::Int64),
        Column::nested(&["recurring", "usage_type"], T::Utf8),
        Column::new("tax_behavior", T::Utf8),
        Column::new("livemode", T::Boolean),
        Column::new("metadata", T::Json),
        ts("created"),
    ]
}

fn subscriptions() -> Vec<Column> {
    vec![
        Column::new("id", T::Utf8),
        Column::new("customer", T::Utf8).named("customer_id"),
        Column::new("status", T::Utf8),
        Column::new("currency", T::Utf8),
        Column::new("quantity", T::Int64),
        Column::new("collection_method", T::Utf8),
        Column::new("cancel_at_period_end", T::Boolean),
        ts("cancel_at"),
        ts("canceled_at"),
        ts("ended_at"),
        ts("start_date"),
        ts("billing_cycle_anchor"),
        ts("current_period_start"),
        ts("current_period_end"),
        ts("trial_start"),
        ts("trial_end"),
        Column::new("latest_invoice", T::Utf8).named("latest_invoice_id"),
        Column::new("default_payment_method", T::Utf8),
        Column::new("description", T::Utf8),
        Column::nested(&["items", "data"], T::Json).named("items"),
        // The subscription's discount (its coupon), for MRR net of discounts.
        Column::nested(&["discount", "id"], T::Utf8).named("discount_id"),
        Column::nested(&["discount", "coupon", "id"], T::Utf8).named("coupon_id"),
        Column::nested(&["discount", "coupon", "percent_off"], T::Float64)
            .named("discount_percent_off"),
        Column::nested(&["discount", "coupon", "amount_off"], T::Int64)
            .named("discount_amount_off"),
        Column::nested(&["discount", "coupon", "currency"], T::Utf8).named("discount_currency"),
        Column::nested(&["discount", "coupon", "duration"], T::Utf8).named("discount_duration"),
        Column::nested(&["discount", "coupon", "duration_in_months"], T::Int64)
            .named("discount_duration_in_months"),
        nested_ts(&["discount", "start"]).named("discount_start"),
        nested_ts(&["discount", "end"]).named("discount_end"),
        Column::new("livemode", T::Boolean),
        Column::new("metadata", T::Json),
        ts("created"),
    ]
}

fn invoices() -> Vec<Column> {
    vec![
        Column::new("id", T::Utf8),
        Column::new("number", T::Utf8),
        Column::new("customer", T::Utf8).named("customer_id"),
        Column::new("subscription", T::Utf8).named("subscription_id"),
        Column::new("status", T::Utf8),
        Column::new("billing_reason", T::Utf8),
        Column::new("collection_method", T::Utf8),
        Column::new("currency", T::Utf8),
        Column::new("amount_due", T::Int64),
        Column::new("amount_paid", T::Int64),
        Column::new("amount_remaining", T::Int64),
        Column::new("subtotal", T::Int64),
        Column::new("tax", T::Int64),
        Column::new("total", T::Int64),
        Column::new("paid", T::Boolean),
        Column::new("attempted", T::Boolean),
        Column::new("attempt_count", T::Int64),
        Column::new("charge", T::Utf8).named("charge_id"),
        Column::new("payment_intent", T::Utf8).named("payment_intent_id"),
        Column::new("customer_email", T::Utf8),
        Column::new("customer_name", T::Utf8),
        Column::new("description", T::Utf8),
        Column::new("hosted_invoice_url", T::Utf8),
        ts("period_start"),
        ts("period_end"),
        ts("due_date"),
        nested_ts(&["status_transitions", "finalized_at"]),
        nested_ts(&["status_transitions", "paid_at"]),
        nested_ts(&["status_transitions", "voided_at"]),
        nested_ts(&["status_transitions", "marked_uncollectible_at"]),
        Column::nested(&["lines", "data"], T::Json).named("lines"),
        Column::nested(&["lines", "total_count"], T::Int64).named("line_count"),
        Column::new("livemode", T::Boolean),
        Column::new("metadata", T::Json),
        ts("created"),
    ]
}

fn charges() -> Vec<Column> {
    vec![
        Column::new("id", T::Utf8),
        Column::new("customer", T::Utf8).named("customer_id"),
        Column::new("invoice", T::Utf8).named("invoice_id"),
        Column::new("payment_intent", T::Utf8).named("payment_intent_id"),
        Column::new("payment_method", T::Utf8).named("payment_method_id"),
        Column::new("status", T::Utf8),
        Column::new("currency", T::Utf8),
        Column::new("amount", T::Int64),
        Column::new("amount_captured", T::Int64),
        Column::new("amount_refunded", T::Int64),
        Column::new("paid", T::Boolean),
        Column::new("captured", T::Boolean),
        Column::new("refunded", T::Boolean),
        Column::new("disputed", T::Boolean),
        Column::new("failure_code", T::Utf8),
        Column::new("failure_message", T::Utf8),
        Column::new("description", T::Utf8),
        Column::new("balance_transaction", T::Utf8).named("balance_transaction_id"),
        Column::nested(&["billing_details", "email"], T::Utf8),
        Column::nested(&["billing_details", "name"], T::Utf8),
        Column::nested(&["billing_details", "address", "country"], T::Utf8),
        Column::nested(&["payment_method_details", "type"], T::Utf8),
        Column::nested(&["payment_method_details", "card", "brand"], T::Utf8),
        Column::nested(&["payment_method_details", "card", "last4"], T::Utf8),
        Column::nested(&["payment_method_details", "card", "country"], T::Utf8),
        Column::nested(&["outcome", "type"], T::Utf8),
        Column::nested(&["outcome", "network_status"], T::Utf8),
        Column::nested(&["outcome", "risk_level"], T::Utf8),
        Column::new("receipt_url", T::Utf8),
        Column::new("livemode", T::Boolean),
        Column::new("metadata", T::Json),
        ts("created"),
    ]
}

fn refunds() -> Vec<Column> {
    vec![
        Column::new("id", T::Utf8),
        Column::new("charge", T::Utf8).named("charge_id"),
        Column::new("payment_intent", T::Utf8).named("payment_intent_id"),
        Column::new("currency", T::Utf8),
        Column::new("amount", T::Int64),
        Column::new("reason", T::Utf8),
        Column::new("status", T::Utf8),
        Column::new("balance_transaction", T::Utf8).named("balance_transaction_id"),
        Column::new("receipt_number", T::Utf8),
        Column::new("metadata", T::Json),
        ts("created"),
    ]
}

/// Every stream, in listing order.
pub fn all() -> Vec<StreamDef> {
    vec![
        StreamDef {
            name: "customers",
            path: "/v1/customers",
            description: "Customers (paying companies) with billing email, currency and address",
            columns: customers,
            money: &["balance"],
            deletable: true,
            native_updated: false,
            query: &[],
            events: &["customer.created", "customer.updated", "customer.deleted"],
            nested: None,
            history: false,
        },
        StreamDef {
            name: "products",
            path: "/v1/products",
            description: "The product catalog",
            columns: products,
            money: &[],
            deletable: true,
            native_updated: true,
            query: &[],
            events: &["product.created", "product.updated", "product.deleted"],
            nested: None,
            history: false,
        },
        StreamDef {
            name: "prices",
            path: "/v1/prices",
            description: "Prices of products: list prices and negotiated ones, one-time or recurring",
            columns: prices,
            money: &["unit_amount"],
            deletable: true,
            native_updated: false,
            query: &[],
            events: &["price.created", "price.updated", "price.deleted"],
            nested: None,
            history: false,
        },
        StreamDef {
            name: "subscriptions",
            path: "/v1/subscriptions",
            description: "Subscriptions of every status (status=all), with their items",
            columns: subscriptions,
            money: &[],
            deletable: false,
            native_updated: false,
            query: &[("status", "all")],
            events: &[
                "customer.subscription.created",
                "customer.subscription.updated",
                "customer.subscription.deleted",
                "customer.subscription.paused",
                "customer.subscription.resumed",
                "customer.subscription.pending_update_applied",
                "customer.subscription.pending_update_expired",
                "customer.subscription.trial_will_end",
            ],
            nested: Some(Nested::SubscriptionItems),
            history: false,
        },
        StreamDef {
            name: "invoices",
            path: "/v1/invoices",
            description: "Invoices with their line items, amounts due, paid and remaining",
            columns: invoices,
            money: &[
                "amount_due",
                "amount_paid",
                "amount_remaining",
                "subtotal",
                "tax",
                "total",
            ],
            deletable: true,
            native_updated: false,
            query: &[],
            events: &[
                "invoice.created",
                "invoice.deleted",
                "invoice.finalized",
                "invoice.finalization_failed",
                "invoice.marked_uncollectible",
                "invoice.overdue",
                "invoice.paid",
                "invoice.payment_action_required",
                "invoice.payment_failed",
                "invoice.payment_succeeded",
                "invoice.sent",
                "invoice.updated",
                "invoice.voided",
            ],
            nested: Some(Nested::InvoiceLines),
            history: true,
        },
        StreamDef {
            name: "charges",
            path: "/v1/charges",
            description: "Card and other payments, with refunds and failures",
            columns: charges,
            money: &["amount", "amount_captured", "amount_refunded"],
            deletable: false,
            native_updated: false,
            query: &[],
            events: &[
                "charge.captured",
                "charge.expired",
                "charge.failed",
                "charge.pending",
                "charge.refunded",
                "charge.succeeded",
                "charge.updated",
            ],
            nested: None,
            history: true,
        },
        StreamDef {
            name: "refunds",
            path: "/v1/refunds",
            description: "Refunds of charges",
            columns: refunds,
            money: &["amount"],
            deletable: false,
            native_updated: false,
            query: &[],
            events: &[
                "refund.created",
                "refund.updated",
                "refund.failed",
                "charge.refund.updated",
            ],
            nested: None,
            history: true,
        },
    ]
}

/// Name of the cursor column: when the row last changed (the object's `created` for rows
/// read from a list, the event's `created` for rows read from the event log; products have
/// their own `updated`).
pub const UPDATED: &str = "updated";
/// Name of the soft-delete column.
pub const DELETED: &str = "_deleted";

impl StreamDef {
    /// The table's columns: the object's, each amount's `_decimal`, `updated` and (for
    /// deletable objects) `_deleted`.
    pub fn schema(&self) -> StreamSchema {
        let mut cols = (self.columns)();
        for m in self.money {
            cols.push(Column::new(&format!("{m}_decimal"), money::decimal_type()));
        }
        if !self.native_updated {
            cols.push(ts(UPDATED));
        }
        if self.deletable {
            cols.push(Column::new(DELETED, T::Boolean));
        }
        StreamSchema::new(cols).expect("distinct Stripe columns")
    }

    /// Whether a column is computed rather than read.
    pub fn derived(&self, column: &str) -> bool {
        column == DELETED
            || (column == UPDATED && !self.native_updated)
            || column
                .strip_suffix("_decimal")
                .is_some_and(|m| self.money.contains(&m))
    }

    /// The stream declaration.
    pub fn descriptor(&self) -> StreamDescriptor {
        StreamDescriptor {
            name: self.name.to_string(),
            description: self.description.to_string(),
            schema: self.schema(),
            primary_key: vec!["id".to_string()],
            cursor_field: Some(UPDATED.to_string()),
            sync_modes: vec![SyncMode::Incremental, SyncMode::FullRefresh],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_are_distinct_and_typed() {
        for d in all() {
            let s = d.schema();
            assert_eq!(s.columns()[0].name, "id");
            assert!(s.column(UPDATED).is_some(), "{}", d.name);
            assert_eq!(s.column(DELETED).is_some(), d.deletable);
            for m in d.money {
                assert_eq!(s.column(m).unwrap().ty, T::Int64, "{}.{m}", d.name);
                assert_eq!(
                    s.column(&format!("{m}_decimal")).unwrap().ty,
                    money::decimal_type()
                );
                assert!(s.column("currency").is_some());
            }
            assert!(d.events.len() <= 20, "Stripe filters on at most 20 types");
            assert!(d.derived(UPDATED) != d.native_updated);
        }
    }
}
