//! Salesforce record ids: 15 case-sensitive characters (a 3-character key prefix per object,
//! then the record number) plus Salesforce's 3-character case-insensitivity checksum, 18 in
//! all, e.g. `0018W00000000aBAAQ`. The record number encodes the world index.

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const CHECKSUM: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
/// Pod / instance characters after the key prefix.
const POD: &str = "8W";

/// The 3-character key prefix of an object (`001` accounts, `00Q` leads, …).
pub fn key_prefix(object: &str) -> &'static str {
    match object {
        "Account" => "001",
        "Contact" => "003",
        "User" => "005",
        "Opportunity" => "006",
        "OpportunityHistory" => "008",
        "Lead" => "00Q",
        "Campaign" => "701",
        _ => "000",
    }
}

/// The 18-character id of record `index` of `object`.
pub fn id(object: &str, index: u64) -> String {
    let mut s = String::with_capacity(18);
    s.push_str(key_prefix(object));
    s.push_str(POD);
    let mut buf = [b'0'; 10];
    let mut n = index;
    for slot in buf.iter_mut().rev() {
        *slot = ALPHABET[(n % 62) as usize];
        n /= 62;
    }
    s.push_str(std::str::from_utf8(&buf).expect("ASCII"));
    let suffix = checksum(&s);
    s.push_str(&suffix);
    s
}

/// Salesforce's 15-to-18 suffix: for each 5-character chunk, a bit per upper-case letter.
fn checksum(id15: &str) -> String {
    id15.as_bytes()
        .chunks(5)
        .map(|chunk| {
            let bits = chunk
                .iter()
                .enumerate()
                .filter(|(_, c)| c.is_ascii_uppercase())
                .fold(0usize, |acc, (i, _)| acc | (1 << i));
            CHECKSUM[bits] as char
        })
        .collect()
}

/// The index an 18- (or 15-) character id of `object` encodes.
pub fn parse(object: &str, id: &str) -> Option<u64> {
    let id15 = id.get(..15)?;
    if !id15.starts_with(key_prefix(object)) || &id15[3..5] != POD {
        return None;
    }
    if id.len() == 18 && id[15..] != checksum(id15) {
        return None;
    }
    id15[5..].bytes().try_fold(0u64, |acc, b| {
        let d = ALPHABET.iter().position(|&c| c == b)? as u64;
        acc.checked_mul(62)?.checked_add(d)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_prefixes_checksums_and_round_trip() {
        let a = id("Account", 17);
        assert_eq!(a.len(), 18);
        assert!(a.starts_with("0018W"));
        assert_eq!(parse("Account", &a), Some(17));
        assert_eq!(parse("Account", &a[..15]), Some(17));
        assert_eq!(parse("Lead", &a), None);
        // The checksum of Salesforce's documented example.
        assert_eq!(checksum("a0D30000001n7Pv"), "EAI");
        for i in [0, 61, 62, 9_999_999_999] {
            assert_eq!(parse("Lead", &id("Lead", i)), Some(i));
        }
    }
}
