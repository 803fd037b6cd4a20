//! GA4 as seen by the conformance suite: the paged stream is `traffic_daily` (30-day windows,
//! 100 rows per page against `rowCount`), authenticated with a service-account key, and
//! "changes" are restated sessions on recent days plus one new day.

use chrono::{Duration, NaiveDate};
use revline_sandbox::google::service_account_json;
use revline_sandbox::{
    FaultPlan, Sandbox, SandboxConfig, StatsSnapshot, Vendor, World, WorldConfig,
};

use crate::{ConnectorCase, PagedStream};

/// The configured `end_date`, counted from the world's first day (see the Google Ads case).
pub const END_DAYS_AFTER_START: i64 = 530;
/// The connector's default look-back.
pub const LOOKBACK_DAYS: i64 = 3;

/// The GA4 connector against the sandbox's GA4 emulator.
#[derive(Debug, Default, Clone, Copy)]
pub struct Ga4Case;

/// `(day, source, medium, campaign, sessions)` of every traffic row between `from` and `to`.
pub fn traffic_rows(
    world: &World,
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<(NaiveDate, String, String, String, u64)> {
    let mut out = Vec::new();
    let mut day = from.max(world.first_day());
    while day <= to.min(world.today()) {
        for t in world.marketing_day(day).traffic {
            if t.sessions == 0 && t.key_events == 0 && t.total_users == 0 {
                continue;
            }
            let (s, m, c) = match t.campaign {
                Some(i) => {
                    let c = &world.campaigns()[i as usize];
                    (
                        c.utm_source.to_string(),
                        c.utm_medium.to_string(),
                        c.utm_campaign.clone(),
                    )
                }
                None => ("(direct)".into(), "(none)".into(), "(not set)".into()),
            };
            out.push((day, s, m, c, t.sessions));
        }
        day += Duration::days(1);
    }
    out
}

/// First and last day of the configured range: the empty world starts in 2030, after it.
fn configured(world: &World) -> (NaiveDate, NaiveDate) {
    let first = world
        .first_day()
        .min(NaiveDate::from_ymd_opt(2024, 1, 1).expect("date"));
    (first, first + Duration::days(END_DAYS_AFTER_START))
}

fn pages_rows(world: &World) -> u64 {
    let mut n = 0;
    let mut day = world.first_day();
    while day <= world.today().min(configured(world).1) {
        n += world.marketing_day(day).pages.len() as u64;
        day += Duration::days(1);
    }
    n
}

impl ConnectorCase for Ga4Case {
    fn connector(&self) -> &'static str {
        "ga4"
    }

    fn world(&self) -> WorldConfig {
        WorldConfig {
            people: 300,
            ..WorldConfig::default()
        }
    }

    fn empty_world(&self) -> WorldConfig {
        // A property whose history starts after the configured range: no sessions at all.
        WorldConfig {
            people: 0,
            deals: 0,
            campaigns: 0,
            start: chrono::DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z")
                .expect("date")
                .to_utc(),
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
        let url = sandbox.base_url(Vendor::Ga4);
        let mut key = service_account_json(&format!("{url}/token"));
        if !valid {
            // A key the property's project does not know.
            key = key.replace("revline-sandbox@", "someone-else@");
        }
        let (first, end) = configured(&sandbox.world().read());
        format!(
            "base_url = \"{url}\"\nproperty_id = \"{property}\"\nstart_date = \"{first}\"\nend_date = \"{end}\"\n\
             page_size = 100\nrate_limit = {{ requests = 1000, per_seconds = 1 }}\n\
             service_account_key = '''{key}'''\n",
            property = sandbox.config().ga4.property_id,
        )
    }

    fn expected_rows(&self, world: &World) -> Vec<(&'static str, u64)> {
        vec![
            (
                "traffic_daily",
                traffic_rows(world, world.first_day(), configured(world).1).len() as u64,
            ),
            ("landing_pages_daily", pages_rows(world)),
        ]
    }

    fn paged_stream(&self) -> PagedStream {
        PagedStream {
            name: "traffic_daily",
            route: "sessionCampaignName",
            key: &[
                "date",
                "session_source",
                "session_medium",
                "session_campaign_name",
            ],
        }
    }

    fn served_records(&self, stats: &StatsSnapshot) -> u64 {
        stats.records("ga4.run_report.campaign")
    }

    fn mutate(&self, world: &mut World) -> Vec<String> {
        let restated = world.restate_sessions(LOOKBACK_DAYS as u32, 4);
        let ids = restated
            .iter()
            .map(|(day, src)| {
                let (s, m, c) = match src {
                    Some(i) => {
                        let c = &world.campaigns()[*i as usize];
                        (
                            c.utm_source.to_string(),
                            c.utm_medium.to_string(),
                            c.utm_campaign.clone(),
                        )
                    }
                    None => ("(direct)".into(), "(none)".into(), "(not set)".into()),
                };
                format!("{day}|{s}|{m}|{c}")
            })
            .collect();
        world.advance_days(1);
        ids
    }

    fn expected_incremental(&self, world: &World, cursor: &serde_json::Value) -> u64 {
        let cursor = NaiveDate::parse_from_str(cursor.as_str().expect("a date cursor"), "%Y-%m-%d")
            .expect("YYYY-MM-DD");
        traffic_rows(
            world,
            cursor - Duration::days(LOOKBACK_DAYS - 1),
            world.today(),
        )
        .len() as u64
    }

    fn verify_changed(&self, world: &World, ids: &[String]) -> (String, Vec<String>) {
        let conds = ids
            .iter()
            .map(|id| {
                let p: Vec<&str> = id.split('|').collect();
                format!(
                    "(date = DATE '{}' AND session_source = '{}' AND session_medium = '{}' AND session_campaign_name = '{}')",
                    p[0], p[1], p[2], p[3]
                )
            })
            .collect::<Vec<_>>()
            .join(" OR ");
        let sql = format!(
            "SELECT CAST(date AS VARCHAR), session_source, session_medium, session_campaign_name, sessions \
             FROM ga4.traffic_daily WHERE {conds} ORDER BY 1, 2, 3, 4"
        );
        let mut expected: Vec<String> = ids
            .iter()
            .map(|id| {
                let p: Vec<&str> = id.split('|').collect();
                let d = NaiveDate::parse_from_str(p[0], "%Y-%m-%d").expect("date");
                let row = traffic_rows(world, d, d)
                    .into_iter()
                    .find(|r| r.1 == p[1] && r.2 == p[2] && r.3 == p[3])
                    .expect("the restated row exists");
                format!("{}|{}|{}|{}|{}", p[0], p[1], p[2], p[3], row.4)
            })
            .collect();
        expected.sort();
        (sql, expected)
    }

    fn rejected_credentials(&self) -> (&'static str, u64) {
        (
            "OAuth2 token refresh was refused (invalid_grant: Invalid JWT Signature.)",
            0,
        )
    }
}
