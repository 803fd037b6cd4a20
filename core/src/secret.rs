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

    /// The secret of a config key that may be given inline (`name`) or as a file
    /// (`name_file`): `None` when neither is set; an error naming the key when both are, when
    /// the inline value is empty, or when the file cannot be read.
    pub fn from_value_or_file(
        value: &Option<Secret>,
        file: &Option<std::path::PathBuf>,
        name: &str,
    ) -> Result<Option<Secret>> {
        match (value, file) {
            (Some(_), Some(_)) => Err(Error::config(format!(
                "set `{name}` or `{name}_file`, not both"
            ))),
            (Some(s), None) if s.is_empty() => Err(Error::config(format!("`{name}` is empty"))),
            (Some(s), None) => Ok(Some(s.clone())),
            (None, Some(p)) => Secret::from_file(p).map(Some),
            (None, None) => Ok(None),
        }
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

    #[test]
    fn value_or_file_names_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("token");
        std::fs::write(&p, "from-file\n").unwrap();
        let inline = Some(Secret::new("inline"));
        let file = Some(p.clone());
        let read = |v: &Option<Secret>, f: &Option<std::path::PathBuf>| {
            Secret::from_value_or_file(v, f, "api_key").map(|s| s.map(|s| s.expose().to_string()))
        };
        assert_eq!(read(&inline, &None).unwrap().as_deref(), Some("inline"));
        assert_eq!(read(&None, &file).unwrap().as_deref(), Some("from-file"));
        assert_eq!(read(&None, &None).unwrap(), None);
        assert_eq!(
            read(&inline, &file).unwrap_err().message(),
            "set `api_key` or `api_key_file`, not both"
        );
        assert_eq!(
            read(&Some(Secret::new("")), &None).unwrap_err().message(),
            "`api_key` is empty"
        );
        let missing = Some(dir.path().join("absent"));
        let err = read(&None, &missing).unwrap_err();
        assert!(err.to_string().contains("cannot read secret file"), "{err}");
    }
}
