//! Cursor values: the high-water mark of an incremental stream, read from a batch's cursor
//! column and stored in the stream state as text.

use std::cmp::Ordering;

use arrow::array::{Array, Date32Array, Int64Array, StringArray, TimestampMicrosecondArray};
use arrow::compute;
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use chrono::{DateTime, Utc};

use crate::decode::coerce::parse_timestamp_micros;

/// A cursor value: an instant, an integer, a date or text, ordered within its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CursorValue {
    /// Microseconds since the epoch, UTC.
    Timestamp(i64),
    /// An integer (sequence numbers, epoch seconds kept as numbers).
    Int(i64),
    /// Days since the epoch.
    Date(i32),
    /// Text, compared bytewise.
    Text(String),
}

impl CursorValue {
    /// The larger of two values of the same kind (`other` if kinds differ).
    pub fn max(self, other: CursorValue) -> CursorValue {
        match self.partial_cmp(&other) {
            Some(Ordering::Greater) => self,
            _ => other,
        }
    }

    /// As a state value: timestamps as RFC 3339 with microseconds, others natural.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            CursorValue::Timestamp(us) => serde_json::Value::String(micros_to_rfc3339(*us)),
            CursorValue::Int(v) => serde_json::json!(v),
            CursorValue::Date(d) => serde_json::Value::String(
                (DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::days(*d as i64))
                    .format("%Y-%m-%d")
                    .to_string(),
            ),
            CursorValue::Text(s) => serde_json::Value::String(s.clone()),
        }
    }

    /// Reads a state value back for a column of `data_type`.
    pub fn from_json(value: &serde_json::Value, data_type: &DataType) -> Option<CursorValue> {
        match data_type {
            DataType::Timestamp(..) => {
                parse_timestamp_micros(value.as_str()?).map(CursorValue::Timestamp)
            }
            DataType::Int64 => value
                .as_i64()
                .or_else(|| value.as_str()?.parse().ok())
                .map(CursorValue::Int),
            DataType::Date32 => crate::decode::coerce::parse_date_days(value.as_str()?)
                .map(|d| CursorValue::Date(d as i32)),
            _ => value.as_str().map(|s| CursorValue::Text(s.to_string())),
        }
    }

    /// The instant, for timestamp cursors.
    pub fn as_datetime(&self) -> Option<DateTime<Utc>> {
        match self {
            CursorValue::Timestamp(us) => DateTime::from_timestamp_micros(*us),
            _ => None,
        }
    }
}

impl PartialOrd for CursorValue {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        use CursorValue::*;
        match (self, other) {
            (Timestamp(a), Timestamp(b)) | (Int(a), Int(b)) => Some(a.cmp(b)),
            (Date(a), Date(b)) => Some(a.cmp(b)),
            (Text(a), Text(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }
}

/// `2024-05-02T14:03:11.482000Z`.
pub fn micros_to_rfc3339(us: i64) -> String {
    DateTime::from_timestamp_micros(us)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
        .unwrap_or_else(|| us.to_string())
}

/// The largest non-null value of column `name` in `batch`.
pub fn column_max(batch: &RecordBatch, name: &str) -> Option<CursorValue> {
    let col = batch.column_by_name(name)?;
    match col.data_type() {
        DataType::Timestamp(..) => {
            compute::max(col.as_any().downcast_ref::<TimestampMicrosecondArray>()?)
                .map(CursorValue::Timestamp)
        }
        DataType::Int64 => {
            compute::max(col.as_any().downcast_ref::<Int64Array>()?).map(CursorValue::Int)
        }
        DataType::Date32 => {
            compute::max(col.as_any().downcast_ref::<Date32Array>()?).map(CursorValue::Date)
        }
        DataType::Utf8 => compute::max_string(col.as_any().downcast_ref::<StringArray>()?)
            .map(|s| CursorValue::Text(s.to_string())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::datatypes::{Field, Schema};

    use super::*;
    use crate::schema::timestamp_type;

    #[test]
    fn max_of_timestamp_column_round_trips_through_state() {
        let schema = Arc::new(Schema::new(vec![Field::new("t", timestamp_type(), true)]));
        let arr = TimestampMicrosecondArray::from(vec![
            Some(5_000_000),
            None,
            Some(1_714_658_591_482_000),
        ])
        .with_timezone("UTC");
        let batch = RecordBatch::try_new(schema, vec![Arc::new(arr)]).unwrap();
        let max = column_max(&batch, "t").unwrap();
        assert_eq!(max, CursorValue::Timestamp(1_714_658_591_482_000));
        let json = max.to_json();
        assert_eq!(json, "2024-05-02T14:03:11.482000Z");
        assert_eq!(
            CursorValue::from_json(&json, &timestamp_type()),
            Some(max.clone())
        );
        assert_eq!(max.clone().max(CursorValue::Timestamp(1)), max);
    }

    #[test]
    fn text_and_int_cursors() {
        assert_eq!(
            CursorValue::Text("b".into()).max(CursorValue::Text("a".into())),
            CursorValue::Text("b".into())
        );
        assert_eq!(
            CursorValue::from_json(&serde_json::json!("42"), &DataType::Int64),
            Some(CursorValue::Int(42))
        );
        assert_eq!(CursorValue::Date(19_000).to_json(), "2022-01-08");
    }
}
