//! A tiny streaming JSON object writer over the [`crate::json`] primitives, for emulators
//! that render wide objects on hot paths (Stripe, Salesforce, Pipedrive) without building a
//! `serde_json::Value` per record.

use crate::json;

/// Writes one JSON object (`{…}`) into a buffer, key by key.
pub(crate) struct Obj<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Obj<'a> {
    /// Starts an object.
    pub(crate) fn new(out: &'a mut Vec<u8>) -> Obj<'a> {
        out.push(b'{');
        Obj { out, first: true }
    }

    /// Writes `"key":` (with the separating comma).
    pub(crate) fn key(&mut self, key: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    /// A string value.
    pub(crate) fn str(&mut self, key: &str, v: &str) -> &mut Self {
        json::push_str(self.key(key), v);
        self
    }

    /// A string value or `null`.
    pub(crate) fn opt_str(&mut self, key: &str, v: Option<&str>) -> &mut Self {
        match v {
            Some(s) => self.str(key, s),
            None => self.null(key),
        }
    }

    /// An integer.
    pub(crate) fn int(&mut self, key: &str, v: i64) -> &mut Self {
        json::push_i64(self.key(key), v);
        self
    }

    /// An integer or `null`.
    pub(crate) fn opt_int(&mut self, key: &str, v: Option<i64>) -> &mut Self {
        match v {
            Some(n) => self.int(key, n),
            None => self.null(key),
        }
    }

    /// A float (shortest round-trip form).
    #[allow(dead_code)]
    pub(crate) fn float(&mut self, key: &str, v: f64) -> &mut Self {
        json::push_f64(self.key(key), v);
        self
    }

    /// A boolean.
    pub(crate) fn bool(&mut self, key: &str, v: bool) -> &mut Self {
        self.key(key)
            .extend_from_slice(if v { b"true" } else { b"false" });
        self
    }

    /// `null`.
    pub(crate) fn null(&mut self, key: &str) -> &mut Self {
        self.key(key).extend_from_slice(b"null");
        self
    }

    /// Pre-rendered JSON.
    pub(crate) fn raw(&mut self, key: &str, json: &[u8]) -> &mut Self {
        self.key(key).extend_from_slice(json);
        self
    }

    /// A nested value written by `f` into the buffer.
    pub(crate) fn with(&mut self, key: &str, f: impl FnOnce(&mut Vec<u8>)) -> &mut Self {
        f(self.key(key));
        self
    }

    /// Closes the object.
    pub(crate) fn end(&mut self) {
        self.out.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_valid_json() {
        let mut out = Vec::new();
        let mut o = Obj::new(&mut out);
        o.str("a", "x\"y")
            .int("b", -3)
            .opt_int("c", None)
            .float("d", 80.0)
            .bool("e", true)
            .with("f", |b| {
                let mut inner = Obj::new(b);
                inner.str("g", "h");
                inner.end();
            })
            .raw("i", b"[1,2]");
        o.end();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"a":"x\"y","b":-3,"c":null,"d":80.0,"e":true,"f":{"g":"h"},"i":[1,2]})
        );
    }
}
