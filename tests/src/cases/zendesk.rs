//! Zendesk as seen by the conformance suite: the paged stream is `tickets` (the incremental
//! export, 50 per page here), read with a lifted export limit so the suite runs quickly (the
//! 10-per-minute limit has its own tests in `tests/tests/zendesk.rs`).

use revline_core::decode::coerce::parse_timestamp_micros;
use revline_sandbox::zendesk::ids::{ticket_id, ticket_index};
use revline_sandbox::{
    FaultPlan, Sandbox, SandboxConfig, StatsSnapshot, Vendor, World, WorldConfig,
};

use crate::{ConnectorCase, PagedStream};

/// The Zendesk connector against the sandbox's Zendesk emulator.
#[derive(Debug, Default, Clone, Copy)]
pub struct ZendeskCase;

impl ConnectorCase for ZendeskCase {
    fn connector(&self) -> &'static str {
        "zendesk"
    }

    fn world(&self) -> WorldConfig {
        // 250 people raise 187 tickets: four export pages of 50; two pages of metrics.
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
        let (email, token) = sandbox.zendesk_credentials();
        let token = if valid { token } else { "zd-revoked-token" };
        format!(
            "base_url = \"{}\"\nemail = \"{email}\"\napi_token = \"{token}\"\n\
             export_page_size = 50\nexport_rate_limit = {{ requests = 1000, per_seconds = 1 }}\n",
            sandbox.base_url(Vendor::Zendesk)
        )
    }

    fn expected_rows(&self, world: &World) -> Vec<(&'static str, u64)> {
        let s = world.support();
        vec![
            // The export keeps deleted tickets (marked); metrics and ratings drop them.
            ("tickets", s.tickets().len() as u64),
            ("ticket_metrics", s.live_tickets().count() as u64),
            (
                "satisfaction_ratings",
                s.rated_tickets().filter(|t| !t.deleted).count() as u64,
            ),
            ("users", (s.user_count() + s.agents().len()) as u64),
            ("organizations", world.companies().len() as u64),
            ("groups", s.groups().len() as u64),
        ]
    }

    fn paged_stream(&self) -> PagedStream {
        PagedStream {
            name: "tickets",
            route: "/api/v2/incremental/tickets/cursor",
            key: &["id"],
        }
    }

    fn served_records(&self, stats: &StatsSnapshot) -> u64 {
        stats.records("zendesk.tickets.export")
    }

    fn mutate(&self, world: &mut World) -> Vec<String> {
        let mut changed = world.touch_tickets(8);
        changed.extend(world.add_tickets(3));
        changed.extend(world.delete_tickets(2));
        changed.sort_unstable();
        changed.dedup();
        changed
            .into_iter()
            .map(|i| ticket_id(i).to_string())
            .collect()
    }

    fn expected_incremental(&self, world: &World, cursor: &serde_json::Value) -> u64 {
        // The export continues after the stored cursor: every ticket changed since.
        let cursor_secs = cursor
            .as_str()
            .and_then(parse_timestamp_micros)
            .expect("a timestamp cursor")
            .div_euclid(1_000_000);
        world
            .support()
            .tickets()
            .iter()
            .filter(|t| t.updated_ms.div_euclid(1000) > cursor_secs)
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
            "SELECT id, status, _deleted, satisfaction_rating__score FROM zendesk.tickets \
             WHERE id IN ({list}) ORDER BY id"
        );
        let tickets = world.support().tickets();
        let expected = ids
            .iter()
            .map(|id| {
                let t = &tickets[ticket_index(*id).expect("a ticket id") as usize];
                let status = if t.deleted {
                    "deleted"
                } else {
                    t.status.as_str()
                };
                let score = match &t.csat {
                    Some(c) if c.is_good() => "good",
                    Some(_) => "bad",
                    None if t.status.is_solved() => "offered",
                    None => "unoffered",
                };
                format!("{id}|{status}|{}|{score}", t.deleted)
            })
            .collect();
        (sql, expected)
    }
}
