//! Stripe as seen by the conformance suite: the paged stream is `invoices` (list pages plus
//! the invoice events an incremental run reads).

use revline_core::decode::coerce::parse_timestamp_micros;
use revline_sandbox::stripe::ids::{Kind, id, parse};
use revline_sandbox::{
    FaultPlan, Sandbox, SandboxConfig, StatsSnapshot, Vendor, World, WorldConfig,
};

use crate::{ConnectorCase, PagedStream};

/// The Stripe connector against the sandbox's Stripe emulator.
#[derive(Debug, Default, Clone, Copy)]
pub struct StripeCase;

fn invoice_events(world: &World) -> u64 {
    world
        .billing()
        .events()
        .iter()
        .filter(|e| e.kind.starts_with("invoice."))
        .count() as u64
}

impl ConnectorCase for StripeCase {
    fn connector(&self) -> &'static str {
        "stripe"
    }

    fn world(&self) -> WorldConfig {
        // About 500 invoices: several pages of 100 in the busiest windows.
        WorldConfig {
            people: 250,
            companies: 60,
            deals: 300,
            ..WorldConfig::default()
        }
    }

    fn empty_world(&self) -> WorldConfig {
        WorldConfig {
            people: 0,
            deals: 0,
            ..WorldConfig::default()
        }
    }

    fn sandbox_config(&self, world: WorldConfig, faults: FaultPlan) -> SandboxConfig {
        SandboxConfig {
            world,
            faults,
            ..SandboxConfig::default()
        }
    }

    fn credentials(&self, sandbox: &Sandbox, valid: bool) -> String {
        let key = if valid {
            sandbox.stripe_key()
        } else {
            "sk_test_51RevokedKey000000000000000000000000"
        };
        // The account's history starts with the world: every window of a first sync holds
        // invoices.
        let start = sandbox.world().read().config().start.format("%Y-%m-%d");
        format!(
            "base_url = \"{}\"\nsecret_key = \"{key}\"\nstart_date = \"{start}\"\n",
            sandbox.base_url(Vendor::Stripe)
        )
    }

    fn expected_rows(&self, world: &World) -> Vec<(&'static str, u64)> {
        let b = world.billing();
        vec![
            ("customers", b.customers().len() as u64),
            ("products", b.products().len() as u64),
            ("prices", b.prices().len() as u64),
            ("subscriptions", b.subscriptions().len() as u64),
            ("invoices", b.invoices().len() as u64),
            ("charges", b.charges().len() as u64),
            ("refunds", b.refunds().len() as u64),
        ]
    }

    fn interrupt_from_request(&self) -> u64 {
        // A first sync splits [start, now) into 8 `created` windows read 4 at a time, and
        // `now` is the wall clock while the world's invoices stop at the world's clock: which
        // windows hold invoices, and which are served first, varies with the time of day. The
        // first page of all 8 windows (one of them holds invoices) comes before the failure.
        10
    }

    fn paged_stream(&self) -> PagedStream {
        PagedStream {
            name: "invoices",
            route: "/v1/invoices",
            key: &["id"],
        }
    }

    fn served_records(&self, stats: &StatsSnapshot) -> u64 {
        stats.records("stripe.invoices.list") + stats.records("stripe.events.invoice.list")
    }

    fn mutate(&self, world: &mut World) -> Vec<String> {
        // Invoices change after creation (paid, annotated) and new ones are issued.
        let mut ids = world.touch_invoices(5);
        ids.extend(world.issue_invoices(3));
        ids.into_iter()
            .map(|i| id(Kind::Invoice, u64::from(i)))
            .collect()
    }

    fn expected_incremental(&self, world: &World, cursor: &serde_json::Value) -> u64 {
        // New invoices come from `created[gte]` the last second read (inclusive); changes
        // come from the event log (no events existed at the first sync, so all of them).
        let cursor_secs = cursor
            .as_str()
            .and_then(parse_timestamp_micros)
            .expect("a timestamp cursor")
            .div_euclid(1_000_000);
        let listed = world
            .billing()
            .invoices()
            .iter()
            .filter(|i| i.created_ms.div_euclid(1000) >= cursor_secs)
            .count() as u64;
        listed + invoice_events(world)
    }

    fn verify_changed(&self, world: &World, ids: &[String]) -> (String, Vec<String>) {
        let list = ids
            .iter()
            .map(|i| format!("'{i}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT id, status, amount_paid, description FROM stripe.invoices WHERE id IN ({list}) ORDER BY id"
        );
        let mut sorted = ids.to_vec();
        sorted.sort();
        sorted.dedup();
        let b = world.billing();
        let expected = sorted
            .iter()
            .map(|sid| {
                let inv = &b.invoices()[parse(Kind::Invoice, sid).expect("an invoice id") as usize];
                let paid = if inv.status.as_str() == "paid" {
                    b.invoice_total(inv)
                } else {
                    0
                };
                format!(
                    "{sid}|{}|{paid}|{}",
                    inv.status.as_str(),
                    inv.note.as_deref().unwrap_or("null")
                )
            })
            .collect();
        (sql, expected)
    }

    fn full_read_served(&self, world: &World, rows: u64) -> u64 {
        // A full read first notes the newest invoice event (one record, if any exists).
        rows + u64::from(invoice_events(world) > 0)
    }
}
