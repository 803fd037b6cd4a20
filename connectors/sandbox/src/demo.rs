//! What `revline demo` and `revline bench` need from the sandbox: a `[sources.*]` section for
//! every emulated vendor pointing at a running sandbox (credentials written to files), and a
//! benchmark profile per vendor. Each vendor adds one entry to [`vendor_sources`] and
//! [`bench_profiles`].

use std::io;
use std::path::Path;

use crate::server::{Sandbox, Vendor};
use crate::world::WorldConfig;

/// One source section: the source name and its TOML body (without the `[sources.NAME]` header).
#[derive(Debug, Clone)]
pub struct DemoSource {
    /// Source name (also the table schema).
    pub name: &'static str,
    /// Connector name.
    pub connector: &'static str,
    /// `key = value` lines for the section.
    pub body: String,
}

/// The source sections for every vendor the sandbox emulates. Secrets are written to files in
/// `dir` and referenced with `*_file` keys, as a real deployment would.
pub fn vendor_sources(sandbox: &Sandbox, dir: &Path) -> io::Result<Vec<DemoSource>> {
    let mut out = Vec::new();
    // Report connectors read the world's history: from its first day to its today.
    let (first_day, today) = {
        let w = sandbox.world();
        let w = w.read();
        (w.first_day(), w.today())
    };
    for &vendor in Vendor::ALL {
        match vendor {
            Vendor::Meta => {
                let cfg = &sandbox.config().meta;
                std::fs::write(dir.join("meta.token"), format!("{}\n", cfg.access_token))?;
                out.push(DemoSource {
                    name: "meta_ads",
                    connector: "meta_ads",
                    body: format!(
                        "base_url = \"{}\"\naccess_token_file = \"meta.token\"\nad_account_ids = [\"{}\"]\n\
                         start_date = \"{first_day}\"\nend_date = \"{today}\"\n",
                        sandbox.base_url(Vendor::Meta),
                        cfg.ad_account_id
                    ),
                });
            }
            Vendor::Linkedin => {
                let cfg = &sandbox.config().linkedin;
                std::fs::write(
                    dir.join("linkedin.token"),
                    format!("{}\n", cfg.access_token),
                )?;
                out.push(DemoSource {
                    name: "linkedin_ads",
                    connector: "linkedin_ads",
                    body: format!(
                        "base_url = \"{}\"\naccess_token_file = \"linkedin.token\"\nad_account_ids = [\"{}\"]\n\
                         start_date = \"{first_day}\"\nend_date = \"{today}\"\n",
                        sandbox.base_url(Vendor::Linkedin),
                        cfg.ad_account_id
                    ),
                });
            }
            Vendor::Ga4 => {
                let url = sandbox.base_url(Vendor::Ga4);
                // A service-account key file, as GA4 deployments usually use.
                std::fs::write(
                    dir.join("ga4-service-account.json"),
                    crate::google::service_account_json(&format!("{url}/token")),
                )?;
                out.push(DemoSource {
                    name: "ga4",
                    connector: "ga4",
                    body: format!(
                        "base_url = \"{url}\"\nproperty_id = \"{}\"\n\
                         service_account_key_file = \"ga4-service-account.json\"\n\
                         start_date = \"{first_day}\"\nend_date = \"{today}\"\n",
                        sandbox.config().ga4.property_id
                    ),
                });
            }
            Vendor::GoogleAds => {
                let cfg = &sandbox.config().google_ads;
                let oauth = &cfg.oauth;
                std::fs::write(
                    dir.join("google_ads.client_secret"),
                    format!("{}\n", oauth.client_secret),
                )?;
                std::fs::write(
                    dir.join("google_ads.refresh_token"),
                    format!("{}\n", oauth.refresh_token),
                )?;
                let mut body = format!(
                    "base_url = \"{url}\"\nlogin_customer_id = \"{manager}\"\n\
                     rate_limit = {{ requests = 100, per_seconds = 1 }}\n\
                     start_date = \"{first_day}\"\nend_date = \"{today}\"\n\
                     oauth = {{ client_id = \"{client}\", client_secret_file = \"google_ads.client_secret\", \
                     refresh_token_file = \"google_ads.refresh_token\", token_url = \"{url}/token\" }}\n",
                    url = sandbox.base_url(Vendor::GoogleAds),
                    manager = cfg.manager_customer_id,
                    client = oauth.client_id,
                );
                if let Some(t) = &cfg.developer_token {
                    std::fs::write(dir.join("google_ads.developer_token"), format!("{t}\n"))?;
                    body.push_str("developer_token_file = \"google_ads.developer_token\"\n");
                }
                out.push(DemoSource {
                    name: "google_ads",
                    connector: "google_ads",
                    body,
                });
            }
            Vendor::Hubspot => {
                std::fs::write(
                    dir.join("hubspot.token"),
                    format!("{}\n", sandbox.hubspot_token()),
                )?;
                out.push(DemoSource {
                    name: "hubspot",
                    connector: "hubspot",
                    body: format!(
                        "base_url = \"{}\"\ntoken_file = \"hubspot.token\"\n",
                        sandbox.hubspot_url()
                    ),
                });
            }
            Vendor::Freshdesk => {
                std::fs::write(
                    dir.join("freshdesk.key"),
                    format!("{}\n", sandbox.freshdesk_api_key()),
                )?;
                // The emulator enforces no limit unless configured: demo and bench pace far
                // above any plan so the connector itself is measured (set your plan's).
                out.push(DemoSource {
                    name: "freshdesk",
                    connector: "freshdesk",
                    body: format!(
                        "base_url = \"{}\"\napi_key_file = \"freshdesk.key\"\n\
                         rate_limit = {{ requests = 100000, per_seconds = 60 }}\n",
                        sandbox.base_url(Vendor::Freshdesk)
                    ),
                });
            }
            Vendor::Intercom => {
                std::fs::write(
                    dir.join("intercom.token"),
                    format!("{}\n", sandbox.intercom_token()),
                )?;
                // No window limit is enforced unless configured; the connector still slows
                // down on X-RateLimit-Remaining when one is.
                out.push(DemoSource {
                    name: "intercom",
                    connector: "intercom",
                    body: format!(
                        "base_url = \"{}\"\naccess_token_file = \"intercom.token\"\n\
                         rate_limit = {{ requests = 100000, per_seconds = 10 }}\n",
                        sandbox.base_url(Vendor::Intercom)
                    ),
                });
            }
            Vendor::Zendesk => {
                let (email, token) = sandbox.zendesk_credentials();
                std::fs::write(dir.join("zendesk.token"), format!("{token}\n"))?;
                out.push(DemoSource {
                    name: "zendesk",
                    connector: "zendesk",
                    body: format!(
                        "base_url = \"{}\"\nemail = \"{email}\"\napi_token_file = \"zendesk.token\"\n\
                         export_rate_limit = {{ requests = 10, per_seconds = 60 }}\n",
                        sandbox.base_url(Vendor::Zendesk)
                    ),
                });
            }
            Vendor::Stripe => {
                std::fs::write(
                    dir.join("stripe.key"),
                    format!("{}\n", sandbox.stripe_key()),
                )?;
                // The account's history starts with the world: windows of a first sync split it.
                let start = sandbox.world().read().config().start.format("%Y-%m-%d");
                out.push(DemoSource {
                    name: "stripe",
                    connector: "stripe",
                    body: format!(
                        "base_url = \"{}\"\nsecret_key_file = \"stripe.key\"\nstart_date = \"{start}\"\n",
                        sandbox.base_url(Vendor::Stripe)
                    ),
                });
            }
            Vendor::Salesforce => {
                let cfg = sandbox.salesforce_config();
                std::fs::write(
                    dir.join("salesforce.client_secret"),
                    format!("{}\n", cfg.client_secret),
                )?;
                std::fs::write(
                    dir.join("salesforce.refresh_token"),
                    format!("{}\n", cfg.refresh_token),
                )?;
                out.push(DemoSource {
                    name: "salesforce",
                    connector: "salesforce",
                    body: format!(
                        "base_url = \"{}\"\nclient_id = \"{}\"\n\
                         client_secret_file = \"salesforce.client_secret\"\n\
                         refresh_token_file = \"salesforce.refresh_token\"\n",
                        sandbox.salesforce_url(),
                        cfg.client_id
                    ),
                });
            }
            Vendor::Pipedrive => {
                std::fs::write(
                    dir.join("pipedrive.token"),
                    format!("{}\n", sandbox.pipedrive_token()),
                )?;
                // The emulator enforces no burst limit unless configured; the demo paces at
                // the largest plan's OAuth limit (480 per 2 s).
                out.push(DemoSource {
                    name: "pipedrive",
                    connector: "pipedrive",
                    body: format!(
                        "base_url = \"{}\"\napi_token_file = \"pipedrive.token\"\n\
                         rate_limit = {{ requests = 480, per_seconds = 2 }}\n",
                        sandbox.base_url(Vendor::Pipedrive)
                    ),
                });
            }
        }
    }
    Ok(out)
}

/// Renders source sections as TOML.
pub fn sources_toml(sources: &[DemoSource]) -> String {
    sources
        .iter()
        .map(|s| {
            format!(
                "[sources.{}]\nconnector = \"{}\"\n{}\n",
                s.name, s.connector, s.body
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// How to benchmark one connector against its emulator: the stream to load, and the world
/// that gives it a requested number of records.
#[derive(Debug, Clone, Copy)]
pub struct BenchProfile {
    /// Connector (and demo source) name.
    pub connector: &'static str,
    /// Stream to load.
    pub stream: &'static str,
    /// What one record looks like, for the report.
    pub shape: &'static str,
    /// A world in which `stream` has exactly `records` records.
    pub world: fn(u64) -> WorldConfig,
}

/// The world `revline demo` serves: five times the test default (2,000 people, 200
/// companies, 600 deals), with sign-ups (and so deals) running until the world's clock, so that
/// the latest months have won deals and new customers and the KPIs the demo and its dashboard
/// show are not empty.
pub fn demo_world() -> WorldConfig {
    WorldConfig {
        people: 2_000,
        people_span_days: 460,
        companies: 200,
        deals: 600,
        ..WorldConfig::default()
    }
}

/// For profiles whose world cannot hit a record count exactly (daily reports: entities × days),
/// the number of records the benchmarked stream has in `world`; `None` means exactly the
/// requested count.
pub fn bench_expected_records(connector: &str, w: &crate::world::World) -> Option<u64> {
    match connector {
        "google_ads" => Some(w.active_ad_group_days("google")),
        "meta_ads" => Some(w.active_ad_days("facebook")),
        "linkedin_ads" => Some(crate::linkedin::analytics_rows(w, w.first_day(), w.today())),
        "ga4" => Some(
            ((w.today() - w.first_day()).num_days() as u64 + 1) * u64::from(w.landing_page_count()),
        ),
        "stripe" => Some(w.billing().charges().len() as u64),
        // Their listings leave deleted tickets out.
        "freshdesk" | "intercom" => Some(w.support().live_tickets().count() as u64),
        _ => None,
    }
}

/// Every benchmark profile, one per vendor.
pub fn bench_profiles() -> Vec<BenchProfile> {
    vec![
        BenchProfile {
            connector: "linkedin_ads",
            stream: "campaign_analytics_daily",
            shape: "LinkedIn adAnalytics campaign days: 22 metrics in two requests joined on the grain, no paging, counts as numbers and costs as strings, ~450 bytes each",
            // One LinkedIn campaign group over ~500 days: one row per campaign and day.
            world: |n| WorldConfig {
                people: 2_000,
                marketing: crate::world::marketing::MarketingConfig {
                    ad_groups_per_campaign: (n.div_ceil(480)).max(1) as u32,
                    ads_per_ad_group: 1,
                    ..Default::default()
                },
                ..WorldConfig::default()
            },
        },
        BenchProfile {
            connector: "meta_ads",
            stream: "ad_insights_daily",
            shape: "Meta insights at level=ad: async report jobs, 500 rows per page, metrics and actions as strings, ~700 bytes each",
            // One Meta campaign over 501 days: one row per ad and day.
            world: |n| WorldConfig {
                people: 2_000,
                marketing: crate::world::marketing::MarketingConfig {
                    ad_groups_per_campaign: (n.div_ceil(501 * 4)).max(1) as u32,
                    ads_per_ad_group: 4,
                    ..Default::default()
                },
                ..WorldConfig::default()
            },
        },
        BenchProfile {
            connector: "ga4",
            stream: "landing_pages_daily",
            shape: "GA4 runReport rows: date × landing page, 4 metrics as strings, 10,000 rows per page, ~190 bytes each",
            // 501 days of history; every page has visits every day.
            world: |n| WorldConfig {
                people: 2_000,
                marketing: crate::world::marketing::MarketingConfig {
                    landing_pages: (n.div_ceil(501)).max(1) as u32,
                    ..Default::default()
                },
                ..WorldConfig::default()
            },
        },
        BenchProfile {
            connector: "google_ads",
            stream: "ad_group_performance_daily",
            shape: "Google Ads ad-group days: searchStream batches of 10,000 rows, int64 as strings, ~450 bytes each",
            // Two Google campaigns over 501 days: about 1,000 ad-group days per ad group each.
            world: |n| WorldConfig {
                people: 2_000,
                marketing: crate::world::marketing::MarketingConfig {
                    ad_groups_per_campaign: (n.div_ceil(992)).max(1) as u32,
                    ads_per_ad_group: 1,
                    ..Default::default()
                },
                ..WorldConfig::default()
            },
        },
        BenchProfile {
            connector: "salesforce",
            stream: "leads",
            shape: "Salesforce leads: SOQL queryAll pages of 2,000, 25 fields with attributes, ~900 bytes each",
            world: |n| WorldConfig {
                people: n as usize,
                ..WorldConfig::default()
            },
        },
        BenchProfile {
            connector: "pipedrive",
            stream: "persons",
            shape: "Pipedrive v2 persons: cursor pages of 500, emails/phones arrays and custom fields, ~560 bytes each",
            world: |n| WorldConfig {
                people: n as usize,
                ..WorldConfig::default()
            },
        },
        BenchProfile {
            connector: "stripe",
            stream: "charges",
            shape: "Stripe charges: 100 per page, nested billing and card details, ~1.6 KB each",
            // About 1.55 charges per deal (monthly invoices of won deals, paid by card).
            world: |n| {
                let deals = (n as f64 / 1.55).ceil() as usize;
                WorldConfig {
                    deals,
                    companies: (deals / 4).max(40),
                    people: deals.max(400),
                    ..WorldConfig::default()
                }
            },
        },
        BenchProfile {
            connector: "freshdesk",
            stream: "tickets",
            shape: "Freshdesk tickets: bare arrays of 100 with requester and stats included, Link paging, restarted past page 300, ~1.5 KB each",
            world: |n| WorldConfig {
                people: (n as usize).max(400),
                support: crate::world::support::SupportConfig {
                    tickets: Some(n as usize),
                    ..Default::default()
                },
                ..WorldConfig::default()
            },
        },
        BenchProfile {
            connector: "intercom",
            stream: "conversations",
            shape: "Intercom conversations: search pages of 150 (POST, starting_after cursors), statistics, rating, source and contacts nested, ~1.9 KB each",
            world: |n| WorldConfig {
                people: (n as usize).max(400),
                support: crate::world::support::SupportConfig {
                    tickets: Some(n as usize),
                    ..Default::default()
                },
                ..WorldConfig::default()
            },
        },
        BenchProfile {
            connector: "zendesk",
            stream: "tickets",
            shape: "Zendesk tickets: incremental export pages of 1,000, via/satisfaction/custom fields, ~1.4 KB each",
            world: |n| WorldConfig {
                people: (n as usize).max(400),
                support: crate::world::support::SupportConfig {
                    tickets: Some(n as usize),
                    ..Default::default()
                },
                ..WorldConfig::default()
            },
        },
        BenchProfile {
            connector: "hubspot",
            stream: "contacts",
            shape: "HubSpot contacts: 100 per page, 14 properties, ~600 bytes each",
            world: |n| WorldConfig {
                people: n as usize,
                ..WorldConfig::default()
            },
        },
    ]
}
