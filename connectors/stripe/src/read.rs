//! Reading a stream: `created` windows read concurrently as partitions, plus the event log.
//!
//! * **First sync and full refresh.** The newest matching event is noted first (the event
//!   log's starting point for the next run). Then `[start, now)` is split into `windows`
//!   equal `created` windows (the last one open-ended), read `concurrency` at a time, each
//!   newest first with `limit=100` and `starting_after`.
//! * **Incremental sync.** One window from the last `created` seen (`created[gte]`), and
//!   the event log from the last event seen (`GET /v1/events?types[]=…&created[gte]=…`),
//!   read concurrently. Every event carries a snapshot of its object, so changes to objects
//!   created earlier (a subscription canceled, an invoice paid, a customer deleted) arrive as
//!   rows whose `updated` is the event time; `*.deleted` events set `_deleted`.
//! * **Exactly once.** Both lower bounds are inclusive, and the ids already read at the
//!   boundary second are stored with it and skipped, so a run with no changes upstream reads
//!   nothing new, writes nothing and leaves the state as it was.
//! * **Resume.** Every partition's position (its window and `starting_after`) is stored in
//!   the state's `resume` with each commit; an interrupted sync continues each partition
//!   where its last committed page ended.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, Int64Array, StringArray, TimestampMicrosecondArray,
};
use arrow::compute::filter_record_batch;
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use futures::StreamExt;
use revline_core::cursor::{CursorValue, column_max};
use revline_core::decode::{BadValuePolicy, RecordDecoder};
use revline_core::fetch::{RawPage, decode_error, fetch_one, fetch_pages};
use revline_core::http::{ApiRequest, HttpClient};
use revline_core::paginate::{CursorPaginator, CursorSource, CursorTarget, follow_link};
use revline_core::partition::{Partition, merge_partitions};
use revline_core::schema::{EpochUnit, timestamp_type};
use revline_core::state::SyncState;
use revline_core::{
    Column, ColumnType, Error, ErrorKind, Page, PageStream, ReadRequest, Result, Stream,
    StreamDescriptor, StreamSchema, SyncMode,
};
use serde::{Deserialize, Serialize};

use crate::money;
use crate::streams::{DELETED, StreamDef, UPDATED};

/// Records per list page (Stripe's maximum).
pub const PAGE_LIMIT: u32 = 100;
const EVENT_CREATED: &str = "__event_created";
const EVENT_TYPE: &str = "__event_type";
const EVENT_ID: &str = "__event_id";
const EVENTS_PARTITION: &str = "events";

/// Settings shared by every stream of a source.
#[derive(Debug, Clone)]
pub struct ReadSettings {
    /// `created` windows of a first sync.
    pub windows: u32,
    /// Partitions read at once.
    pub concurrency: usize,
    /// Headers sent with every request (`Stripe-Version`, `Stripe-Account`).
    pub headers: Vec<(String, String)>,
    /// Lower bound of a first sync when no `start_date` is configured.
    pub default_start: DateTime<Utc>,
}

/// The last second read and the ids read at that second.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Boundary {
    /// Unix seconds.
    pub at: i64,
    /// Ids seen at `at`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<String>,
}

impl Boundary {
    /// The later of two boundaries (ids are joined when they share a second).
    fn max(a: Option<Boundary>, b: Option<Boundary>) -> Option<Boundary> {
        match (a, b) {
            (None, x) | (x, None) => x,
            (Some(a), Some(b)) if a.at > b.at => Some(a),
            (Some(a), Some(b)) if b.at > a.at => Some(b),
            (Some(mut a), Some(b)) => {
                for id in b.ids {
                    if !a.ids.contains(&id) {
                        a.ids.push(id);
                    }
                }
                a.ids.sort();
                Some(a)
            }
        }
    }

    /// Whether `id` at second `at` was already read.
    fn covers(&self, at: i64, id: &str) -> bool {
        at == self.at && self.ids.iter().any(|x| x == id)
    }

    /// The latest second of `times` and the ids at it.
    fn of(times: &TimestampMicrosecondArray, ids: &StringArray) -> Option<Boundary> {
        let mut best: Option<Boundary> = None;
        for i in 0..times.len() {
            if times.is_null(i) || ids.is_null(i) {
                continue;
            }
            let at = times.value(i).div_euclid(1_000_000);
            best = Boundary::max(
                best,
                Some(Boundary {
                    at,
                    ids: vec![ids.value(i).to_string()],
                }),
            );
        }
        best
    }
}

/// Where one partition stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Position {
    /// A `created` window `[gte, lt)` (unix seconds), paged from `after`.
    Window {
        /// Inclusive lower bound.
        gte: i64,
        /// Exclusive upper bound (`None`: open-ended).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lt: Option<i64>,
        /// `starting_after` of the next page.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<String>,
        /// Read to the end.
        #[serde(default)]
        done: bool,
        /// The newest `created` read in this window.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        newest: Option<Boundary>,
    },
    /// The event log from `gte` (unix seconds; `None`: everything retained), paged from
    /// `after`.
    Events {
        /// Inclusive lower bound.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        gte: Option<i64>,
        /// `starting_after` of the next page.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<String>,
        /// Read to the end.
        #[serde(default)]
        done: bool,
        /// The newest event read.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        newest: Option<Boundary>,
    },
}

impl Position {
    fn done(&self) -> bool {
        match self {
            Position::Window { done, .. } | Position::Events { done, .. } => *done,
        }
    }
}

/// An unfinished sync: every partition's position and the boundaries rows are checked
/// against.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Plan {
    partitions: BTreeMap<String, Position>,
    /// Rows created at this boundary were read by the previous sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    skip_created: Option<Boundary>,
    /// Events at this boundary were read by the previous sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    skip_events: Option<Boundary>,
    /// Lower bound of the windows (for the cursor when nothing was read).
    #[serde(default)]
    lower: i64,
}

const CREATED_KEY: &str = "created_cursor";
const EVENTS_KEY: &str = "events_cursor";

/// One Stripe stream.
pub struct StripeStream {
    def: StreamDef,
    descriptor: StreamDescriptor,
    client: HttpClient,
    settings: Arc<ReadSettings>,
    policy: BadValuePolicy,
}

impl StripeStream {
    /// The stream `def`, read through `client`.
    pub fn new(
        def: StreamDef,
        client: HttpClient,
        settings: Arc<ReadSettings>,
        policy: BadValuePolicy,
    ) -> Self {
        StripeStream {
            descriptor: def.descriptor(),
            def,
            client,
            settings,
            policy,
        }
    }
}

#[async_trait]
impl Stream for StripeStream {
    fn descriptor(&self) -> &StreamDescriptor {
        &self.descriptor
    }

    fn read(&self, request: ReadRequest) -> PageStream {
        let ctx = Arc::new(Ctx {
            def: self.def.clone(),
            client: self.client.clone(),
            settings: self.settings.clone(),
            policy: self.policy,
        });
        let name = self.def.name;
        futures::stream::once(async move {
            match ctx.start(request).await {
                Ok(pages) => pages,
                Err(e) => futures::stream::once(async move { Err(e.with_context("stream", name)) })
                    .boxed(),
            }
        })
        .flatten()
        .boxed()
    }
}

struct Ctx {
    def: StreamDef,
    client: HttpClient,
    settings: Arc<ReadSettings>,
    policy: BadValuePolicy,
}

fn parse_json<T: for<'de> Deserialize<'de>>(
    v: Option<&serde_json::Value>,
    what: &str,
    stream: &str,
) -> Result<Option<T>> {
    match v {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(v) => serde_json::from_value(v.clone()).map(Some).map_err(|e| {
            Error::new(
                ErrorKind::State,
                format!("stored {what} is not readable: {e}"),
            )
            .with_context("stream", stream)
        }),
    }
}

impl Ctx {
    fn request(&self, path: &str) -> ApiRequest {
        let mut req = ApiRequest::get(self.client.url(path));
        for (k, v) in &self.settings.headers {
            req = req.with_header(k, v.clone());
        }
        req
    }

    fn events_request(&self) -> ApiRequest {
        let mut req = self.request("/v1/events");
        for t in self.def.events {
            req.query.push(("types[]".to_string(), t.to_string()));
        }
        req
    }

    /// The newest event (its second and id): where the next run's event log starts. Other
    /// events of the same second are read again by the next run (harmlessly: rows merge).
    async fn events_head(&self) -> Result<Option<Boundary>> {
        let req = self.events_request().with_query("limit", "1");
        let (resp, _) = fetch_one(&self.client, &req, &["data".to_string()], self.def.name).await?;
        #[derive(Deserialize)]
        struct Ev {
            id: String,
            created: i64,
        }
        #[derive(Deserialize)]
        struct List {
            data: Vec<Ev>,
        }
        let list: List = serde_json::from_slice(&resp.body).map_err(|e| {
            Error::new(ErrorKind::Decode, "the event list is not Stripe-shaped").with_source(e)
        })?;
        Ok(list
            .data
            .into_iter()
            .map(|e| {
                Some(Boundary {
                    at: e.created,
                    ids: vec![e.id],
                })
            })
            .fold(None, Boundary::max))
    }

    async fn start(self: Arc<Self>, request: ReadRequest) -> Result<PageStream> {
        let name = self.def.name;
        let mut state = SyncState::from_value(request.state.as_ref(), name)?;
        let prev_created: Option<Boundary> =
            parse_json(state.extra.get(CREATED_KEY), "created cursor", name)?;
        let prev_events: Option<Boundary> =
            parse_json(state.extra.get(EVENTS_KEY), "event cursor", name)?;
        let stored_plan: Option<Plan> =
            parse_json(state.resume.take().as_ref(), "resume position", name)?;
        let mode = match &stored_plan {
            Some(_) => state.mode.unwrap_or(request.mode),
            None => request.mode,
        };
        let plan = match stored_plan {
            Some(p) => p,
            None => {
                state.pending = None;
                match (request.mode, &prev_created) {
                    (SyncMode::Incremental, Some(c)) => {
                        let mut partitions = BTreeMap::new();
                        partitions.insert(
                            "since".to_string(),
                            Position::Window {
                                gte: c.at,
                                lt: None,
                                after: None,
                                done: false,
                                newest: None,
                            },
                        );
                        partitions.insert(
                            EVENTS_PARTITION.to_string(),
                            Position::Events {
                                gte: prev_events.as_ref().map(|e| e.at),
                                after: None,
                                done: false,
                                newest: None,
                            },
                        );
                        Plan {
                            partitions,
                            skip_created: Some(c.clone()),
                            skip_events: prev_events.clone(),
                            lower: c.at,
                        }
                    }
                    _ => {
                        let head = self.events_head().await?;
                        let lower = match request.start_date {
                            Some(d) if self.def.history => d,
                            _ => self.settings.default_start,
                        }
                        .timestamp();
                        let mut partitions =
                            windows(lower, Utc::now().timestamp(), self.settings.windows);
                        partitions.insert(
                            EVENTS_PARTITION.to_string(),
                            Position::Events {
                                gte: None,
                                after: None,
                                done: true,
                                newest: head,
                            },
                        );
                        Plan {
                            partitions,
                            skip_created: None,
                            skip_events: None,
                            lower,
                        }
                    }
                }
            }
        };
        state.mode = Some(mode);
        let decoders = Arc::new(Decoders::new(&self.def, &request.schema, self.policy)?);
        let prior = serde_json::json!({
            "partitions": serde_json::to_value(&plan.partitions).expect("positions serialize")
        });
        let partitions: Vec<Partition> = plan
            .partitions
            .iter()
            .filter(|(_, p)| !p.done())
            .map(|(id, p)| Partition {
                id: id.clone(),
                pages: self.clone().partition(
                    p.clone(),
                    plan.clone(),
                    decoders.clone(),
                    request.schema.clone(),
                ),
            })
            .collect();
        let mut finisher = Finisher { state, plan };
        if partitions.is_empty() {
            // Nothing left to read (a resumed sync whose partitions all ended): commit the end.
            let batch = RecordBatch::new_empty(request.schema.arrow_schema());
            let checkpoint = finisher.finish_all();
            return Ok(futures::stream::once(async move {
                Ok(Page {
                    batch,
                    checkpoint,
                    fetched_at: Utc::now(),
                    nulled_values: 0,
                })
            })
            .boxed());
        }
        let merged = merge_partitions(partitions, self.settings.concurrency, Some(prior));
        // A partition that fails does not stop the others: their pages keep coming (and are
        // committed), the failed partition keeps its last good position, and the error is
        // reported once the others are done. A spent quota stops everything at once.
        Ok(futures::stream::unfold(
            (merged, finisher, None::<Error>),
            |(mut merged, mut finisher, mut deferred)| async move {
                loop {
                    match merged.next().await {
                        Some(Ok(mut page)) => {
                            let item = finisher.checkpoint(&page).map(|cp| {
                                page.checkpoint = cp;
                                page
                            });
                            return Some((item, (merged, finisher, deferred)));
                        }
                        Some(Err(e)) if e.kind() == ErrorKind::QuotaExhausted => {
                            return Some((Err(e), (futures::stream::empty().boxed(), finisher, None)));
                        }
                        Some(Err(e)) => {
                            if deferred.is_none() {
                                tracing::warn!(error = %e, "a partition failed; finishing the others first");
                                deferred = Some(e);
                            }
                        }
                        None => {
                            let e = deferred.take()?;
                            return Some((Err(e), (merged, finisher, None)));
                        }
                    }
                }
            },
        )
        .boxed())
    }

    /// The pages of one partition, each with the partition's new position as checkpoint.
    fn partition(
        self: Arc<Self>,
        position: Position,
        plan: Plan,
        decoders: Arc<Decoders>,
        schema: Arc<StreamSchema>,
    ) -> PageStream {
        let paginator = Arc::new(CursorPaginator {
            source: CursorSource::LastRecord("id".into()),
            target: CursorTarget::Query("starting_after".into()),
            has_more_path: Some("has_more".into()),
        });
        let (first, is_events) = match &position {
            Position::Window { gte, lt, after, .. } => {
                let mut req = self
                    .request(self.def.path)
                    .with_query("limit", PAGE_LIMIT.to_string());
                for (k, v) in self.def.query {
                    req = req.with_query(k, *v);
                }
                req = req.with_query("created[gte]", gte.to_string());
                if let Some(lt) = lt {
                    req = req.with_query("created[lt]", lt.to_string());
                }
                if let Some(a) = after {
                    req = req.with_query("starting_after", a.clone());
                }
                (req, false)
            }
            Position::Events { gte, after, .. } => {
                let mut req = self
                    .events_request()
                    .with_query("limit", PAGE_LIMIT.to_string());
                if let Some(g) = gte {
                    req = req.with_query("created[gte]", g.to_string());
                }
                if let Some(a) = after {
                    req = req.with_query("starting_after", a.clone());
                }
                (req, true)
            }
        };
        let raw = fetch_pages(
            self.client.clone(),
            first,
            paginator,
            vec!["data".into()],
            self.def.name.to_string(),
            2,
        );
        let mut position = position;
        let mut emitted: HashSet<String> = HashSet::new();
        let fetcher = self.clone();
        raw.then(move |raw| {
            let ctx = fetcher.clone();
            async move {
                let raw = raw?;
                let body = ctx.complete_nested(&raw, is_events).await?;
                Ok::<_, Error>((raw, body))
            }
        })
        .map(move |item| {
            let (raw, body) = item?;
            let page = decoders.page(
                &self.def,
                &schema,
                &raw,
                &body,
                is_events,
                &plan,
                &mut position,
                &mut emitted,
            )?;
            Ok(page)
        })
        .boxed()
    }

    /// Completes nested lists that Stripe embedded only in part (`lines`, `items` with
    /// `has_more: true`) by paging their own endpoint; returns the body to decode.
    async fn complete_nested(&self, raw: &RawPage, is_events: bool) -> Result<Bytes> {
        let Some(nested) = self.def.nested else {
            return Ok(raw.body.clone());
        };
        let top =
            usize::from(raw.envelope.pointer("has_more").and_then(|v| v.as_bool()) == Some(true));
        if count_has_more_true(&raw.body) <= top {
            return Ok(raw.body.clone());
        }
        let mut v: serde_json::Value = serde_json::from_slice(&raw.body).map_err(|e| {
            Error::new(ErrorKind::Decode, "response body is not valid JSON").with_source(e)
        })?;
        let records = v
            .get_mut("data")
            .and_then(|d| d.as_array_mut())
            .ok_or_else(|| Error::new(ErrorKind::Decode, "a Stripe list without `data`"))?;
        for rec in records.iter_mut() {
            let obj = if is_events {
                match rec.pointer_mut("/data/object") {
                    Some(o) => o,
                    None => continue,
                }
            } else {
                rec
            };
            let Some(list) = obj.get_mut(nested.key()) else {
                continue;
            };
            if list.get("has_more").and_then(|h| h.as_bool()) != Some(true) {
                continue;
            }
            let url = list
                .get("url")
                .and_then(|u| u.as_str())
                .ok_or_else(|| Error::new(ErrorKind::Api, "a nested list without `url`"))?
                .to_string();
            let mut items: Vec<serde_json::Value> = list
                .get("data")
                .and_then(|d| d.as_array())
                .cloned()
                .unwrap_or_default();
            let base = self.request(self.def.path);
            let mut req = follow_link(&base, &url)?.with_query("limit", PAGE_LIMIT.to_string());
            loop {
                if let Some(last) = items
                    .last()
                    .and_then(|i| i.get("id"))
                    .and_then(|i| i.as_str())
                {
                    req.set_query("starting_after", last);
                }
                let (resp, env) =
                    fetch_one(&self.client, &req, &["data".to_string()], self.def.name).await?;
                let page: serde_json::Value = serde_json::from_slice(&resp.body).map_err(|e| {
                    Error::new(ErrorKind::Decode, "response body is not valid JSON").with_source(e)
                })?;
                let got = page["data"].as_array().cloned().unwrap_or_default();
                let n = got.len();
                items.extend(got);
                if env.pointer("has_more").and_then(|h| h.as_bool()) != Some(true) || n == 0 {
                    break;
                }
            }
            list["data"] = serde_json::Value::Array(items);
            list["has_more"] = serde_json::Value::Bool(false);
        }
        Ok(Bytes::from(
            serde_json::to_vec(&v).expect("JSON serializes"),
        ))
    }
}

/// How many times `"has_more": true` occurs in a body (any whitespace around the colon).
fn count_has_more_true(body: &[u8]) -> usize {
    const KEY: &[u8] = b"\"has_more\"";
    let mut n = 0;
    let mut i = 0;
    while i + KEY.len() <= body.len() {
        if &body[i..i + KEY.len()] == KEY {
            let mut j = i + KEY.len();
            while j < body.len() && (body[j] == b':' || body[j].is_ascii_whitespace()) {
                j += 1;
            }
            if body[j..].starts_with(b"true") {
                n += 1;
            }
            i = j;
        } else {
            i += 1;
        }
    }
    n
}

/// `[lower, now)` split into `n` windows named `w00`, `w01`, …; the last is open-ended.
fn windows(lower: i64, now: i64, n: u32) -> BTreeMap<String, Position> {
    let n = n.max(1) as i64;
    let span = (now - lower).max(n);
    (0..n)
        .map(|k| {
            let gte = lower + span * k / n;
            let lt = (k + 1 < n).then(|| lower + span * (k + 1) / n);
            (
                format!("w{k:02}"),
                Position::Window {
                    gte,
                    lt,
                    after: None,
                    done: false,
                    newest: None,
                },
            )
        })
        .collect()
}

/// Turns merged partition checkpoints into the stream's state.
struct Finisher {
    state: SyncState,
    plan: Plan,
}

impl Finisher {
    fn checkpoint(&mut self, page: &Page) -> Result<serde_json::Value> {
        let positions: BTreeMap<String, Position> = serde_json::from_value(
            page.checkpoint
                .get("partitions")
                .cloned()
                .unwrap_or_default(),
        )
        .map_err(|e| Error::internal(format!("partition positions: {e}")))?;
        self.plan.partitions = positions;
        self.state
            .observe(column_max(&page.batch, UPDATED), &timestamp_type());
        if self.plan.partitions.values().all(Position::done) {
            Ok(self.finish_all())
        } else {
            self.state.resume = Some(serde_json::to_value(&self.plan).expect("plan serializes"));
            Ok(self.state.to_value())
        }
    }

    /// The state of a finished sync: the new cursors, no resume.
    fn finish_all(&mut self) -> serde_json::Value {
        // An incremental sync continues from the boundaries it skipped; a full sync starts
        // the cursors afresh.
        let mut created = self.plan.skip_created.clone();
        let mut events = self.plan.skip_events.clone();
        for p in self.plan.partitions.values() {
            match p {
                Position::Window { newest, .. } => {
                    created = Boundary::max(created, newest.clone());
                }
                Position::Events { newest, .. } => {
                    events = Boundary::max(events, newest.clone());
                }
            }
        }
        let created = created.unwrap_or(Boundary {
            at: self.plan.lower,
            ids: Vec::new(),
        });
        self.state.extra.insert(
            CREATED_KEY.to_string(),
            serde_json::to_value(&created).expect("boundary serializes"),
        );
        match events {
            Some(e) => {
                self.state.extra.insert(
                    EVENTS_KEY.to_string(),
                    serde_json::to_value(&e).expect("boundary serializes"),
                );
            }
            None => {
                self.state.extra.remove(EVENTS_KEY);
            }
        }
        self.state.finish(&timestamp_type());
        if self.state.cursor.is_none() {
            // Nothing was ever read: the lower bound is the high-water mark, so the next run
            // is incremental (and a run that finds nothing changes nothing).
            self.state.cursor = Some(CursorValue::Timestamp(self.plan.lower * 1_000_000).to_json());
        }
        self.state.to_value()
    }
}

/// The decoders of a stream: list pages and event pages.
struct Decoders {
    list: RecordDecoder,
    events: RecordDecoder,
}

impl Decoders {
    fn new(def: &StreamDef, schema: &StreamSchema, policy: BadValuePolicy) -> Result<Self> {
        let key = vec!["id".to_string()];
        let read: Vec<Column> = schema
            .columns()
            .iter()
            .filter(|c| !def.derived(&c.name))
            .cloned()
            .collect();
        let list = RecordDecoder::new(&StreamSchema::new(read.clone())?, &["data"], &key, policy)?;
        let mut ev: Vec<Column> = read
            .into_iter()
            .map(|mut c| {
                let mut path = vec!["data".to_string(), "object".to_string()];
                path.extend(c.path);
                c.path = path;
                c
            })
            .collect();
        ev.push(
            Column::new("created", ColumnType::Timestamp)
                .epoch(EpochUnit::Seconds)
                .named(EVENT_CREATED),
        );
        ev.push(Column::new("type", ColumnType::Utf8).named(EVENT_TYPE));
        ev.push(Column::new("id", ColumnType::Utf8).named(EVENT_ID));
        let events = RecordDecoder::new(&StreamSchema::new(ev)?, &["data"], &key, policy)?;
        Ok(Decoders { list, events })
    }

    #[allow(clippy::too_many_arguments)]
    fn page(
        &self,
        def: &StreamDef,
        schema: &StreamSchema,
        raw: &RawPage,
        body: &[u8],
        is_events: bool,
        plan: &Plan,
        position: &mut Position,
        emitted: &mut HashSet<String>,
    ) -> Result<Page> {
        let decoder = if is_events { &self.events } else { &self.list };
        let decoded = decoder
            .decode(body)
            .map_err(|e| decode_error(e, def.name, raw.number))?;
        let b = &decoded.batch;
        let n = b.num_rows();
        let ids = string_col(b, "id")?;
        let mut keep = vec![true; n];
        let (times, newest) = if is_events {
            let at = ts_col(b, EVENT_CREATED)?;
            let ev_ids = string_col(b, EVENT_ID)?;
            for (i, k) in keep.iter_mut().enumerate() {
                let t = at.value(i).div_euclid(1_000_000);
                let skip = plan
                    .skip_events
                    .as_ref()
                    .is_some_and(|s| s.covers(t, ev_ids.value(i)));
                // Events come newest first: the first event of an object is its latest state.
                *k = !skip && !ids.is_null(i) && emitted.insert(ids.value(i).to_string());
            }
            (at.clone(), Boundary::of(at, ev_ids))
        } else {
            let created = ts_col(b, "created")?;
            if let Some(s) = &plan.skip_created {
                for (i, k) in keep.iter_mut().enumerate() {
                    if !created.is_null(i)
                        && s.covers(created.value(i).div_euclid(1_000_000), ids.value(i))
                    {
                        *k = false;
                    }
                }
            }
            (created.clone(), Boundary::of(created, ids))
        };
        // Assemble the table's columns.
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.columns().len());
        for col in schema.columns() {
            let array: ArrayRef = if col.name == UPDATED && !def.native_updated {
                Arc::new(times.clone())
            } else if col.name == DELETED {
                let deleted: BooleanArray = if is_events {
                    let types = string_col(b, EVENT_TYPE)?;
                    (0..n)
                        .map(|i| Some(!types.is_null(i) && types.value(i).ends_with(".deleted")))
                        .collect()
                } else {
                    (0..n).map(|_| Some(false)).collect()
                };
                Arc::new(deleted)
            } else if let Some(m) = col
                .name
                .strip_suffix("_decimal")
                .filter(|m| def.money.contains(m))
            {
                let amounts = b
                    .column_by_name(m)
                    .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
                    .ok_or_else(|| Error::internal(format!("amount column `{m}` missing")))?;
                money::decimal_column(amounts, string_col(b, "currency")?)
            } else {
                b.column_by_name(&col.name)
                    .cloned()
                    .ok_or_else(|| Error::internal(format!("column `{}` missing", col.name)))?
            };
            columns.push(array);
        }
        let full = RecordBatch::try_new(schema.arrow_schema(), columns)?;
        let batch = if keep.iter().all(|k| *k) {
            full
        } else {
            filter_record_batch(&full, &BooleanArray::from(keep))?
        };
        // The partition's new position.
        let after = raw
            .next
            .as_ref()
            .and_then(|r| r.query_value("starting_after").map(String::from));
        match position {
            Position::Window {
                after: a,
                done,
                newest: nw,
                ..
            }
            | Position::Events {
                after: a,
                done,
                newest: nw,
                ..
            } => {
                *done = after.is_none();
                *a = after;
                *nw = Boundary::max(nw.take(), newest);
            }
        }
        Ok(Page {
            batch,
            checkpoint: serde_json::to_value(&*position).expect("position serializes"),
            fetched_at: raw.fetched_at,
            nulled_values: decoded.nulled_count,
        })
    }
}

fn string_col<'a>(b: &'a RecordBatch, name: &str) -> Result<&'a StringArray> {
    b.column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .ok_or_else(|| Error::internal(format!("text column `{name}` missing")))
}

fn ts_col<'a>(b: &'a RecordBatch, name: &str) -> Result<&'a TimestampMicrosecondArray> {
    b.column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<TimestampMicrosecondArray>())
        .ok_or_else(|| Error::internal(format!("timestamp column `{name}` missing")))
}

/// Stripe's launch: the default lower bound of a first sync.
pub fn stripe_epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2011, 1, 1, 0, 0, 0).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_the_range_without_overlap() {
        let w = windows(1_000, 2_000, 4);
        let bounds: Vec<(i64, Option<i64>)> = w
            .values()
            .map(|p| match p {
                Position::Window { gte, lt, .. } => (*gte, *lt),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(
            bounds,
            vec![
                (1_000, Some(1_250)),
                (1_250, Some(1_500)),
                (1_500, Some(1_750)),
                (1_750, None)
            ]
        );
    }

    #[test]
    fn boundaries_keep_the_latest_second_and_its_ids() {
        let b = |at, ids: &[&str]| {
            Some(Boundary {
                at,
                ids: ids.iter().map(|s| s.to_string()).collect(),
            })
        };
        assert_eq!(Boundary::max(b(5, &["a"]), b(4, &["b"])), b(5, &["a"]));
        assert_eq!(Boundary::max(b(5, &["c"]), b(5, &["a"])), b(5, &["a", "c"]));
        assert_eq!(Boundary::max(None, b(1, &[])), b(1, &[]));
        assert!(b(5, &["a"]).unwrap().covers(5, "a"));
        assert!(!b(5, &["a"]).unwrap().covers(6, "a"));
    }

    #[test]
    fn counts_nested_has_more() {
        let body = br#"{"object":"list","data":[{"lines":{"has_more": true}},{"lines":{"has_more":false}}],"has_more":true}"#;
        assert_eq!(count_has_more_true(body), 2);
        assert_eq!(count_has_more_true(b"{}"), 0);
    }

    #[test]
    fn positions_round_trip() {
        let p = Position::Window {
            gte: 1,
            lt: Some(2),
            after: Some("in_1".into()),
            done: false,
            newest: Some(Boundary {
                at: 1,
                ids: vec!["in_1".into()],
            }),
        };
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["kind"], "window");
        assert_eq!(serde_json::from_value::<Position>(v).unwrap(), p);
    }
}
