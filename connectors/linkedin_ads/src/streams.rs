//! The streams: `ad_accounts`, `campaign_groups` and `campaigns` (search finders paged by
//! `pageToken`), and `campaign_analytics_daily` (`adAnalytics` with `pivot=CAMPAIGN`,
//! `timeGranularity=DAILY`): no paging and a silent row cap, so a date range whose response
//! reaches the cap is halved until every response is under it; more metrics than fit one
//! request are read in several requests and joined on the grain (day × campaign).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Date32Array, Int64Array, StringArray, UInt32Array, new_null_array,
};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use chrono::{Datelike, Duration, NaiveDate, Utc};
use futures::StreamExt;
use revline_core::decode::{BadValuePolicy, RecordDecoder, zero_nulls};
use revline_core::fetch::{decode_error, fetch_one};
use revline_core::http::{ApiRequest, HttpClient};
use revline_core::report::{self, DateRange, ReportRead, ReportSettings, ReportUnit, UNIT_DONE};
use revline_core::schema::EpochUnit;
use revline_core::{
    Column, ColumnType as T, Error, ErrorKind, Page, PageStream, ReadRequest, Result, Stream,
    StreamDescriptor, StreamSchema, SyncMode,
};

/// What every stream of a source shares.
pub struct Shared {
    /// The client.
    pub client: HttpClient,
    /// `LinkedIn-Version`.
    pub version: String,
    /// Ad account ids.
    pub accounts: Vec<u64>,
    /// Metrics (API names).
    pub metrics: Vec<String>,
    /// Row cap of `adAnalytics`.
    pub row_cap: u32,
    /// Most fields per request.
    pub max_fields: u32,
    /// Search page size.
    pub page_size: u32,
    /// Report settings.
    pub settings: ReportSettings,
    /// Bad-value policy.
    pub policy: BadValuePolicy,
}

impl Shared {
    /// A GET of `/rest/{path}` with the protocol headers (the query is appended raw: Rest.li
    /// structure stays literal).
    pub fn get(&self, path_and_query: &str) -> ApiRequest {
        ApiRequest::get(self.client.url(&format!("/rest/{path_and_query}")))
            .with_header("LinkedIn-Version", self.version.clone())
            .with_header("X-Restli-Protocol-Version", "2.0.0")
    }
}

/// Money columns: exact decimals (LinkedIn prints costs as strings with many places).
const MONEY: T = T::Decimal {
    precision: 38,
    scale: 18,
};

/// The column type of an `adAnalytics` metric: costs and values are decimal strings, rates
/// and averages floats, everything else a count.
pub fn metric_type(metric: &str) -> T {
    let m = metric.to_ascii_lowercase();
    if m.starts_with("cost") || m.contains("valueinlocalcurrency") || m.ends_with("inusd") {
        MONEY
    } else if m.starts_with("average") || m.ends_with("rate") || m.contains("dwelltime") {
        T::Float64
    } else {
        T::Int64
    }
}

/// The numeric id at the end of a URN (`urn:li:sponsoredCampaign:287654321` → 287654321).
pub fn urn_id(urn: &str) -> Option<i64> {
    urn.rsplit(':').next()?.parse().ok()
}

fn urn_ids(a: &StringArray) -> Int64Array {
    a.iter().map(|v| v.and_then(urn_id)).collect()
}

// ----- objects ---------------------------------------------------------------------------------

/// A search-finder listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Object {
    /// `ad_accounts`.
    AdAccounts,
    /// `campaign_groups`.
    CampaignGroups,
    /// `campaigns`.
    Campaigns,
}

impl Object {
    /// Every object stream.
    pub const ALL: [Object; 3] = [
        Object::AdAccounts,
        Object::CampaignGroups,
        Object::Campaigns,
    ];

    fn name(self) -> &'static str {
        match self {
            Object::AdAccounts => "ad_accounts",
            Object::CampaignGroups => "campaign_groups",
            Object::Campaigns => "campaigns",
        }
    }

    fn decode_columns(self) -> Vec<Column> {
        let ms = |path: &[&str], name: &str| {
            Column::nested(path, T::Timestamp)
                .named(name)
                .epoch(EpochUnit::Millis)
        };
        let mut c = vec![Column::new("id", T::Int64), Column::new("name", T::Utf8)];
        match self {
            Object::AdAccounts => c.extend([
                Column::new("currency", T::Utf8),
                Column::new("status", T::Utf8),
                Column::new("type", T::Utf8),
                Column::new("reference", T::Utf8),
                Column::new("test", T::Boolean),
                Column::new("servingStatuses", T::StringList),
            ]),
            Object::CampaignGroups => c.extend([
                Column::new("account", T::Utf8),
                Column::new("status", T::Utf8),
                Column::new("test", T::Boolean),
                Column::new("servingStatuses", T::StringList),
                ms(&["runSchedule", "start"], "run_schedule_start"),
                ms(&["runSchedule", "end"], "run_schedule_end"),
            ]),
            Object::Campaigns => c.extend([
                Column::new("account", T::Utf8),
                Column::new("campaignGroup", T::Utf8),
                Column::new("status", T::Utf8),
                Column::new("type", T::Utf8),
                Column::new("costType", T::Utf8),
                Column::new("objectiveType", T::Utf8),
                Column::new("format", T::Utf8),
                Column::nested(
                    &["dailyBudget", "amount"],
                    T::Decimal {
                        precision: 18,
                        scale: 2,
                    },
                ),
                Column::nested(&["dailyBudget", "currencyCode"], T::Utf8),
                Column::nested(
                    &["unitCost", "amount"],
                    T::Decimal {
                        precision: 18,
                        scale: 2,
                    },
                ),
                Column::nested(&["locale", "country"], T::Utf8),
                Column::nested(&["locale", "language"], T::Utf8),
                Column::new("test", T::Boolean),
                Column::new("servingStatuses", T::StringList),
                ms(&["runSchedule", "start"], "run_schedule_start"),
                ms(&["runSchedule", "end"], "run_schedule_end"),
            ]),
        }
        c.push(ms(&["changeAuditStamps", "created", "time"], "created_at"));
        c.push(ms(
            &["changeAuditStamps", "lastModified", "time"],
            "last_modified_at",
        ));
        c
    }

    /// Numeric ids derived from URN columns: `(urn column, id column)`.
    fn derived(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Object::AdAccounts => &[],
            Object::CampaignGroups => &[("account", "account_id")],
            Object::Campaigns => &[
                ("account", "account_id"),
                ("campaign_group", "campaign_group_id"),
            ],
        }
    }

    fn schema(self) -> StreamSchema {
        let mut c = self.decode_columns();
        c.extend(
            self.derived()
                .iter()
                .map(|(_, id)| Column::new(id, T::Int64)),
        );
        StreamSchema::new(c).expect("distinct columns")
    }

    /// The declaration.
    pub fn descriptor(self) -> StreamDescriptor {
        StreamDescriptor {
            name: self.name().to_string(),
            description: match self {
                Object::AdAccounts => {
                    "Sponsored ad accounts the token can read: currency, status, type"
                }
                Object::CampaignGroups => {
                    "Campaign groups of each ad account (the CRM's campaigns by name)"
                }
                Object::Campaigns => {
                    "Campaigns of each ad account: group, objective, cost type, budget, schedule"
                }
            }
            .to_string(),
            schema: self.schema(),
            primary_key: vec!["id".into()],
            cursor_field: None,
            sync_modes: vec![SyncMode::FullRefresh],
        }
    }

    /// `(path, per-account)`.
    fn path(self, account: u64) -> String {
        match self {
            Object::AdAccounts => "adAccounts?q=search".into(),
            Object::CampaignGroups => format!("adAccounts/{account}/adCampaignGroups?q=search"),
            Object::Campaigns => format!("adAccounts/{account}/adCampaigns?q=search"),
        }
    }
}

/// An object stream: each account (once for `ad_accounts`), every page of its search.
pub struct ObjectStream {
    object: Object,
    descriptor: StreamDescriptor,
    shared: Arc<Shared>,
}

impl ObjectStream {
    /// The stream of `object`.
    pub fn new(object: Object, shared: Arc<Shared>) -> Self {
        ObjectStream {
            object,
            descriptor: object.descriptor(),
            shared,
        }
    }
}

#[async_trait]
impl Stream for ObjectStream {
    fn descriptor(&self) -> &StreamDescriptor {
        &self.descriptor
    }

    fn read(&self, request: ReadRequest) -> PageStream {
        let object = self.object;
        let shared = self.shared.clone();
        let decoder = match StreamSchema::new(object.decode_columns())
            .and_then(|s| RecordDecoder::new(&s, &["elements"], &["id".to_string()], shared.policy))
        {
            Ok(d) => d,
            Err(e) => return futures::stream::once(async move { Err(e) }).boxed(),
        };
        let out = request.schema.arrow_schema();
        let accounts: Vec<u64> = match object {
            // The account search lists every account of the token at once.
            Object::AdAccounts => vec![0],
            _ => shared.accounts.clone(),
        };
        futures::stream::iter(accounts)
            .flat_map(move |account| {
                let shared = shared.clone();
                let decoder = decoder.clone();
                let out = out.clone();
                futures::stream::unfold(Some((None::<String>, 1u64)), move |next| {
                    let shared = shared.clone();
                    let decoder = decoder.clone();
                    let out = out.clone();
                    async move {
                        let (token, number) = next?;
                        let name = object.name();
                        let res: Result<(Page, Option<String>)> = async {
                            let mut pq = format!(
                                "{}&pageSize={}",
                                object.path(account),
                                shared.page_size
                            );
                            if let Some(t) = &token {
                                pq.push_str("&pageToken=");
                                pq.push_str(&encode_component(t));
                            }
                            let req = shared.get(&pq);
                            let (resp, env) =
                                fetch_one(&shared.client, &req, &["elements".to_string()], name)
                                    .await?;
                            let d = decoder
                                .decode(&resp.body)
                                .map_err(|e| decode_error(e, name, number))?;
                            let mut cols: Vec<ArrayRef> = d.batch.columns().to_vec();
                            for (urn, _) in object.derived() {
                                let a = d
                                    .batch
                                    .column_by_name(urn)
                                    .and_then(|c| c.as_any().downcast_ref::<StringArray>())
                                    .expect("urn column");
                                cols.push(Arc::new(urn_ids(a)));
                            }
                            let batch = RecordBatch::try_new(out, cols)?;
                            let next = env
                                .text("metadata.nextPageToken")
                                .filter(|t| !t.is_empty());
                            if next.is_some() && next == token {
                                return Err(Error::new(
                                    ErrorKind::Api,
                                    "LinkedIn returned the same pageToken twice; stopping to avoid a loop",
                                ));
                            }
                            Ok((
                                Page {
                                    batch,
                                    checkpoint: serde_json::json!({}),
                                    fetched_at: Utc::now(),
                                    nulled_values: d.nulled_count,
                                },
                                next,
                            ))
                        }
                        .await;
                        Some(match res {
                            Ok((page, next)) => (Ok(page), next.map(|t| (Some(t), number + 1))),
                            Err(e) => (
                                Err(if account == 0 {
                                    e
                                } else {
                                    e.with_context("account", account.to_string())
                                }),
                                None,
                            ),
                        })
                    }
                })
            })
            .boxed()
    }
}

/// Percent-encodes a query component (unreserved characters stay).
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

// ----- analytics -------------------------------------------------------------------------------

/// The name of the analytics stream.
pub const ANALYTICS: &str = "campaign_analytics_daily";

/// The declaration of `campaign_analytics_daily` for `metrics`.
pub fn analytics_descriptor(metrics: &[String]) -> StreamDescriptor {
    let mut c = vec![
        Column::new("date", T::Date),
        Column::new("campaign_id", T::Int64),
        Column::new("pivot_value", T::Utf8),
    ];
    c.extend(metrics.iter().map(|m| Column::new(m, metric_type(m))));
    StreamDescriptor {
        name: ANALYTICS.into(),
        description: "Daily adAnalytics per campaign (pivot=CAMPAIGN): impressions, clicks, cost, conversions, leads, engagement (restated: a 14-day look-back is re-read)".into(),
        schema: StreamSchema::new(c).expect("distinct metric names"),
        primary_key: vec!["date".into(), "campaign_id".into()],
        cursor_field: Some("date".into()),
        sync_modes: vec![SyncMode::Incremental, SyncMode::FullRefresh],
    }
}

/// Splits `metrics` into requests of at most `max_fields` fields (`dateRange` and
/// `pivotValues` ride along in each).
pub fn chunks(metrics: &[String], max_fields: u32) -> Vec<Vec<String>> {
    let per = (max_fields as usize).saturating_sub(2).max(1);
    metrics.chunks(per).map(|c| c.to_vec()).collect()
}

/// `(start:(year:2024,month:5,day:1),end:(year:2024,month:5,day:7))`.
pub fn restli_range(r: DateRange) -> String {
    let d = |d: NaiveDate| format!("(year:{},month:{},day:{})", d.year(), d.month(), d.day());
    format!("(start:{},end:{})", d(r.start), d(r.end))
}

/// The analytics stream.
pub struct AnalyticsStream {
    descriptor: StreamDescriptor,
    shared: Arc<Shared>,
}

impl AnalyticsStream {
    /// The stream.
    pub fn new(shared: Arc<Shared>) -> Self {
        AnalyticsStream {
            descriptor: analytics_descriptor(&shared.metrics),
            shared,
        }
    }
}

/// Where a window stands: the first day not yet written.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Position {
    next: NaiveDate,
}

/// One chunk's decoded response.
struct Chunk {
    batch: RecordBatch,
    metrics: Vec<String>,
    nulled: u64,
}

struct Unit {
    shared: Arc<Shared>,
    range: DateRange,
    decoders: Vec<(Vec<String>, RecordDecoder)>,
    out: SchemaRef,
}

fn key_columns() -> Vec<Column> {
    vec![
        Column::nested(&["dateRange", "start", "year"], T::Int64),
        Column::nested(&["dateRange", "start", "month"], T::Int64),
        Column::nested(&["dateRange", "start", "day"], T::Int64),
        Column::nested(&["pivotValues", "0"], T::Utf8).named("pivot_value"),
    ]
}

impl Unit {
    fn request(&self, r: DateRange, metrics: &[String]) -> ApiRequest {
        let accounts = self
            .shared
            .accounts
            .iter()
            .map(|a| format!("urn%3Ali%3AsponsoredAccount%3A{a}"))
            .collect::<Vec<_>>()
            .join(",");
        let mut fields = vec!["dateRange".to_string(), "pivotValues".to_string()];
        fields.extend(metrics.iter().cloned());
        self.shared.get(&format!(
            "adAnalytics?q=analytics&pivot=CAMPAIGN&timeGranularity=DAILY&dateRange={}&accounts=List({accounts})&fields={}",
            restli_range(r),
            fields.join(",")
        ))
    }

    /// Reads every chunk of range `r`; `Ok(None)` when a response reached the cap.
    async fn read_range(&self, r: DateRange, number: u64) -> Result<Option<Vec<Chunk>>> {
        let mut out = Vec::with_capacity(self.decoders.len());
        for (metrics, decoder) in &self.decoders {
            let req = self.request(r, metrics);
            let (resp, _) = fetch_one(
                &self.shared.client,
                &req,
                &["elements".to_string()],
                ANALYTICS,
            )
            .await?;
            let d = decoder
                .decode(&resp.body)
                .map_err(|e| decode_error(e, ANALYTICS, number))?;
            if d.batch.num_rows() >= self.shared.row_cap as usize {
                tracing::debug!(
                    window = %r.label(),
                    rows = d.batch.num_rows(),
                    "adAnalytics response reached the row cap; splitting the date range"
                );
                return Ok(None);
            }
            out.push(Chunk {
                batch: d.batch,
                metrics: metrics.clone(),
                nulled: d.nulled_count,
            });
        }
        Ok(Some(out))
    }

    /// Joins the chunks on (day, campaign) into the output batch; a metric missing from a
    /// response (LinkedIn leaves out rows without activity) is zero.
    fn join(&self, chunks: &[Chunk]) -> Result<RecordBatch> {
        type Key = (i64, i64, i64, String);
        let keys_of = |b: &RecordBatch| -> Result<Vec<Option<Key>>> {
            let int = |n: &str| {
                b.column_by_name(n)
                    .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
                    .expect("key column")
                    .clone()
            };
            let (y, m, d) = (
                int("date_range__start__year"),
                int("date_range__start__month"),
                int("date_range__start__day"),
            );
            let p = b
                .column_by_name("pivot_value")
                .and_then(|c| c.as_any().downcast_ref::<StringArray>())
                .expect("pivot column")
                .clone();
            Ok((0..b.num_rows())
                .map(|i| {
                    (y.is_valid(i) && m.is_valid(i) && d.is_valid(i) && p.is_valid(i))
                        .then(|| (y.value(i), m.value(i), d.value(i), p.value(i).to_string()))
                })
                .collect())
        };
        let mut order: Vec<Key> = Vec::new();
        let mut index: HashMap<Key, usize> = HashMap::new();
        let mut rows: Vec<Vec<Option<u32>>> = Vec::with_capacity(chunks.len());
        for (ci, c) in chunks.iter().enumerate() {
            let keys = keys_of(&c.batch)?;
            let mut at = vec![None; order.len()];
            for (ri, k) in keys.into_iter().enumerate() {
                let Some(k) = k else {
                    return Err(Error::new(
                        ErrorKind::Decode,
                        format!(
                            "{ANALYTICS}: an adAnalytics element has no dateRange.start or pivotValues (request {})",
                            ci + 1
                        ),
                    ));
                };
                let slot = match index.get(&k) {
                    Some(&s) => s,
                    None => {
                        index.insert(k.clone(), order.len());
                        order.push(k);
                        at.push(None);
                        order.len() - 1
                    }
                };
                at[slot] = Some(ri as u32);
            }
            rows.push(at);
        }
        let n = order.len();
        let mut date = Vec::with_capacity(n);
        for (y, m, d, _) in &order {
            let day =
                NaiveDate::from_ymd_opt(*y as i32, *m as u32, *d as u32).ok_or_else(|| {
                    Error::new(
                        ErrorKind::Decode,
                        format!("{ANALYTICS}: dateRange.start {y}-{m}-{d} is not a date"),
                    )
                })?;
            date.push(
                (day - NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days() as i32,
            );
        }
        let pivots: StringArray = order.iter().map(|k| Some(k.3.as_str())).collect();
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(Date32Array::from(date)),
            Arc::new(urn_ids(&pivots)),
            Arc::new(pivots),
        ];
        for m in &self.shared.metrics {
            let (ci, c) = chunks
                .iter()
                .enumerate()
                .find(|(_, c)| c.metrics.contains(m))
                .expect("every metric is in a chunk");
            let col = c
                .batch
                .column_by_name(&revline_core::schema::snake_case(m))
                .expect("metric column");
            let mut idx: Vec<Option<u32>> = rows[ci].clone();
            idx.resize(n, None);
            let taken = if idx.is_empty() {
                new_null_array(col.data_type(), 0)
            } else {
                arrow::compute::take(col.as_ref(), &UInt32Array::from(idx), None)?
            };
            cols.push(taken);
        }
        let batch = RecordBatch::try_new(self.out.clone(), cols)?;
        let names: Vec<String> = self
            .shared
            .metrics
            .iter()
            .map(|m| revline_core::schema::snake_case(m))
            .collect();
        let refs: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
        Ok(zero_nulls(&batch, &refs)?)
    }

    /// Reads the window from `position`, one page per date range under the cap.
    fn pages(self, position: Option<serde_json::Value>) -> PageStream {
        let from = position
            .and_then(|p| serde_json::from_value::<Position>(p).ok())
            .map(|p| p.next)
            .unwrap_or(self.range.start);
        let mut queue = VecDeque::new();
        if from <= self.range.end {
            queue.push_back(DateRange::new(from.max(self.range.start), self.range.end));
        }
        let unit = Arc::new(self);
        futures::stream::unfold(Some((queue, 1u64)), move |state| {
            let unit = unit.clone();
            async move {
                let (mut queue, mut number) = state?;
                let res: Result<Option<(Page, VecDeque<DateRange>)>> = async {
                    loop {
                        let Some(r) = queue.pop_front() else {
                            return Ok(None);
                        };
                        match unit.read_range(r, number).await? {
                            Some(chunks) => {
                                let batch = unit.join(&chunks)?;
                                let nulled = chunks.iter().map(|c| c.nulled).sum();
                                let checkpoint = if queue.is_empty() {
                                    serde_json::json!(UNIT_DONE)
                                } else {
                                    serde_json::to_value(Position {
                                        next: r.end + Duration::days(1),
                                    })
                                    .expect("position")
                                };
                                number += 1;
                                return Ok(Some((
                                    Page {
                                        batch,
                                        checkpoint,
                                        fetched_at: Utc::now(),
                                        nulled_values: nulled,
                                    },
                                    queue,
                                )));
                            }
                            None => match r.halves() {
                                Some((a, b)) => {
                                    queue.push_front(b);
                                    queue.push_front(a);
                                }
                                None => {
                                    return Err(Error::new(
                                        ErrorKind::Api,
                                        format!(
                                            "adAnalytics returned {} rows for the single day {} (LinkedIn's row cap): the day cannot be split further; read fewer ad accounts per source",
                                            unit.shared.row_cap, r.start
                                        ),
                                    ));
                                }
                            },
                        }
                    }
                }
                .await;
                match res {
                    Ok(Some((page, queue))) => {
                        let done = queue.is_empty();
                        Some((Ok(page), (!done).then_some((queue, number))))
                    }
                    Ok(None) => None,
                    Err(e) => Some((Err(e.with_context("window", unit.range.label())), None)),
                }
            }
        })
        .boxed()
    }
}

#[async_trait]
impl Stream for AnalyticsStream {
    fn descriptor(&self) -> &StreamDescriptor {
        &self.descriptor
    }

    fn read(&self, request: ReadRequest) -> PageStream {
        let shared = self.shared.clone();
        let mut decoders = Vec::new();
        for metrics in chunks(&shared.metrics, shared.max_fields) {
            let mut cols = key_columns();
            cols.extend(metrics.iter().map(|m| Column::new(m, metric_type(m))));
            let d = StreamSchema::new(cols).and_then(|s| {
                RecordDecoder::new(
                    &s,
                    &["elements"],
                    &["pivot_value".to_string()],
                    shared.policy,
                )
            });
            match d {
                Ok(d) => decoders.push((metrics, d)),
                Err(e) => return futures::stream::once(async move { Err(e) }).boxed(),
            }
        }
        let out = request.schema.arrow_schema();
        report::lazy(async move {
            let plan = ReportRead::begin(ANALYTICS, &request, &shared.settings, "date")?;
            let units: Vec<ReportUnit> = plan.windows();
            Ok(plan.run(units, move |u, position| {
                Unit {
                    shared: shared.clone(),
                    range: u.range,
                    decoders: decoders.clone(),
                    out: out.clone(),
                }
                .pages(position)
            }))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_split_into_requests_of_twenty_fields() {
        let m: Vec<String> = (0..22).map(|i| format!("m{i}")).collect();
        let c = chunks(&m, 20);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].len(), 18);
        assert_eq!(c[1].len(), 4);
        assert_eq!(chunks(&m[..18], 20).len(), 1);
    }

    #[test]
    fn rest_li_encoding() {
        let r = DateRange::new(
            NaiveDate::from_ymd_opt(2024, 5, 1).unwrap(),
            NaiveDate::from_ymd_opt(2024, 5, 7).unwrap(),
        );
        assert_eq!(
            restli_range(r),
            "(start:(year:2024,month:5,day:1),end:(year:2024,month:5,day:7))"
        );
        assert_eq!(
            urn_id("urn:li:sponsoredCampaign:287654321"),
            Some(287_654_321)
        );
        assert_eq!(urn_id("nope"), None);
        assert_eq!(encode_component("a b/c=="), "a%20b%2Fc%3D%3D");
    }

    #[test]
    fn metric_types() {
        assert_eq!(metric_type("costInLocalCurrency"), MONEY);
        assert_eq!(metric_type("conversionValueInLocalCurrency"), MONEY);
        assert_eq!(metric_type("costInUsd"), MONEY);
        assert_eq!(metric_type("impressions"), T::Int64);
        assert_eq!(metric_type("averageDwellTime"), T::Float64);
    }
}
