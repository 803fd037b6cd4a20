//! Post-decoding fixes that several APIs need.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Decimal128Array, Float64Array, Int64Array};
use arrow::datatypes::DataType;
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;

/// Replaces nulls with zero in the named numeric columns (Int64, Float64, Decimal128).
///
/// APIs built on proto3 (Google Ads, GA4) leave out fields whose value is zero, so a missing
/// metric means 0, not "unknown". Columns that are absent from the batch, already free of
/// nulls, or not numeric are left as they are.
pub fn zero_nulls(batch: &RecordBatch, columns: &[&str]) -> Result<RecordBatch, ArrowError> {
    let schema = batch.schema();
    let mut arrays: Vec<ArrayRef> = batch.columns().to_vec();
    let mut changed = false;
    for name in columns {
        let Ok(idx) = schema.index_of(name) else {
            continue;
        };
        let col = &arrays[idx];
        if col.null_count() == 0 {
            continue;
        }
        let filled: ArrayRef = match col.data_type() {
            DataType::Int64 => {
                let a = col.as_any().downcast_ref::<Int64Array>().expect("int64");
                Arc::new(Int64Array::from_iter_values(
                    a.iter().map(|v| v.unwrap_or(0)),
                ))
            }
            DataType::Float64 => {
                let a = col
                    .as_any()
                    .downcast_ref::<Float64Array>()
                    .expect("float64");
                Arc::new(Float64Array::from_iter_values(
                    a.iter().map(|v| v.unwrap_or(0.0)),
                ))
            }
            DataType::Decimal128(p, s) => {
                let a = col
                    .as_any()
                    .downcast_ref::<Decimal128Array>()
                    .expect("decimal128");
                Arc::new(
                    Decimal128Array::from_iter_values(a.iter().map(|v| v.unwrap_or(0)))
                        .with_precision_and_scale(*p, *s)?,
                )
            }
            _ => continue,
        };
        arrays[idx] = filled;
        changed = true;
    }
    if !changed {
        return Ok(batch.clone());
    }
    RecordBatch::try_new(schema, arrays)
}

#[cfg(test)]
mod tests {
    use arrow::datatypes::{Field, Schema};

    use super::*;

    #[test]
    fn nulls_become_zero_in_named_numeric_columns_only() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("clicks", DataType::Int64, true),
            Field::new("cost", DataType::Decimal128(18, 6), true),
            Field::new("rate", DataType::Float64, true),
            Field::new("other", DataType::Int64, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![Some(3), None])),
                Arc::new(
                    Decimal128Array::from(vec![None, Some(1_500_000)])
                        .with_precision_and_scale(18, 6)
                        .unwrap(),
                ),
                Arc::new(Float64Array::from(vec![None, Some(0.5)])),
                Arc::new(Int64Array::from(vec![None, Some(1)])),
            ],
        )
        .unwrap();
        let out = zero_nulls(&batch, &["clicks", "cost", "rate", "missing"]).unwrap();
        let ints = out.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!(ints.values().to_vec(), vec![3, 0]);
        assert_eq!(ints.null_count(), 0);
        let dec = out
            .column(1)
            .as_any()
            .downcast_ref::<Decimal128Array>()
            .unwrap();
        assert_eq!((dec.value(0), dec.value(1)), (0, 1_500_000));
        assert_eq!(dec.data_type(), &DataType::Decimal128(18, 6));
        assert_eq!(out.column(2).null_count(), 0);
        assert_eq!(
            out.column(3).null_count(),
            1,
            "unnamed columns keep their nulls"
        );
    }
}
