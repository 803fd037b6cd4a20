//! `revline.toml`: parsing, `${ENV}` interpolation, validation with errors that name the
//! file, the line, the key and the reason.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use revline_core::decode::BadValuePolicy;
use revline_core::http::{HttpSettings, RateLimit};
use serde::Deserialize;

use crate::registry;

/// A configuration problem, located in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The config file.
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// Dotted key path (`sources.hubspot.token`), when known.
    pub key: Option<String>,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        if let Some(k) = &self.key {
            write!(f, ": `{k}`")?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl std::error::Error for ConfigError {}

/// `[lake]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LakeConfig {
    /// Lake folder (relative paths are relative to the config file), e.g. `"lake"`, or an
    /// object-store URL: `s3://bucket/prefix`, `gs://bucket/prefix`, `az://container/prefix`.
    pub path: String,
    /// S3-compatible endpoint, e.g. `http://127.0.0.1:9000` (MinIO, moto, R2).
    pub endpoint: Option<String>,
    /// Region (S3).
    pub region: Option<String>,
    /// Allow plain HTTP endpoints (local S3-compatible servers).
    pub allow_http: Option<bool>,
    /// Access key id (else the standard environment variables, e.g. `AWS_ACCESS_KEY_ID`).
    pub access_key_id: Option<revline_core::Secret>,
    /// Secret access key (else e.g. `AWS_SECRET_ACCESS_KEY`).
    pub secret_access_key: Option<revline_core::Secret>,
    /// Session token.
    pub session_token: Option<revline_core::Secret>,
    /// Any other object_store option (`google_service_account`, `azure_storage_account_name`, …).
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

impl LakeConfig {
    /// Opens the lake with its storage options.
    pub fn open(&self) -> revline_core::Result<revline_core::lake::Lake> {
        let mut o: std::collections::HashMap<String, String> = self
            .options
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let aws = self.path.starts_with("s3://") || self.path.starts_with("s3a://");
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                o.insert(k.to_string(), v);
            }
        };
        if aws {
            put("aws_endpoint", self.endpoint.clone());
            put("aws_region", self.region.clone());
            put("aws_allow_http", self.allow_http.map(|b| b.to_string()));
            put(
                "aws_access_key_id",
                self.access_key_id.as_ref().map(|s| s.expose().to_string()),
            );
            put(
                "aws_secret_access_key",
                self.secret_access_key
                    .as_ref()
                    .map(|s| s.expose().to_string()),
            );
            put(
                "aws_session_token",
                self.session_token.as_ref().map(|s| s.expose().to_string()),
            );
        } else if self.endpoint.is_some() || self.access_key_id.is_some() || self.region.is_some() {
            return Err(revline_core::Error::config(
                "[lake] endpoint, region and access keys apply to s3:// lakes; use [lake.options] for gs:// and az://",
            ));
        }
        revline_core::lake::Lake::open_with(&self.path, o)
    }
}

/// `[run]`: how extraction batches its commits.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunConfig {
    /// Commit after this many megabytes of Arrow data per stream (default 128).
    pub commit_mb: u64,
    /// Commit at least this often, in seconds, while a stream is loading (default 300).
    pub commit_interval_secs: u64,
    /// Streams loaded at the same time per source (default 4).
    pub stream_concurrency: usize,
    /// Parquet file size target in megabytes (default 128).
    pub target_file_mb: u64,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            commit_mb: 128,
            commit_interval_secs: 300,
            stream_concurrency: 4,
            target_file_mb: 128,
        }
    }
}

/// `[pipeline]`: the pipeline's name and schedule.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineConfig {
    /// Name shown in locks and run history (default `default`).
    pub name: String,
    /// Cron expression for `revline serve` (5 fields, or 6 with seconds), e.g. `"0 */6 * * *"`.
    /// Sources with their own `schedule` run on theirs instead.
    pub schedule: Option<String>,
    /// IANA time zone the schedules are read in (default `UTC`), e.g. `"Europe/Berlin"`.
    pub timezone: String,
    /// Each scheduled start is delayed by a random 0..jitter_secs seconds (default 0).
    pub jitter_secs: u64,
    /// A source lock whose heartbeat is older than this many seconds is stale (default 120).
    pub lock_stale_secs: u64,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            name: "default".to_string(),
            schedule: None,
            timezone: "UTC".to_string(),
            jitter_secs: 0,
            lock_stale_secs: 120,
        }
    }
}

/// `[models]`: the SQL models.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelsConfig {
    /// Run the models bundled with Revline (`sql/`), default true.
    pub bundled: bool,
    /// Extra folders of `.sql` models (relative to this file).
    pub paths: Vec<String>,
    /// Models built at the same time (default 2).
    pub concurrency: usize,
    /// `revline run` builds the models after loading (default true).
    pub run_after_load: bool,
}

impl Default for ModelsConfig {
    fn default() -> Self {
        ModelsConfig {
            bundled: true,
            paths: Vec::new(),
            concurrency: 2,
            run_after_load: true,
        }
    }
}

/// Which SQL engine runs the models (and `revline query`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    /// DataFusion in this process (the default).
    DataFusion,
    /// Apache Ballista: a cluster at `url`, or an in-process scheduler and executor without
    /// one. Needs revline built with `--features ballista`.
    Ballista,
}

/// `[engine]`: where the SQL runs.
///
/// ```toml
/// [engine]
/// kind = "ballista"              # default "datafusion"
/// url = "df://scheduler:50050"   # omit (or "standalone") for an in-process cluster
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// `datafusion` (in this process, default) or `ballista`.
    pub kind: EngineKind,
    /// Ballista scheduler, `df://host:port` (port defaults to 50050); none or `standalone`
    /// runs a scheduler and an executor inside this process.
    pub url: Option<String>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            kind: EngineKind::DataFusion,
            url: None,
        }
    }
}

impl EngineConfig {
    /// The scheduler to connect to, or `None` for the in-process (standalone) cluster.
    pub fn remote_url(&self) -> Option<&str> {
        self.url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty() && *u != "standalone")
    }
}

/// Parses a cron expression (5 or 6 fields).
pub fn parse_cron(expr: &str) -> Result<croner::Cron, String> {
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Optional)
        .build()
        .parse(expr)
        .map_err(|e| format!("`{expr}` is not a cron expression: {e}"))
}

/// Keys every source has, whatever its connector.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CommonSource {
    connector: String,
    base_url: Option<String>,
    start_date: Option<String>,
    streams: Option<Vec<String>>,
    rate_limit: Option<RateLimit>,
    http: Option<HttpSettings>,
    on_bad_value: Option<BadValuePolicy>,
    schedule: Option<String>,
}

const COMMON_KEYS: [&str; 8] = [
    "schedule",
    "connector",
    "base_url",
    "start_date",
    "streams",
    "rate_limit",
    "http",
    "on_bad_value",
];

/// One configured source.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    /// Source name: the table schema (`hubspot` → `hubspot.contacts`).
    pub name: String,
    /// Connector name.
    pub connector: String,
    /// API base URL override.
    pub base_url: Option<String>,
    /// Lower bound for first syncs.
    pub start_date: Option<DateTime<Utc>>,
    /// Streams to load (`None`: all).
    pub streams: Option<Vec<String>>,
    /// Rate-limit override.
    pub rate_limit: Option<RateLimit>,
    /// HTTP settings.
    pub http: HttpSettings,
    /// Bad-value policy.
    pub on_bad_value: BadValuePolicy,
    /// Connector-specific options (already `${ENV}`-interpolated).
    pub options: serde_json::Value,
    /// Own cron schedule for `revline serve` (else the pipeline's).
    pub schedule: Option<String>,
    /// Line of the `[sources.NAME]` header.
    pub line: Option<usize>,
}

/// The whole configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from.
    pub file: PathBuf,
    /// Lake settings; `path` resolved against the file's folder.
    pub lake: LakeConfig,
    /// Run settings.
    pub run: RunConfig,
    /// Pipeline name and schedule.
    pub pipeline: PipelineConfig,
    /// SQL models.
    pub models: ModelsConfig,
    /// The SQL engine.
    pub engine: EngineConfig,
    /// Sources by name.
    pub sources: BTreeMap<String, SourceConfig>,
}

struct Doc<'a> {
    file: &'a Path,
    text: &'a str,
}

impl Doc<'_> {
    fn err(&self, key: Option<&str>, reason: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.to_path_buf(),
            line: key.and_then(|k| self.line_of(k)),
            key: key.map(str::to_string),
            reason: reason.into(),
        }
    }

    /// Best-effort line of a dotted key: the `[table]` header, or `key =` inside its table.
    fn line_of(&self, dotted: &str) -> Option<usize> {
        let parts: Vec<&str> = dotted.split('.').collect();
        // A table header for the whole path?
        for (i, line) in self.text.lines().enumerate() {
            if header_of(line).as_deref() == Some(dotted) {
                return Some(i + 1);
            }
        }
        // `leaf = ...` under the closest enclosing header.
        for split in (0..parts.len()).rev() {
            let table = parts[..split].join(".");
            let rest = parts[split..].join(".");
            let mut in_table = table.is_empty();
            for (i, line) in self.text.lines().enumerate() {
                if let Some(h) = header_of(line) {
                    in_table = h == table;
                    continue;
                }
                if in_table {
                    let t = line.trim_start();
                    if let Some(k) = t.split('=').next()
                        && t.contains('=')
                        && k.trim().trim_matches('"') == rest
                    {
                        return Some(i + 1);
                    }
                }
            }
        }
        None
    }
}

fn header_of(line: &str) -> Option<String> {
    let t = line.trim();
    if t.starts_with('[') && !t.starts_with("[[") {
        let end = t.find(']')?;
        Some(
            t[1..end]
                .split('.')
                .map(|p| p.trim().trim_matches('"'))
                .collect::<Vec<_>>()
                .join("."),
        )
    } else {
        None
    }
}

/// Replaces `${VAR}` with the environment variable; `$${` is a literal `${`.
pub fn interpolate(value: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(after) = tail.strip_prefix("${") {
            let end = after
                .find('}')
                .ok_or_else(|| "unterminated `${` (write `$${` for a literal)".to_string())?;
            let name = &after[..end];
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!(
                    "`${{{name}}}` is not a valid environment variable reference"
                ));
            }
            match lookup(name) {
                Some(v) => out.push_str(&v),
                None => return Err(format!("environment variable `{name}` is not set")),
            }
            rest = &after[end + 1..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn interpolate_tree(
    value: &mut toml::Value,
    path: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    doc: &Doc<'_>,
) -> Result<(), ConfigError> {
    match value {
        toml::Value::String(s) => {
            *s = interpolate(s, lookup).map_err(|reason| doc.err(Some(path), reason))?;
        }
        toml::Value::Array(a) => {
            for v in a.iter_mut() {
                interpolate_tree(v, path, lookup, doc)?;
            }
        }
        toml::Value::Table(t) => {
            for (k, v) in t.iter_mut() {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                interpolate_tree(v, &p, lookup, doc)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// The `unknown field `x`` name in a serde message, if any.
fn unknown_field(msg: &str) -> Option<String> {
    let i = msg.find("unknown field `")? + "unknown field `".len();
    let rest = &msg[i..];
    Some(rest[..rest.find('`')?].to_string())
}

fn clean(msg: &str) -> String {
    // toml's value deserializer appends a redundant location-free suffix sometimes.
    msg.trim().trim_end_matches('\n').to_string()
}

impl Config {
    /// Reads and validates `path`, taking environment variables from the process.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_path_buf(),
            line: None,
            key: None,
            reason: format!("cannot read the config file: {e}"),
        })?;
        Self::parse(path, &text, &|k| std::env::var(k).ok())
    }

    /// Parses and validates config `text` (from `file`), resolving `${VAR}` with `lookup`.
    pub fn parse(
        file: &Path,
        text: &str,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let doc = Doc { file, text };
        let mut root: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            let line = e.span().map(|s| text[..s.start].matches('\n').count() + 1);
            ConfigError {
                file: file.to_path_buf(),
                line,
                key: None,
                reason: format!("invalid TOML: {}", e.message()),
            }
        })?;
        for key in root.keys() {
            if !["lake", "run", "pipeline", "models", "engine", "sources"].contains(&key.as_str()) {
                return Err(doc.err(
                    Some(key),
                    "unknown section (expected `lake`, `run`, `pipeline`, `models`, `engine` or `sources`)",
                ));
            }
        }
        let mut tree = toml::Value::Table(std::mem::take(&mut root));
        interpolate_tree(&mut tree, "", lookup, &doc)?;
        let toml::Value::Table(mut root) = tree else {
            unreachable!()
        };

        let lake_value = root
            .remove("lake")
            .ok_or_else(|| doc.err(None, "missing `[lake]` section with `path = \"lake\"`"))?;
        let mut lake: LakeConfig = section(&doc, "lake", lake_value)?;
        if lake.path.trim().is_empty() {
            return Err(doc.err(Some("lake.path"), "must not be empty"));
        }
        if !lake.path.contains("://") && Path::new(&lake.path).is_relative() {
            let base = file
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            lake.path = base.join(&lake.path).to_string_lossy().to_string();
        }
        let run: RunConfig = match root.remove("run") {
            Some(v) => section(&doc, "run", v)?,
            None => RunConfig::default(),
        };
        if run.stream_concurrency == 0 {
            return Err(doc.err(Some("run.stream_concurrency"), "must be at least 1"));
        }
        if run.commit_mb == 0 {
            return Err(doc.err(Some("run.commit_mb"), "must be at least 1"));
        }

        let pipeline: PipelineConfig = match root.remove("pipeline") {
            Some(v) => section(&doc, "pipeline", v)?,
            None => PipelineConfig::default(),
        };
        if pipeline.name.trim().is_empty() {
            return Err(doc.err(Some("pipeline.name"), "must not be empty"));
        }
        if let Some(expr) = &pipeline.schedule {
            parse_cron(expr).map_err(|r| doc.err(Some("pipeline.schedule"), r))?;
        }
        pipeline.timezone.parse::<chrono_tz::Tz>().map_err(|_| {
            doc.err(
                Some("pipeline.timezone"),
                format!(
                    "`{}` is not an IANA time zone (e.g. `Europe/Berlin`)",
                    pipeline.timezone
                ),
            )
        })?;
        if pipeline.lock_stale_secs < 5 {
            return Err(doc.err(Some("pipeline.lock_stale_secs"), "must be at least 5"));
        }

        let mut models: ModelsConfig = match root.remove("models") {
            Some(v) => section(&doc, "models", v)?,
            None => ModelsConfig::default(),
        };
        let base_dir = file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        for p in models.paths.iter_mut() {
            if Path::new(p.as_str()).is_relative() {
                *p = base_dir.join(p.as_str()).to_string_lossy().to_string();
            }
        }

        let engine: EngineConfig = match root.remove("engine") {
            Some(v) => section(&doc, "engine", v)?,
            None => EngineConfig::default(),
        };
        if engine.kind == EngineKind::DataFusion && engine.url.is_some() {
            return Err(doc.err(
                Some("engine.url"),
                "only a `kind = \"ballista\"` engine has a scheduler url",
            ));
        }
        if let Some(url) = engine.remote_url() {
            let parsed = url::Url::parse(url).map_err(|e| {
                doc.err(
                    Some("engine.url"),
                    format!("`{url}` is not a scheduler URL like `df://host:50050`: {e}"),
                )
            })?;
            if parsed.scheme() != "df" || parsed.host_str().is_none() {
                return Err(doc.err(
                    Some("engine.url"),
                    format!("`{url}` is not a scheduler URL like `df://host:50050`"),
                ));
            }
        }

        let mut sources = BTreeMap::new();
        let src_tables = match root.remove("sources") {
            None => toml::Table::new(),
            Some(toml::Value::Table(t)) => t,
            Some(_) => {
                return Err(doc.err(
                    Some("sources"),
                    "must be a table of `[sources.NAME]` sections",
                ));
            }
        };
        for (name, value) in src_tables {
            let key = format!("sources.{name}");
            validate_source_name(&name).map_err(|r| doc.err(Some(&key), r))?;
            let toml::Value::Table(table) = value else {
                return Err(doc.err(Some(&key), "must be a table"));
            };
            let mut common_table = toml::Table::new();
            let mut options = serde_json::Map::new();
            for (k, v) in table {
                if COMMON_KEYS.contains(&k.as_str()) {
                    common_table.insert(k, v);
                } else {
                    let json = serde_json::to_value(&v)
                        .map_err(|e| doc.err(Some(&format!("{key}.{k}")), e.to_string()))?;
                    options.insert(k, json);
                }
            }
            if !common_table.contains_key("connector") {
                return Err(doc.err(
                    Some(&key),
                    format!(
                        "missing `connector = \"...\"` (available: {})",
                        registry::names().join(", ")
                    ),
                ));
            }
            let common: CommonSource = section(&doc, &key, toml::Value::Table(common_table))?;
            let factory = registry::find(&common.connector).ok_or_else(|| {
                doc.err(
                    Some(&format!("{key}.connector")),
                    format!(
                        "unknown connector `{}` (available: {})",
                        common.connector,
                        registry::names().join(", ")
                    ),
                )
            })?;
            if let Some(other) = registry::find(&name)
                && other.name() != common.connector
            {
                return Err(doc.err(
                    Some(&key),
                    format!(
                        "source name `{name}` is the name of another connector; `{name}.<stream>` is reserved for \
                         the union of `{name}` sources"
                    ),
                ));
            }
            if let Some(streams) = &common.streams {
                let known: Vec<String> = factory.streams().into_iter().map(|s| s.name).collect();
                for s in streams {
                    if !known.contains(s) {
                        return Err(doc.err(
                            Some(&format!("{key}.streams")),
                            format!(
                                "unknown stream `{s}` for connector `{}` (available: {})",
                                common.connector,
                                known.join(", ")
                            ),
                        ));
                    }
                }
            }
            let start_date = common
                .start_date
                .as_deref()
                .map(|s| {
                    parse_start_date(s).map_err(|r| doc.err(Some(&format!("{key}.start_date")), r))
                })
                .transpose()?;
            if let Some(url) = &common.base_url {
                let parsed = url::Url::parse(url).map_err(|e| {
                    doc.err(
                        Some(&format!("{key}.base_url")),
                        format!("not a valid URL: {e}"),
                    )
                })?;
                if !["http", "https"].contains(&parsed.scheme()) {
                    return Err(doc.err(
                        Some(&format!("{key}.base_url")),
                        "must be an http:// or https:// URL",
                    ));
                }
            }
            if let Some(expr) = &common.schedule {
                parse_cron(expr).map_err(|r| doc.err(Some(&format!("{key}.schedule")), r))?;
            }
            let base = file
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            resolve_file_options(&mut options, base);
            let src = SourceConfig {
                name: name.clone(),
                connector: common.connector,
                base_url: common.base_url,
                start_date,
                streams: common.streams,
                rate_limit: common.rate_limit,
                http: common.http.unwrap_or_default(),
                on_bad_value: common.on_bad_value.unwrap_or_default(),
                options: serde_json::Value::Object(options),
                schedule: common.schedule,
                line: doc.line_of(&key),
            };
            sources.insert(name, src);
        }
        Ok(Config {
            file: file.to_path_buf(),
            lake,
            run,
            pipeline,
            models,
            engine,
            sources,
        })
    }

    /// Locates a connector option error (from building the connector) in the file.
    pub fn locate(&self, source: &str, message: &str) -> ConfigError {
        let text = std::fs::read_to_string(&self.file).unwrap_or_default();
        let doc = Doc {
            file: &self.file,
            text: &text,
        };
        let key = match unknown_field(message) {
            Some(f) => format!("sources.{source}.{f}"),
            None => format!("sources.{source}"),
        };
        let reason = message
            .strip_prefix(&format!("[sources.{source}] "))
            .unwrap_or(message)
            .to_string();
        doc.err(Some(&key), reason)
    }
}

fn section<T: serde::de::DeserializeOwned>(
    doc: &Doc<'_>,
    key: &str,
    value: toml::Value,
) -> Result<T, ConfigError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let msg = clean(&e.inner().to_string());
        let at = if path.is_empty() || path == "." {
            key.to_string()
        } else {
            format!("{key}.{path}")
        };
        match unknown_field(&msg) {
            Some(f) if !at.ends_with(&format!(".{f}")) => doc.err(Some(&format!("{at}.{f}")), msg),
            _ => doc.err(Some(&at), msg),
        }
    })
}

/// Makes relative `*_file` option paths (secret files) relative to the config's folder.
fn resolve_file_options(options: &mut serde_json::Map<String, serde_json::Value>, base: &Path) {
    for (k, v) in options.iter_mut() {
        match v {
            serde_json::Value::String(s)
                if k.ends_with("_file") && Path::new(s.as_str()).is_relative() =>
            {
                *s = base.join(s.as_str()).to_string_lossy().to_string();
            }
            serde_json::Value::Object(inner) => resolve_file_options(inner, base),
            _ => {}
        }
    }
}

fn validate_source_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        || name.starts_with(|c: char| c.is_ascii_digit())
    {
        return Err(format!(
            "source name `{name}` must be lowercase letters, digits and `_` (it becomes the table schema)"
        ));
    }
    if name == "models" || name.starts_with('_') {
        return Err(format!("source name `{name}` is reserved"));
    }
    Ok(())
}

fn parse_start_date(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight").and_utc());
    }
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|_| format!("`{s}` is not a date (YYYY-MM-DD) or an RFC 3339 timestamp"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("/etc/revline/revline.toml"), text, &|k| match k {
            "HUBSPOT_TOKEN" => Some("pat-123".into()),
            _ => None,
        })
    }

    const GOOD: &str = r#"
[lake]
path = "lake"

[sources.hubspot]
connector = "hubspot"
token = "${HUBSPOT_TOKEN}"
start_date = "2024-01-01"
streams = ["contacts", "deals"]

[sources.hubspot.rate_limit]
requests = 50
per_seconds = 10
"#;

    #[test]
    fn good_config_parses_with_interpolation() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.lake.path, "/etc/revline/lake");
        let s = &c.sources["hubspot"];
        assert_eq!(s.connector, "hubspot");
        assert_eq!(s.options, serde_json::json!({"token": "pat-123"}));
        assert_eq!(s.rate_limit, Some(RateLimit::new(50, 10.0)));
        assert_eq!(
            s.start_date.unwrap().to_rfc3339(),
            "2024-01-01T00:00:00+00:00"
        );
        assert_eq!(
            s.streams.as_deref(),
            Some(&["contacts".to_string(), "deals".to_string()][..])
        );
        assert_eq!(s.line, Some(5));
        assert_eq!(c.run.commit_mb, 128);
    }

    #[test]
    fn secret_file_paths_are_relative_to_the_config() {
        let c = parse(&GOOD.replace(
            "token = \"${HUBSPOT_TOKEN}\"",
            "token_file = \"secrets/hubspot\"",
        ))
        .unwrap();
        assert_eq!(
            c.sources["hubspot"].options,
            serde_json::json!({"token_file": "/etc/revline/secrets/hubspot"})
        );
    }

    #[test]
    fn missing_env_var_names_file_line_key_and_variable() {
        let err = parse(&GOOD.replace("HUBSPOT_TOKEN", "NOPE_TOKEN")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/etc/revline/revline.toml:7: `sources.hubspot.token`: environment variable `NOPE_TOKEN` is not set"
        );
    }

    #[test]
    fn unknown_keys_are_errors_with_lines() {
        let err = parse(&GOOD.replace("per_seconds = 10", "per_second = 10")).unwrap_err();
        assert_eq!(err.line, Some(13));
        assert_eq!(
            err.key.as_deref(),
            Some("sources.hubspot.rate_limit.per_second")
        );
        assert!(err.reason.contains("unknown field `per_second`"), "{err}");

        let err = parse("[lake]\npath = \"x\"\nfoo = 1\n").unwrap_err();
        assert_eq!(
            err.to_string().split(": ").take(2).collect::<Vec<_>>(),
            vec!["/etc/revline/revline.toml:3", "`lake.foo`"]
        );

        let err = parse("[lake]\npath = \"x\"\n[lakes]\n").unwrap_err();
        assert!(
            err.to_string().contains(":3: `lakes`: unknown section"),
            "{err}"
        );
    }

    #[test]
    fn bad_values_are_named() {
        let err = parse(&GOOD.replace("2024-01-01", "yesterday")).unwrap_err();
        assert_eq!(err.line, Some(8));
        assert!(err.reason.contains("`yesterday` is not a date"), "{err}");

        let err = parse(&GOOD.replace("connector = \"hubspot\"", "connector = \"hubspott\""))
            .unwrap_err();
        assert!(
            err.reason
                .contains("unknown connector `hubspott` (available: hubspot"),
            "{err}"
        );
        assert_eq!(err.line, Some(6));

        let err = parse(&GOOD.replace("\"deals\"]", "\"dealz\"]")).unwrap_err();
        assert!(err.reason.contains("unknown stream `dealz`"), "{err}");

        let err = parse(&GOOD.replace("requests = 50", "requests = \"fifty\"")).unwrap_err();
        assert!(err.reason.contains("invalid type"), "{err}");

        let err =
            parse("[lake]\npath = \"x\"\n[sources.Hub]\nconnector = \"hubspot\"\n").unwrap_err();
        assert!(err.reason.contains("must be lowercase"), "{err}");
        let err =
            parse("[lake]\npath = \"x\"\n[sources.models]\nconnector = \"hubspot\"\n").unwrap_err();
        assert!(err.reason.contains("reserved"), "{err}");
    }

    #[test]
    fn pipeline_schedule_and_timezone_are_validated() {
        let ok = parse(&format!("{GOOD}\n[pipeline]\nname = \"nightly\"\nschedule = \"0 */6 * * *\"\ntimezone = \"Europe/Berlin\"\n")).unwrap();
        assert_eq!(ok.pipeline.name, "nightly");
        assert_eq!(ok.pipeline.schedule.as_deref(), Some("0 */6 * * *"));
        let err = parse(&format!("{GOOD}\n[pipeline]\nschedule = \"every hour\"\n")).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("pipeline.schedule"));
        assert!(
            err.reason.contains("`every hour` is not a cron expression"),
            "{err}"
        );
        let err = parse(&format!(
            "{GOOD}\n[pipeline]\ntimezone = \"Mars/Olympus\"\n"
        ))
        .unwrap_err();
        assert!(err.reason.contains("not an IANA time zone"), "{err}");
        let err = parse(&GOOD.replace("streams = [", "schedule = \"61 * * * *\"\nstreams = ["))
            .unwrap_err();
        assert_eq!(err.key.as_deref(), Some("sources.hubspot.schedule"));
    }

    #[test]
    fn invalid_toml_reports_its_line() {
        let err = parse("[lake]\npath = \"x\n").unwrap_err();
        assert_eq!(err.line, Some(2));
        assert!(err.reason.starts_with("invalid TOML"), "{err}");
    }

    #[test]
    fn interpolation_rules() {
        let env = |k: &str| (k == "A").then(|| "1".to_string());
        assert_eq!(interpolate("x${A}y", &env).unwrap(), "x1y");
        assert_eq!(interpolate("$${A} $5", &env).unwrap(), "${A} $5");
        assert!(
            interpolate("${A", &env)
                .unwrap_err()
                .contains("unterminated")
        );
        assert!(
            interpolate("${B}", &env)
                .unwrap_err()
                .contains("`B` is not set")
        );
        assert!(
            interpolate("${A-B}", &env)
                .unwrap_err()
                .contains("not a valid")
        );
    }

    #[test]
    fn engine_section_defaults_to_datafusion_and_checks_the_scheduler_url() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.engine.kind, EngineKind::DataFusion);
        let with = |engine: &str| parse(&format!("{GOOD}\n[engine]\n{engine}\n"));
        let c = with("kind = \"ballista\"").unwrap();
        assert_eq!(
            (c.engine.kind, c.engine.remote_url()),
            (EngineKind::Ballista, None)
        );
        let c = with("kind = \"ballista\"\nurl = \"standalone\"").unwrap();
        assert_eq!(c.engine.remote_url(), None);
        let c = with("kind = \"ballista\"\nurl = \"df://scheduler:50050\"").unwrap();
        assert_eq!(c.engine.remote_url(), Some("df://scheduler:50050"));

        let e = with("kind = \"ballista\"\nurl = \"http://scheduler:50050\"").unwrap_err();
        let text = e.to_string();
        assert!(text.contains("`engine.url`"), "{text}");
        assert!(
            text.contains("not a scheduler URL like `df://host:50050`"),
            "{text}"
        );
        let e = with("url = \"df://scheduler:50050\"").unwrap_err();
        assert!(
            e.to_string()
                .contains("only a `kind = \"ballista\"` engine has a scheduler url"),
            "{e}"
        );
        let e = with("kind = \"spark\"").unwrap_err();
        assert!(e.to_string().contains("engine"), "{e}");
    }
}
