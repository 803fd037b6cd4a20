//! # revline-core
//!
//! The crate a Revline connector depends on: the [`Connector`] and [`Stream`] traits,
//! declared schemas, the JSON-to-Arrow [`decode::RecordDecoder`], the one [`http::HttpClient`]
//! (rate limits, retries, auth), reusable [`paginate`] strategies, a declarative
//! [`rest::RestStream`], and — with the `lake` feature — the Delta Lake writer that commits
//! data and stream state together.
//!
//! See `connectors/README.md` for how to write a connector.

pub mod cursor;
pub mod decode;
pub mod error;
pub mod fetch;
pub mod http;
pub mod paginate;
pub mod partition;
pub mod report;
pub mod rest;
pub mod schema;
pub mod secret;
pub mod state;
pub mod stream;
pub mod task;

#[cfg(feature = "lake")]
pub mod lake;

pub use error::{Error, ErrorKind, Result};
pub use schema::{Column, ColumnType, StreamSchema};
pub use secret::Secret;
pub use stream::{
    Connector, ConnectorFactory, Page, PageStream, ReadRequest, SourceContext, Stream,
    StreamDescriptor, SyncMode,
};

/// Re-exported so connectors use the workspace's one Arrow version.
pub use arrow;
