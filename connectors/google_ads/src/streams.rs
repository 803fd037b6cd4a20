//! The streams: GAQL queries declared as data, sent to `googleAds:searchStream` per account
//! and per date window, decoded batch by batch into the declared schema.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Decimal128Array, Int64Array};
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use chrono::{Duration, Utc};
use futures::StreamExt;
use revline_core::decode::{BadValuePolicy, DecodeError, RecordDecoder, zero_nulls};
use revline_core::http::{ApiRequest, ApiResponse, HttpClient};
use revline_core::report::{self, DateRange, ReportRead, ReportSettings, ReportUnit, UNIT_DONE};
use revline_core::{
    Column, ColumnType as T, Error, ErrorKind, Page, PageStream, ReadRequest, Result, Secret,
    Stream, StreamDescriptor, StreamSchema, SyncMode,
};
use serde_json::value::RawValue;
use tokio::sync::OnceCell;

/// How a stream is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Attributes of entities: one query per account, full refresh.
    Attributes,
    /// A daily report (`segments.date`), restated: windows of days per account, merged on the grain.
    Daily,
    /// `click_view`: one day per query, the last `click_view_days` days only.
    Clicks,
}

/// One selected GAQL field and the column it becomes.
#[derive(Debug, Clone)]
pub struct Field {
    /// GAQL name, e.g. `metrics.cost_micros`.
    pub gaql: &'static str,
    /// Column type.
    pub ty: T,
    /// Column name.
    pub column: &'static str,
}

const fn f(gaql: &'static str, ty: T, column: &'static str) -> Field {
    Field { gaql, ty, column }
}

/// A stream declared as data.
#[derive(Debug, Clone)]
pub struct Def {
    /// Stream name.
    pub name: &'static str,
    /// One line on it.
    pub description: &'static str,
    /// GAQL resource (`FROM …`).
    pub resource: &'static str,
    /// How it is read.
    pub kind: Kind,
    /// Selected fields, in column order.
    pub fields: &'static [Field],
    /// Primary key (the report grain).
    pub key: &'static [&'static str],
    /// Extra `WHERE` conditions (`campaign.status != 'REMOVED'`).
    pub filter: Option<&'static str>,
}

/// `cost`: `cost_micros` as a decimal in the account currency (micros / 10^6, exact).
pub const COST: &str = "cost";
const COST_TYPE: T = T::Decimal {
    precision: 18,
    scale: 6,
};
const METRICS: [&str; 5] = [
    "impressions",
    "clicks",
    "cost_micros",
    "conversions",
    "conversions_value",
];

const IMPRESSIONS: Field = f("metrics.impressions", T::Int64, "impressions");
const CLICKS: Field = f("metrics.clicks", T::Int64, "clicks");
// `cost` (derived) follows `cost_micros`.
const COST_MICROS: Field = f("metrics.cost_micros", T::Int64, "cost_micros");
const CONVERSIONS: Field = f("metrics.conversions", T::Float64, "conversions");
const CONVERSIONS_VALUE: Field = f("metrics.conversions_value", T::Float64, "conversions_value");
const CURRENCY: Field = f("customer.currency_code", T::Utf8, "currency");

/// Every stream.
pub static DEFS: &[Def] = &[
    Def {
        name: "campaigns",
        description: "Campaigns of every account: status, channel, bidding, dates and the utm tags of the final URL suffix",
        resource: "campaign",
        kind: Kind::Attributes,
        fields: &[
            f("customer.id", T::Int64, "customer_id"),
            f("campaign.id", T::Int64, "campaign_id"),
            f("campaign.name", T::Utf8, "campaign_name"),
            f("campaign.status", T::Utf8, "status"),
            f(
                "campaign.advertising_channel_type",
                T::Utf8,
                "advertising_channel_type",
            ),
            f(
                "campaign.bidding_strategy_type",
                T::Utf8,
                "bidding_strategy_type",
            ),
            f("campaign.start_date", T::Date, "start_date"),
            f("campaign.end_date", T::Date, "end_date"),
            f(
                "campaign.tracking_url_template",
                T::Utf8,
                "tracking_url_template",
            ),
            f("campaign.final_url_suffix", T::Utf8, "final_url_suffix"),
        ],
        key: &["customer_id", "campaign_id"],
        filter: Some("campaign.status != 'REMOVED'"),
    },
    Def {
        name: "ad_groups",
        description: "Ad groups of every campaign: status, type and default CPC bid",
        resource: "ad_group",
        kind: Kind::Attributes,
        fields: &[
            f("customer.id", T::Int64, "customer_id"),
            f("campaign.id", T::Int64, "campaign_id"),
            f("ad_group.id", T::Int64, "ad_group_id"),
            f("ad_group.name", T::Utf8, "ad_group_name"),
            f("ad_group.status", T::Utf8, "status"),
            f("ad_group.type", T::Utf8, "type"),
            f("ad_group.cpc_bid_micros", T::Int64, "cpc_bid_micros"),
        ],
        key: &["customer_id", "ad_group_id"],
        filter: Some("ad_group.status != 'REMOVED'"),
    },
    Def {
        name: "campaign_performance_daily",
        description: "Spend, impressions, clicks and conversions per campaign and day (restated: a trailing look-back window is re-read)",
        resource: "campaign",
        kind: Kind::Daily,
        fields: &[
            f("segments.date", T::Date, "date"),
            f("customer.id", T::Int64, "customer_id"),
            f("campaign.id", T::Int64, "campaign_id"),
            f("campaign.name", T::Utf8, "campaign_name"),
            f("campaign.status", T::Utf8, "campaign_status"),
            IMPRESSIONS,
            CLICKS,
            COST_MICROS,
            CONVERSIONS,
            CONVERSIONS_VALUE,
            CURRENCY,
        ],
        key: &["date", "customer_id", "campaign_id"],
        filter: None,
    },
    Def {
        name: "ad_group_performance_daily",
        description: "Spend, impressions, clicks and conversions per ad group and day (restated: a trailing look-back window is re-read)",
        resource: "ad_group",
        kind: Kind::Daily,
        fields: &[
            f("segments.date", T::Date, "date"),
            f("customer.id", T::Int64, "customer_id"),
            f("campaign.id", T::Int64, "campaign_id"),
            f("campaign.name", T::Utf8, "campaign_name"),
            f("ad_group.id", T::Int64, "ad_group_id"),
            f("ad_group.name", T::Utf8, "ad_group_name"),
            f("ad_group.status", T::Utf8, "ad_group_status"),
            IMPRESSIONS,
            CLICKS,
            COST_MICROS,
            CONVERSIONS,
            CONVERSIONS_VALUE,
            CURRENCY,
        ],
        key: &["date", "customer_id", "ad_group_id"],
        filter: None,
    },
    Def {
        name: "click_view",
        description: "One row per ad click with its gclid (join to the CRM's captured gclid); the API keeps 90 days",
        resource: "click_view",
        kind: Kind::Clicks,
        fields: &[
            f("segments.date", T::Date, "date"),
            f("click_view.gclid", T::Utf8, "gclid"),
            f("customer.id", T::Int64, "customer_id"),
            f("campaign.id", T::Int64, "campaign_id"),
            f("ad_group.id", T::Int64, "ad_group_id"),
            f("click_view.ad_group_ad", T::Utf8, "ad_group_ad"),
        ],
        key: &["date", "gclid"],
        filter: None,
    },
];

fn camel(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut up = false;
    for c in s.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.push(c.to_ascii_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn decode_column(field: &Field) -> Column {
    let (head, tail) = field.gaql.split_once('.').expect("resource.field");
    Column::nested(&[&camel(head), &camel(tail)], field.ty.clone()).named(field.column)
}

impl Def {
    /// Whether the stream has the derived `cost` column.
    fn has_cost(&self) -> bool {
        self.fields.iter().any(|f| f.column == "cost_micros")
    }

    /// The declared schema (decoded columns plus `cost` after `cost_micros`).
    pub fn schema(&self) -> StreamSchema {
        let mut cols = Vec::new();
        for field in self.fields {
            cols.push(decode_column(field));
            if field.column == "cost_micros" {
                cols.push(Column::new(COST, COST_TYPE.clone()));
            }
        }
        StreamSchema::new(cols).expect("distinct columns")
    }

    /// The stream declaration.
    pub fn descriptor(&self) -> StreamDescriptor {
        let report = self.kind != Kind::Attributes;
        StreamDescriptor {
            name: self.name.to_string(),
            description: self.description.to_string(),
            schema: self.schema(),
            primary_key: self.key.iter().map(|k| k.to_string()).collect(),
            cursor_field: report.then(|| "date".to_string()),
            sync_modes: if report {
                vec![SyncMode::Incremental, SyncMode::FullRefresh]
            } else {
                vec![SyncMode::FullRefresh]
            },
        }
    }

    /// The GAQL query, for `range` when the stream is a report.
    pub fn query(&self, range: Option<DateRange>) -> String {
        let select = self
            .fields
            .iter()
            .map(|f| f.gaql)
            .collect::<Vec<_>>()
            .join(", ");
        let mut conds: Vec<String> = Vec::new();
        if let Some(r) = range {
            if r.start == r.end {
                conds.push(format!("segments.date = '{}'", r.start));
            } else {
                conds.push(format!(
                    "segments.date BETWEEN '{}' AND '{}'",
                    r.start, r.end
                ));
            }
        }
        if let Some(f) = self.filter {
            conds.push(f.to_string());
        }
        let mut q = format!("SELECT {select} FROM {}", self.resource);
        if !conds.is_empty() {
            q.push_str(" WHERE ");
            q.push_str(&conds.join(" AND "));
        }
        q
    }
}

/// The accounts to read and how requests reach them.
pub struct Accounts {
    pub(crate) client: HttpClient,
    pub(crate) version: String,
    pub(crate) login: Option<String>,
    pub(crate) configured: Vec<String>,
    pub(crate) developer_token: Option<Secret>,
    pub(crate) listed: OnceCell<Vec<String>>,
}

impl Accounts {
    /// A searchStream request against `customer`.
    pub fn request(&self, customer: &str, query: String) -> ApiRequest {
        let mut req = ApiRequest::post_json(
            self.client.url(&format!(
                "/{}/customers/{customer}/googleAds:searchStream",
                self.version
            )),
            serde_json::json!({ "query": query }),
        );
        if let Some(t) = &self.developer_token {
            req = req.with_header("developer-token", t.expose());
        }
        if let Some(l) = &self.login {
            req = req.with_header("login-customer-id", l.as_str());
        }
        req
    }

    /// One small request proving the credentials: the manager's client list, or
    /// `SELECT customer.id FROM customer` on the first configured account.
    pub async fn check(&self) -> Result<()> {
        match self.configured.first() {
            Some(c) => {
                let req = self.request(c, "SELECT customer.id FROM customer".into());
                self.client
                    .execute_checked(&req, &|r: &ApiResponse| parse_batches(&r.body).map(|_| ()))
                    .await
            }
            None => self.list().await.map(|_| ()),
        }
    }

    /// The client accounts: the configured ones, or the manager's enabled, non-manager
    /// clients (listed once per run).
    pub async fn list(&self) -> Result<Vec<String>> {
        if !self.configured.is_empty() {
            return Ok(self.configured.clone());
        }
        let Some(manager) = self.login.clone() else {
            return Err(Error::config(
                "set `customer_ids`, or `login_customer_id` to load every client account of a manager",
            ));
        };
        self.listed
            .get_or_try_init(|| async {
                let q = "SELECT customer_client.id, customer_client.manager, customer_client.status, customer_client.level \
                         FROM customer_client WHERE customer_client.level <= 1"
                    .to_string();
                let req = self.request(&manager, q);
                let body = self
                    .client
                    .execute_checked(&req, &|r: &ApiResponse| parse_batches(&r.body).map(|_| r.body.clone()))
                    .await?;
                let mut ids = Vec::new();
                let batches: Vec<serde_json::Value> = serde_json::from_slice(&body)
                    .map_err(|e| Error::new(ErrorKind::Decode, "customer_client response").with_source(e))?;
                for b in &batches {
                    for r in b["results"].as_array().into_iter().flatten() {
                        let c = &r["customerClient"];
                        let manager_flag = c["manager"].as_bool().unwrap_or(false);
                        let enabled = c["status"].as_str().unwrap_or("ENABLED") == "ENABLED";
                        if let Some(id) = c["id"].as_str()
                            && !manager_flag
                            && enabled
                        {
                            ids.push(id.to_string());
                        }
                    }
                }
                tracing::info!(manager = %manager, clients = ids.len(), "listed the manager's client accounts");
                Ok(ids)
            })
            .await
            .cloned()
    }
}

/// Checks that a body is a complete JSON array of batches (a cut-off body is retried).
fn parse_batches(body: &[u8]) -> Result<Vec<&RawValue>> {
    serde_json::from_slice::<Vec<&RawValue>>(body)
        .map_err(|e| DecodeError::Malformed(e).into_error("google_ads"))
}

/// A configured stream.
pub struct GaqlStream {
    def: &'static Def,
    descriptor: StreamDescriptor,
    accounts: Arc<Accounts>,
    settings: ReportSettings,
    click_view_days: u32,
    policy: BadValuePolicy,
}

impl GaqlStream {
    /// The stream `def` reading through `accounts`.
    pub fn new(
        def: &'static Def,
        accounts: Arc<Accounts>,
        settings: ReportSettings,
        click_view_days: u32,
        policy: BadValuePolicy,
    ) -> Self {
        GaqlStream {
            def,
            descriptor: def.descriptor(),
            accounts,
            settings,
            click_view_days,
            policy,
        }
    }
}

/// Decodes searchStream bodies into the declared schema.
#[derive(Clone)]
struct Decoder {
    def: &'static Def,
    decoder: RecordDecoder,
    schema: arrow::datatypes::SchemaRef,
}

impl Decoder {
    fn new(def: &'static Def, schema: &StreamSchema, policy: BadValuePolicy) -> Result<Self> {
        let decode_cols: Vec<Column> = schema
            .columns()
            .iter()
            .filter(|c| c.name != COST)
            .cloned()
            .collect();
        let key: Vec<String> = def.key.iter().map(|k| k.to_string()).collect();
        Ok(Decoder {
            def,
            decoder: RecordDecoder::new(
                &StreamSchema::new(decode_cols)?,
                &["results"],
                &key,
                policy,
            )?,
            schema: schema.arrow_schema(),
        })
    }

    /// `(batch, nulled)` of one response.
    fn decode(&self, body: &[u8]) -> Result<(RecordBatch, u64)> {
        let batches = parse_batches(body)?;
        let mut parts = Vec::with_capacity(batches.len());
        let mut nulled = 0;
        for b in batches {
            let d = self
                .decoder
                .decode(b.get().as_bytes())
                .map_err(|e| e.into_error(self.def.name))?;
            nulled += d.nulled_count;
            parts.push(d.batch);
        }
        let decoded = if parts.len() == 1 {
            parts.pop().expect("one")
        } else {
            arrow::compute::concat_batches(self.decoder.schema(), &parts)?
        };
        // Zero metrics are left out of responses: missing means 0.
        let decoded = zero_nulls(&decoded, &METRICS)?;
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.schema.fields().len());
        for field in self.schema.fields() {
            if field.name() == COST && self.def.has_cost() {
                let micros = decoded
                    .column_by_name("cost_micros")
                    .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
                    .expect("cost_micros is int64");
                let cost = Decimal128Array::from_iter(micros.iter().map(|v| v.map(i128::from)))
                    .with_precision_and_scale(18, 6)?;
                columns.push(Arc::new(cost));
            } else {
                let col = decoded.column_by_name(field.name()).ok_or_else(|| {
                    Error::internal(format!("column `{}` was not decoded", field.name()))
                })?;
                columns.push(col.clone());
            }
        }
        Ok((RecordBatch::try_new(self.schema.clone(), columns)?, nulled))
    }
}

async fn fetch(
    accounts: &Accounts,
    decoder: &Decoder,
    customer: &str,
    query: String,
) -> Result<(RecordBatch, u64)> {
    let req = accounts.request(customer, query);
    accounts
        .client
        .execute_checked(&req, &|r: &ApiResponse| decoder.decode(&r.body))
        .await
        .map_err(|e| e.with_context("customer", customer))
}

#[async_trait]
impl Stream for GaqlStream {
    fn descriptor(&self) -> &StreamDescriptor {
        &self.descriptor
    }

    fn read(&self, request: ReadRequest) -> PageStream {
        let def = self.def;
        let accounts = self.accounts.clone();
        let settings = self.settings.clone();
        let click_days = i64::from(self.click_view_days.max(1));
        let decoder = match Decoder::new(def, &request.schema, self.policy) {
            Ok(d) => d,
            Err(e) => return futures::stream::once(async move { Err(e) }).boxed(),
        };
        report::lazy(async move {
            let customers = accounts.list().await?;
            if def.kind == Kind::Attributes {
                let pages = futures::stream::iter(customers)
                    .then(move |c| {
                        let accounts = accounts.clone();
                        let decoder = decoder.clone();
                        async move {
                            let (batch, nulled) =
                                fetch(&accounts, &decoder, &c, def.query(None)).await?;
                            Ok(Page {
                                batch,
                                checkpoint: serde_json::json!({}),
                                fetched_at: Utc::now(),
                                nulled_values: nulled,
                            })
                        }
                    })
                    .boxed();
                // An account-less manager still yields one (empty) page: the table exists.
                let empty = Page {
                    batch: RecordBatch::new_empty(request.schema.arrow_schema()),
                    checkpoint: serde_json::json!({}),
                    fetched_at: Utc::now(),
                    nulled_values: 0,
                };
                return Ok(pages
                    .chain(futures::stream::once(async move { Ok(empty) }))
                    .boxed());
            }
            let mut plan = ReportRead::begin(def.name, &request, &settings, "date")?;
            let windows: Vec<ReportUnit> = match def.kind {
                Kind::Clicks => {
                    // One day per query, and only the days the API keeps.
                    let end = settings.end();
                    let oldest = end - Duration::days(click_days - 1);
                    plan.range
                        .map(|r| {
                            DateRange::new(r.start.max(oldest), r.end)
                                .windows(1)
                                .into_iter()
                                .map(|w| ReportUnit {
                                    id: w.start.to_string(),
                                    range: w,
                                })
                                .collect()
                        })
                        .unwrap_or_default()
                }
                _ => plan.windows(),
            };
            if def.kind == Kind::Clicks && windows.is_empty() {
                plan.range = None;
            }
            let mut units = Vec::with_capacity(windows.len() * customers.len());
            for w in &windows {
                for c in &customers {
                    units.push(ReportUnit {
                        id: format!("{c}/{}", w.id),
                        range: w.range,
                    });
                }
            }
            Ok(plan.run(units, move |unit, _position| {
                let accounts = accounts.clone();
                let decoder = decoder.clone();
                futures::stream::once(async move {
                    let customer = unit.id.split('/').next().unwrap_or_default().to_string();
                    let (batch, nulled) =
                        fetch(&accounts, &decoder, &customer, def.query(Some(unit.range)))
                            .await
                            .map_err(|e| e.with_context("window", unit.range.label()))?;
                    Ok(Page {
                        batch,
                        checkpoint: serde_json::json!(UNIT_DONE),
                        fetched_at: Utc::now(),
                        nulled_values: nulled,
                    })
                })
                .boxed()
            }))
        })
    }
}

/// The definition named `name`.
#[cfg(test)]
fn def(name: &str) -> Option<&'static Def> {
    DEFS.iter().find(|d| d.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_and_schemas() {
        let d = def("campaign_performance_daily").unwrap();
        let r = DateRange::new(
            chrono::NaiveDate::from_ymd_opt(2024, 5, 1).unwrap(),
            chrono::NaiveDate::from_ymd_opt(2024, 5, 7).unwrap(),
        );
        assert_eq!(
            d.query(Some(r)),
            "SELECT segments.date, customer.id, campaign.id, campaign.name, campaign.status, metrics.impressions, \
             metrics.clicks, metrics.cost_micros, metrics.conversions, metrics.conversions_value, customer.currency_code \
             FROM campaign WHERE segments.date BETWEEN '2024-05-01' AND '2024-05-07'"
        );
        let names: Vec<String> = d
            .schema()
            .columns()
            .iter()
            .map(|c| c.name.clone())
            .collect();
        assert_eq!(
            names,
            [
                "date",
                "customer_id",
                "campaign_id",
                "campaign_name",
                "campaign_status",
                "impressions",
                "clicks",
                "cost_micros",
                "cost",
                "conversions",
                "conversions_value",
                "currency"
            ]
        );
        assert_eq!(
            def("campaigns").unwrap().query(None),
            "SELECT customer.id, campaign.id, campaign.name, campaign.status, campaign.advertising_channel_type, \
             campaign.bidding_strategy_type, campaign.start_date, campaign.end_date, campaign.tracking_url_template, \
             campaign.final_url_suffix FROM campaign WHERE campaign.status != 'REMOVED'"
        );
    }

    #[test]
    fn decodes_batches_with_missing_metrics_as_zero_and_cost_as_decimal() {
        let d = def("campaign_performance_daily").unwrap();
        let dec = Decoder::new(d, &d.schema(), BadValuePolicy::Fail).unwrap();
        let body = br#"[{"results":[
          {"customer":{"resourceName":"customers/1","id":"1","currencyCode":"USD"},
           "campaign":{"resourceName":"customers/1/campaigns/2","id":"20123456789","name":"Brand","status":"ENABLED"},
           "metrics":{"costMicros":"48210000","impressions":"5312","clicks":"411","conversions":12.0,"conversionsValue":3480.5},
           "segments":{"date":"2024-05-01"}}],"fieldMask":"x","requestId":"a"},
          {"results":[
          {"customer":{"id":"1","currencyCode":"USD"},"campaign":{"id":"20123456790","name":"spring","status":"PAUSED"},
           "metrics":{"costMicros":"0","impressions":"12"},"segments":{"date":"2024-05-01"}}],
           "fieldMask":"x","requestId":"a","queryResourceConsumption":"412"}]"#;
        let (b, nulled) = dec.decode(body).unwrap();
        assert_eq!((b.num_rows(), nulled), (2, 0));
        let cost = b
            .column_by_name("cost")
            .unwrap()
            .as_any()
            .downcast_ref::<Decimal128Array>()
            .unwrap();
        assert_eq!(cost.value_as_string(0), "48.210000");
        let clicks = b.column_by_name("clicks").unwrap();
        assert_eq!(clicks.null_count(), 0);
        assert_eq!(
            clicks
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap()
                .value(1),
            0
        );
        let conv = b.column_by_name("conversions").unwrap();
        assert_eq!(conv.null_count(), 0, "missing conversions are zero");
        // An empty result and a cut-off body.
        let (b, _) = dec
            .decode(br#"[{"fieldMask":"x","requestId":"a"}]"#)
            .unwrap();
        assert_eq!(b.num_rows(), 0);
        let err = dec.decode(&body[..body.len() / 2]).unwrap_err();
        assert!(err.is_retryable(), "{err}");
    }
}
