//! The one error type of `revline-core`: a kind, a message, context and a retryable flag.

use std::fmt;

/// What went wrong, coarsely; decides exit codes and whether a retry can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Configuration is invalid (bad value, missing key, unknown connector).
    Config,
    /// Credentials were rejected (401/403) or are missing.
    Auth,
    /// The API throttled us and retries did not help.
    Throttled,
    /// The API's quota for the period is spent (or the configured reserve was reached);
    /// the run should stop gracefully and resume later.
    QuotaExhausted,
    /// The API answered with an error that is not transient.
    Api,
    /// The network failed (timeout, reset, DNS) and retries did not help.
    Network,
    /// A response body could not be parsed or did not fit the declared schema.
    Decode,
    /// Reading or writing the lake failed.
    Lake,
    /// Stream state could not be read or is not what the stream expects.
    State,
    /// The run was cancelled (signal, shutdown).
    Cancelled,
    /// Another run holds the lock of a source.
    Locked,
    /// A bug or an unexpected condition.
    Internal,
}

impl ErrorKind {
    /// Short lowercase name of the kind, as printed in logs and run history.
    pub fn as_str(&self) -> &'static str {
        match self {
            ErrorKind::Config => "config",
            ErrorKind::Auth => "auth",
            ErrorKind::Throttled => "throttled",
            ErrorKind::QuotaExhausted => "quota_exhausted",
            ErrorKind::Api => "api",
            ErrorKind::Network => "network",
            ErrorKind::Decode => "decode",
            ErrorKind::Lake => "lake",
            ErrorKind::State => "state",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Locked => "locked",
            ErrorKind::Internal => "internal",
        }
    }
}

/// An error with its kind, a human message, `key=value` context and a retryable flag.
///
/// Messages never contain secrets: credentials live in [`crate::Secret`], whose `Display`
/// redacts, and request URLs are rendered without their query strings.
pub struct Error {
    kind: ErrorKind,
    message: String,
    context: Vec<(&'static str, String)>,
    retryable: bool,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error of `kind` with `message`; not retryable.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            context: Vec::new(),
            retryable: false,
            source: None,
        }
    }

    /// Shorthand for a [`ErrorKind::Config`] error.
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, message)
    }

    /// Shorthand for an [`ErrorKind::Internal`] error.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// Shorthand for a [`ErrorKind::Lake`] error.
    pub fn lake(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Lake, message)
    }

    /// Adds a `key=value` pair of context (stream, page, field, ...). Later pairs print last.
    pub fn with_context(mut self, key: &'static str, value: impl fmt::Display) -> Self {
        let value = value.to_string();
        if let Some(slot) = self.context.iter_mut().find(|(k, _)| *k == key) {
            slot.1 = value;
        } else {
            self.context.push((key, value));
        }
        self
    }

    /// Marks the error as retryable (or not).
    pub fn with_retryable(mut self, retryable: bool) -> Self {
        self.retryable = retryable;
        self
    }

    /// Attaches the underlying cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// The error's kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message without context.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The context pairs, in insertion order.
    pub fn context(&self) -> &[(&'static str, String)] {
        &self.context
    }

    /// A context value by key.
    pub fn context_value(&self, key: &str) -> Option<&str> {
        self.context
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether retrying the same operation may succeed.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if !self.context.is_empty() {
            f.write_str(" (")?;
            for (i, (k, v)) in self.context.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{k}: {v}")?;
            }
            f.write_str(")")?;
        }
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Error({}: {})", self.kind.as_str(), self)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|s| s.as_ref() as &(dyn std::error::Error + 'static))
    }
}

impl From<arrow::error::ArrowError> for Error {
    fn from(e: arrow::error::ArrowError) -> Self {
        Error::internal("arrow error").with_source(e)
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::new(ErrorKind::Internal, "I/O error").with_source(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_includes_context_in_order() {
        let e = Error::new(ErrorKind::Decode, "value does not fit column type")
            .with_context("stream", "contacts")
            .with_context("page", 3)
            .with_context("field", "amount");
        assert_eq!(
            e.to_string(),
            "value does not fit column type (stream: contacts, page: 3, field: amount)"
        );
        assert_eq!(e.context_value("page"), Some("3"));
        assert!(!e.is_retryable());
    }

    #[test]
    fn context_key_is_replaced_not_duplicated() {
        let e = Error::config("x")
            .with_context("page", 1)
            .with_context("page", 2);
        assert_eq!(e.to_string(), "x (page: 2)");
    }
}
