//! Small, allocation-free JSON writing helpers used on the hot rendering path.
//!
//! The emulators write responses straight into a pre-sized `Vec<u8>` instead of building a
//! `serde_json::Value` per record; this module holds the primitives (string escaping, integers,
//! floats and the timestamp formats vendors use).

/// Appends `s` as a JSON string literal (with the surrounding quotes), escaping `"`, `\` and
/// control characters. Non-ASCII UTF-8 is written as-is, which JSON allows.
pub(crate) fn push_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    push_str_body(out, s);
    out.push(b'"');
}

/// Appends the escaped body of a JSON string (no surrounding quotes).
pub(crate) fn push_str_body(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    if !bytes.iter().any(|&b| needs_escape(b)) {
        out.extend_from_slice(bytes);
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !needs_escape(b) {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 0xf) as usize]);
            }
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

#[inline]
fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Returns `s` escaped as a JSON string literal (with quotes). Convenience for tests and
/// cold paths.
#[cfg(test)]
pub(crate) fn escape(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len() + 2);
    push_str(&mut out, s);
    String::from_utf8(out).expect("escaping keeps UTF-8 valid")
}

/// Appends an unsigned integer as JSON number.
#[inline]
pub(crate) fn push_u64(out: &mut Vec<u8>, n: u64) {
    let mut buf = itoa::Buffer::new();
    out.extend_from_slice(buf.format(n).as_bytes());
}

/// Appends a signed integer as JSON number.
#[inline]
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn push_i64(out: &mut Vec<u8>, n: i64) {
    let mut buf = itoa::Buffer::new();
    out.extend_from_slice(buf.format(n).as_bytes());
}

/// Appends a float in shortest round-trip form (`ryu`); non-finite values become `null`.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn push_f64(out: &mut Vec<u8>, f: f64) {
    if f.is_finite() {
        let mut buf = ryu::Buffer::new();
        out.extend_from_slice(buf.format_finite(f).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

/// Appends an amount held in minor units (cents) the way Java's `BigDecimal` would print the
/// stored number: `42000`, `42000.5`, `42000.75` (no trailing zeros, no exponent).
pub(crate) fn push_decimal_cents(out: &mut Vec<u8>, cents: u64) {
    push_u64(out, cents / 100);
    let frac = cents % 100;
    if frac != 0 {
        out.push(b'.');
        out.push(b'0' + (frac / 10) as u8);
        if !frac.is_multiple_of(10) {
            out.push(b'0' + (frac % 10) as u8);
        }
    }
}

const MS_PER_DAY: i64 = 86_400_000;

/// Converts days since 1970-01-01 to a proleptic Gregorian (year, month, day).
/// Howard Hinnant's `civil_from_days`.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = (z - era * 146_097) as u64;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe as i64 + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[inline]
fn push_2(out: &mut Vec<u8>, n: u32) {
    out.push(b'0' + (n / 10) as u8);
    out.push(b'0' + (n % 10) as u8);
}

fn push_ymd(out: &mut Vec<u8>, days: i64) {
    let (y, m, d) = civil_from_days(days);
    let y = y.clamp(0, 9999) as u32;
    push_2(out, y / 100);
    push_2(out, y % 100);
    out.push(b'-');
    push_2(out, m);
    out.push(b'-');
    push_2(out, d);
}

/// Appends (without quotes) an epoch-millisecond instant the way Java's `Instant.toString()`
/// prints it, which is what HubSpot emits: `2024-05-02T14:03:11.482Z`, and
/// `2024-06-28T16:00:00Z` when the millisecond part is zero.
pub(crate) fn push_iso_millis_body(out: &mut Vec<u8>, ms: i64) {
    let days = ms.div_euclid(MS_PER_DAY);
    let rem = ms.rem_euclid(MS_PER_DAY);
    push_ymd(out, days);
    let secs = (rem / 1000) as u32;
    let millis = (rem % 1000) as u32;
    out.push(b'T');
    push_2(out, secs / 3600);
    out.push(b':');
    push_2(out, (secs / 60) % 60);
    out.push(b':');
    push_2(out, secs % 60);
    if millis != 0 {
        out.push(b'.');
        out.push(b'0' + (millis / 100) as u8);
        push_2(out, millis % 100);
    }
    out.push(b'Z');
}

/// Appends a quoted ISO instant (see [`push_iso_millis_body`]).
pub(crate) fn push_iso_millis(out: &mut Vec<u8>, ms: i64) {
    out.push(b'"');
    push_iso_millis_body(out, ms);
    out.push(b'"');
}

/// Appends a quoted ISO instant truncated to the second, `"2024-05-02T14:03:11Z"` (Zendesk,
/// Freshdesk).
pub(crate) fn push_iso_secs(out: &mut Vec<u8>, ms: i64) {
    out.push(b'"');
    push_iso_millis_body(out, ms.div_euclid(1000) * 1000);
    out.push(b'"');
}

/// Appends (without quotes) the calendar date of an epoch-millisecond instant: `2024-06-30`.
pub(crate) fn push_date_body(out: &mut Vec<u8>, ms: i64) {
    push_ymd(out, ms.div_euclid(MS_PER_DAY));
}

/// Formats an epoch-millisecond instant as HubSpot does (see [`push_iso_millis_body`]).
#[cfg(test)]
pub(crate) fn iso_millis(ms: i64) -> String {
    let mut out = Vec::with_capacity(24);
    push_iso_millis_body(&mut out, ms);
    String::from_utf8(out).expect("ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Datelike, NaiveDate};

    #[test]
    fn escapes_quotes_backslashes_and_controls() {
        assert_eq!(escape("plain"), r#""plain""#);
        assert_eq!(escape(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(escape("l1\nl2\r\t"), r#""l1\nl2\r\t""#);
        assert_eq!(escape("\u{0}\u{1f}\u{8}\u{c}"), r#""\u0000\u001f\b\f""#);
        assert_eq!(escape("Zoë – São"), "\"Zoë – São\"");
        // Round-trips through a real JSON parser.
        let tricky = "q\"uo\\te\u{7}\nZoë";
        let parsed: String = serde_json::from_str(&escape(tricky)).unwrap();
        assert_eq!(parsed, tricky);
    }

    #[test]
    fn numbers() {
        let mut out = Vec::new();
        push_u64(&mut out, 18_542_917_701);
        out.push(b' ');
        push_i64(&mut out, -5);
        out.push(b' ');
        push_f64(&mut out, 0.25);
        out.push(b' ');
        push_f64(&mut out, f64::NAN);
        assert_eq!(String::from_utf8(out).unwrap(), "18542917701 -5 0.25 null");
        for (cents, want) in [
            (4_200_000, "42000"),
            (4_200_050, "42000.5"),
            (4_200_075, "42000.75"),
            (7, "0.07"),
        ] {
            let mut out = Vec::new();
            push_decimal_cents(&mut out, cents);
            assert_eq!(String::from_utf8(out).unwrap(), want);
        }
    }

    #[test]
    fn timestamps_match_chrono() {
        let mut ms: i64 = -86_400_000 * 800;
        while ms < 4_102_444_800_000 {
            let expected = DateTime::from_timestamp_millis(ms).unwrap();
            let got = iso_millis(ms);
            let parsed = DateTime::parse_from_rfc3339(&got).unwrap();
            assert_eq!(parsed, expected, "{got}");
            let mut d = Vec::new();
            push_date_body(&mut d, ms);
            let date =
                NaiveDate::parse_from_str(std::str::from_utf8(&d).unwrap(), "%Y-%m-%d").unwrap();
            assert_eq!(
                date.num_days_from_ce(),
                expected.date_naive().num_days_from_ce()
            );
            ms += 7_777_777_777 / 3 + 13;
        }
        assert_eq!(iso_millis(1_714_658_591_482), "2024-05-02T14:03:11.482Z");
        assert_eq!(iso_millis(1_714_658_591_020), "2024-05-02T14:03:11.020Z");
        assert_eq!(iso_millis(1_719_590_400_000), "2024-06-28T16:00:00Z");
        let mut secs = Vec::new();
        push_iso_secs(&mut secs, 1_714_658_591_482);
        assert_eq!(secs, b"\"2024-05-02T14:03:11Z\"");
    }
}
