//! Intercom as seen by the conformance suite: the paged stream is `conversations` (the
//! search endpoint, 50 per page here). The window limit has its own test in
//! `connectors/intercom/tests/streams.rs`.

use revline_core::decode::coerce::parse_timestamp_micros;
use revline_sandbox::intercom::ids::{conversation_id, conversation_index};
use revline_sandbox::{
    FaultPlan, Sandbox, SandboxConfig, StatsSnapshot, Vendor, World, WorldConfig,
};

use crate::{ConnectorCase, PagedStream};

/// The Intercom connector against the sandbox's Intercom emulator.
#[derive(Debug, Default, Clone, Copy)]
pub struct IntercomCase;

impl ConnectorCase for IntercomCase {
    fn connector(&self) -> &'static str {
        "intercom"
    }

    fn world(&self) -> WorldConfig {
        // 250 people raise 187 tickets: four search pages of 50.
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
        let token = if valid {
            sandbox.intercom_token()
        } else {
            "ic-revoked-token"
        };
        format!(
            "base_url = \"{}\"\naccess_token = \"{token}\"\npage_size = 50\n",
            sandbox.base_url(Vendor::Intercom)
        )
    }

    fn expected_rows(&self, world: &World) -> Vec<(&'static str, u64)> {
        let s = world.support();
        vec![
            ("conversations", s.live_tickets().count() as u64),
            ("contacts", s.user_count() as u64),
            ("companies", world.companies().len() as u64),
            ("admins", s.agents().len() as u64),
            ("teams", s.groups().len() as u64),
        ]
    }

    fn paged_stream(&self) -> PagedStream {
        PagedStream {
            name: "conversations",
            route: "/conversations/search",
            key: &["id"],
        }
    }

    fn served_records(&self, stats: &StatsSnapshot) -> u64 {
        stats.records("intercom.conversations.search")
    }

    fn mutate(&self, world: &mut World) -> Vec<String> {
        let mut changed = world.touch_tickets(8);
        changed.extend(world.add_tickets(3));
        changed.sort_unstable();
        changed.dedup();
        changed.into_iter().map(conversation_id).collect()
    }

    fn expected_incremental(&self, world: &World, cursor: &serde_json::Value) -> u64 {
        // `updated_at > cursor - 1`: every live conversation changed at or after the
        // cursor's second.
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
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        let list = ids
            .iter()
            .map(|i| format!("'{i}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT id, state, statistics__count_reopens, conversation_rating__rating \
             FROM intercom.conversations WHERE id IN ({list}) ORDER BY id"
        );
        let tickets = world.support().tickets();
        let expected = ids
            .iter()
            .map(|id| {
                let t = &tickets[conversation_index(id).expect("a conversation id") as usize];
                let state = match t.status.as_str() {
                    "new" | "open" => "open",
                    "pending" => "snoozed",
                    _ => "closed",
                };
                let rating = t
                    .csat
                    .as_ref()
                    .map_or("null".to_string(), |c| c.score.to_string());
                format!("{id}|{state}|{}|{rating}", t.reopens)
            })
            .collect();
        (sql, expected)
    }
}
