//! Lakes on object storage: `s3://bucket/prefix` (and any S3-compatible endpoint), `gs://` and
//! `az://`. Stores are built with object_store's builders (credentials from the standard
//! environment variables, overridden by the lake's options), and registered with deltalake so
//! tables, commits (conditional puts), locks and run history all go through them.

use std::collections::HashMap;
use std::sync::{Arc, Once};

use deltalake::DeltaResult;
use deltalake::logstore::{
    LogStore, LogStoreFactory, ObjectStoreFactory, ObjectStoreRef, StorageConfig, default_logstore,
    logstore_factories, object_store_factories,
};
use object_store::ObjectStore;
use object_store::path::Path;
use url::Url;

use crate::error::{Error, Result};

/// URL schemes served by [`build_store`].
pub const CLOUD_SCHEMES: &[&str] = &["s3", "s3a", "gs", "az", "abfs", "abfss"];

/// Builds the store for `url` (at the bucket/container root) and the path of `url` inside it.
pub fn build_store(
    url: &Url,
    options: &HashMap<String, String>,
) -> Result<(Arc<dyn ObjectStore>, Path)> {
    let path = Path::from_url_path(url.path())
        .map_err(|e| Error::config(format!("bad lake path in {url}")).with_source(e))?;
    let fail = |e: object_store::Error| Error::config(format!("cannot use the lake at {url}: {e}"));
    let store: Arc<dyn ObjectStore> = match url.scheme() {
        "s3" | "s3a" => {
            let mut b = object_store::aws::AmazonS3Builder::from_env().with_url(url.to_string());
            for (k, v) in options {
                if let Ok(key) = k.to_ascii_lowercase().parse() {
                    b = b.with_config(key, v);
                }
            }
            Arc::new(b.build().map_err(fail)?)
        }
        "gs" => {
            let mut b =
                object_store::gcp::GoogleCloudStorageBuilder::from_env().with_url(url.to_string());
            for (k, v) in options {
                if let Ok(key) = k.to_ascii_lowercase().parse() {
                    b = b.with_config(key, v);
                }
            }
            Arc::new(b.build().map_err(fail)?)
        }
        "az" | "abfs" | "abfss" => {
            let mut b =
                object_store::azure::MicrosoftAzureBuilder::from_env().with_url(url.to_string());
            for (k, v) in options {
                if let Ok(key) = k.to_ascii_lowercase().parse() {
                    b = b.with_config(key, v);
                }
            }
            Arc::new(b.build().map_err(fail)?)
        }
        other => {
            return Err(Error::config(format!(
                "unsupported lake URL scheme `{other}://`"
            )));
        }
    };
    Ok((store, path))
}

struct CloudStoreFactory;

impl ObjectStoreFactory for CloudStoreFactory {
    fn parse_url_opts(
        &self,
        url: &Url,
        config: &StorageConfig,
    ) -> DeltaResult<(ObjectStoreRef, Path)> {
        build_store(url, &config.raw)
            .map_err(|e| deltalake::DeltaTableError::Generic(e.to_string()))
    }
}

struct CloudLogStoreFactory;

impl LogStoreFactory for CloudLogStoreFactory {
    fn with_options(
        &self,
        prefixed_store: ObjectStoreRef,
        root_store: ObjectStoreRef,
        location: &Url,
        options: &StorageConfig,
    ) -> DeltaResult<Arc<dyn LogStore>> {
        // Commits are conditional puts (create-if-absent), which S3, GCS and Azure support.
        Ok(default_logstore(
            prefixed_store,
            root_store,
            location,
            options,
        ))
    }
}

/// Registers the cloud schemes with deltalake (once per process).
pub fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for scheme in CLOUD_SCHEMES {
            let url = Url::parse(&format!("{scheme}://")).expect("valid scheme URL");
            object_store_factories().insert(url.clone(), Arc::new(CloudStoreFactory));
            logstore_factories().insert(url, Arc::new(CloudLogStoreFactory));
        }
    });
}
