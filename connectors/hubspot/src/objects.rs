//! CRM object streams (`contacts`, `companies`, `deals`).
//!
//! * Schema: `id`, `created_at`, `updated_at`, `archived`, then one column per property,
//!   typed from the portal's property metadata (or the declared core properties as text if
//!   that endpoint is unavailable).
//! * First sync and full refresh: `GET /crm/v3/objects/{type}` (100 per page, `after`),
//!   splitting `properties` across requests when the URL would pass ~14,000 characters and
//!   joining the parts on `id`.
//! * Incremental: `POST /crm/v3/objects/{type}/search` on the modified-date property
//!   (`lastmodifieddate` for contacts, `hs_lastmodifieddate` otherwise), ascending, 200 per
//!   page; at the 10,000-result cap the query restarts from the last timestamp seen, and if
//!   a whole window shares one timestamp it pages that instant by `hs_object_id`.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, StringArray, UInt32Array};
use arrow::compute::take;
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use revline_core::cursor::{CursorValue, column_max};
use revline_core::decode::coerce::parse_timestamp_micros;
use revline_core::decode::{BadValuePolicy, Envelope, RecordDecoder};
use revline_core::fetch::{AbortOnDrop, decode_error, fetch_one};
use revline_core::http::{ApiRequest, HttpClient};
use revline_core::schema::timestamp_type;
use revline_core::state::SyncState;
use revline_core::{
    Column, ColumnType, Error, ErrorKind, Page, PageStream, ReadRequest, Result, Stream,
    StreamDescriptor, StreamSchema, SyncMode,
};
use serde::{Deserialize, Serialize};

use crate::config::HubspotOptions;
use crate::properties::{column_type, fetch_properties, property_column};

/// List page size (HubSpot's maximum for list endpoints).
const LIST_LIMIT: u32 = 100;
/// The search endpoint's result cap per query.
const SEARCH_CAP: u64 = 10_000;
/// Default longest list URL before properties are split.
const DEFAULT_MAX_URL: usize = 14_000;

/// A HubSpot CRM object type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectType {
    /// People.
    Contacts,
    /// Organisations.
    Companies,
    /// Opportunities.
    Deals,
}

impl ObjectType {
    /// All object streams.
    pub const ALL: [ObjectType; 3] = [
        ObjectType::Contacts,
        ObjectType::Companies,
        ObjectType::Deals,
    ];

    /// Path segment and stream name.
    pub fn name(self) -> &'static str {
        match self {
            ObjectType::Contacts => "contacts",
            ObjectType::Companies => "companies",
            ObjectType::Deals => "deals",
        }
    }

    /// The property search filters on for incremental syncs. Contacts use
    /// `lastmodifieddate`: filtering them on `hs_lastmodifieddate` silently returns wrong results.
    pub fn modified_property(self) -> &'static str {
        match self {
            ObjectType::Contacts => "lastmodifieddate",
            _ => "hs_lastmodifieddate",
        }
    }

    /// Declared core properties with their usual HubSpot types. They type the declared schema
    /// (the empty table SQL models see when HubSpot is not configured); when the portal's
    /// property metadata is unavailable at run time they are loaded as text instead.
    pub fn core_properties(self) -> &'static [(&'static str, ColumnType)] {
        use ColumnType::{Float64, Int64, Timestamp, Utf8};
        match self {
            ObjectType::Contacts => &[
                ("email", Utf8),
                ("firstname", Utf8),
                ("lastname", Utf8),
                ("lifecyclestage", Utf8),
                ("createdate", Timestamp),
                ("lastmodifieddate", Timestamp),
                ("hs_object_id", Int64),
                ("hs_analytics_source", Utf8),
                ("hs_analytics_source_data_1", Utf8),
                ("hs_google_click_id", Utf8),
                ("associatedcompanyid", Int64),
            ],
            ObjectType::Companies => &[
                ("name", Utf8),
                ("domain", Utf8),
                ("industry", Utf8),
                ("annualrevenue", Float64),
                ("createdate", Timestamp),
                ("hs_lastmodifieddate", Timestamp),
                ("hs_object_id", Int64),
            ],
            ObjectType::Deals => &[
                ("dealname", Utf8),
                ("amount", Float64),
                ("dealstage", Utf8),
                ("pipeline", Utf8),
                ("closedate", Timestamp),
                ("createdate", Timestamp),
                ("hs_lastmodifieddate", Timestamp),
                ("hs_object_id", Int64),
                ("hubspot_owner_id", Utf8),
                ("hs_analytics_source", Utf8),
                ("associatedcompanyid", Int64),
            ],
        }
    }

    fn description(self) -> &'static str {
        match self {
            ObjectType::Contacts => "CRM contacts (people), one column per contact property",
            ObjectType::Companies => "CRM companies with domains, one column per company property",
            ObjectType::Deals => "CRM deals with amount, stage, pipeline and close date",
        }
    }
}

fn base_columns() -> Vec<Column> {
    vec![
        Column::new("id", ColumnType::Utf8),
        Column::new("createdAt", ColumnType::Timestamp),
        Column::new("updatedAt", ColumnType::Timestamp),
        Column::new("archived", ColumnType::Boolean),
    ]
}

const BASE_NAMES: [&str; 4] = ["id", "created_at", "updated_at", "archived"];

/// The stream declaration; with `properties`, the columns for those typed properties.
pub fn descriptor(object: ObjectType, properties: Option<Vec<Column>>) -> StreamDescriptor {
    let mut cols = base_columns();
    match properties {
        Some(p) => cols.extend(p),
        None => cols.extend(
            object
                .core_properties()
                .iter()
                .map(|(p, ty)| property_column(p, ty.clone())),
        ),
    }
    StreamDescriptor {
        name: object.name().to_string(),
        description: object.description().to_string(),
        schema: StreamSchema::new(cols).expect("distinct HubSpot columns"),
        primary_key: vec!["id".to_string()],
        cursor_field: Some("updated_at".to_string()),
        sync_modes: vec![SyncMode::Incremental, SyncMode::FullRefresh],
    }
}

/// A CRM object stream.
pub struct ObjectStream {
    object: ObjectType,
    descriptor: StreamDescriptor,
    client: HttpClient,
    options: Arc<HubspotOptions>,
    policy: BadValuePolicy,
}

impl ObjectStream {
    /// A stream of `object` read through `client`.
    pub fn new(
        object: ObjectType,
        client: HttpClient,
        options: Arc<HubspotOptions>,
        policy: BadValuePolicy,
    ) -> Self {
        ObjectStream {
            object,
            descriptor: descriptor(object, None),
            client,
            options,
            policy,
        }
    }
}

/// Where an unfinished sync stands; stored as the state's `resume`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
enum Position {
    /// Listing all objects; `after` is the list cursor of the next page.
    List { after: Option<String> },
    /// Searching modified-date >= `since_ms`, sorted by it, at result offset `offset`.
    Search { since_ms: i64, offset: u64 },
    /// Searching modified-date == `at_ms` and `hs_object_id` > `after_id`, sorted by id.
    Tie {
        at_ms: i64,
        after_id: i64,
        offset: u64,
    },
}

#[async_trait]
impl Stream for ObjectStream {
    fn descriptor(&self) -> &StreamDescriptor {
        &self.descriptor
    }

    async fn resolve_schema(&self) -> Result<StreamSchema> {
        let object = self.object.name();
        let wanted = self.options.properties.get(object);
        let defs = match fetch_properties(&self.client, object).await {
            Ok(d) => d,
            // Credentials and quota problems are not "metadata unavailable".
            Err(e)
                if !matches!(
                    e.kind(),
                    ErrorKind::Api | ErrorKind::Network | ErrorKind::Decode
                ) =>
            {
                return Err(e);
            }
            Err(e) => {
                tracing::warn!(stream = object, error = %e, "property metadata unavailable; using the declared core properties as text");
                let names: Vec<String> = match wanted {
                    Some(w) => w.clone(),
                    None => self
                        .object
                        .core_properties()
                        .iter()
                        .map(|(p, _)| p.to_string())
                        .collect(),
                };
                let mut cols = base_columns();
                cols.extend(names.iter().map(|p| property_column(p, ColumnType::Utf8)));
                return StreamSchema::new(cols);
            }
        };
        let by_name: HashMap<&str, _> = defs.iter().map(|d| (d.name.as_str(), d)).collect();
        let mut names: Vec<String> = match wanted {
            Some(w) => {
                for p in w {
                    if !by_name.contains_key(p.as_str()) {
                        return Err(Error::config(format!(
                            "property `{p}` listed for `{object}` does not exist in this HubSpot portal"
                        )));
                    }
                }
                let mut n = w.clone();
                for must in [self.object.modified_property(), "hs_object_id"] {
                    if by_name.contains_key(must) && !n.iter().any(|x| x == must) {
                        n.push(must.to_string());
                    }
                }
                n
            }
            None => defs.iter().map(|d| d.name.clone()).collect(),
        };
        names.sort();
        names.dedup();
        let mut cols = base_columns();
        for n in names {
            let def = by_name[n.as_str()];
            let col = property_column(&n, column_type(def));
            // A property whose name equals a top-level column keeps a prefixed name.
            let col = if BASE_NAMES.contains(&n.as_str()) {
                col.named(format!("property_{n}"))
            } else {
                col
            };
            cols.push(col);
        }
        StreamSchema::new(cols)
    }

    fn read(&self, request: ReadRequest) -> PageStream {
        let name = self.object.name().to_string();
        match self.plan(request) {
            Ok((reader, first)) => reader.run(first),
            Err(e) => {
                futures::stream::once(async move { Err(e.with_context("stream", name)) }).boxed()
            }
        }
    }
}

impl ObjectStream {
    fn plan(&self, request: ReadRequest) -> Result<(Reader, Position)> {
        let name = self.object.name();
        let mut state = SyncState::from_value(request.state.as_ref(), name)?;
        let properties: Vec<String> = request
            .schema
            .columns()
            .iter()
            .filter(|c| c.path.first().map(String::as_str) == Some("properties"))
            .map(|c| c.path[1].clone())
            .collect();
        let resume = state
            .resume
            .take()
            .map(|r| {
                serde_json::from_value::<Position>(r).map_err(|e| {
                    Error::new(
                        ErrorKind::State,
                        format!("stored resume position is not readable: {e}"),
                    )
                    .with_context("stream", name)
                })
            })
            .transpose()?;
        let first = match resume {
            Some(p) => p,
            None => {
                state.mode = Some(request.mode);
                state.pending = None;
                let lookback = chrono::Duration::seconds(
                    self.options.search_lookback_secs.unwrap_or(30) as i64,
                );
                let since = match request.mode {
                    SyncMode::Incremental => state
                        .cursor
                        .as_ref()
                        .and_then(|c| CursorValue::from_json(c, &timestamp_type()))
                        .and_then(|c| c.as_datetime())
                        .map(|t| t - lookback),
                    SyncMode::FullRefresh => None,
                }
                // A configured start date bounds the first sync: search from it instead of listing.
                .or(request.start_date);
                match since {
                    Some(t) => Position::Search {
                        since_ms: t.timestamp_millis(),
                        offset: 0,
                    },
                    None => Position::List { after: None },
                }
            }
        };
        let decoders = self.decoders(&request.schema, &properties)?;
        Ok((
            Reader {
                object: self.object,
                client: self.client.clone(),
                schema: request.schema.clone(),
                properties,
                decoders,
                state,
                mode: request.mode,
                start_date: request.start_date,
                search_limit: self.options.search_page_size.unwrap_or(200).clamp(1, 200),
                max_url: self.options.max_url_length.unwrap_or(DEFAULT_MAX_URL),
            },
            first,
        ))
    }

    /// One decoder for the whole schema (search pages and single-chunk lists) plus, for lists
    /// whose properties must be split, one per chunk (`id` + that chunk's properties).
    fn decoders(&self, schema: &StreamSchema, properties: &[String]) -> Result<Decoders> {
        let key = vec!["id".to_string()];
        let full = RecordDecoder::new(schema, &["results"], &key, self.policy)?;
        let chunks = split_properties(
            properties,
            self.options.max_url_length.unwrap_or(DEFAULT_MAX_URL),
            self.client.base_url().len() + 120,
        );
        let chunked = if chunks.len() <= 1 {
            Vec::new()
        } else {
            chunks
                .iter()
                .map(|chunk| {
                    let mut cols: Vec<Column> = schema
                        .columns()
                        .iter()
                        .filter(|c| c.path.first().map(String::as_str) != Some("properties"))
                        .cloned()
                        .collect();
                    cols.extend(
                        schema
                            .columns()
                            .iter()
                            .filter(|c| {
                                c.path.len() == 2
                                    && c.path[0] == "properties"
                                    && chunk.contains(&c.path[1])
                            })
                            .cloned(),
                    );
                    let s = StreamSchema::new(cols)?;
                    Ok((
                        chunk.clone(),
                        RecordDecoder::new(&s, &["results"], &key, self.policy)?,
                    ))
                })
                .collect::<Result<Vec<_>>>()?
        };
        Ok(Decoders { full, chunked })
    }
}

/// Splits property names so each list URL stays under `max_url` (names are comma-joined and
/// the comma is sent as `%2C`).
pub fn split_properties(properties: &[String], max_url: usize, fixed: usize) -> Vec<Vec<String>> {
    let budget = max_url.saturating_sub(fixed).max(64);
    let mut chunks: Vec<Vec<String>> = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut len = 0;
    for p in properties {
        let add = p.len() + if current.is_empty() { 0 } else { 3 };
        if !current.is_empty() && len + add > budget {
            chunks.push(std::mem::take(&mut current));
            len = 0;
        }
        len += p.len() + if current.is_empty() { 0 } else { 3 };
        current.push(p.clone());
    }
    if !current.is_empty() || chunks.is_empty() {
        chunks.push(current);
    }
    chunks
}

struct Decoders {
    full: RecordDecoder,
    chunked: Vec<(Vec<String>, RecordDecoder)>,
}

/// A fetched page: one body, or one per property chunk.
struct Fetched {
    number: u64,
    bodies: Vec<Bytes>,
    next: Option<Position>,
    fetched_at: DateTime<Utc>,
}

struct Reader {
    object: ObjectType,
    client: HttpClient,
    schema: Arc<StreamSchema>,
    properties: Vec<String>,
    decoders: Decoders,
    state: SyncState,
    mode: SyncMode,
    start_date: Option<DateTime<Utc>>,
    search_limit: u32,
    max_url: usize,
}

impl Reader {
    fn run(self, first: Position) -> PageStream {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Fetched>>(2);
        let producer = Producer {
            object: self.object,
            client: self.client.clone(),
            properties: self.properties.clone(),
            chunks: self
                .decoders
                .chunked
                .iter()
                .map(|(c, _)| c.clone())
                .collect(),
            search_limit: self.search_limit,
            start_date: self.start_date,
            max_url: self.max_url,
        };
        let task =
            revline_core::task::spawn_scoped(async move { producer.produce(first, tx).await });
        let guard = AbortOnDrop(task);
        let mut consumer = self;
        futures::stream::unfold((rx, guard), |(mut rx, guard)| async move {
            rx.recv().await.map(|item| (item, (rx, guard)))
        })
        .map(move |fetched| consumer.page(fetched?))
        .boxed()
    }

    fn page(&mut self, f: Fetched) -> Result<Page> {
        let name = self.object.name();
        let (batch, nulled) = if f.bodies.len() == 1 {
            let d = self
                .decoders
                .full
                .decode(&f.bodies[0])
                .map_err(|e| decode_error(e, name, f.number))?;
            (d.batch, d.nulled_count)
        } else {
            self.join_chunks(&f)?
        };
        self.state
            .observe(column_max(&batch, "updated_at"), &timestamp_type());
        match f.next {
            Some(pos) => {
                self.state.resume = Some(serde_json::to_value(pos).expect("position serializes"));
                self.state.mode = Some(self.mode);
            }
            None => self.state.finish(&timestamp_type()),
        }
        Ok(Page {
            batch,
            checkpoint: self.state.to_value(),
            fetched_at: f.fetched_at,
            nulled_values: nulled,
        })
    }

    /// Joins per-chunk batches on `id` into the full schema.
    fn join_chunks(&self, f: &Fetched) -> Result<(RecordBatch, u64)> {
        let name = self.object.name();
        let mut parts = Vec::with_capacity(f.bodies.len());
        let mut nulled = 0;
        for (body, (_, dec)) in f.bodies.iter().zip(&self.decoders.chunked) {
            let d = dec
                .decode(body)
                .map_err(|e| decode_error(e, name, f.number))?;
            nulled += d.nulled_count;
            parts.push(d.batch);
        }
        let ids = |b: &RecordBatch| -> StringArray {
            b.column_by_name("id")
                .and_then(|c| c.as_any().downcast_ref::<StringArray>().cloned())
                .expect("id column")
        };
        let first_ids = ids(&parts[0]);
        let index: HashMap<&str, u32> = (0..first_ids.len())
            .filter(|i| first_ids.is_valid(*i))
            .map(|i| (first_ids.value(i), i as u32))
            .collect();
        let schema = self.schema.arrow_schema();
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
        for field in schema.fields() {
            let (pos, part) = parts
                .iter()
                .enumerate()
                .find(|(_, p)| p.column_by_name(field.name()).is_some())
                .ok_or_else(|| {
                    Error::internal(format!(
                        "column `{}` missing from every chunk",
                        field.name()
                    ))
                })?;
            let col = part.column_by_name(field.name()).expect("found").clone();
            if pos == 0 || part.num_rows() == 0 {
                columns.push(col);
                continue;
            }
            // Align this chunk's rows to the first chunk's order by id.
            let pid = ids(part);
            let mut order = vec![None; first_ids.len()];
            for i in 0..pid.len() {
                if let Some(&j) = index.get(pid.value(i)) {
                    order[j as usize] = Some(i as u32);
                }
            }
            if order.iter().any(Option::is_none) {
                return Err(Error::new(
                    ErrorKind::Api,
                    "the property chunks of one page returned different records (the list changed during the \
                     read); committed pages are kept, run again to resume",
                )
                .with_context("stream", name)
                .with_context("page", f.number));
            }
            let idx = UInt32Array::from(order);
            columns.push(take(col.as_ref(), &idx, None)?);
        }
        Ok((RecordBatch::try_new(schema, columns)?, nulled))
    }
}

struct Producer {
    object: ObjectType,
    client: HttpClient,
    properties: Vec<String>,
    chunks: Vec<Vec<String>>,
    search_limit: u32,
    start_date: Option<DateTime<Utc>>,
    max_url: usize,
}

impl Producer {
    async fn produce(self, first: Position, tx: tokio::sync::mpsc::Sender<Result<Fetched>>) {
        let mut pos = Some(first);
        let mut number = 0;
        while let Some(p) = pos.take() {
            number += 1;
            let result = match &p {
                Position::List { after } => self.list_page(after.as_deref(), number).await,
                _ => self.search_page(&p, number).await,
            };
            match result {
                Ok(f) => {
                    pos = f.next.clone();
                    if tx.send(Ok(f)).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    let _ = tx
                        .send(Err(e
                            .with_context("stream", self.object.name())
                            .with_context("page", number)))
                        .await;
                    return;
                }
            }
        }
    }

    fn list_request(&self, after: Option<&str>, props: &[String]) -> ApiRequest {
        let mut req = ApiRequest::get(
            self.client
                .url(&format!("/crm/v3/objects/{}", self.object.name())),
        )
        .with_query("limit", LIST_LIMIT.to_string())
        .with_query("archived", "false");
        if !props.is_empty() {
            req = req.with_query("properties", props.join(","));
        }
        if let Some(a) = after {
            req = req.with_query("after", a);
        }
        debug_assert!(
            req.url.len() + props.iter().map(|p| p.len() + 3).sum::<usize>() < self.max_url + 200
        );
        req
    }

    async fn list_page(&self, after: Option<&str>, number: u64) -> Result<Fetched> {
        let path = ["results".to_string()];
        let name = self.object.name();
        let first_props: &[String] = self
            .chunks
            .first()
            .map(Vec::as_slice)
            .unwrap_or(&self.properties);
        let (resp, env) = fetch_one(
            &self.client,
            &self.list_request(after, first_props),
            &path,
            name,
        )
        .await?;
        let mut bodies = vec![resp.body];
        for chunk in self.chunks.iter().skip(1) {
            let (r, _) =
                fetch_one(&self.client, &self.list_request(after, chunk), &path, name).await?;
            bodies.push(r.body);
        }
        let next = env
            .text("paging.next.after")
            .filter(|a| !a.is_empty())
            .map(|a| Position::List { after: Some(a) });
        if let (Some(Position::List { after: Some(n) }), Some(a)) = (&next, after)
            && n == a
        {
            return Err(Error::new(
                ErrorKind::Api,
                format!("the list returned the same `after` cursor {a} twice"),
            ));
        }
        Ok(Fetched {
            number,
            bodies,
            next,
            fetched_at: Utc::now(),
        })
    }

    fn search_body(&self, pos: &Position) -> serde_json::Value {
        let modp = self.object.modified_property();
        let (filters, sort, offset) = match pos {
            Position::Search { since_ms, offset } => {
                let since = match self.start_date {
                    Some(s) => (*since_ms).max(s.timestamp_millis()),
                    None => *since_ms,
                };
                (
                    serde_json::json!([{"propertyName": modp, "operator": "GTE", "value": since.to_string()}]),
                    modp,
                    *offset,
                )
            }
            Position::Tie {
                at_ms,
                after_id,
                offset,
            } => (
                serde_json::json!([
                    {"propertyName": modp, "operator": "EQ", "value": at_ms.to_string()},
                    {"propertyName": "hs_object_id", "operator": "GT", "value": after_id.to_string()}
                ]),
                "hs_object_id",
                *offset,
            ),
            Position::List { .. } => unreachable!("not a search position"),
        };
        serde_json::json!({
            "filterGroups": [{"filters": filters}],
            "sorts": [{"propertyName": sort, "direction": "ASCENDING"}],
            "properties": self.properties,
            "limit": self.search_limit,
            "after": offset.to_string(),
        })
    }

    async fn search_page(&self, pos: &Position, number: u64) -> Result<Fetched> {
        let name = self.object.name();
        let req = ApiRequest::post_json(
            self.client.url(&format!("/crm/v3/objects/{name}/search")),
            self.search_body(pos),
        )
        .in_scope(crate::SEARCH_SCOPE);
        let (resp, env) = fetch_one(&self.client, &req, &["results".to_string()], name).await?;
        let next = self.next_search(pos, &env)?;
        Ok(Fetched {
            number,
            bodies: vec![resp.body],
            next,
            fetched_at: Utc::now(),
        })
    }

    /// The next position after a search page: the next offset, a restart from the last
    /// timestamp at the 10,000 cap, or a tie-break by id when a window shares one timestamp.
    fn next_search(&self, pos: &Position, env: &Envelope) -> Result<Option<Position>> {
        let next_offset = env
            .text("paging.next.after")
            .and_then(|a| a.parse::<u64>().ok());
        let last = env.last_record_value();
        let last_ms = || -> Result<i64> {
            last.as_ref()
                .and_then(|r| {
                    r.pointer(&format!("/properties/{}", self.object.modified_property()))
                })
                .and_then(|v| v.as_str())
                .and_then(parse_timestamp_micros)
                .map(|us| us.div_euclid(1000))
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::Api,
                        "a search result lacks its modified date; cannot restart the query",
                    )
                })
        };
        let last_id = || -> Result<i64> {
            last.as_ref()
                .and_then(|r| r.get("id"))
                .and_then(|v| v.as_str())
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::Api,
                        "a search result lacks a numeric id; cannot restart the query",
                    )
                })
        };
        Ok(match (pos, next_offset) {
            (Position::Search { since_ms, .. }, Some(o)) if o < SEARCH_CAP => {
                Some(Position::Search {
                    since_ms: *since_ms,
                    offset: o,
                })
            }
            (Position::Search { since_ms, .. }, Some(_)) => {
                let t = last_ms()?;
                if t > *since_ms {
                    tracing::debug!(
                        stream = self.object.name(),
                        since_ms = t,
                        "search cap reached: restarting from the last timestamp"
                    );
                    Some(Position::Search {
                        since_ms: t,
                        offset: 0,
                    })
                } else {
                    tracing::debug!(
                        stream = self.object.name(),
                        at_ms = t,
                        "a whole search window shares one timestamp: paging it by id"
                    );
                    Some(Position::Tie {
                        at_ms: t,
                        after_id: last_id()?,
                        offset: 0,
                    })
                }
            }
            (Position::Search { .. }, None) => None,
            (
                Position::Tie {
                    at_ms, after_id, ..
                },
                Some(o),
            ) if o < SEARCH_CAP => Some(Position::Tie {
                at_ms: *at_ms,
                after_id: *after_id,
                offset: o,
            }),
            (Position::Tie { at_ms, .. }, Some(_)) => Some(Position::Tie {
                at_ms: *at_ms,
                after_id: last_id()?,
                offset: 0,
            }),
            (Position::Tie { at_ms, .. }, None) => Some(Position::Search {
                since_ms: at_ms + 1,
                offset: 0,
            }),
            (Position::List { .. }, _) => unreachable!("not a search position"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_split_to_keep_urls_short() {
        let props: Vec<String> = (0..1000)
            .map(|i| format!("custom_property_{i:04}"))
            .collect();
        let chunks = split_properties(&props, 14_000, 200);
        assert!(chunks.len() >= 2, "{}", chunks.len());
        for c in &chunks {
            let encoded: usize = c.iter().map(|p| p.len()).sum::<usize>() + 3 * (c.len() - 1);
            assert!(encoded <= 13_800, "{encoded}");
        }
        let flat: Vec<String> = chunks.concat();
        assert_eq!(flat, props);
        assert_eq!(split_properties(&props[..3], 14_000, 200).len(), 1);
        assert_eq!(
            split_properties(&[], 14_000, 200),
            vec![Vec::<String>::new()]
        );
    }

    #[test]
    fn positions_round_trip_as_state() {
        for p in [
            Position::List {
                after: Some("101".into()),
            },
            Position::Search {
                since_ms: 5,
                offset: 200,
            },
            Position::Tie {
                at_ms: 5,
                after_id: 9,
                offset: 0,
            },
        ] {
            let v = serde_json::to_value(&p).unwrap();
            assert_eq!(serde_json::from_value::<Position>(v).unwrap(), p);
        }
        assert_eq!(
            serde_json::to_value(Position::List { after: None }).unwrap(),
            serde_json::json!({"phase": "list", "after": null})
        );
    }
}
