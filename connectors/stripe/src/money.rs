//! Money: Stripe amounts are integers in the currency's minor unit. Each amount column gets a
//! companion `<amount>_decimal` column in major units, exact, computed from the row's
//! currency (JPY and the other zero-decimal currencies have no minor unit; BHD, JOD, KWD,
//! OMR and TND have three decimals).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Decimal128Builder, Int64Array, StringArray};
use revline_core::ColumnType;

/// Scale of every `_decimal` column (enough for three-decimal currencies).
pub const DECIMAL_SCALE: i8 = 3;
/// Precision of every `_decimal` column (any `i64` minor amount fits).
pub const DECIMAL_PRECISION: u8 = 22;

/// The column type of the `_decimal` companions.
pub fn decimal_type() -> ColumnType {
    ColumnType::Decimal {
        precision: DECIMAL_PRECISION,
        scale: DECIMAL_SCALE,
    }
}

/// Stripe's zero-decimal currencies (amounts are in whole units).
const ZERO_DECIMAL: &[&str] = &[
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
];
/// Stripe's three-decimal currencies.
const THREE_DECIMAL: &[&str] = &["bhd", "jod", "kwd", "omr", "tnd"];

/// Digits after the decimal point of `currency`'s minor unit, as Stripe counts them.
pub fn exponent(currency: &str) -> u32 {
    let c = currency.to_ascii_lowercase();
    if ZERO_DECIMAL.contains(&c.as_str()) {
        0
    } else if THREE_DECIMAL.contains(&c.as_str()) {
        3
    } else {
        2
    }
}

/// `minor` units of `currency` as a decimal with [`DECIMAL_SCALE`] digits (unscaled i128).
pub fn to_decimal(minor: i64, currency: &str) -> i128 {
    i128::from(minor) * 10i128.pow(DECIMAL_SCALE as u32 - exponent(currency))
}

/// The `_decimal` column for an amount column and its currency column.
pub fn decimal_column(amounts: &Int64Array, currencies: &StringArray) -> ArrayRef {
    let mut b = Decimal128Builder::with_capacity(amounts.len());
    for i in 0..amounts.len() {
        if amounts.is_null(i) || currencies.is_null(i) {
            b.append_null();
        } else {
            b.append_value(to_decimal(amounts.value(i), currencies.value(i)));
        }
    }
    Arc::new(
        b.finish()
            .with_precision_and_scale(DECIMAL_PRECISION, DECIMAL_SCALE)
            .expect("valid decimal type"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minor_units_to_major_by_currency() {
        assert_eq!(to_decimal(4_200, "usd"), 42_000); // 42.000
        assert_eq!(to_decimal(15_000, "jpy"), 15_000_000); // 15000.000
        assert_eq!(to_decimal(15_000, "JPY"), 15_000_000);
        assert_eq!(to_decimal(1_230, "kwd"), 1_230); // 1.230
        assert_eq!(to_decimal(-50, "eur"), -500);
        let col = decimal_column(
            &Int64Array::from(vec![Some(4_999), Some(500), None, Some(7)]),
            &StringArray::from(vec![Some("usd"), Some("jpy"), Some("usd"), None]),
        );
        let d = col
            .as_any()
            .downcast_ref::<arrow::array::Decimal128Array>()
            .unwrap();
        assert_eq!(d.value_as_string(0), "49.990");
        assert_eq!(d.value_as_string(1), "500.000");
        assert!(d.is_null(2) && d.is_null(3));
    }
}
