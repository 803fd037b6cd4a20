//! Scalar coercions the real APIs need: numbers and booleans sent as strings, six timestamp
//! formats, `YYYYMMDD` dates, epochs in seconds or milliseconds, exact decimals.

use crate::schema::EpochUnit;

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> Option<i64> {
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 {
                29
            } else {
                28
            }
        }
    }
}

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u32, |acc, d| acc * 10 + (d - b'0') as u32))
}

/// Parses `YYYY-MM-DD` or `YYYYMMDD` into days since the epoch.
pub fn parse_date_days(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    match b.len() {
        10 if b[4] == b'-' && b[7] == b'-' => days_from_civil(
            digits(&b[0..4])? as i64,
            digits(&b[5..7])?,
            digits(&b[8..10])?,
        ),
        8 => days_from_civil(
            digits(&b[0..4])? as i64,
            digits(&b[4..6])?,
            digits(&b[6..8])?,
        ),
        _ => None,
    }
}

/// Parses an ISO-8601 / RFC 3339 timestamp into microseconds since the epoch (UTC).
///
/// Accepted: `2024-05-02T14:03:11Z`, `…11.482Z`, `…11.000+0000`, `…11+00:00`, `…11-05:00`,
/// `2024-05-02 14:03:11` (no zone means UTC), `2024-05-02T14:03Z`, and a bare date (midnight).
/// Fractions beyond microseconds are truncated.
pub fn parse_timestamp_micros(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    if b.len() < 10 {
        return None;
    }
    let days = parse_date_days(std::str::from_utf8(&b[..10]).ok()?)?;
    if b.len() == 10 {
        return Some(days * MICROS_PER_DAY);
    }
    if b[10] != b'T' && b[10] != b't' && b[10] != b' ' {
        return None;
    }
    let rest = &b[11..];
    if rest.len() < 5 || rest[2] != b':' {
        return None;
    }
    let hour = digits(&rest[0..2])?;
    let minute = digits(&rest[3..5])?;
    let mut i = 5;
    let mut second = 0;
    if rest.len() >= 8 && rest[5] == b':' {
        second = digits(&rest[6..8])?;
        i = 8;
    }
    let mut micros: i64 = 0;
    if i < rest.len() && (rest[i] == b'.' || rest[i] == b',') {
        i += 1;
        let start = i;
        while i < rest.len() && rest[i].is_ascii_digit() {
            i += 1;
        }
        let frac = &rest[start..i];
        if frac.is_empty() {
            return None;
        }
        let mut value: i64 = 0;
        for k in 0..6 {
            value = value * 10 + frac.get(k).map(|d| (d - b'0') as i64).unwrap_or(0);
        }
        micros = value;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let zone = &rest[i..];
    let offset_seconds: i64 = match zone {
        [] | [b'Z'] | [b'z'] => 0,
        b" UTC" | b"UTC" => 0,
        [sign @ (b'+' | b'-'), tail @ ..] => {
            let (h, m) = match tail.len() {
                2 => (digits(tail)?, 0),
                4 => (digits(&tail[0..2])?, digits(&tail[2..4])?),
                5 if tail[2] == b':' => (digits(&tail[0..2])?, digits(&tail[3..5])?),
                _ => return None,
            };
            if h > 23 || m > 59 {
                return None;
            }
            let off = (h * 3600 + m * 60) as i64;
            if *sign == b'+' { off } else { -off }
        }
        _ => return None,
    };
    let seconds = days * 86_400 + (hour * 3600 + minute * 60 + second) as i64 - offset_seconds;
    Some(seconds * MICROS_PER_SECOND + micros)
}

/// Converts an epoch number to microseconds according to `unit`.
pub fn epoch_to_micros(value: f64, unit: EpochUnit) -> Option<i64> {
    if !value.is_finite() {
        return None;
    }
    let millis = match unit {
        EpochUnit::Seconds => false,
        EpochUnit::Millis => true,
        EpochUnit::Auto => value.abs() >= 1e11,
    };
    let micros = if millis {
        value * 1_000.0
    } else {
        value * 1_000_000.0
    };
    if micros.abs() > 9.2e18 {
        return None;
    }
    Some(micros.round() as i64)
}

/// Like [`epoch_to_micros`] but exact for integers.
pub fn epoch_int_to_micros(value: i64, unit: EpochUnit) -> Option<i64> {
    let millis = match unit {
        EpochUnit::Seconds => false,
        EpochUnit::Millis => true,
        EpochUnit::Auto => value.unsigned_abs() >= 100_000_000_000,
    };
    if millis {
        value.checked_mul(1_000)
    } else {
        value.checked_mul(1_000_000)
    }
}

/// Microseconds to whole days (floor).
pub fn micros_to_days(micros: i64) -> i64 {
    micros.div_euclid(MICROS_PER_DAY)
}

/// Parses a boolean written as text.
pub fn parse_bool(s: &str) -> Option<bool> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("true") || t == "1" || t.eq_ignore_ascii_case("yes") {
        Some(true)
    } else if t.eq_ignore_ascii_case("false") || t == "0" || t.eq_ignore_ascii_case("no") {
        Some(false)
    } else {
        None
    }
}

/// Parses an integer written as text; `"42.0"` is accepted, `"42.5"` is not.
pub fn parse_i64(s: &str) -> Option<i64> {
    let t = s.trim();
    if let Ok(v) = t.parse::<i64>() {
        return Some(v);
    }
    let f = t.parse::<f64>().ok()?;
    f64_to_i64(f)
}

/// An `f64` with no fractional part, in `i64` range.
pub fn f64_to_i64(f: f64) -> Option<i64> {
    if f.is_finite()
        && f.fract() == 0.0
        && (-9.223_372_036_854_775e18..9.223_372_036_854_775e18).contains(&f)
    {
        Some(f as i64)
    } else {
        None
    }
}

/// Parses a decimal string exactly into an unscaled `i128` with `scale` digits after the point.
/// Extra fraction digits must be zeros (no silent rounding); `1e3` notation is accepted.
pub fn parse_decimal(s: &str, precision: u8, scale: i8) -> Option<i128> {
    let t = s.trim();
    let (mantissa, exp) = match t.find(['e', 'E']) {
        Some(pos) => (&t[..pos], t[pos + 1..].parse::<i32>().ok()?),
        None => (t, 0),
    };
    let (neg, body) = match mantissa.as_bytes().first()? {
        b'-' => (true, &mantissa[1..]),
        b'+' => (false, &mantissa[1..]),
        _ => (false, mantissa),
    };
    let (int_part, frac_part) = match body.find('.') {
        Some(p) => (&body[..p], &body[p + 1..]),
        None => (body, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    // value = digits * 10^(exp - frac_len); we want value * 10^scale.
    let digits_str = format!("{int_part}{frac_part}");
    let shift = exp - frac_part.len() as i32 + scale as i32;
    let mut value: i128 = 0;
    let trimmed = digits_str.trim_start_matches('0');
    if trimmed.len() > 38 {
        return None;
    }
    for d in trimmed.bytes() {
        value = value.checked_mul(10)?.checked_add((d - b'0') as i128)?;
    }
    if shift >= 0 {
        for _ in 0..shift {
            value = value.checked_mul(10)?;
        }
    } else {
        for _ in 0..(-shift) {
            if value % 10 != 0 {
                return None;
            }
            value /= 10;
        }
    }
    if value >= 10i128.checked_pow(precision as u32)? {
        return None;
    }
    Some(if neg { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Option<i64> {
        parse_timestamp_micros(s)
    }

    #[test]
    fn iso_variants_agree() {
        let z = ts("2024-05-02T14:03:11.482Z").unwrap();
        assert_eq!(z, 1_714_658_591_482_000);
        assert_eq!(ts("2024-05-02T14:03:11.482+0000"), Some(z));
        assert_eq!(ts("2024-05-02T14:03:11.482+00:00"), Some(z));
        assert_eq!(ts("2024-05-02T16:03:11.482+02:00"), Some(z));
        assert_eq!(ts("2024-05-02T09:03:11.482-0500"), Some(z));
        assert_eq!(ts("2024-05-02 14:03:11"), Some(1_714_658_591_000_000));
        assert_eq!(ts("2024-05-02T14:03:11Z"), Some(1_714_658_591_000_000));
        assert_eq!(
            ts("2024-05-02T14:03:11.123456789Z"),
            Some(1_714_658_591_123_456)
        );
        assert_eq!(ts("2024-05-02"), Some(1_714_608_000_000_000));
        assert_eq!(ts("1969-12-31T23:59:59Z"), Some(-1_000_000));
    }

    #[test]
    fn bad_timestamps_are_rejected() {
        for s in [
            "",
            "yesterday",
            "2024-13-02T00:00:00Z",
            "2024-02-30",
            "2024-05-02T25:00:00Z",
            "2024-05-02T14:03:11+5",
            "2024-05-02T14:03:11.Z",
            "2024/05/02",
        ] {
            assert_eq!(ts(s), None, "{s}");
        }
    }

    #[test]
    fn dates_in_both_layouts() {
        assert_eq!(parse_date_days("1970-01-01"), Some(0));
        assert_eq!(parse_date_days("20240502"), parse_date_days("2024-05-02"));
        assert_eq!(parse_date_days("2024-02-29"), Some(19_782));
        assert_eq!(parse_date_days("2023-02-29"), None);
    }

    #[test]
    fn epochs() {
        assert_eq!(
            epoch_int_to_micros(1_714_658_591, EpochUnit::Auto),
            Some(1_714_658_591_000_000)
        );
        assert_eq!(
            epoch_int_to_micros(1_714_658_591_482, EpochUnit::Auto),
            Some(1_714_658_591_482_000)
        );
        assert_eq!(epoch_int_to_micros(5, EpochUnit::Millis), Some(5_000));
        assert_eq!(epoch_to_micros(1.5, EpochUnit::Seconds), Some(1_500_000));
        assert_eq!(micros_to_days(-1), -1);
    }

    #[test]
    fn numbers_and_bools_from_text() {
        assert_eq!(parse_i64(" 42 "), Some(42));
        assert_eq!(parse_i64("42.0"), Some(42));
        assert_eq!(parse_i64("42.5"), None);
        assert_eq!(parse_i64("abc"), None);
        assert_eq!(parse_bool("TRUE"), Some(true));
        assert_eq!(parse_bool("0"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
    }

    #[test]
    fn decimals_are_exact() {
        assert_eq!(parse_decimal("15000", 18, 2), Some(1_500_000));
        assert_eq!(parse_decimal("-12.34", 18, 2), Some(-1234));
        assert_eq!(parse_decimal("12.340", 18, 2), Some(1234));
        assert_eq!(parse_decimal("12.345", 18, 2), None, "no silent rounding");
        assert_eq!(parse_decimal("1.5e3", 18, 2), Some(150_000));
        assert_eq!(parse_decimal("123", 3, 1), None, "precision overflow");
        assert_eq!(parse_decimal(".5", 18, 2), Some(50));
        assert_eq!(parse_decimal("1,5", 18, 2), None);
    }
}
