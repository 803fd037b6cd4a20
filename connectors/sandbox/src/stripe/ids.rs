//! Stripe-shaped object ids (`cus_…`, `in_1…LkdIwHu7ix…`) that encode the world index, so a
//! `starting_after` cursor maps back to a position without a lookup table.

use crate::world::rng::mix64;

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// The fake account's fixed infix (real ids embed the account the same way).
const ACCOUNT: &str = "LkdIwHu7ix";
/// Indices are offset so every encoded index has exactly six characters.
const OFFSET: u64 = 1_000_000_000;
const ENC_LEN: usize = 6;

/// Kinds of Stripe objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Kind {
    Customer,
    Product,
    Price,
    Subscription,
    SubscriptionItem,
    Invoice,
    InvoiceItem,
    LineItem,
    Charge,
    PaymentIntent,
    PaymentMethod,
    BalanceTransaction,
    Refund,
    Event,
}

impl Kind {
    fn prefix(self) -> &'static str {
        match self {
            Kind::Customer => "cus",
            Kind::Product => "prod",
            Kind::Price => "price",
            Kind::Subscription => "sub",
            Kind::SubscriptionItem => "si",
            Kind::Invoice => "in",
            Kind::InvoiceItem => "ii",
            Kind::LineItem => "il",
            Kind::Charge => "ch",
            Kind::PaymentIntent => "pi",
            Kind::PaymentMethod => "pm",
            Kind::BalanceTransaction => "txn",
            Kind::Refund => "re",
            Kind::Event => "evt",
        }
    }

    /// Short ids (`cus_Q2xYzAbC123def`) versus long, account-embedding ids.
    fn short(self) -> bool {
        matches!(self, Kind::Customer | Kind::Product)
    }

    fn salt(self) -> u64 {
        self as u64 + 1
    }
}

fn push_base62(out: &mut String, mut n: u64, len: usize) {
    let mut buf = [b'0'; 11];
    for slot in buf.iter_mut().take(len).rev() {
        *slot = ALPHABET[(n % 62) as usize];
        n /= 62;
    }
    out.push_str(std::str::from_utf8(&buf[..len]).expect("ASCII"));
}

fn base62_value(s: &str) -> Option<u64> {
    s.bytes().try_fold(0u64, |acc, b| {
        let d = ALPHABET.iter().position(|&c| c == b)? as u64;
        acc.checked_mul(62)?.checked_add(d)
    })
}

/// The id of object `index` of `kind`.
pub fn id(kind: Kind, index: u64) -> String {
    let mut s = String::with_capacity(32);
    s.push_str(kind.prefix());
    s.push('_');
    let tail = mix64(index.wrapping_mul(0x9E37_79B9) ^ kind.salt());
    if kind.short() {
        push_base62(&mut s, index + OFFSET, ENC_LEN);
        push_base62(&mut s, tail, 8);
    } else {
        s.push(if kind == Kind::Charge || kind == Kind::PaymentIntent {
            '3'
        } else {
            '1'
        });
        push_base62(&mut s, index + OFFSET, ENC_LEN);
        s.push_str(ACCOUNT);
        push_base62(&mut s, tail, 7);
    }
    s
}

/// The index an id of `kind` encodes, if it is a well-formed id of that kind.
pub fn parse(kind: Kind, id: &str) -> Option<u64> {
    let rest = id.strip_prefix(kind.prefix())?.strip_prefix('_')?;
    let enc = if kind.short() {
        rest.get(..ENC_LEN)?
    } else {
        rest.get(1..1 + ENC_LEN)?
    };
    let index = base62_value(enc)?.checked_sub(OFFSET)?;
    (self::id(kind, index) == id).then_some(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_look_like_stripe() {
        for kind in [Kind::Customer, Kind::Invoice, Kind::Charge, Kind::Event] {
            for i in [0u64, 1, 61, 62, 123_456, 999_999] {
                let s = id(kind, i);
                assert_eq!(parse(kind, &s), Some(i), "{s}");
            }
        }
        let inv = id(Kind::Invoice, 7);
        assert!(inv.starts_with("in_1") && inv.contains(ACCOUNT), "{inv}");
        assert_eq!(inv.len(), "in_".len() + 24);
        assert_eq!(id(Kind::Customer, 7).len(), "cus_".len() + 14);
        assert!(id(Kind::Charge, 7).starts_with("ch_3"));
        assert_eq!(parse(Kind::Charge, &inv), None);
        assert_eq!(parse(Kind::Invoice, "in_garbage"), None);
        let mut tampered = inv.clone();
        tampered.pop();
        tampered.push('!');
        assert_eq!(parse(Kind::Invoice, &tampered), None);
    }
}
