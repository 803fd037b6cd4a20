//! Report streams: a `runReport` request per date window, paged by `offset`/`limit` against
//! `rowCount`, decoded positionally (dimension and metric values by index) into typed columns.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::Utc;
use futures::StreamExt;
use revline_core::decode::{BadValuePolicy, RecordDecoder};
use revline_core::http::{ApiRequest, ApiResponse, HttpClient};
use revline_core::report::{self, DateRange, ReportRead, ReportSettings, ReportUnit, UNIT_DONE};
use revline_core::schema::snake_case;
use revline_core::{
    Column, ColumnType as T, Error, ErrorKind, Page, PageStream, ReadRequest, Result, Stream,
    StreamDescriptor, StreamSchema, SyncMode,
};
use tokio::sync::OnceCell;

/// The metric types GA4 reports, as column types: integers, and floats for
/// `TYPE_FLOAT`, `TYPE_CURRENCY`, `TYPE_SECONDS` and the other real-valued types.
pub fn metric_type(ga4_type: &str) -> T {
    match ga4_type {
        "TYPE_INTEGER" => T::Int64,
        _ => T::Float64,
    }
}

/// Types of the common metrics (used until the property's metadata says otherwise).
const KNOWN_METRICS: &[(&str, &str)] = &[
    ("sessions", "TYPE_INTEGER"),
    ("engagedSessions", "TYPE_INTEGER"),
    ("totalUsers", "TYPE_INTEGER"),
    ("newUsers", "TYPE_INTEGER"),
    ("activeUsers", "TYPE_INTEGER"),
    ("keyEvents", "TYPE_INTEGER"),
    ("conversions", "TYPE_INTEGER"),
    ("screenPageViews", "TYPE_INTEGER"),
    ("eventCount", "TYPE_INTEGER"),
    ("transactions", "TYPE_INTEGER"),
    ("totalRevenue", "TYPE_CURRENCY"),
    ("purchaseRevenue", "TYPE_CURRENCY"),
    ("engagementRate", "TYPE_FLOAT"),
    ("bounceRate", "TYPE_FLOAT"),
    ("averageSessionDuration", "TYPE_SECONDS"),
];

/// A report: its dimensions and metrics (API names) and its stream.
#[derive(Debug, Clone)]
pub struct ReportDef {
    /// Stream name.
    pub name: String,
    /// One line on it.
    pub description: String,
    /// Dimensions; `date` first.
    pub dimensions: Vec<String>,
    /// Metrics.
    pub metrics: Vec<String>,
}

impl ReportDef {
    /// `traffic_daily`: sessions by day and traffic source / medium / campaign.
    pub fn traffic() -> ReportDef {
        ReportDef {
            name: "traffic_daily".into(),
            description: "Sessions, users, key events and revenue by day and session source / medium / campaign (restated: a trailing look-back window is re-read)".into(),
            dimensions: ["date", "sessionSource", "sessionMedium", "sessionCampaignName"]
                .map(String::from)
                .to_vec(),
            metrics: ["sessions", "engagedSessions", "totalUsers", "newUsers", "keyEvents", "totalRevenue"]
                .map(String::from)
                .to_vec(),
        }
    }

    /// `landing_pages_daily`: sessions by day and landing page.
    pub fn landing_pages() -> ReportDef {
        ReportDef {
            name: "landing_pages_daily".into(),
            description:
                "Sessions, users, key events and revenue by day and landing page (restated)".into(),
            dimensions: ["date", "landingPage"].map(String::from).to_vec(),
            metrics: [
                "sessions",
                "engagedSessions",
                "totalUsers",
                "newUsers",
                "keyEvents",
                "totalRevenue",
            ]
            .map(String::from)
            .to_vec(),
        }
    }

    /// A custom report from config, with `date` first.
    pub fn custom(name: &str, dimensions: &[String], metrics: &[String]) -> Result<ReportDef> {
        let valid_name = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && !name.as_bytes()[0].is_ascii_digit();
        if !valid_name {
            return Err(Error::config(format!(
                "custom report name `{name}` must use lowercase letters, digits and `_`"
            )));
        }
        if ["traffic_daily", "landing_pages_daily"].contains(&name) {
            return Err(Error::config(format!(
                "custom report name `{name}` is taken by a built-in stream"
            )));
        }
        let mut dims: Vec<String> = vec!["date".into()];
        dims.extend(dimensions.iter().filter(|d| *d != "date").cloned());
        if dims.len() > 9 {
            return Err(Error::config(format!(
                "custom report `{name}`: at most 9 dimensions (date included), got {}",
                dims.len()
            )));
        }
        if metrics.is_empty() || metrics.len() > 10 {
            return Err(Error::config(format!(
                "custom report `{name}`: 1 to 10 metrics, got {}",
                metrics.len()
            )));
        }
        Ok(ReportDef {
            name: name.to_string(),
            description: format!(
                "Custom report: {} by {}",
                metrics.join(", "),
                dims.join(", ")
            ),
            dimensions: dims,
            metrics: metrics.to_vec(),
        })
    }

    /// The schema for metric types `types` (API name → GA4 type).
    pub fn schema(&self, types: &HashMap<String, String>) -> Result<StreamSchema> {
        let mut cols = Vec::new();
        for (i, d) in self.dimensions.iter().enumerate() {
            let ty = if d == "date" { T::Date } else { T::Utf8 };
            cols.push(
                Column::nested(&["dimensionValues", &i.to_string(), "value"], ty)
                    .named(snake_case(d)),
            );
        }
        for (i, m) in self.metrics.iter().enumerate() {
            let ty = types.get(m).map_or(T::Float64, |t| metric_type(t));
            cols.push(
                Column::nested(&["metricValues", &i.to_string(), "value"], ty).named(snake_case(m)),
            );
        }
        StreamSchema::new(cols)
    }

    fn known_types() -> HashMap<String, String> {
        KNOWN_METRICS
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect()
    }

    /// The declaration (metric types from the common ones; custom reports refine them from
    /// the property's metadata).
    pub fn descriptor(&self) -> StreamDescriptor {
        let schema = self
            .schema(&Self::known_types())
            .unwrap_or_else(|_| StreamSchema::new(Vec::new()).expect("empty"));
        StreamDescriptor {
            name: self.name.clone(),
            description: self.description.clone(),
            primary_key: self.dimensions.iter().map(|d| snake_case(d)).collect(),
            cursor_field: Some("date".into()),
            sync_modes: vec![SyncMode::Incremental, SyncMode::FullRefresh],
            schema,
        }
    }

    fn body(&self, range: DateRange, limit: u64, offset: u64) -> serde_json::Value {
        let named = |v: &[String]| {
            v.iter()
                .map(|n| serde_json::json!({"name": n}))
                .collect::<Vec<_>>()
        };
        serde_json::json!({
            "dateRanges": [{"startDate": range.start.to_string(), "endDate": range.end.to_string()}],
            "dimensions": named(&self.dimensions),
            "metrics": named(&self.metrics),
            "limit": limit.to_string(),
            "offset": offset.to_string(),
            "returnPropertyQuota": true,
            "keepEmptyRows": false,
            // A total order, so that offset paging never skips or repeats a row.
            "orderBys": self.dimensions.iter().map(|d| serde_json::json!({"dimension": {"dimensionName": d}})).collect::<Vec<_>>(),
        })
    }
}

/// The property's quota as the last response reported it; once a budget falls under the
/// reserve, no further report is requested (the run commits and stops, resume later).
#[derive(Debug)]
pub struct QuotaGuard {
    reserve_percent: f64,
    budgets: [(&'static str, u64); 3],
    stop: Mutex<Option<String>>,
}

impl QuotaGuard {
    /// A guard keeping `reserve_percent` of the daily, hourly and per-project hourly budgets.
    pub fn new(reserve_percent: f64, per_day: u64, per_hour: u64) -> Self {
        QuotaGuard {
            reserve_percent,
            budgets: [
                ("tokensPerDay", per_day),
                ("tokensPerHour", per_hour),
                ("tokensPerProjectPerHour", 14_000u64.max(per_hour * 14 / 40)),
            ],
            stop: Mutex::new(None),
        }
    }

    /// Fails if a budget already fell under the reserve.
    pub fn check(&self) -> Result<()> {
        match self.stop.lock().expect("quota lock").as_ref() {
            Some(why) => Err(Error::new(ErrorKind::QuotaExhausted, why.clone())),
            None => Ok(()),
        }
    }

    /// Reads `propertyQuota` of a response.
    pub fn observe(&self, quota: Option<&serde_json::Value>) {
        let Some(q) = quota else { return };
        for (name, budget) in self.budgets {
            let Some(remaining) = q
                .pointer(&format!("/{name}/remaining"))
                .and_then(|r| r.as_u64())
            else {
                continue;
            };
            if budget > 0 && (remaining as f64) * 100.0 < self.reserve_percent * budget as f64 {
                let why = format!(
                    "GA4 property quota {name}: {remaining} of {budget} tokens left, under the {}% reserve; \
                     what was read is committed, resume later",
                    self.reserve_percent
                );
                tracing::warn!("{why}");
                self.stop.lock().expect("quota lock").get_or_insert(why);
            }
        }
    }
}

/// What every GA4 stream of a source shares.
pub struct Shared {
    /// The client.
    pub client: HttpClient,
    /// `properties/{id}` path segment.
    pub property: String,
    /// Rows per request.
    pub page_size: u64,
    /// The quota reserve.
    pub quota: QuotaGuard,
    /// Metric types from the property's metadata (fetched once, for custom reports).
    pub metadata: OnceCell<HashMap<String, String>>,
}

impl Shared {
    /// The property's metric types (`GET /v1beta/properties/{id}/metadata`).
    pub async fn metric_types(&self) -> Result<&HashMap<String, String>> {
        self.metadata
            .get_or_try_init(|| async {
                let req = ApiRequest::get(
                    self.client
                        .url(&format!("/v1beta/properties/{}/metadata", self.property)),
                );
                let resp = self.client.execute(&req).await?;
                let v: serde_json::Value = serde_json::from_slice(&resp.body).map_err(|e| {
                    Error::new(ErrorKind::Decode, "GA4 metadata is not JSON").with_source(e)
                })?;
                Ok(v["metrics"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|m| {
                        Some((
                            m["apiName"].as_str()?.to_string(),
                            m["type"].as_str()?.to_string(),
                        ))
                    })
                    .collect())
            })
            .await
    }
}

/// A report stream.
pub struct ReportStream {
    def: ReportDef,
    descriptor: StreamDescriptor,
    custom: bool,
    shared: Arc<Shared>,
    settings: ReportSettings,
    policy: BadValuePolicy,
}

impl ReportStream {
    /// The stream of `def`.
    pub fn new(
        def: ReportDef,
        custom: bool,
        shared: Arc<Shared>,
        settings: ReportSettings,
        policy: BadValuePolicy,
    ) -> Self {
        ReportStream {
            descriptor: def.descriptor(),
            def,
            custom,
            shared,
            settings,
            policy,
        }
    }
}

/// One decoded page: the batch, the total rows and where the next page starts.
struct Fetched {
    batch: arrow::record_batch::RecordBatch,
    nulled: u64,
    row_count: u64,
}

async fn fetch(
    shared: &Shared,
    def: &ReportDef,
    decoder: &RecordDecoder,
    range: DateRange,
    offset: u64,
) -> Result<Fetched> {
    shared.quota.check()?;
    let req = ApiRequest::post_json(
        shared
            .client
            .url(&format!("/v1beta/properties/{}:runReport", shared.property)),
        def.body(range, shared.page_size, offset),
    );
    let name = def.name.clone();
    let check = |r: &ApiResponse| -> Result<(Fetched, Option<serde_json::Value>)> {
        let d = decoder.decode(&r.body).map_err(|e| e.into_error(&name))?;
        // Values are positional: the headers must be what was asked for, in that order.
        let headers = |key: &str| -> Vec<String> {
            d.envelope
                .get(key)
                .and_then(|h| h.as_array())
                .into_iter()
                .flatten()
                .filter_map(|h| h["name"].as_str().map(String::from))
                .collect()
        };
        if headers("dimensionHeaders") != def.dimensions || headers("metricHeaders") != def.metrics
        {
            return Err(Error::new(
                ErrorKind::Api,
                "the report's dimension or metric headers differ from the request",
            )
            .with_context("stream", &name));
        }
        // An empty report has no `rowCount` (proto3 default).
        let row_count = d
            .envelope
            .get("rowCount")
            .and_then(|c| c.as_u64())
            .unwrap_or(0);
        Ok((
            Fetched {
                batch: d.batch,
                nulled: d.nulled_count,
                row_count,
            },
            d.envelope.get("propertyQuota").cloned(),
        ))
    };
    let (fetched, quota) = shared
        .client
        .execute_checked(&req, &check)
        .await
        .map_err(|e| {
            e.with_context("window", range.label())
                .with_context("offset", offset)
        })?;
    shared.quota.observe(quota.as_ref());
    Ok(fetched)
}

#[async_trait]
impl Stream for ReportStream {
    fn descriptor(&self) -> &StreamDescriptor {
        &self.descriptor
    }

    async fn resolve_schema(&self) -> Result<StreamSchema> {
        if !self.custom {
            return Ok(self.descriptor.schema.clone());
        }
        // Custom metrics are typed by the property's metadata; unknown names fail here.
        let types = self.shared.metric_types().await?;
        for m in &self.def.metrics {
            if !types.contains_key(m) {
                return Err(Error::config(format!(
                    "custom report `{}`: `{m}` is not a metric of property {} (see its metadata)",
                    self.def.name, self.shared.property
                )));
            }
        }
        self.def.schema(types)
    }

    fn read(&self, request: ReadRequest) -> PageStream {
        let def = self.def.clone();
        let shared = self.shared.clone();
        let settings = self.settings.clone();
        let key: Vec<String> = self.descriptor.primary_key.clone();
        let decoder = match RecordDecoder::new(&request.schema, &["rows"], &key, self.policy) {
            Ok(d) => d,
            Err(e) => return futures::stream::once(async move { Err(e) }).boxed(),
        };
        report::lazy(async move {
            let plan = ReportRead::begin(&def.name, &request, &settings, "date")?;
            let units = plan.windows();
            let def = Arc::new(def);
            Ok(plan.run(units, move |unit: ReportUnit, position| {
                let start = position
                    .as_ref()
                    .and_then(|p| p.get("offset"))
                    .and_then(|o| o.as_u64())
                    .unwrap_or(0);
                let shared = shared.clone();
                let def = def.clone();
                let decoder = decoder.clone();
                futures::stream::unfold(Some(start), move |offset| {
                    let shared = shared.clone();
                    let def = def.clone();
                    let decoder = decoder.clone();
                    async move {
                        let offset = offset?;
                        let page = fetch(&shared, &def, &decoder, unit.range, offset).await;
                        Some(match page {
                            Err(e) => (Err(e), None),
                            Ok(f) => {
                                let next = offset + shared.page_size;
                                let (checkpoint, more) = if next < f.row_count {
                                    (serde_json::json!({ "offset": next }), Some(next))
                                } else {
                                    (serde_json::json!(UNIT_DONE), None)
                                };
                                (
                                    Ok(Page {
                                        batch: f.batch,
                                        checkpoint,
                                        fetched_at: Utc::now(),
                                        nulled_values: f.nulled,
                                    }),
                                    more,
                                )
                            }
                        })
                    }
                })
                .boxed()
            }))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_and_bodies() {
        let d = ReportDef::traffic();
        let s = d.schema(&ReportDef::known_types()).unwrap();
        let names: Vec<&str> = s.columns().iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "date",
                "session_source",
                "session_medium",
                "session_campaign_name",
                "sessions",
                "engaged_sessions",
                "total_users",
                "new_users",
                "key_events",
                "total_revenue"
            ]
        );
        assert_eq!(s.columns()[0].ty, T::Date);
        assert_eq!(s.columns()[4].ty, T::Int64);
        assert_eq!(s.columns()[9].ty, T::Float64);
        let desc = d.descriptor();
        assert_eq!(
            desc.primary_key,
            [
                "date",
                "session_source",
                "session_medium",
                "session_campaign_name"
            ]
        );
        let r = DateRange::new(
            chrono::NaiveDate::from_ymd_opt(2024, 5, 1).unwrap(),
            chrono::NaiveDate::from_ymd_opt(2024, 5, 30).unwrap(),
        );
        let b = d.body(r, 10_000, 20_000);
        assert_eq!(b["limit"], "10000");
        assert_eq!(b["offset"], "20000");
        assert_eq!(b["returnPropertyQuota"], true);
        assert_eq!(b["dateRanges"][0]["endDate"], "2024-05-30");
        let c = ReportDef::custom(
            "devices_daily",
            &["deviceCategory".into()],
            &["sessions".into()],
        )
        .unwrap();
        assert_eq!(c.dimensions, ["date", "deviceCategory"]);
        assert!(ReportDef::custom("Bad-Name", &[], &["sessions".into()]).is_err());
        assert!(ReportDef::custom("x", &[], &[]).is_err());
        assert!(ReportDef::custom("traffic_daily", &[], &["sessions".into()]).is_err());
    }

    #[test]
    fn quota_guard_stops_under_the_reserve() {
        let g = QuotaGuard::new(10.0, 200_000, 40_000);
        g.observe(Some(
            &serde_json::json!({"tokensPerDay": {"consumed": 10, "remaining": 150_000}}),
        ));
        assert!(g.check().is_ok());
        g.observe(Some(
            &serde_json::json!({"tokensPerHour": {"consumed": 10, "remaining": 3_999}}),
        ));
        let e = g.check().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::QuotaExhausted);
        assert!(
            e.to_string().contains("tokensPerHour: 3999 of 40000"),
            "{e}"
        );
    }
}
