//! Fitting a batch to a table's schema: columns by name, in the table's order; columns the
//! batch lacks become nulls; compatible types are cast (e.g. `Utf8` into `Utf8View`).

use std::sync::Arc;

use arrow::array::{ArrayRef, new_null_array};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};

use crate::error::{Error, ErrorKind, Result};

/// Whether data of type `new` can be stored in a column of type `existing`.
pub fn compatible(existing: &DataType, new: &DataType) -> bool {
    use DataType::*;
    if existing == new {
        return true;
    }
    matches!(
        (existing, new),
        // Text into a typed column is parsed on write (a connector's untyped fallback schema
        // loading into a table it typed before); a value that does not parse fails the write.
        (
            Utf8 | LargeUtf8
                | Utf8View
                | Int64
                | Float64
                | Boolean
                | Date32
                | Timestamp(_, _)
                | Decimal128(_, _),
            Utf8 | LargeUtf8 | Utf8View
        ) | (Timestamp(_, _), Timestamp(_, _))
            | (Int64, Int32 | Int16 | Int8)
            | (Float64, Float32 | Int64 | Int32)
            | (List(_) | LargeList(_), List(_) | LargeList(_))
    )
}

/// Returns `batch` with exactly `schema`'s columns.
pub fn conform_batch(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    if batch.schema().fields() == schema.fields() {
        return Ok(RecordBatch::try_new(
            schema.clone(),
            batch.columns().to_vec(),
        )?);
    }
    let rows = batch.num_rows();
    let opts = CastOptions {
        safe: false,
        ..Default::default()
    };
    let columns = schema
        .fields()
        .iter()
        .map(|field| -> Result<ArrayRef> {
            match batch.column_by_name(field.name()) {
                None => Ok(new_null_array(field.data_type(), rows)),
                Some(col) if col.data_type() == field.data_type() => Ok(col.clone()),
                Some(col) => cast_with_options(col, field.data_type(), &opts).map_err(|e| {
                    Error::new(
                        ErrorKind::Lake,
                        format!(
                            "column `{}` of type {} cannot be stored as {}",
                            field.name(),
                            col.data_type(),
                            field.data_type()
                        ),
                    )
                    .with_source(e)
                }),
            }
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new_with_options(
        Arc::new(schema.as_ref().clone()),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(rows)),
    )?)
}

#[cfg(test)]
mod tests {
    use arrow::array::{Array, Int64Array, StringArray};
    use arrow::datatypes::{Field, Schema};

    use super::*;

    #[test]
    fn fills_missing_columns_and_reorders() {
        let batch = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("b", DataType::Utf8, true),
                Field::new("a", DataType::Int64, true),
            ])),
            vec![
                Arc::new(StringArray::from(vec!["x", "y"])),
                Arc::new(Int64Array::from(vec![1, 2])),
            ],
        )
        .unwrap();
        let target = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("old", DataType::Utf8, true),
            Field::new("b", DataType::Utf8View, true),
        ]));
        let out = conform_batch(&batch, &target).unwrap();
        assert_eq!(out.schema(), target);
        assert_eq!(out.column(1).null_count(), 2);
        assert_eq!(out.column(2).data_type(), &DataType::Utf8View);
    }

    #[test]
    fn type_compatibility() {
        assert!(compatible(&DataType::Utf8View, &DataType::Utf8));
        assert!(
            compatible(&DataType::Int64, &DataType::Utf8),
            "text is parsed into typed columns"
        );
        assert!(!compatible(&DataType::Utf8, &DataType::Int64));
        assert!(!compatible(&DataType::Boolean, &DataType::Float64));
    }
}

#[cfg(test)]
mod text_into_typed {
    use arrow::array::{Array, Float64Array, StringArray};
    use arrow::datatypes::{Field, Schema};

    use super::*;

    #[test]
    fn text_is_parsed_into_typed_columns_or_fails_naming_the_column() {
        let text = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new(
                "amount",
                DataType::Utf8,
                true,
            )])),
            vec![Arc::new(StringArray::from(vec![Some("42.5"), None]))],
        )
        .unwrap();
        let typed = Arc::new(Schema::new(vec![Field::new(
            "amount",
            DataType::Float64,
            true,
        )]));
        let out = conform_batch(&text, &typed).unwrap();
        let col = out
            .column(0)
            .as_any()
            .downcast_ref::<Float64Array>()
            .unwrap();
        assert_eq!(col.value(0), 42.5);
        assert!(col.is_null(1));
        let bad = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new(
                "amount",
                DataType::Utf8,
                true,
            )])),
            vec![Arc::new(StringArray::from(vec!["n/a"]))],
        )
        .unwrap();
        let err = conform_batch(&bad, &typed).unwrap_err();
        assert!(
            err.to_string()
                .contains("column `amount` of type Utf8 cannot be stored as Float64"),
            "{err}"
        );
    }
}
