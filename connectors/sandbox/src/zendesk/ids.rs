//! Zendesk ids of the world's entities, and the opaque cursors the emulator hands out.
//!
//! Tickets are numbered from 1 in creation order (Zendesk numbers tickets per account);
//! users, organizations, groups, metric sets and ratings have large integer ids.

/// First requester user id: person `i` is user `USER_ID_BASE + i`.
pub const USER_ID_BASE: u64 = 390_000_000_000;
/// First agent user id: agent `i` is user `AGENT_ID_BASE + i`.
pub const AGENT_ID_BASE: u64 = 377_000_000_000;
/// First organization id: company `i` is organization `ORG_ID_BASE + i`.
pub const ORG_ID_BASE: u64 = 360_000_000_000;
/// First group id.
pub const GROUP_ID_BASE: u64 = 360_001_000_000;
/// First ticket-metric-set id: ticket index `i` has metric set `METRIC_ID_BASE + i`.
pub const METRIC_ID_BASE: u64 = 361_000_000_000;
/// First satisfaction-rating id: rating `i` is `RATING_ID_BASE + i`.
pub const RATING_ID_BASE: u64 = 362_000_000_000;
/// The account's only brand.
pub const BRAND_ID: u64 = 360_000_222_000;
/// The `plan` custom ticket field.
pub const PLAN_FIELD_ID: u64 = 360_012_345;

/// Ticket id of ticket index `i`.
pub fn ticket_id(index: u32) -> u64 {
    u64::from(index) + 1
}

/// Ticket index of ticket id `id`.
pub fn ticket_index(id: u64) -> Option<u32> {
    id.checked_sub(1).and_then(|i| u32::try_from(i).ok())
}

/// User id of a requester (person index).
pub fn user_id(person: u64) -> u64 {
    USER_ID_BASE + person
}

/// User id of an agent.
pub fn agent_id(agent: u32) -> u64 {
    AGENT_ID_BASE + u64::from(agent)
}

/// Organization id of a company.
pub fn org_id(company: u32) -> u64 {
    ORG_ID_BASE + u64::from(company)
}

/// Group id of a group.
pub fn group_id(group: u32) -> u64 {
    GROUP_ID_BASE + u64::from(group)
}

/// Metric-set id of a ticket.
pub fn metric_id(ticket: u32) -> u64 {
    METRIC_ID_BASE + u64::from(ticket)
}

/// Satisfaction-rating id of a rating.
pub fn rating_id(rating: u32) -> u64 {
    RATING_ID_BASE + u64::from(rating)
}

const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub(crate) fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(TABLE[((n >> (18 - 6 * k)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes standard base64 (padding optional); `None` on a foreign character.
pub(crate) fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = TABLE.iter().position(|&t| t == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// An incremental-export cursor: the position `(generated_timestamp, id)` of the last item
/// served, encoded like Zendesk's (`base64("1714637403.0||48213|")`).
pub(crate) fn export_cursor(secs: i64, id: u64) -> String {
    base64_encode(format!("{secs}.0||{id}|").as_bytes())
}

/// Parses an export cursor.
pub(crate) fn parse_export_cursor(c: &str) -> Option<(i64, u64)> {
    let text = String::from_utf8(base64_decode(c)?).ok()?;
    let (secs, rest) = text.split_once(".0||")?;
    let id = rest.strip_suffix('|')?;
    Some((secs.parse().ok()?, id.parse().ok()?))
}

/// A list cursor (`page[after]`): the position after which the next page starts.
pub(crate) fn list_cursor(position: u64) -> String {
    base64_encode(format!("eyJvIjoi{position}").as_bytes())
}

/// Parses a list cursor.
pub(crate) fn parse_list_cursor(c: &str) -> Option<u64> {
    let text = String::from_utf8(base64_decode(c)?).ok()?;
    text.strip_prefix("eyJvIjoi")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_look_like_zendesks() {
        assert_eq!(
            export_cursor(1_714_637_403, 48_213),
            "MTcxNDYzNzQwMy4wfHw0ODIxM3w="
        );
        assert_eq!(
            parse_export_cursor("MTcxNDYzNzQwMy4wfHw0ODIxM3w="),
            Some((1_714_637_403, 48_213))
        );
        assert_eq!(parse_export_cursor("bm9wZQ=="), None);
        assert_eq!(parse_list_cursor(&list_cursor(42)), Some(42));
        assert_eq!(parse_list_cursor("!!"), None);
        for s in ["", "a", "ab", "abc", "abcd"] {
            assert_eq!(
                base64_decode(&base64_encode(s.as_bytes())).unwrap(),
                s.as_bytes()
            );
        }
        assert_eq!(ticket_index(ticket_id(7)), Some(7));
        assert_eq!(ticket_index(0), None);
    }
}
