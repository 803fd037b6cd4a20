//! Declared stream schemas: the columns a stream produces, where each comes from in the
//! JSON record, and the type the decoder coerces it into.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::error::{Error, Result};

/// Name of the column every table gets with the source (instance) name.
pub const SOURCE_COLUMN: &str = "_source";
/// Name of the column every table gets with the time its page was fetched.
pub const EXTRACTED_AT_COLUMN: &str = "_extracted_at";
/// Field metadata key marking a UTF-8 column that holds JSON text.
pub const JSON_METADATA_KEY: &str = "revline.json";

/// The logical type of a declared column: what JSON values are coerced into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnType {
    /// UTF-8 text. Numbers and booleans are kept as their JSON text.
    Utf8,
    /// 64-bit integer. Accepts JSON integers and strings holding integers.
    Int64,
    /// 64-bit float. Accepts JSON numbers and strings holding numbers.
    Float64,
    /// Boolean. Accepts `true`/`false` and the strings `"true"`, `"false"`, `"1"`, `"0"`.
    Boolean,
    /// Instant in UTC, microseconds. Accepts ISO-8601 (`Z`, `+00:00`, `+0000`, no zone = UTC,
    /// optional fraction) and epoch numbers or digit strings in the column's [`EpochUnit`].
    Timestamp,
    /// Calendar date. Accepts `YYYY-MM-DD`, `YYYYMMDD`, ISO datetimes (date part, UTC) and epochs.
    Date,
    /// Exact decimal with precision and scale (money). Accepts numbers and decimal strings.
    Decimal {
        /// Total significant digits (at most 38).
        precision: u8,
        /// Digits after the point.
        scale: i8,
    },
    /// Any JSON value kept as its JSON text (objects and arrays that are not flattened).
    Json,
    /// A JSON array of scalars as a list of strings.
    StringList,
}

impl ColumnType {
    /// The Arrow type this column is stored as.
    pub fn arrow_type(&self) -> DataType {
        match self {
            ColumnType::Utf8 | ColumnType::Json => DataType::Utf8,
            ColumnType::Int64 => DataType::Int64,
            ColumnType::Float64 => DataType::Float64,
            ColumnType::Boolean => DataType::Boolean,
            ColumnType::Timestamp => timestamp_type(),
            ColumnType::Date => DataType::Date32,
            ColumnType::Decimal { precision, scale } => DataType::Decimal128(*precision, *scale),
            ColumnType::StringList => DataType::List(list_item_field()),
        }
    }

    /// A short name used in error messages ("expected a timestamp").
    pub fn describe(&self) -> &'static str {
        match self {
            ColumnType::Utf8 => "text",
            ColumnType::Int64 => "an integer",
            ColumnType::Float64 => "a number",
            ColumnType::Boolean => "a boolean",
            ColumnType::Timestamp => "a timestamp",
            ColumnType::Date => "a date",
            ColumnType::Decimal { .. } => "a decimal",
            ColumnType::Json => "JSON",
            ColumnType::StringList => "a list",
        }
    }
}

/// The item field of [`ColumnType::StringList`] columns: nullable text named `element`, the
/// name Delta and Parquet give list items, so a declared list column has the same Arrow type
/// as the one read back from the lake.
pub fn list_item_field() -> arrow::datatypes::FieldRef {
    Arc::new(Field::new("element", DataType::Utf8, true))
}

/// The Arrow type of every timestamp column: microseconds, UTC (Delta's `timestamp`).
pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// How a number (or a string of digits) in a timestamp column is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EpochUnit {
    /// Seconds since 1970-01-01 UTC (Zendesk, Intercom, Stripe).
    Seconds,
    /// Milliseconds since 1970-01-01 UTC (HubSpot filters).
    Millis,
    /// Guess: magnitudes of 10^11 and above are milliseconds, below are seconds.
    #[default]
    Auto,
}

/// One declared column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Column name in the lake (snake_case).
    pub name: String,
    /// Path of JSON keys from the record root to the value (`["properties", "email"]`).
    pub path: Vec<String>,
    /// Logical type.
    pub ty: ColumnType,
    /// How numeric timestamps are read.
    pub epoch: EpochUnit,
}

impl Column {
    /// A top-level field: the JSON key `json_key`, stored under its snake_case name.
    pub fn new(json_key: &str, ty: ColumnType) -> Self {
        Column {
            name: snake_case(json_key),
            path: vec![json_key.to_string()],
            ty,
            epoch: EpochUnit::Auto,
        }
    }

    /// A nested field flattened as `parent__child` (snake_case parts).
    pub fn nested(path: &[&str], ty: ColumnType) -> Self {
        Column {
            name: path
                .iter()
                .map(|p| snake_case(p))
                .collect::<Vec<_>>()
                .join("__"),
            path: path.iter().map(|p| p.to_string()).collect(),
            ty,
            epoch: EpochUnit::Auto,
        }
    }

    /// Renames the column (a connector's documented better name).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets the epoch unit for numeric timestamps.
    pub fn epoch(mut self, unit: EpochUnit) -> Self {
        self.epoch = unit;
        self
    }

    /// The Arrow field (always nullable: APIs omit fields freely).
    pub fn arrow_field(&self) -> Field {
        let field = Field::new(&self.name, self.ty.arrow_type(), true);
        if self.ty == ColumnType::Json {
            field.with_metadata(HashMap::from([(
                JSON_METADATA_KEY.to_string(),
                "true".to_string(),
            )]))
        } else {
            field
        }
    }
}

/// The declared columns of a stream, in output order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamSchema {
    columns: Vec<Column>,
}

impl StreamSchema {
    /// Builds a schema, rejecting duplicate column names.
    pub fn new(columns: Vec<Column>) -> Result<Self> {
        let mut seen = std::collections::HashSet::new();
        for c in &columns {
            if !seen.insert(c.name.as_str()) {
                return Err(Error::internal(format!(
                    "column `{}` is declared twice",
                    c.name
                )));
            }
            if c.path.is_empty() {
                return Err(Error::internal(format!(
                    "column `{}` has an empty JSON path",
                    c.name
                )));
            }
        }
        Ok(StreamSchema { columns })
    }

    /// The columns.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// A column by name.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The Arrow schema of the decoded batches (declared columns only).
    pub fn arrow_schema(&self) -> SchemaRef {
        Arc::new(Schema::new(
            self.columns
                .iter()
                .map(|c| c.arrow_field())
                .collect::<Vec<_>>(),
        ))
    }

    /// The Arrow schema of the lake table: declared columns plus `_source` and `_extracted_at`.
    pub fn table_schema(&self) -> SchemaRef {
        with_system_columns(&self.arrow_schema())
    }
}

/// Appends `_source` and `_extracted_at` to a schema.
pub fn with_system_columns(schema: &Schema) -> SchemaRef {
    let mut fields: Vec<Field> = schema
        .fields()
        .iter()
        .filter(|f| f.name() != SOURCE_COLUMN && f.name() != EXTRACTED_AT_COLUMN)
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new(SOURCE_COLUMN, DataType::Utf8, false));
    fields.push(Field::new(EXTRACTED_AT_COLUMN, timestamp_type(), false));
    Arc::new(Schema::new(fields))
}

/// Converts a vendor field name to snake_case: `createdAt` → `created_at`,
/// `hs_lastmodifieddate` stays, `HTTPStatus` → `http_status`, `Id` → `id`.
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev = i.checked_sub(1).map(|j| chars[j]);
            let next = chars.get(i + 1).copied();
            let boundary = match prev {
                Some(p) if p.is_ascii_lowercase() || p.is_ascii_digit() => true,
                Some(p) if p.is_ascii_uppercase() => next.is_some_and(|n| n.is_ascii_lowercase()),
                _ => false,
            };
            if boundary && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c == '-' || c == ' ' || c == '.' {
            if !out.ends_with('_') {
                out.push('_');
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_rules() {
        assert_eq!(snake_case("createdAt"), "created_at");
        assert_eq!(snake_case("hs_lastmodifieddate"), "hs_lastmodifieddate");
        assert_eq!(snake_case("HTTPStatus"), "http_status");
        assert_eq!(snake_case("Id"), "id");
        assert_eq!(snake_case("SystemModstamp"), "system_modstamp");
        assert_eq!(snake_case("UTM_Source__c"), "utm_source__c");
        assert_eq!(snake_case("userId"), "user_id");
        assert_eq!(snake_case("first-name"), "first_name");
    }

    #[test]
    fn nested_columns_are_flattened_with_double_underscore() {
        let c = Column::nested(&["metadata", "isClosed"], ColumnType::Boolean);
        assert_eq!(c.name, "metadata__is_closed");
        assert_eq!(c.path, vec!["metadata", "isClosed"]);
    }

    #[test]
    fn duplicate_names_are_rejected() {
        let err = StreamSchema::new(vec![
            Column::new("id", ColumnType::Utf8),
            Column::new("Id", ColumnType::Utf8),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("`id` is declared twice"));
    }

    #[test]
    fn table_schema_adds_system_columns() {
        let s = StreamSchema::new(vec![Column::new("id", ColumnType::Utf8)]).unwrap();
        let t = s.table_schema();
        let names: Vec<_> = t.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, vec!["id", "_source", "_extracted_at"]);
        assert_eq!(t.field(2).data_type(), &timestamp_type());
    }
}
