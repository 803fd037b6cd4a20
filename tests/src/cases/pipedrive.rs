//! Pipedrive as seen by the conformance suite: the paged stream is `persons` (v2 cursor
//! pages of 100, incremental on `update_time` with `updated_since`), authenticated with an
//! API token in `x-api-token`.

use revline_core::decode::coerce::parse_timestamp_micros;
use revline_sandbox::pipedrive::person_id;
use revline_sandbox::{
    FaultPlan, Sandbox, SandboxConfig, StatsSnapshot, Vendor, World, WorldConfig,
};

use crate::{ConnectorCase, PagedStream};

/// The Pipedrive connector against the sandbox's Pipedrive emulator.
#[derive(Debug, Default, Clone, Copy)]
pub struct PipedriveCase;

impl ConnectorCase for PipedriveCase {
    fn connector(&self) -> &'static str {
        "pipedrive"
    }

    fn world(&self) -> WorldConfig {
        // 450 persons: five pages of 100.
        WorldConfig {
            people: 450,
            ..WorldConfig::default()
        }
    }

    fn empty_world(&self) -> WorldConfig {
        WorldConfig {
            people: 0,
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
            sandbox.pipedrive_token()
        } else {
            "0000000000revokedtoken000000000000000000"
        };
        format!(
            "base_url = \"{}\"\napi_token = \"{token}\"\npage_size = 100\n",
            sandbox.base_url(Vendor::Pipedrive)
        )
    }

    fn expected_rows(&self, world: &World) -> Vec<(&'static str, u64)> {
        vec![
            ("deals", world.deals().len() as u64),
            ("persons", world.people_count()),
            ("organizations", world.companies().len() as u64),
            ("activities", world.activities().len() as u64),
            ("pipelines", 1),
            ("stages", revline_sandbox::pipedrive::STAGES.len() as u64),
        ]
    }

    fn paged_stream(&self) -> PagedStream {
        PagedStream {
            name: "persons",
            route: "/api/v2/persons",
            key: &["id"],
        }
    }

    fn served_records(&self, stats: &StatsSnapshot) -> u64 {
        stats.records("pipedrive.persons.list")
    }

    fn mutate(&self, world: &mut World) -> Vec<String> {
        let mut ids = world.touch_people(5);
        ids.extend(world.add_people(3));
        ids.into_iter()
            .map(|id| person_id(id - revline_sandbox::world::PERSON_ID_BASE).to_string())
            .collect()
    }

    fn expected_incremental(&self, world: &World, cursor: &serde_json::Value) -> u64 {
        // `updated_since` is inclusive at second precision: the cursor's second is read again.
        let secs = cursor
            .as_str()
            .and_then(parse_timestamp_micros)
            .expect("a timestamp cursor")
            .div_euclid(1_000_000);
        world
            .people()
            .filter(|p| p.modified_ms.div_euclid(1000) >= secs)
            .count() as u64
    }

    fn verify_changed(&self, world: &World, ids: &[String]) -> (String, Vec<String>) {
        let mut sorted: Vec<u64> = ids.iter().map(|i| i.parse().expect("numeric id")).collect();
        sorted.sort_unstable();
        sorted.dedup();
        let list = sorted
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT id, primary_email, to_unixtime(update_time) FROM pipedrive.persons \
             WHERE id IN ({list}) ORDER BY id"
        );
        let expected = sorted
            .iter()
            .map(|&id| {
                let p = world.person(id - 1).expect("person exists");
                format!("{id}|{}|{}", p.email, p.modified_ms.div_euclid(1000))
            })
            .collect();
        (sql, expected)
    }
}
