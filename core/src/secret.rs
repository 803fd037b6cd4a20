//! A string that never prints: tokens, API keys and passwords.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Deserializer};

use crate::error::{Error, Result};

/// A secret value (token, API key, password). `Debug` and `Display` print `***`,
/// it is not `Serialize`, and the only way to the plain text is [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a plain value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// Reads a secret from a file, trimming surrounding whitespace (a trailing newline).
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::config(format!("cannot read secret file {}", path.display())).with_source(e)
        })?;
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(Error::config(format!(
                "secret file {} is empty",
                path.display()
            )));
        }
        Ok(Secret(trimmed.to_string()))
    }

    /// The plain text, for building an `Authorization` header. Never log the result.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A short, stable, non-reversible fingerprint used to key shared rate limiters
    /// (two sources with the same credential share one quota).
    pub fn fingerprint(&self) -> String {
        // FNV-1a, 64 bit: enough to tell credentials apart; not a security hash,
        // and only 16 hex digits of it ever leave this process.
        let mut hash: u64 = 0xcbf29ce484222325;
        for b in self.0.as_bytes() {
            hash ^= *b as u64;
            hash = hash.wrapping_mul(0x100000001b3);
        }
        format!("{hash:016x}")
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_plain_text() {
        let s = Secret::new("pat-na1-very-secret");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert!(!s.fingerprint().contains("secret"));
        assert_eq!(s.expose(), "pat-na1-very-secret");
    }

    #[test]
    fn from_file_trims_and_rejects_empty() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("token");
        std::fs::write(&p, "abc\n").unwrap();
        assert_eq!(Secret::from_file(&p).unwrap().expose(), "abc");
        std::fs::write(&p, "\n").unwrap();
        let err = Secret::from_file(&p).unwrap_err();
        assert!(err.to_string().contains("is empty"), "{err}");
    }
}
