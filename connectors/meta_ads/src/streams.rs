//! The streams: ads objects (`campaigns`, `adsets`, `ads`) listed per account with
//! `paging.next`, and daily insights (`level=campaign`, `level=ad`) per account and window,
//! read directly or through an async report job.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{Array, ArrayRef, Decimal128Array, Int64Array, StringArray};
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use chrono::Utc;
use futures::StreamExt;
use revline_core::decode::{BadValuePolicy, RecordDecoder};
use revline_core::fetch::fetch_one;
use revline_core::http::{ApiRequest, HttpClient, Method};
use revline_core::paginate::follow_link;
use revline_core::report::{self, DateRange, ReportRead, ReportSettings, ReportUnit, UNIT_DONE};
use revline_core::{
    Column, ColumnType as T, Error, ErrorKind, Page, PageStream, ReadRequest, Result, Stream,
    StreamDescriptor, StreamSchema, SyncMode,
};

/// What every stream of a source shares.
pub struct Shared {
    /// The client.
    pub client: HttpClient,
    /// `/v24.0`.
    pub version: String,
    /// Ad account ids (digits).
    pub accounts: Vec<String>,
    /// Records per page.
    pub page_size: u32,
    /// Windows of at least this many days use async jobs.
    pub async_min_days: u32,
    /// First poll interval of async jobs.
    pub async_poll: Duration,
    /// Longest an async job may take.
    pub async_timeout: Duration,
    /// `action_attribution_windows`.
    pub attribution: Vec<String>,
    /// Report settings.
    pub settings: ReportSettings,
    /// Bad-value policy.
    pub policy: BadValuePolicy,
}

impl Shared {
    fn url(&self, path: &str) -> String {
        self.client.url(&format!(
            "/{}/{}",
            self.version,
            path.trim_start_matches('/')
        ))
    }
}

const DEC: T = T::Decimal {
    precision: 18,
    scale: 2,
};

// ----- ads objects -----------------------------------------------------------------------------

/// An ads object listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Object {
    /// `campaigns`.
    Campaigns,
    /// `adsets`.
    Adsets,
    /// `ads`.
    Ads,
}

impl Object {
    /// Every object stream.
    pub const ALL: [Object; 3] = [Object::Campaigns, Object::Adsets, Object::Ads];

    fn name(self) -> &'static str {
        match self {
            Object::Campaigns => "campaigns",
            Object::Adsets => "adsets",
            Object::Ads => "ads",
        }
    }

    fn fields(self) -> &'static str {
        match self {
            Object::Campaigns => {
                "id,account_id,name,status,effective_status,objective,buying_type,start_time,created_time,updated_time"
            }
            Object::Adsets => {
                "id,account_id,campaign_id,name,status,effective_status,daily_budget,billing_event,optimization_goal,created_time,updated_time"
            }
            Object::Ads => {
                "id,account_id,campaign_id,adset_id,name,status,effective_status,creative{id,url_tags},created_time,updated_time"
            }
        }
    }

    fn columns(self) -> Vec<Column> {
        let mut c = vec![
            Column::new("id", T::Int64),
            Column::new("account_id", T::Utf8),
        ];
        match self {
            Object::Campaigns => {}
            Object::Adsets => c.push(Column::new("campaign_id", T::Int64)),
            Object::Ads => {
                c.push(Column::new("campaign_id", T::Int64));
                c.push(Column::new("adset_id", T::Int64));
            }
        }
        c.push(Column::new("name", T::Utf8));
        c.push(Column::new("status", T::Utf8));
        c.push(Column::new("effective_status", T::Utf8));
        match self {
            Object::Campaigns => {
                c.push(Column::new("objective", T::Utf8));
                c.push(Column::new("buying_type", T::Utf8));
                c.push(Column::new("start_time", T::Timestamp));
            }
            Object::Adsets => {
                // Budgets are in the currency's minor units, as strings.
                c.push(Column::new("daily_budget", T::Int64));
                c.push(Column::new("billing_event", T::Utf8));
                c.push(Column::new("optimization_goal", T::Utf8));
            }
            Object::Ads => {
                c.push(Column::nested(&["creative", "id"], T::Int64));
                c.push(Column::nested(&["creative", "url_tags"], T::Utf8));
            }
        }
        c.push(Column::new("created_time", T::Timestamp));
        c.push(Column::new("updated_time", T::Timestamp));
        c
    }

    /// `ads` also splits the creative's `url_tags` into utm columns.
    const UTM: [&'static str; 4] = ["utm_source", "utm_medium", "utm_campaign", "utm_content"];

    fn schema(self) -> StreamSchema {
        let mut cols = self.columns();
        if self == Object::Ads {
            cols.extend(Self::UTM.iter().map(|u| Column::new(u, T::Utf8)));
        }
        StreamSchema::new(cols).expect("distinct columns")
    }

    /// The declaration.
    pub fn descriptor(self) -> StreamDescriptor {
        StreamDescriptor {
            name: self.name().to_string(),
            description: match self {
                Object::Campaigns => "Campaigns of every ad account: status, objective, start",
                Object::Adsets => "Ad sets: campaign, budget, billing and optimisation",
                Object::Ads => {
                    "Ads with their creative and its utm tags (url_tags split into utm_* columns)"
                }
            }
            .to_string(),
            schema: self.schema(),
            primary_key: vec!["id".into()],
            cursor_field: None,
            sync_modes: vec![SyncMode::FullRefresh],
        }
    }
}

/// Splits `utm_source=a&utm_medium=b` into the four utm columns.
fn utm_columns(tags: &StringArray) -> Vec<ArrayRef> {
    Object::UTM
        .iter()
        .map(|key| {
            let values: StringArray = tags
                .iter()
                .map(|t| {
                    t.and_then(|t| {
                        t.split('&').find_map(|kv| {
                            let (k, v) = kv.split_once('=')?;
                            (k == *key).then(|| v.to_string())
                        })
                    })
                })
                .collect();
            Arc::new(values) as ArrayRef
        })
        .collect()
}

/// An object stream.
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
        let decode_schema = match StreamSchema::new(object.columns()) {
            Ok(s) => s,
            Err(e) => return futures::stream::once(async move { Err(e) }).boxed(),
        };
        let decoder = match RecordDecoder::new(
            &decode_schema,
            &["data"],
            &["id".to_string()],
            shared.policy,
        ) {
            Ok(d) => d,
            Err(e) => return futures::stream::once(async move { Err(e) }).boxed(),
        };
        let out_schema = request.schema.arrow_schema();
        let accounts = shared.accounts.clone();
        futures::stream::iter(accounts)
            .flat_map(move |account| {
                let first =
                    ApiRequest::get(shared.url(&format!("act_{account}/{}", object.name())))
                        .with_query("fields", object.fields())
                        .with_query("limit", shared.page_size.to_string());
                let shared = shared.clone();
                let decoder = decoder.clone();
                let out_schema = out_schema.clone();
                futures::stream::unfold(Some((first, 1u64)), move |next| {
                    let shared = shared.clone();
                    let decoder = decoder.clone();
                    let out_schema = out_schema.clone();
                    let account = account.clone();
                    async move {
                        let (req, number) = next?;
                        let name = object.name();
                        let res: Result<(Page, Option<ApiRequest>)> = async {
                            let (resp, env) =
                                fetch_one(&shared.client, &req, &["data".to_string()], name)
                                    .await?;
                            let d = decoder
                                .decode(&resp.body)
                                .map_err(|e| revline_core::fetch::decode_error(e, name, number))?;
                            let mut cols: Vec<ArrayRef> = d.batch.columns().to_vec();
                            if object == Object::Ads {
                                let tags = d
                                    .batch
                                    .column_by_name("creative__url_tags")
                                    .and_then(|c| c.as_any().downcast_ref::<StringArray>())
                                    .expect("url_tags column");
                                cols.extend(utm_columns(tags));
                            }
                            let batch = RecordBatch::try_new(out_schema, cols)?;
                            let next = match env.text("paging.next").filter(|n| !n.is_empty()) {
                                Some(link) => Some(follow_link(&req, &link)?),
                                None => None,
                            };
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
                            Ok((page, next)) => (Ok(page), next.map(|n| (n, number + 1))),
                            Err(e) => (
                                Err(e.with_context("account", format!("act_{account}"))),
                                None,
                            ),
                        })
                    }
                })
            })
            .boxed()
    }
}

// ----- insights --------------------------------------------------------------------------------

/// An insights level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// `level=campaign`.
    Campaign,
    /// `level=ad`.
    Ad,
}

impl Level {
    /// Both levels.
    pub const ALL: [Level; 2] = [Level::Campaign, Level::Ad];

    fn stream(self) -> &'static str {
        match self {
            Level::Campaign => "campaign_insights_daily",
            Level::Ad => "ad_insights_daily",
        }
    }

    fn param(self) -> &'static str {
        match self {
            Level::Campaign => "campaign",
            Level::Ad => "ad",
        }
    }

    fn fields(self) -> &'static str {
        match self {
            Level::Campaign => {
                "account_id,account_currency,campaign_id,campaign_name,impressions,clicks,spend,reach,actions,action_values,date_start,date_stop"
            }
            Level::Ad => {
                "account_id,account_currency,campaign_id,campaign_name,adset_id,adset_name,ad_id,ad_name,impressions,clicks,spend,reach,actions,action_values,date_start,date_stop"
            }
        }
    }

    fn decode_columns(self) -> Vec<Column> {
        let mut c = vec![
            Column::new("date_start", T::Date).named("date"),
            Column::new("date_stop", T::Date),
            Column::new("account_id", T::Utf8),
            Column::new("account_currency", T::Utf8),
            Column::new("campaign_id", T::Int64),
            Column::new("campaign_name", T::Utf8),
        ];
        if self == Level::Ad {
            c.push(Column::new("adset_id", T::Int64));
            c.push(Column::new("adset_name", T::Utf8));
            c.push(Column::new("ad_id", T::Int64));
            c.push(Column::new("ad_name", T::Utf8));
        }
        c.extend([
            Column::new("impressions", T::Int64),
            Column::new("clicks", T::Int64),
            Column::new("spend", DEC),
            Column::new("reach", T::Int64),
            Column::new("actions", T::Json),
            Column::new("action_values", T::Json),
        ]);
        c
    }

    /// Columns derived from `actions` / `action_values`.
    const DERIVED: [&'static str; 3] = ["leads", "purchases", "purchase_value"];

    fn schema(self) -> StreamSchema {
        let mut c = self.decode_columns();
        c.push(Column::new("leads", T::Int64));
        c.push(Column::new("purchases", T::Int64));
        c.push(Column::new("purchase_value", DEC));
        StreamSchema::new(c).expect("distinct columns")
    }

    /// The declaration.
    pub fn descriptor(self) -> StreamDescriptor {
        StreamDescriptor {
            name: self.stream().to_string(),
            description: match self {
                Level::Campaign => "Daily insights per campaign: spend, impressions, clicks, actions (JSON) and derived leads and purchases (restated for 28 days)",
                Level::Ad => "Daily insights per ad: spend, impressions, clicks, actions (JSON) and derived leads and purchases (restated for 28 days)",
            }
            .to_string(),
            schema: self.schema(),
            primary_key: match self {
                Level::Campaign => vec!["date".into(), "campaign_id".into()],
                Level::Ad => vec!["date".into(), "ad_id".into()],
            },
            cursor_field: Some("date".into()),
            sync_modes: vec![SyncMode::Incremental, SyncMode::FullRefresh],
        }
    }
}

/// The total of the action types that count as `kind` in one `actions` array: the aggregate
/// type (`lead`, `purchase`) when present, else the pixel and on-site variants (so nothing
/// is counted twice).
pub fn action_total(actions_json: &str, kind: &str) -> Option<f64> {
    let v: Vec<serde_json::Value> = serde_json::from_str(actions_json).ok()?;
    let value = |t: &str| -> Option<f64> {
        v.iter()
            .filter(|a| a["action_type"] == t)
            .filter_map(|a| match &a["value"] {
                serde_json::Value::String(s) => s.parse().ok(),
                n => n.as_f64(),
            })
            .reduce(|a, b| a + b)
    };
    if let Some(total) = value(kind) {
        return Some(total);
    }
    let variants: &[&str] = match kind {
        "lead" => &[
            "offsite_conversion.fb_pixel_lead",
            "onsite_conversion.lead_grouped",
        ],
        _ => &[
            "offsite_conversion.fb_pixel_purchase",
            "onsite_web_purchase",
        ],
    };
    let parts: Vec<f64> = variants.iter().filter_map(|t| value(t)).collect();
    (!parts.is_empty()).then(|| parts.iter().sum())
}

fn derive(batch: &RecordBatch, out: &arrow::datatypes::SchemaRef) -> Result<RecordBatch> {
    let json = |name: &str| -> StringArray {
        batch
            .column_by_name(name)
            .and_then(|c| c.as_any().downcast_ref::<StringArray>().cloned())
            .expect("json column")
    };
    let actions = json("actions");
    let values = json("action_values");
    let count = |kind: &str| -> Int64Array {
        actions
            .iter()
            .map(|a| Some(a.and_then(|a| action_total(a, kind)).unwrap_or(0.0).round() as i64))
            .collect()
    };
    let value: Decimal128Array = values
        .iter()
        .map(|a| {
            let v = a.and_then(|a| action_total(a, "purchase")).unwrap_or(0.0);
            Some((v * 100.0).round() as i128)
        })
        .collect::<Decimal128Array>()
        .with_precision_and_scale(18, 2)?;
    let mut cols: Vec<ArrayRef> = batch.columns().to_vec();
    cols.push(Arc::new(count("lead")));
    cols.push(Arc::new(count("purchase")));
    cols.push(Arc::new(value));
    debug_assert_eq!(Level::DERIVED.len(), 3);
    Ok(RecordBatch::try_new(out.clone(), cols)?)
}

/// An insights stream.
pub struct InsightsStream {
    level: Level,
    descriptor: StreamDescriptor,
    shared: Arc<Shared>,
}

impl InsightsStream {
    /// The stream of `level`.
    pub fn new(level: Level, shared: Arc<Shared>) -> Self {
        InsightsStream {
            level,
            descriptor: level.descriptor(),
            shared,
        }
    }
}

/// Where a window stands: the next page's `after` cursor and, for async reads, the job.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct Position {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    job: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after: Option<String>,
}

/// Sends `req` and parses the JSON body; a cut-off body is retried like a 5xx.
async fn json_call(client: &HttpClient, req: &ApiRequest) -> Result<serde_json::Value> {
    client
        .execute_checked(req, &|r: &revline_core::http::ApiResponse| {
            serde_json::from_slice::<serde_json::Value>(&r.body).map_err(|e| {
                Error::new(ErrorKind::Decode, "response body is not valid JSON")
                    .with_retryable(true)
                    .with_source(e)
            })
        })
        .await
}

struct Unit {
    shared: Arc<Shared>,
    level: Level,
    account: String,
    range: DateRange,
    decoder: RecordDecoder,
    out: arrow::datatypes::SchemaRef,
}

impl Unit {
    fn params(&self, req: ApiRequest) -> ApiRequest {
        let range = serde_json::json!({"since": self.range.start.to_string(), "until": self.range.end.to_string()});
        req.with_query("level", self.level.param())
            .with_query("fields", self.level.fields())
            .with_query("time_range", range.to_string())
            .with_query("time_increment", "1")
            .with_query(
                "action_attribution_windows",
                serde_json::to_string(&self.shared.attribution).expect("strings"),
            )
            .with_query("limit", self.shared.page_size.to_string())
    }

    fn is_async(&self) -> bool {
        self.range.days() >= i64::from(self.shared.async_min_days)
    }

    /// Starts an async report job and waits until it completes; returns its id.
    async fn run_job(&self) -> Result<String> {
        let mut create = self.params(ApiRequest::get(
            self.shared.url(&format!("act_{}/insights", self.account)),
        ));
        create.method = Method::POST;
        let v = json_call(&self.shared.client, &create).await?;
        let id = v["report_run_id"]
            .as_str()
            .map(String::from)
            .or_else(|| v["report_run_id"].as_u64().map(|n| n.to_string()))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Api,
                    "the async job response has no report_run_id",
                )
            })?;
        self.wait(&id).await?;
        Ok(id)
    }

    /// Polls job `id` until `Job Completed`.
    async fn wait(&self, id: &str) -> Result<()> {
        let started = Instant::now();
        let mut delay = self.shared.async_poll;
        loop {
            let v = json_call(&self.shared.client, &ApiRequest::get(self.shared.url(id))).await?;
            match v["async_status"].as_str().unwrap_or("") {
                "Job Completed" => return Ok(()),
                "Job Failed" | "Job Skipped" => {
                    return Err(Error::new(
                        ErrorKind::Api,
                        format!(
                            "Meta's async report job {id} ended with `{}`; the next run retries the window",
                            v["async_status"].as_str().unwrap_or("")
                        ),
                    ));
                }
                status => {
                    if started.elapsed() > self.shared.async_timeout {
                        return Err(Error::new(
                            ErrorKind::Api,
                            format!(
                                "Meta's async report job {id} did not complete within {}s (last status `{status}`, {}%)",
                                self.shared.async_timeout.as_secs(),
                                v["async_percent_completion"]
                            ),
                        ));
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(30));
                }
            }
        }
    }

    /// Reads the window from `position`: pages of `paging.next`, each with its position.
    fn pages(self, position: Option<serde_json::Value>) -> PageStream {
        let start: Position = position
            .and_then(|p| serde_json::from_value(p).ok())
            .unwrap_or_default();
        let unit = Arc::new(self);
        futures::stream::unfold(Some((start, true, 1u64)), move |state| {
            let unit = unit.clone();
            async move {
                let (mut pos, first, number) = state?;
                let res: Result<(Page, Option<Position>)> = async {
                    if first && unit.is_async() {
                        match &pos.job {
                            Some(id) => {
                                // A job of an interrupted run: reuse its results if it is still there.
                                if unit.wait(id).await.is_err() {
                                    pos = Position {
                                        job: Some(unit.run_job().await?),
                                        after: None,
                                    };
                                }
                            }
                            None => pos.job = Some(unit.run_job().await?),
                        }
                    }
                    let base = match &pos.job {
                        Some(id) => ApiRequest::get(unit.shared.url(&format!("{id}/insights")))
                            .with_query("limit", unit.shared.page_size.to_string()),
                        None => unit.params(ApiRequest::get(
                            unit.shared.url(&format!("act_{}/insights", unit.account)),
                        )),
                    };
                    let req = match &pos.after {
                        Some(a) => base.with_query("after", a.clone()),
                        None => base,
                    };
                    let name = unit.level.stream();
                    let (resp, env) =
                        fetch_one(&unit.shared.client, &req, &["data".to_string()], name).await?;
                    let d = unit
                        .decoder
                        .decode(&resp.body)
                        .map_err(|e| revline_core::fetch::decode_error(e, name, number))?;
                    let batch = derive(&d.batch, &unit.out)?;
                    // Follow `paging.next` (an empty page may still have one); keep its cursor.
                    let next = match env.text("paging.next").filter(|n| !n.is_empty()) {
                        Some(link) => {
                            let next_req = follow_link(&req, &link)?;
                            let after = next_req
                                .query_value("after")
                                .map(String::from)
                                .ok_or_else(|| {
                                    Error::new(ErrorKind::Api, "paging.next has no `after` cursor")
                                })?;
                            Some(Position {
                                job: pos.job.clone(),
                                after: Some(after),
                            })
                        }
                        None => None,
                    };
                    let checkpoint = match &next {
                        Some(p) => serde_json::to_value(p).expect("position"),
                        None => serde_json::json!(UNIT_DONE),
                    };
                    Ok((
                        Page {
                            batch,
                            checkpoint,
                            fetched_at: Utc::now(),
                            nulled_values: d.nulled_count,
                        },
                        next,
                    ))
                }
                .await;
                Some(match res {
                    Ok((page, next)) => (Ok(page), next.map(|p| (p, false, number + 1))),
                    Err(e) => (
                        Err(e
                            .with_context("account", format!("act_{}", unit.account))
                            .with_context("window", unit.range.label())),
                        None,
                    ),
                })
            }
        })
        .boxed()
    }
}

#[async_trait]
impl Stream for InsightsStream {
    fn descriptor(&self) -> &StreamDescriptor {
        &self.descriptor
    }

    fn read(&self, request: ReadRequest) -> PageStream {
        let level = self.level;
        let shared = self.shared.clone();
        let decode_schema = match StreamSchema::new(level.decode_columns()) {
            Ok(s) => s,
            Err(e) => return futures::stream::once(async move { Err(e) }).boxed(),
        };
        let key: Vec<String> = self.descriptor.primary_key.clone();
        let decoder = match RecordDecoder::new(&decode_schema, &["data"], &key, shared.policy) {
            Ok(d) => d,
            Err(e) => return futures::stream::once(async move { Err(e) }).boxed(),
        };
        let out = request.schema.arrow_schema();
        report::lazy(async move {
            let plan = ReportRead::begin(level.stream(), &request, &shared.settings, "date")?;
            let mut units = Vec::new();
            for w in plan.windows() {
                for a in &shared.accounts {
                    units.push(ReportUnit {
                        id: format!("act_{a}/{}", w.id),
                        range: w.range,
                    });
                }
            }
            Ok(plan.run(units, move |u, position| {
                let account =
                    u.id.split('/')
                        .next()
                        .unwrap_or_default()
                        .trim_start_matches("act_")
                        .to_string();
                Unit {
                    shared: shared.clone(),
                    level,
                    account,
                    range: u.range,
                    decoder: decoder.clone(),
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
    fn derived_leads_and_purchases_do_not_double_count() {
        let a = r#"[{"action_type":"link_click","value":"298"},{"action_type":"lead","value":"12"},
                    {"action_type":"offsite_conversion.fb_pixel_lead","value":"12"}]"#;
        assert_eq!(action_total(a, "lead"), Some(12.0));
        let pixel_only = r#"[{"action_type":"offsite_conversion.fb_pixel_lead","value":"3"},
                             {"action_type":"onsite_conversion.lead_grouped","value":"2"}]"#;
        assert_eq!(action_total(pixel_only, "lead"), Some(5.0));
        let values = r#"[{"action_type":"offsite_conversion.fb_pixel_purchase","value":"980.00"}]"#;
        assert_eq!(action_total(values, "purchase"), Some(980.0));
        assert_eq!(action_total("[]", "purchase"), None);
        assert_eq!(action_total("not json", "lead"), None);
    }

    #[test]
    fn utm_tags_split() {
        let tags = StringArray::from(vec![
            Some(
                "utm_source=facebook&utm_medium=paid_social&utm_campaign=meta_retargeting_q1_2024&utm_content=core_terms_a",
            ),
            None,
        ]);
        let cols = utm_columns(&tags);
        let s = |i: usize| {
            cols[i]
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap()
                .clone()
        };
        assert_eq!(s(0).value(0), "facebook");
        assert_eq!(s(2).value(0), "meta_retargeting_q1_2024");
        assert_eq!(s(3).value(0), "core_terms_a");
        assert!(s(1).is_null(1));
    }
}
