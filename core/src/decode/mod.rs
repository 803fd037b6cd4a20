//! JSON to Arrow without per-record objects: response bytes are walked once with serde's
//! streaming visitors and every value is coerced straight into the column builder of its
//! declared column. Nested objects are flattened by path; undeclared fields are skipped
//! without allocation; arrays and objects kept whole are copied as raw JSON text.

pub mod coerce;
mod envelope;
mod fill;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Decimal128Builder, Float64Builder, Int64Builder,
    ListBuilder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

pub use envelope::{Envelope, read_envelope};
pub use fill::zero_nulls;

use crate::error::{Error, ErrorKind};
use crate::schema::{Column, ColumnType, StreamSchema};

/// What to do with a value that does not fit its declared column type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BadValuePolicy {
    /// Fail the page (and the run), naming the stream, record key, field and value.
    #[default]
    Fail,
    /// Store null and count it; the run reports how many values were nulled.
    Null,
}

/// A value that did not fit its column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadValue {
    /// Row index within the page.
    pub row: usize,
    /// Column name.
    pub field: String,
    /// The offending value as JSON-ish text (truncated to 120 characters).
    pub value: String,
    /// What the column expected ("a timestamp").
    pub expected: &'static str,
    /// The record's primary key, when the key columns decoded.
    pub record_key: Option<String>,
}

impl fmt::Display for BadValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "field `{}` of record {} has value {} which is not {}",
            self.field,
            self.record_key.as_deref().unwrap_or("(key unknown)"),
            self.value,
            self.expected
        )
    }
}

/// Why a body could not be decoded.
#[derive(Debug)]
pub enum DecodeError {
    /// The body is not complete, valid JSON (truncated transfer, HTML error page): retryable.
    Malformed(serde_json::Error),
    /// The JSON is valid but not shaped as expected (records not an array, record not an object).
    Shape(String),
    /// A value did not fit its column and the policy is [`BadValuePolicy::Fail`].
    BadValue(BadValue),
}

impl DecodeError {
    /// Converts to the crate error with the stream (and page, if known) as context.
    pub fn into_error(self, stream: &str) -> Error {
        match self {
            DecodeError::Malformed(e) => {
                Error::new(ErrorKind::Decode, "response body is not valid JSON")
                    .with_retryable(true)
                    .with_context("stream", stream)
                    .with_source(e)
            }
            DecodeError::Shape(msg) => {
                Error::new(ErrorKind::Decode, msg).with_context("stream", stream)
            }
            DecodeError::BadValue(bad) => Error::new(
                ErrorKind::Decode,
                format!("value does not fit its declared type: {bad}"),
            )
            .with_context("stream", stream)
            .with_context("record", bad.record_key.clone().unwrap_or_default())
            .with_context("field", &bad.field),
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Malformed(e) => write!(f, "malformed JSON: {e}"),
            DecodeError::Shape(m) => f.write_str(m),
            DecodeError::BadValue(b) => b.fmt(f),
        }
    }
}

/// One decoded page: the batch, the non-record fields of the body, and nulled values.
#[derive(Debug)]
pub struct DecodedPage {
    /// The records, in the declared schema.
    pub batch: RecordBatch,
    /// Top-level (and selector-path) fields other than the records: paging, totals.
    pub envelope: serde_json::Map<String, serde_json::Value>,
    /// Values nulled under [`BadValuePolicy::Null`] (at most 20 examples are kept).
    pub nulled: Vec<BadValue>,
    /// Total count of values nulled.
    pub nulled_count: u64,
}

#[derive(Debug, Default)]
struct FieldTree {
    children: HashMap<Box<str>, Node>,
    /// `"0"`, `"1"`, … up to the largest array index among `children` (empty if none): a
    /// path segment that is a decimal index selects that element of an array.
    index_keys: Vec<Box<str>>,
    /// Whether any child is a named (non-index) key.
    has_named: bool,
}

#[derive(Debug)]
enum Node {
    Leaf(usize),
    Branch(FieldTree),
}

/// Decodes JSON response bodies into Arrow batches of a declared [`StreamSchema`].
///
/// Built once per stream; cheap to share (`Arc`) across concurrent partitions.
#[derive(Debug, Clone)]
pub struct RecordDecoder {
    inner: Arc<DecoderInner>,
}

#[derive(Debug)]
struct DecoderInner {
    schema: SchemaRef,
    columns: Vec<Column>,
    tree: FieldTree,
    records_path: Vec<String>,
    policy: BadValuePolicy,
    key_columns: Vec<usize>,
}

impl RecordDecoder {
    /// A decoder for `schema`, finding records at `records_path` (`["results"]`; empty means
    /// the body is the array), with `key` naming the primary-key columns for error messages.
    pub fn new(
        schema: &StreamSchema,
        records_path: &[&str],
        key: &[String],
        policy: BadValuePolicy,
    ) -> crate::Result<Self> {
        let mut tree = FieldTree::default();
        for (idx, col) in schema.columns().iter().enumerate() {
            insert_path(&mut tree, &col.path, idx)
                .map_err(|m| Error::internal(format!("column `{}`: {m}", col.name)))?;
        }
        let key_columns = key
            .iter()
            .filter_map(|k| schema.columns().iter().position(|c| &c.name == k))
            .collect();
        Ok(RecordDecoder {
            inner: Arc::new(DecoderInner {
                schema: schema.arrow_schema(),
                columns: schema.columns().to_vec(),
                tree,
                records_path: records_path.iter().map(|s| s.to_string()).collect(),
                policy,
                key_columns,
            }),
        })
    }

    /// The Arrow schema of produced batches.
    pub fn schema(&self) -> &SchemaRef {
        &self.inner.schema
    }

    /// Where records sit in a response body.
    pub fn records_path(&self) -> &[String] {
        &self.inner.records_path
    }

    /// Decodes one response body.
    pub fn decode(&self, body: &[u8]) -> Result<DecodedPage, DecodeError> {
        let inner = &*self.inner;
        let mut state = Builders::new(&inner.columns, 128);
        let mut envelope = serde_json::Map::new();
        let mut de = serde_json::Deserializer::from_slice(body);
        let seed = EnvelopeSeed {
            path: &inner.records_path,
            tree: &inner.tree,
            state: &mut state,
            envelope: &mut envelope,
        };
        seed.deserialize(&mut de).map_err(classify)?;
        de.end().map_err(DecodeError::Malformed)?;
        let Builders {
            cols,
            bad,
            bad_count,
            rows,
            ..
        } = state;
        let arrays: Vec<ArrayRef> = cols.into_iter().map(ColBuilder::finish).collect();
        let batch = RecordBatch::try_new_with_options(
            inner.schema.clone(),
            arrays,
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )
        .map_err(|e| DecodeError::Shape(format!("cannot assemble batch: {e}")))?;
        let mut bad = bad;
        for b in bad.iter_mut() {
            b.record_key = self.record_key(&batch, b.row);
        }
        if inner.policy == BadValuePolicy::Fail && !bad.is_empty() {
            return Err(DecodeError::BadValue(bad.swap_remove(0)));
        }
        Ok(DecodedPage {
            batch,
            envelope,
            nulled: if inner.policy == BadValuePolicy::Null {
                bad
            } else {
                Vec::new()
            },
            nulled_count: bad_count,
        })
    }

    fn record_key(&self, batch: &RecordBatch, row: usize) -> Option<String> {
        if self.inner.key_columns.is_empty() {
            return None;
        }
        let parts: Vec<String> = self
            .inner
            .key_columns
            .iter()
            .map(|&i| {
                let col = batch.column(i);
                if col.is_null(row) {
                    "null".to_string()
                } else {
                    arrow::util::display::array_value_to_string(col, row)
                        .unwrap_or_else(|_| "?".into())
                }
            })
            .collect();
        Some(parts.join("/"))
    }
}

fn insert_path(tree: &mut FieldTree, path: &[String], idx: usize) -> Result<(), String> {
    let (head, rest) = path.split_first().ok_or("empty path")?;
    if let Ok(i) = head.parse::<usize>()
        && i.to_string() == *head
    {
        if i > 1_000 {
            return Err(format!("array index {i} is too large"));
        }
        while tree.index_keys.len() <= i {
            let k = tree.index_keys.len().to_string();
            tree.index_keys.push(k.into_boxed_str());
        }
    } else {
        tree.has_named = true;
    }
    if rest.is_empty() {
        if tree.children.contains_key(head.as_str()) {
            return Err(format!("JSON key `{head}` is mapped twice"));
        }
        tree.children.insert(head.as_str().into(), Node::Leaf(idx));
        return Ok(());
    }
    let node = tree
        .children
        .entry(head.as_str().into())
        .or_insert_with(|| Node::Branch(FieldTree::default()));
    match node {
        Node::Branch(sub) => insert_path(sub, rest, idx),
        Node::Leaf(_) => Err(format!("JSON key `{head}` is both a column and an object")),
    }
}

fn classify(e: serde_json::Error) -> DecodeError {
    match e.classify() {
        serde_json::error::Category::Data => {
            let msg = e.to_string();
            DecodeError::Shape(msg)
        }
        _ => DecodeError::Malformed(e),
    }
}

// ---------------------------------------------------------------------------------------------
// Column builders

enum ColBuilder {
    Utf8(StringBuilder),
    Int64(Int64Builder),
    Float64(Float64Builder),
    Boolean(BooleanBuilder),
    Timestamp(TimestampMicrosecondBuilder),
    Date(Date32Builder),
    Decimal(Decimal128Builder, u8, i8),
    List(ListBuilder<StringBuilder>),
}

impl ColBuilder {
    fn new(ty: &ColumnType, capacity: usize) -> Self {
        match ty {
            ColumnType::Utf8 | ColumnType::Json => {
                ColBuilder::Utf8(StringBuilder::with_capacity(capacity, capacity * 16))
            }
            ColumnType::Int64 => ColBuilder::Int64(Int64Builder::with_capacity(capacity)),
            ColumnType::Float64 => ColBuilder::Float64(Float64Builder::with_capacity(capacity)),
            ColumnType::Boolean => ColBuilder::Boolean(BooleanBuilder::with_capacity(capacity)),
            ColumnType::Timestamp => ColBuilder::Timestamp(
                TimestampMicrosecondBuilder::with_capacity(capacity).with_timezone("UTC"),
            ),
            ColumnType::Date => ColBuilder::Date(Date32Builder::with_capacity(capacity)),
            ColumnType::Decimal { precision, scale } => ColBuilder::Decimal(
                Decimal128Builder::with_capacity(capacity)
                    .with_precision_and_scale(*precision, *scale)
                    .expect("valid decimal precision and scale"),
                *precision,
                *scale,
            ),
            ColumnType::StringList => ColBuilder::List(
                ListBuilder::new(StringBuilder::new()).with_field(crate::schema::list_item_field()),
            ),
        }
    }

    fn append_null(&mut self) {
        match self {
            ColBuilder::Utf8(b) => b.append_null(),
            ColBuilder::Int64(b) => b.append_null(),
            ColBuilder::Float64(b) => b.append_null(),
            ColBuilder::Boolean(b) => b.append_null(),
            ColBuilder::Timestamp(b) => b.append_null(),
            ColBuilder::Date(b) => b.append_null(),
            ColBuilder::Decimal(b, ..) => b.append_null(),
            ColBuilder::List(b) => b.append_null(),
        }
    }

    fn finish(self) -> ArrayRef {
        match self {
            ColBuilder::Utf8(mut b) => Arc::new(b.finish()),
            ColBuilder::Int64(mut b) => Arc::new(b.finish()),
            ColBuilder::Float64(mut b) => Arc::new(b.finish()),
            ColBuilder::Boolean(mut b) => Arc::new(b.finish()),
            ColBuilder::Timestamp(mut b) => Arc::new(b.finish()),
            ColBuilder::Date(mut b) => Arc::new(b.finish()),
            ColBuilder::Decimal(mut b, ..) => Arc::new(b.finish()),
            ColBuilder::List(mut b) => Arc::new(b.finish()),
        }
    }
}

/// A scalar as it arrived in the JSON.
#[derive(Clone, Copy)]
enum Scalar<'a> {
    Null,
    Bool(bool),
    I64(i64),
    U64(u64),
    F64(f64),
    Str(&'a str),
}

impl Scalar<'_> {
    fn render(&self) -> String {
        let s = match self {
            Scalar::Null => "null".to_string(),
            Scalar::Bool(b) => b.to_string(),
            Scalar::I64(v) => v.to_string(),
            Scalar::U64(v) => v.to_string(),
            Scalar::F64(v) => v.to_string(),
            Scalar::Str(s) => serde_json::to_string(s).unwrap_or_default(),
        };
        truncate(s)
    }
}

fn truncate(mut s: String) -> String {
    if s.chars().count() > 120 {
        s = s.chars().take(117).collect::<String>() + "...";
    }
    s
}

struct Builders<'c> {
    columns: &'c [Column],
    cols: Vec<ColBuilder>,
    /// `row + 1` of the last row each column received a value in.
    set_at: Vec<usize>,
    rows: usize,
    bad: Vec<BadValue>,
    bad_count: u64,
}

impl<'c> Builders<'c> {
    fn new(columns: &'c [Column], capacity: usize) -> Self {
        Builders {
            columns,
            cols: columns
                .iter()
                .map(|c| ColBuilder::new(&c.ty, capacity))
                .collect(),
            set_at: vec![0; columns.len()],
            rows: 0,
            bad: Vec::new(),
            bad_count: 0,
        }
    }

    /// Whether column `idx` may take a value in the current row (first occurrence wins).
    fn claim(&mut self, idx: usize) -> bool {
        let mark = self.rows + 1;
        if self.set_at[idx] == mark {
            return false;
        }
        self.set_at[idx] = mark;
        true
    }

    fn end_row(&mut self) {
        let mark = self.rows + 1;
        for (idx, col) in self.cols.iter_mut().enumerate() {
            if self.set_at[idx] != mark {
                col.append_null();
            }
        }
        self.rows += 1;
    }

    fn bad_value(&mut self, idx: usize, value: String) {
        self.cols[idx].append_null();
        self.record_bad(idx, value);
    }

    /// Counts (and keeps an example of) a value that did not fit; the caller appended null.
    fn record_bad(&mut self, idx: usize, value: String) {
        self.bad_count += 1;
        if self.bad.len() < 20 {
            self.bad.push(BadValue {
                row: self.rows,
                field: self.columns[idx].name.clone(),
                value,
                expected: self.columns[idx].ty.describe(),
                record_key: None,
            });
        }
    }

    fn push_raw_json(&mut self, idx: usize, raw: &str) {
        match &mut self.cols[idx] {
            ColBuilder::Utf8(b) => {
                if raw == "null" {
                    b.append_null()
                } else {
                    b.append_value(raw)
                }
            }
            _ => unreachable!("raw JSON only for JSON columns"),
        }
    }

    fn push(&mut self, idx: usize, v: Scalar<'_>) {
        use coerce::*;
        let col = &self.columns[idx];
        let ok = match (&mut self.cols[idx], v) {
            (b, Scalar::Null) => {
                b.append_null();
                true
            }
            (ColBuilder::Utf8(b), v) => {
                match v {
                    Scalar::Str(s) => b.append_value(s),
                    Scalar::Bool(x) => b.append_value(if x { "true" } else { "false" }),
                    Scalar::I64(x) => b.append_value(itoa_i64(x)),
                    Scalar::U64(x) => b.append_value(x.to_string()),
                    Scalar::F64(x) => b.append_value(x.to_string()),
                    Scalar::Null => unreachable!(),
                }
                true
            }
            (b, Scalar::Str("")) => {
                // Vendors send "" for a cleared value: null, for every non-text type.
                b.append_null();
                true
            }
            (ColBuilder::Int64(b), v) => {
                let parsed = match v {
                    Scalar::I64(x) => Some(x),
                    Scalar::U64(x) => i64::try_from(x).ok(),
                    Scalar::F64(x) => f64_to_i64(x),
                    Scalar::Str(s) => parse_i64(s),
                    _ => None,
                };
                parsed.map(|x| b.append_value(x)).is_some()
            }
            (ColBuilder::Float64(b), v) => {
                let parsed = match v {
                    Scalar::I64(x) => Some(x as f64),
                    Scalar::U64(x) => Some(x as f64),
                    Scalar::F64(x) => Some(x),
                    Scalar::Str(s) => s.trim().parse::<f64>().ok(),
                    _ => None,
                };
                parsed.map(|x| b.append_value(x)).is_some()
            }
            (ColBuilder::Boolean(b), v) => {
                let parsed = match v {
                    Scalar::Bool(x) => Some(x),
                    Scalar::I64(0) | Scalar::U64(0) => Some(false),
                    Scalar::I64(1) | Scalar::U64(1) => Some(true),
                    Scalar::Str(s) => parse_bool(s),
                    _ => None,
                };
                parsed.map(|x| b.append_value(x)).is_some()
            }
            (ColBuilder::Timestamp(b), v) => {
                let parsed = match v {
                    Scalar::Str(s) => parse_timestamp_micros(s).or_else(|| {
                        let t = s.trim();
                        if !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit()) {
                            t.parse::<i64>()
                                .ok()
                                .and_then(|x| epoch_int_to_micros(x, col.epoch))
                        } else {
                            None
                        }
                    }),
                    Scalar::I64(x) => epoch_int_to_micros(x, col.epoch),
                    Scalar::U64(x) => i64::try_from(x)
                        .ok()
                        .and_then(|x| epoch_int_to_micros(x, col.epoch)),
                    Scalar::F64(x) => epoch_to_micros(x, col.epoch),
                    _ => None,
                };
                parsed.map(|x| b.append_value(x)).is_some()
            }
            (ColBuilder::Date(b), v) => {
                let date_from_int = |x: i64| {
                    if (10_000_101..=99_991_231).contains(&x) {
                        parse_date_days(&x.to_string())
                    } else {
                        epoch_int_to_micros(x, col.epoch).map(micros_to_days)
                    }
                };
                let parsed = match v {
                    Scalar::Str(s) => parse_date_days(s.trim())
                        .or_else(|| parse_timestamp_micros(s).map(micros_to_days))
                        .or_else(|| s.trim().parse::<i64>().ok().and_then(date_from_int)),
                    Scalar::I64(x) => date_from_int(x),
                    Scalar::U64(x) => i64::try_from(x).ok().and_then(date_from_int),
                    Scalar::F64(x) => f64_to_i64(x).and_then(date_from_int),
                    _ => None,
                };
                parsed
                    .and_then(|d| i32::try_from(d).ok())
                    .map(|d| b.append_value(d))
                    .is_some()
            }
            (ColBuilder::Decimal(b, precision, scale), v) => {
                let (p, s) = (*precision, *scale);
                let parsed = match v {
                    Scalar::Str(text) => parse_decimal(text, p, s),
                    Scalar::I64(x) => parse_decimal(&x.to_string(), p, s),
                    Scalar::U64(x) => parse_decimal(&x.to_string(), p, s),
                    Scalar::F64(x) => {
                        // JSON numbers with fractions: round to the column's scale.
                        let scaled = (x * 10f64.powi(s as i32)).round();
                        if scaled.is_finite() && scaled.abs() < 10f64.powi(p as i32) {
                            Some(scaled as i128)
                        } else {
                            None
                        }
                    }
                    _ => None,
                };
                parsed.map(|x| b.append_value(x)).is_some()
            }
            (ColBuilder::List(b), Scalar::Str(s)) => {
                // A single string where a list was declared: a one-element list.
                b.values().append_value(s);
                b.append(true);
                true
            }
            (ColBuilder::List(_), _) => false,
        };
        if !ok {
            self.bad_value(idx, v.render());
        }
    }
}

fn itoa_i64(x: i64) -> String {
    x.to_string()
}

// ---------------------------------------------------------------------------------------------
// serde seeds

struct EnvelopeSeed<'a, 'c> {
    path: &'a [String],
    tree: &'a FieldTree,
    state: &'a mut Builders<'c>,
    envelope: &'a mut serde_json::Map<String, serde_json::Value>,
}

impl<'de> DeserializeSeed<'de> for EnvelopeSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if self.path.is_empty() {
            d.deserialize_any(RecordsVisitor {
                tree: self.tree,
                state: self.state,
            })
        } else {
            d.deserialize_any(self)
        }
    }
}

impl<'de> Visitor<'de> for EnvelopeSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "an object with `{}`", self.path.join("."))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let (head, rest) = self.path.split_first().expect("non-empty path");
        while let Some(key) = map.next_key::<KeyBuf<'de>>()? {
            if key.as_str() == head {
                map.next_value_seed(EnvelopeSeed {
                    path: rest,
                    tree: self.tree,
                    state: self.state,
                    envelope: self.envelope,
                })?;
            } else {
                let value: serde_json::Value = map.next_value()?;
                self.envelope.insert(key.as_str().to_string(), value);
            }
        }
        Ok(())
    }
}

/// A map key, borrowed when it has no escapes.
enum KeyBuf<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl KeyBuf<'_> {
    fn as_str(&self) -> &str {
        match self {
            KeyBuf::Borrowed(s) => s,
            KeyBuf::Owned(s) => s,
        }
    }
}

impl<'de> de::Deserialize<'de> for KeyBuf<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = KeyBuf<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(KeyBuf::Borrowed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(KeyBuf::Owned(v.to_string()))
            }
        }
        d.deserialize_str(V)
    }
}

struct RecordsVisitor<'a, 'c> {
    tree: &'a FieldTree,
    state: &'a mut Builders<'c>,
}

impl<'de> Visitor<'de> for RecordsVisitor<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of records")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq
            .next_element_seed(RecordSeed {
                tree: self.tree,
                state: self.state,
            })?
            .is_some()
        {
            self.state.end_row();
        }
        Ok(())
    }
}

struct RecordSeed<'a, 'c> {
    tree: &'a FieldTree,
    state: &'a mut Builders<'c>,
}

impl<'de> DeserializeSeed<'de> for RecordSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(ObjectVisitor {
            tree: self.tree,
            state: self.state,
            top: true,
        })
    }
}

struct ObjectVisitor<'a, 'c> {
    tree: &'a FieldTree,
    state: &'a mut Builders<'c>,
    top: bool,
}

impl<'de> Visitor<'de> for ObjectVisitor<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(if self.top {
            "a record object"
        } else {
            "an object"
        })
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        if self.top {
            Err(E::custom("a record is null"))
        } else {
            Ok(())
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<KeyBuf<'de>>()? {
            match self.tree.children.get(key.as_str()) {
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
                Some(Node::Branch(sub)) => {
                    map.next_value_seed(BranchSeed {
                        tree: sub,
                        state: self.state,
                    })?;
                }
                Some(Node::Leaf(idx)) => {
                    let idx = *idx;
                    if !self.state.claim(idx) {
                        map.next_value::<IgnoredAny>()?;
                        continue;
                    }
                    match self.state.columns[idx].ty {
                        ColumnType::Json => {
                            let raw: &'de RawValue = map.next_value()?;
                            self.state.push_raw_json(idx, raw.get());
                        }
                        ColumnType::StringList => {
                            map.next_value_seed(ListSeed {
                                idx,
                                state: self.state,
                            })?;
                        }
                        _ => {
                            map.next_value_seed(ScalarSeed {
                                idx,
                                state: self.state,
                            })?;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

struct BranchSeed<'a, 'c> {
    tree: &'a FieldTree,
    state: &'a mut Builders<'c>,
}

impl<'de> DeserializeSeed<'de> for BranchSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(BranchVisitor {
            tree: self.tree,
            state: self.state,
        })
    }
}

/// The value of one declared node (a column or a branch), e.g. an array element.
struct NodeSeed<'a, 'c> {
    node: &'a Node,
    state: &'a mut Builders<'c>,
}

impl<'de> DeserializeSeed<'de> for NodeSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        match self.node {
            Node::Branch(sub) => BranchSeed {
                tree: sub,
                state: self.state,
            }
            .deserialize(d),
            Node::Leaf(idx) => {
                let idx = *idx;
                if !self.state.claim(idx) {
                    <IgnoredAny as de::Deserialize>::deserialize(d)?;
                    return Ok(());
                }
                match self.state.columns[idx].ty {
                    ColumnType::Json => {
                        let raw: &'de RawValue = de::Deserialize::deserialize(d)?;
                        self.state.push_raw_json(idx, raw.get());
                        Ok(())
                    }
                    ColumnType::StringList => ListSeed {
                        idx,
                        state: self.state,
                    }
                    .deserialize(d),
                    _ => ScalarSeed {
                        idx,
                        state: self.state,
                    }
                    .deserialize(d),
                }
            }
        }
    }
}

struct BranchVisitor<'a, 'c> {
    tree: &'a FieldTree,
    state: &'a mut Builders<'c>,
}

impl BranchVisitor<'_, '_> {
    /// A non-object where an object was declared: every column under it is a bad value.
    fn mismatch(self, shown: String) {
        let mut leaves = Vec::new();
        collect_leaves(self.tree, &mut leaves);
        for idx in leaves {
            if self.state.claim(idx) {
                self.state.bad_value(idx, shown.clone());
            }
        }
    }
}

fn collect_leaves(tree: &FieldTree, out: &mut Vec<usize>) {
    for node in tree.children.values() {
        match node {
            Node::Leaf(i) => out.push(*i),
            Node::Branch(t) => collect_leaves(t, out),
        }
    }
}

impl<'de> Visitor<'de> for BranchVisitor<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object or null")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        if !self.tree.has_named {
            // Only array elements were declared under this key.
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            self.mismatch("{object}".into());
            return Ok(());
        }
        ObjectVisitor {
            tree: self.tree,
            state: self.state,
            top: false,
        }
        .visit_map(map)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if self.tree.index_keys.is_empty() {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            self.mismatch("[array]".into());
            return Ok(());
        }
        // Columns declared by array index (`["dimensionValues", "0", "value"]`).
        let mut i = 0usize;
        loop {
            let node = self
                .tree
                .index_keys
                .get(i)
                .and_then(|k| self.tree.children.get(k));
            let more = match node {
                None => seq.next_element::<IgnoredAny>()?.is_some(),
                Some(node) => seq
                    .next_element_seed(NodeSeed {
                        node,
                        state: self.state,
                    })?
                    .is_some(),
            };
            if !more {
                return Ok(());
            }
            i += 1;
        }
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.mismatch(v.to_string());
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.mismatch(v.to_string());
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.mismatch(v.to_string());
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.mismatch(v.to_string());
        Ok(())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.mismatch(truncate(serde_json::to_string(v).unwrap_or_default()));
        Ok(())
    }
}

struct ScalarSeed<'a, 'c> {
    idx: usize,
    state: &'a mut Builders<'c>,
}

impl<'de> DeserializeSeed<'de> for ScalarSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ScalarSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a scalar")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.state.push(self.idx, Scalar::Null);
        Ok(())
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.visit_unit()
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.state.push(self.idx, Scalar::Bool(v));
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.state.push(self.idx, Scalar::I64(v));
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.state.push(self.idx, Scalar::U64(v));
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.state.push(self.idx, Scalar::F64(v));
        Ok(())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.state.push(self.idx, Scalar::Str(v));
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        self.state.bad_value(self.idx, "{object}".into());
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        self.state.bad_value(self.idx, "[array]".into());
        Ok(())
    }
}

struct ListSeed<'a, 'c> {
    idx: usize,
    state: &'a mut Builders<'c>,
}

impl<'de> DeserializeSeed<'de> for ListSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ListSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of scalars")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.state.push(self.idx, Scalar::Null);
        Ok(())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.state.push(self.idx, Scalar::Str(v));
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut ok = true;
        let ColBuilder::List(b) = &mut self.state.cols[self.idx] else {
            unreachable!("list seed on a list column")
        };
        while let Some(item) = seq.next_element::<ListItem>()? {
            match item {
                ListItem::Null => b.values().append_null(),
                ListItem::Text(t) => b.values().append_value(t),
                ListItem::Nested => ok = false,
            }
        }
        // Nested arrays/objects do not fit a list of strings: the whole list is a bad value.
        b.append(ok);
        if !ok {
            self.state.record_bad(self.idx, "[nested array]".into());
        }
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        self.state.bad_value(self.idx, "{object}".into());
        Ok(())
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.state.bad_value(self.idx, v.to_string());
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.state.bad_value(self.idx, v.to_string());
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.state.bad_value(self.idx, v.to_string());
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.state.bad_value(self.idx, v.to_string());
        Ok(())
    }
}

enum ListItem {
    Null,
    Text(String),
    Nested,
}

impl<'de> de::Deserialize<'de> for ListItem {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ListItem;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a scalar")
            }
            fn visit_unit<E: de::Error>(self) -> Result<ListItem, E> {
                Ok(ListItem::Null)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<ListItem, E> {
                Ok(ListItem::Text(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ListItem, E> {
                Ok(ListItem::Text(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ListItem, E> {
                Ok(ListItem::Text(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ListItem, E> {
                Ok(ListItem::Text(v.to_string()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ListItem, E> {
                Ok(ListItem::Text(v.to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ListItem, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(ListItem::Nested)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ListItem, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(ListItem::Nested)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests;
