//! Freshdesk as seen by the conformance suite: the paged stream is `tickets` (the listing
//! with `include=…`, 50 per page here; the page-300 restart has its own tests in
//! `connectors/freshdesk/tests/streams.rs`). The conversation fan-out lists bare tickets, a
//! separate route kind, so the served counts are the ticket stream's own.

use revline_core::decode::coerce::parse_timestamp_micros;
use revline_sandbox::freshdesk::ids::{status_code, ticket_id, ticket_index};
use revline_sandbox::{
    FaultPlan, Sandbox, SandboxConfig, StatsSnapshot, Vendor, World, WorldConfig,
};

use crate::{ConnectorCase, PagedStream};

/// The Freshdesk connector against the sandbox's Freshdesk emulator.
#[derive(Debug, Default, Clone, Copy)]
pub struct FreshdeskCase;

impl ConnectorCase for FreshdeskCase {
    fn connector(&self) -> &'static str {
        "freshdesk"
    }

    fn world(&self) -> WorldConfig {
        // 250 people raise 187 tickets: four listing pages of 50.
        WorldConfig {
            people: 250,
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
            sandbox.freshdesk_api_key()
        } else {
            "fd-revoked-key"
        };
        format!(
            "base_url = \"{}\"\napi_key = \"{key}\"\npage_size = 50\n\
             rate_limit = {{ requests = 10000, per_seconds = 1 }}\n",
            sandbox.base_url(Vendor::Freshdesk)
        )
    }

    fn expected_rows(&self, world: &World) -> Vec<(&'static str, u64)> {
        let s = world.support();
        let conversations: usize = s
            .live_tickets()
            .map(|t| world.ticket_messages(t).len().saturating_sub(1))
            .sum();
        vec![
            ("tickets", s.live_tickets().count() as u64),
            ("conversations", conversations as u64),
            (
                "contacts",
                s.users()
                    .filter(|u| world.person(u.person).is_some())
                    .count() as u64,
            ),
            ("companies", world.companies().len() as u64),
            ("agents", s.agents().len() as u64),
            ("groups", s.groups().len() as u64),
            (
                "satisfaction_ratings",
                s.rated_tickets().filter(|t| !t.deleted).count() as u64,
            ),
        ]
    }

    fn paged_stream(&self) -> PagedStream {
        PagedStream {
            name: "tickets",
            // Only the ticket stream's listing embeds (`include=description,…`).
            route: "include=description",
            key: &["id"],
        }
    }

    fn served_records(&self, stats: &StatsSnapshot) -> u64 {
        stats.records("freshdesk.tickets.list_with_include")
    }

    fn mutate(&self, world: &mut World) -> Vec<String> {
        let mut changed = world.touch_tickets(8);
        changed.extend(world.add_tickets(3));
        changed.sort_unstable();
        changed.dedup();
        changed
            .into_iter()
            .map(|i| ticket_id(i).to_string())
            .collect()
    }

    fn expected_incremental(&self, world: &World, cursor: &serde_json::Value) -> u64 {
        // `updated_since` is inclusive: every live ticket changed at or after the cursor's
        // second.
        let cursor_secs = cursor
            .as_str()
            .and_then(parse_timestamp_micros)
            .expect("a timestamp cursor")
            .div_euclid(1_000_000);
        world
            .support()
            .live_tickets()
            .filter(|t| t.updated_ms.div_euclid(1000) >= cursor_secs)
            .count() as u64
    }

    fn verify_changed(&self, world: &World, ids: &[String]) -> (String, Vec<String>) {
        let mut ids: Vec<u64> = ids.iter().map(|i| i.parse().expect("numeric id")).collect();
        ids.sort_unstable();
        let list = ids
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT id, status, responder_id IS NOT NULL, stats__first_responded_at IS NOT NULL \
             FROM freshdesk.tickets WHERE id IN ({list}) ORDER BY id"
        );
        let tickets = world.support().tickets();
        let expected = ids
            .iter()
            .map(|id| {
                let t = &tickets[ticket_index(*id).expect("a ticket id") as usize];
                format!(
                    "{id}|{}|{}|{}",
                    status_code(t.status),
                    t.assignee.is_some(),
                    t.first_response_ms.is_some()
                )
            })
            .collect();
        (sql, expected)
    }
}
