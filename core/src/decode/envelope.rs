//! A fast first pass over a response body: checks it is complete JSON, counts the records,
//! keeps the non-record fields (paging, totals) and the last record's raw text, without
//! decoding any record. Paginators need only this, so the next request can be sent while
//! the page is still being decoded.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::DecodeError;

/// The non-record part of a response body.
#[derive(Debug, Default, Clone)]
pub struct Envelope {
    /// Fields other than the records, at the top level and along the records path.
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// Number of records in the page.
    pub record_count: usize,
    /// The last record as raw JSON (to restart a query from its cursor value).
    pub last_record: Option<Box<RawValue>>,
}

impl Envelope {
    /// A field by dotted path into the envelope (`paging.next.after`).
    pub fn pointer(&self, dotted: &str) -> Option<&serde_json::Value> {
        let mut parts = dotted.split('.');
        let mut cur = self.fields.get(parts.next()?)?;
        for p in parts {
            cur = match cur {
                serde_json::Value::Object(m) => m.get(p)?,
                serde_json::Value::Array(a) => a.get(p.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(cur)
    }

    /// A field as text: strings as they are, numbers printed; null and absent are `None`.
    pub fn text(&self, dotted: &str) -> Option<String> {
        match self.pointer(dotted)? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            serde_json::Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// The last record parsed as a JSON value, if any.
    pub fn last_record_value(&self) -> Option<serde_json::Value> {
        self.last_record
            .as_ref()
            .and_then(|r| serde_json::from_str(r.get()).ok())
    }
}

/// Reads the envelope of `body` whose records sit at `records_path` (empty: the body is the
/// array). Fails with [`DecodeError::Malformed`] on truncated or invalid JSON.
pub fn read_envelope(body: &[u8], records_path: &[String]) -> Result<Envelope, DecodeError> {
    let mut env = Envelope::default();
    let mut de = serde_json::Deserializer::from_slice(body);
    EnvSeed {
        path: records_path,
        env: &mut env,
    }
    .deserialize(&mut de)
    .map_err(super::classify)?;
    de.end().map_err(DecodeError::Malformed)?;
    Ok(env)
}

struct EnvSeed<'a> {
    path: &'a [String],
    env: &'a mut Envelope,
}

impl<'de> DeserializeSeed<'de> for EnvSeed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if self.path.is_empty() {
            d.deserialize_any(CountRecords { env: self.env })
        } else {
            d.deserialize_any(self)
        }
    }
}

impl<'de> Visitor<'de> for EnvSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "an object with `{}`", self.path.join("."))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let (head, rest) = self.path.split_first().expect("non-empty path");
        while let Some(key) = map.next_key::<String>()? {
            if &key == head {
                map.next_value_seed(EnvSeed {
                    path: rest,
                    env: self.env,
                })?;
            } else {
                let v: serde_json::Value = map.next_value()?;
                self.env.fields.insert(key, v);
            }
        }
        Ok(())
    }
}

struct CountRecords<'a> {
    env: &'a mut Envelope,
}

impl<'de> Visitor<'de> for CountRecords<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of records")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut last: Option<&'de RawValue> = None;
        while let Some(raw) = seq.next_element::<&'de RawValue>()? {
            self.env.record_count += 1;
            last = Some(raw);
        }
        self.env.last_record = last.map(|r| r.to_owned());
        Ok(())
    }
}
