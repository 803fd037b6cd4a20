//! Reading an sObject with SOQL.
//!
//! * **Schema.** `describe` types every column (standard fields, the object's custom `__c`
//!   fields, relationship fields through the related object's `describe`).
//! * **Query.** `SELECT <fields> FROM <Object> [WHERE …] ORDER BY SystemModstamp ASC, Id ASC`
//!   through `queryAll`, so deleted rows arrive with `IsDeleted = true` (the `_deleted`
//!   column) and are marked, not lost. Pages follow `nextRecordsUrl` with
//!   `Sforce-Query-Options: batchSize`.
//! * **Incremental.** `SystemModstamp >= <cursor>` (an unquoted literal; the boundary second is
//!   read again and merges away).
//! * **Resume.** Each checkpoint holds the last `(SystemModstamp, Id)` read; an interrupted
//!   sync (or a query locator that expired) continues with
//!   `SystemModstamp > t OR (SystemModstamp = t AND Id > 'last')`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use revline_core::cursor::{CursorValue, column_max};
use revline_core::decode::coerce::parse_timestamp_micros;
use revline_core::decode::{BadValuePolicy, RecordDecoder};
use revline_core::fetch::{AbortOnDrop, decode_error, fetch_one};
use revline_core::http::{ApiRequest, HttpClient};
use revline_core::paginate::follow_link;
use revline_core::schema::timestamp_type;
use revline_core::state::SyncState;
use revline_core::{
    ColumnType as T, Error, ErrorKind, Page, PageStream, ReadRequest, Result, Stream,
    StreamDescriptor, StreamSchema, SyncMode,
};
use serde::{Deserialize, Serialize};

use crate::config::SalesforceOptions;
use crate::streams::{CURSOR, CURSOR_FIELD, StreamDef, column, related_column};

/// Marks the error of an expired query locator (the query is re-run from the last record).
pub const LOCATOR_EXPIRED: &str = "INVALID_QUERY_LOCATOR";

/// What a stream needs from its source.
#[derive(Debug)]
pub struct Shared {
    /// The client (OAuth2 against the login host).
    pub client: HttpClient,
    /// The options.
    pub options: SalesforceOptions,
    /// REST API version, e.g. `60.0`.
    pub version: String,
    /// `Sforce-Query-Options: batchSize`.
    pub batch_size: u32,
    describes: Mutex<HashMap<String, Arc<Vec<FieldInfo>>>>,
}

impl Shared {
    /// Shared state for every stream of a source.
    pub fn new(client: HttpClient, options: SalesforceOptions) -> Self {
        Shared {
            version: options
                .api_version
                .clone()
                .unwrap_or_else(|| "60.0".to_string())
                .trim_start_matches('v')
                .to_string(),
            batch_size: options.batch_size.unwrap_or(2000).clamp(200, 2000),
            client,
            options,
            describes: Mutex::new(HashMap::new()),
        }
    }

    /// The API host, from the token response's `instance_url` (fetching a token if needed).
    pub async fn instance(&self) -> Result<String> {
        let url = self.client.auth_extra("instance_url").await?;
        match url.as_ref().and_then(|v| v.as_str()) {
            Some(u) => Ok(u.trim_end_matches('/').to_string()),
            None => Err(Error::new(
                ErrorKind::Auth,
                "the Salesforce token response has no `instance_url`",
            )),
        }
    }

    fn request(&self, url: String) -> ApiRequest {
        ApiRequest::get(url).with_header(
            "Sforce-Query-Options",
            format!("batchSize={}", self.batch_size),
        )
    }

    /// The fields of `object` as `describe` lists them (cached per source).
    pub async fn describe(&self, object: &str) -> Result<Arc<Vec<FieldInfo>>> {
        if let Some(d) = self.describes.lock().expect("describe cache").get(object) {
            return Ok(d.clone());
        }
        let instance = self.instance().await?;
        let req = ApiRequest::get(format!(
            "{instance}/services/data/v{}/sobjects/{object}/describe",
            self.version
        ));
        let (resp, _) = fetch_one(&self.client, &req, &["fields".to_string()], object).await?;
        #[derive(Deserialize)]
        struct Describe {
            fields: Vec<FieldInfo>,
        }
        let d: Describe = serde_json::from_slice(&resp.body).map_err(|e| {
            Error::new(
                ErrorKind::Decode,
                format!("the describe of {object} is not readable"),
            )
            .with_source(e)
        })?;
        let fields = Arc::new(d.fields);
        self.describes
            .lock()
            .expect("describe cache")
            .insert(object.to_string(), fields.clone());
        Ok(fields)
    }
}

/// A field as `describe` reports it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldInfo {
    /// API name.
    pub name: String,
    /// Salesforce type (`string`, `currency`, `datetime`, `reference`, …).
    #[serde(rename = "type")]
    pub ty: String,
    /// Whether it is a custom field.
    #[serde(default)]
    pub custom: bool,
    /// Digits of a number.
    #[serde(default)]
    pub precision: u32,
    /// Digits after the point.
    #[serde(default)]
    pub scale: u32,
    /// Objects a reference points to.
    #[serde(default)]
    pub reference_to: Vec<String>,
    /// Relationship name of a reference (`Account` for `AccountId`).
    #[serde(default)]
    pub relationship_name: Option<String>,
}

/// The column type of a Salesforce field type.
pub fn column_type(f: &FieldInfo) -> T {
    match f.ty.as_str() {
        "boolean" => T::Boolean,
        "int" | "long" => T::Int64,
        "double" | "percent" => T::Float64,
        "currency" => {
            let scale = if f.precision == 0 { 2 } else { f.scale.min(18) } as i8;
            let precision = if f.precision == 0 {
                18
            } else {
                f.precision.clamp(1, 38)
            } as u8;
            T::Decimal {
                precision: precision.max(scale as u8 + 1),
                scale,
            }
        }
        "date" => T::Date,
        "datetime" => T::Timestamp,
        "address" | "location" => T::Json,
        _ => T::Utf8,
    }
}

/// One Salesforce stream.
pub struct SoqlStream {
    def: StreamDef,
    descriptor: StreamDescriptor,
    shared: Arc<Shared>,
    policy: BadValuePolicy,
}

impl SoqlStream {
    /// The stream `def` of a source.
    pub fn new(def: StreamDef, shared: Arc<Shared>, policy: BadValuePolicy) -> Self {
        SoqlStream {
            descriptor: def.descriptor(),
            def,
            shared,
            policy,
        }
    }

    async fn typed_columns(&self) -> Result<StreamSchema> {
        let object = self.def.object;
        let fields = self.shared.describe(object).await?;
        let by_name: HashMap<String, &FieldInfo> = fields
            .iter()
            .map(|f| (f.name.to_ascii_lowercase(), f))
            .collect();
        let wanted: Vec<String> = match self.shared.options.fields.get(self.def.name) {
            Some(list) => {
                let mut w: Vec<String> = list.clone();
                for must in ["Id", CURSOR_FIELD, "IsDeleted"] {
                    if by_name.contains_key(&must.to_ascii_lowercase())
                        && !w.iter().any(|x| x.eq_ignore_ascii_case(must))
                    {
                        w.push(must.to_string());
                    }
                }
                w
            }
            None => {
                let mut w: Vec<String> = self
                    .def
                    .fields
                    .iter()
                    .map(|(f, _)| f.to_string())
                    .filter(|f| by_name.contains_key(&f.to_ascii_lowercase()))
                    .collect();
                let mut custom: Vec<String> = fields
                    .iter()
                    .filter(|f| f.custom)
                    .map(|f| f.name.clone())
                    .collect();
                custom.sort();
                w.extend(custom);
                w.extend(self.def.related.iter().map(|(r, f, _)| format!("{r}.{f}")));
                w
            }
        };
        let mut cols = Vec::with_capacity(wanted.len());
        for name in wanted {
            match name.split_once('.') {
                None => {
                    let f = by_name.get(&name.to_ascii_lowercase()).ok_or_else(|| {
                        Error::config(format!(
                            "field `{name}` listed for `{}` does not exist on {object} in this org",
                            self.def.name
                        ))
                    })?;
                    cols.push(column(&f.name, column_type(f)));
                }
                Some((rel, fname)) => {
                    let reference = fields
                        .iter()
                        .find(|f| {
                            f.relationship_name
                                .as_deref()
                                .is_some_and(|r| r.eq_ignore_ascii_case(rel))
                        })
                        .ok_or_else(|| {
                            Error::config(format!(
                                "`{name}` listed for `{}`: {object} has no relationship `{rel}`",
                                self.def.name
                            ))
                        })?;
                    let rel_name = reference.relationship_name.clone().unwrap_or_default();
                    let target = reference.reference_to.first().cloned().unwrap_or_default();
                    let target_fields = self.shared.describe(&target).await?;
                    let f = target_fields
                        .iter()
                        .find(|f| f.name.eq_ignore_ascii_case(fname))
                        .ok_or_else(|| {
                            Error::config(format!(
                                "field `{name}` listed for `{}` does not exist on {target}",
                                self.def.name
                            ))
                        })?;
                    cols.push(related_column(&rel_name, &f.name, column_type(f)));
                }
            }
        }
        StreamSchema::new(cols)
    }
}

/// Where an unfinished sync stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Position {
    /// The sync's lower bound (`SystemModstamp >= since`, unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    since: Option<i64>,
    /// The last record read: `SystemModstamp` (unix seconds) and `Id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after: Option<(i64, String)>,
}

/// A SOQL date-time literal (unquoted ISO 8601).
fn literal(secs: i64) -> String {
    DateTime::<Utc>::from_timestamp(secs, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn soql(select: &str, object: &str, pos: &Position) -> String {
    let mut q = format!("SELECT {select} FROM {object}");
    let mut conds = Vec::new();
    if let Some((t, id)) = &pos.after {
        let t = literal(*t);
        conds.push(format!(
            "({CURSOR_FIELD} > {t} OR ({CURSOR_FIELD} = {t} AND Id > '{}'))",
            id.replace('\\', "\\\\").replace('\'', "\\'")
        ));
    } else if let Some(s) = pos.since {
        conds.push(format!("{CURSOR_FIELD} >= {}", literal(s)));
    }
    if !conds.is_empty() {
        q.push_str(" WHERE ");
        q.push_str(&conds.join(" AND "));
    }
    q.push_str(&format!(" ORDER BY {CURSOR_FIELD} ASC, Id ASC"));
    q
}

struct Fetched {
    number: u64,
    body: bytes::Bytes,
    /// The position after this page, `None` on the last page.
    next: Option<Position>,
    fetched_at: DateTime<Utc>,
}

#[async_trait]
impl Stream for SoqlStream {
    fn descriptor(&self) -> &StreamDescriptor {
        &self.descriptor
    }

    async fn resolve_schema(&self) -> Result<StreamSchema> {
        match self.typed_columns().await {
            Ok(s) => Ok(s),
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::Api | ErrorKind::Network | ErrorKind::Decode
                ) =>
            {
                tracing::warn!(stream = self.def.name, error = %e, "describe unavailable; using the declared columns");
                Ok(self.descriptor.schema.clone())
            }
            Err(e) => Err(e.with_context("stream", self.def.name)),
        }
    }

    fn read(&self, request: ReadRequest) -> PageStream {
        let name = self.def.name;
        match self.plan(request) {
            Ok(run) => run,
            Err(e) => {
                futures::stream::once(async move { Err(e.with_context("stream", name)) }).boxed()
            }
        }
    }
}

impl SoqlStream {
    fn plan(&self, request: ReadRequest) -> Result<PageStream> {
        let name = self.def.name;
        let mut state = SyncState::from_value(request.state.as_ref(), name)?;
        let stored = state
            .resume
            .take()
            .map(|r| {
                serde_json::from_value::<Position>(r).map_err(|e| {
                    Error::new(
                        ErrorKind::State,
                        format!("stored resume position is not readable: {e}"),
                    )
                })
            })
            .transpose()?;
        let mode = match &stored {
            Some(_) => state.mode.unwrap_or(request.mode),
            None => request.mode,
        };
        let first = match stored {
            Some(p) => p,
            None => {
                state.pending = None;
                let cursor = match request.mode {
                    SyncMode::Incremental => state
                        .cursor
                        .as_ref()
                        .and_then(|c| CursorValue::from_json(c, &timestamp_type()))
                        .and_then(|c| c.as_datetime()),
                    SyncMode::FullRefresh => None,
                };
                Position {
                    since: cursor.or(request.start_date).map(|t| t.timestamp()),
                    after: None,
                }
            }
        };
        state.mode = Some(mode);
        let select: Vec<String> = request
            .schema
            .columns()
            .iter()
            .map(|c| c.path.join("."))
            .collect();
        let decoder = RecordDecoder::new(
            &request.schema,
            &["records"],
            &["id".to_string()],
            self.policy,
        )?;
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Fetched>>(2);
        let producer = Producer {
            shared: self.shared.clone(),
            object: self.def.object,
            stream: name,
            select: select.join(", "),
        };
        let task = revline_core::task::spawn_scoped(async move { producer.run(first, tx).await });
        let guard = AbortOnDrop(task);
        Ok(
            futures::stream::unfold((rx, guard), |(mut rx, guard)| async move {
                rx.recv().await.map(|item| (item, (rx, guard)))
            })
            .map(move |fetched| {
                let f = fetched?;
                let decoded = decoder
                    .decode(&f.body)
                    .map_err(|e| decode_error(e, name, f.number))?;
                state.observe(column_max(&decoded.batch, CURSOR), &timestamp_type());
                match f.next {
                    Some(pos) => {
                        state.resume =
                            Some(serde_json::to_value(pos).expect("position serializes"));
                        state.mode = Some(mode);
                    }
                    None => state.finish(&timestamp_type()),
                }
                Ok(Page {
                    batch: decoded.batch,
                    checkpoint: state.to_value(),
                    fetched_at: f.fetched_at,
                    nulled_values: decoded.nulled_count,
                })
            })
            .boxed(),
        )
    }
}

struct Producer {
    shared: Arc<Shared>,
    object: &'static str,
    stream: &'static str,
    select: String,
}

/// The last record's `(SystemModstamp, Id)` in a page.
fn last_of(env: &revline_core::decode::Envelope) -> Option<(i64, String)> {
    let rec = env.last_record_value()?;
    let id = rec.get("Id")?.as_str()?.to_string();
    let stamp = rec.get(CURSOR_FIELD)?.as_str()?;
    let micros = parse_timestamp_micros(stamp)?;
    Some((micros.div_euclid(1_000_000), id))
}

impl Producer {
    async fn run(self, first: Position, tx: tokio::sync::mpsc::Sender<Result<Fetched>>) {
        if let Err(e) = self.pages(first, &tx).await {
            let _ = tx.send(Err(e.with_context("stream", self.stream))).await;
        }
    }

    fn query_request(&self, instance: &str, pos: &Position) -> ApiRequest {
        let q = soql(&self.select, self.object, pos);
        let mut req = self.shared.request(format!(
            "{instance}/services/data/v{}/queryAll",
            self.shared.version
        ));
        req.query.push(("q".to_string(), q));
        req
    }

    async fn pages(
        &self,
        first: Position,
        tx: &tokio::sync::mpsc::Sender<Result<Fetched>>,
    ) -> Result<()> {
        let instance = self.shared.instance().await?;
        let mut pos = first;
        let mut req = self.query_request(&instance, &pos);
        let mut number = 0u64;
        let mut restarts = 0;
        loop {
            number += 1;
            let fetched = fetch_one(
                &self.shared.client,
                &req,
                &["records".to_string()],
                self.stream,
            )
            .await;
            let (resp, env) = match fetched {
                Ok(v) => v,
                Err(e) if e.message().contains(LOCATOR_EXPIRED) && restarts < 3 => {
                    // The locator expired (a slow consumer): query again from the last record.
                    restarts += 1;
                    tracing::info!(
                        stream = self.stream,
                        "query locator expired; querying again from the last record read"
                    );
                    req = self.query_request(&instance, &pos);
                    number -= 1;
                    continue;
                }
                Err(e) => return Err(e.with_context("page", number)),
            };
            restarts = 0;
            if let Some(last) = last_of(&env) {
                pos.after = Some(last);
            }
            let next_url = env.text("nextRecordsUrl").filter(|u| {
                !u.is_empty() && env.pointer("done").and_then(|d| d.as_bool()) != Some(true)
            });
            let next_req = match &next_url {
                Some(u) => Some(follow_link(&req, u)?),
                None => None,
            };
            let item = Fetched {
                number,
                body: resp.body,
                next: next_req.as_ref().map(|_| pos.clone()),
                fetched_at: Utc::now(),
            };
            if tx.send(Ok(item)).await.is_err() {
                return Ok(());
            }
            match next_req {
                Some(r) => req = r,
                None => return Ok(()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_use_unquoted_literals_and_a_stable_order() {
        let p = Position {
            since: Some(1_714_521_600),
            after: None,
        };
        assert_eq!(
            soql("Id, Name", "Lead", &p),
            "SELECT Id, Name FROM Lead WHERE SystemModstamp >= 2024-05-01T00:00:00Z ORDER BY SystemModstamp ASC, Id ASC"
        );
        let p = Position {
            since: Some(1),
            after: Some((1_714_521_600, "00Q8W0000000001AAA".into())),
        };
        assert_eq!(
            soql("Id", "Lead", &p),
            "SELECT Id FROM Lead WHERE (SystemModstamp > 2024-05-01T00:00:00Z OR (SystemModstamp = 2024-05-01T00:00:00Z AND Id > '00Q8W0000000001AAA')) ORDER BY SystemModstamp ASC, Id ASC"
        );
        assert_eq!(
            soql(
                "Id",
                "User",
                &Position {
                    since: None,
                    after: None
                }
            ),
            "SELECT Id FROM User ORDER BY SystemModstamp ASC, Id ASC"
        );
    }

    #[test]
    fn describe_types_map_to_columns() {
        let f = |ty: &str, precision, scale| FieldInfo {
            name: "X".into(),
            ty: ty.into(),
            custom: false,
            precision,
            scale,
            reference_to: vec![],
            relationship_name: None,
        };
        assert_eq!(
            column_type(&f("currency", 18, 2)),
            T::Decimal {
                precision: 18,
                scale: 2
            }
        );
        assert_eq!(
            column_type(&f("currency", 0, 0)),
            T::Decimal {
                precision: 18,
                scale: 2
            }
        );
        assert_eq!(column_type(&f("percent", 3, 0)), T::Float64);
        assert_eq!(column_type(&f("datetime", 0, 0)), T::Timestamp);
        assert_eq!(column_type(&f("date", 0, 0)), T::Date);
        assert_eq!(column_type(&f("int", 9, 0)), T::Int64);
        assert_eq!(column_type(&f("reference", 0, 0)), T::Utf8);
        assert_eq!(column_type(&f("boolean", 0, 0)), T::Boolean);
    }

    #[test]
    fn positions_round_trip() {
        let p = Position {
            since: Some(5),
            after: Some((7, "x".into())),
        };
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v, serde_json::json!({"since": 5, "after": [7, "x"]}));
        assert_eq!(serde_json::from_value::<Position>(v).unwrap(), p);
    }
}
