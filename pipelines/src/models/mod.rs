//! SQL models: `.sql` files (one read-only `SELECT` each) under `sql/` (bundled into the
//! binary) and under folders named in config. A model's name is its file stem; its
//! dependencies are the tables its query references (resolved with DataFusion's parser); the
//! runner orders models as a DAG, runs independent ones concurrently and writes each to the
//! Delta table `<lake>/models/<name>`, queryable as `<name>`.

pub mod catalog;
pub mod testing;
pub mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use datafusion::common::TableReference;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::{DFParser, Statement as DfStatement};
use datafusion::sql::sqlparser::ast::Statement as SqlStatement;
use futures::StreamExt;
use revline_core::lake::{Lake, TableWriter, WriteMode, WriterSettings};
use revline_core::{Error, ErrorKind, Result};
use serde::Serialize;

use crate::config::Config;

mod bundled {
    include!(concat!(env!("OUT_DIR"), "/bundled_models.rs"));
}

/// Table schema under which models are stored (`<lake>/models/<name>`).
pub const MODELS_SCHEMA: &str = "models";

/// One model.
#[derive(Debug, Clone)]
pub struct Model {
    /// Name (file stem).
    pub name: String,
    /// Where it came from (`sql/marts/x.sql` or a user path), for messages.
    pub file: String,
    /// Layer folder: `staging`, `intermediate`, `marts` (or the user folder's subfolder).
    pub layer: String,
    /// The SELECT.
    pub sql: String,
    /// Models it reads.
    pub deps: BTreeSet<String>,
    /// Raw tables it reads (`schema.table`).
    pub raw: BTreeSet<String>,
    /// Column tests declared beside it.
    pub tests: Vec<tests::ColumnTest>,
}

/// A singular data test: a query whose rows are failures.
#[derive(Debug, Clone)]
pub struct SingularTest {
    /// Name (file stem).
    pub name: String,
    /// File, for messages.
    pub file: String,
    /// The query.
    pub sql: String,
}

/// A seed: a small CSV table bundled with the models (`seeds/<name>.csv`), e.g. channel maps.
/// The header names columns as `name:type` (`text`, `int`, `double`, `bool`, `date`; plain
/// `name` is text).
#[derive(Debug, Clone)]
pub struct Seed {
    /// Table name (file stem).
    pub name: String,
    /// File, for messages.
    pub file: String,
    /// CSV text.
    pub csv: String,
}

/// Every model and test, validated and ordered.
#[derive(Debug, Clone, Default)]
pub struct ModelSet {
    /// Models by name.
    pub models: BTreeMap<String, Model>,
    /// Seeds by name.
    pub seeds: BTreeMap<String, Seed>,
    /// Names in dependency order.
    pub order: Vec<String>,
    /// Singular tests.
    pub singular: Vec<SingularTest>,
}

/// A model file to load: display path and contents.
pub type SourceFile = (String, String);

/// The bundled model files.
pub fn bundled_files() -> Vec<SourceFile> {
    bundled::BUNDLED
        .iter()
        .map(|(p, c)| (format!("sql/{p}"), c.to_string()))
        .collect()
}

/// Reads `.sql` and `.tests.toml` files under `dir` (recursively).
pub fn read_dir_files(dir: &Path) -> Result<Vec<SourceFile>> {
    fn walk(dir: &Path, out: &mut Vec<SourceFile>) -> std::io::Result<()> {
        let mut entries: Vec<_> = std::fs::read_dir(dir)?
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out)?;
            } else if let Some(n) = p.file_name().and_then(|n| n.to_str())
                && (n.ends_with(".sql") || n.ends_with(".tests.toml") || n.ends_with(".csv"))
            {
                out.push((p.display().to_string(), std::fs::read_to_string(&p)?));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, &mut out).map_err(|e| {
        Error::config(format!(
            "cannot read the models folder {}: {e}",
            dir.display()
        ))
    })?;
    Ok(out)
}

/// What a model may reference besides other models: `schema.table` names that exist.
#[derive(Debug, Clone, Default)]
pub struct KnownTables {
    /// `schema.table` names.
    pub names: BTreeSet<String>,
}

/// The statement kind of a non-SELECT, for the refusal message (`INSERT`, `CREATE TABLE`, …).
fn statement_kind(s: &DfStatement) -> String {
    match s {
        DfStatement::CreateExternalTable(_) => "CREATE EXTERNAL TABLE".into(),
        DfStatement::CopyTo(_) => "COPY".into(),
        DfStatement::Explain(_) => "EXPLAIN".into(),
        DfStatement::Reset(_) => "RESET".into(),
        DfStatement::Statement(st) => {
            let text = st.to_string();
            let words: Vec<&str> = text.split_whitespace().take(2).collect();
            let two = words.join(" ").to_uppercase();
            if ["CREATE", "DROP", "ALTER", "INSERT", "DELETE", "MERGE"]
                .contains(&words[0].to_uppercase().as_str())
            {
                two
            } else {
                words[0].to_uppercase()
            }
        }
    }
}

/// Parses one model file's SQL: exactly one read-only query. Returns its table references.
pub fn parse_model_sql(file: &str, sql: &str) -> Result<Vec<TableReference>> {
    let mut statements = DFParser::parse_sql(sql)
        .map_err(|e| Error::config(format!("{file}: SQL does not parse: {e}")))?;
    if statements.len() != 1 {
        return Err(Error::config(format!(
            "{file}: a model is exactly one SELECT statement, found {}",
            statements.len()
        )));
    }
    let statement = statements.pop_front().expect("one statement");
    let is_query = matches!(&statement, DfStatement::Statement(s) if matches!(s.as_ref(), SqlStatement::Query(_)));
    if !is_query {
        return Err(Error::config(format!(
            "{file}: `{}` is not allowed in a model; a model is one read-only SELECT",
            statement_kind(&statement)
        )));
    }
    let (refs, _) = datafusion::sql::resolve::resolve_table_references(&statement, true)
        .map_err(|e| Error::config(format!("{file}: {e}")))?;
    Ok(refs)
}

impl ModelSet {
    /// Loads the bundled models (unless disabled) and the config's model folders.
    pub fn load(config: &Config, known: &KnownTables) -> Result<ModelSet> {
        let mut files = Vec::new();
        if config.models.bundled {
            files.extend(bundled_files());
        }
        for dir in &config.models.paths {
            files.extend(read_dir_files(Path::new(dir))?);
        }
        Self::from_files(files, known)
    }

    /// Builds a model set from files, validating references and ordering the DAG.
    pub fn from_files(files: Vec<SourceFile>, known: &KnownTables) -> Result<ModelSet> {
        let mut models: BTreeMap<String, Model> = BTreeMap::new();
        let mut seeds: BTreeMap<String, Seed> = BTreeMap::new();
        let mut test_files: Vec<SourceFile> = Vec::new();
        let mut singular = Vec::new();
        for (path, content) in files {
            if path.ends_with(".tests.toml") {
                test_files.push((path, content));
                continue;
            }
            if path.ends_with(".csv") {
                let name = Path::new(&path)
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or_default()
                    .to_string();
                if let Some(other) = seeds.get(&name) {
                    return Err(Error::config(format!(
                        "seed `{name}` is defined twice: {} and {path}",
                        other.file
                    )));
                }
                seeds.insert(
                    name.clone(),
                    Seed {
                        name,
                        file: path,
                        csv: content,
                    },
                );
                continue;
            }
            let p = Path::new(&path);
            let name = p
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_string();
            let layer = p
                .parent()
                .and_then(|d| d.file_name())
                .and_then(|d| d.to_str())
                .unwrap_or_default()
                .to_string();
            if layer == "tests" {
                parse_model_sql(&path, &content)?;
                singular.push(SingularTest {
                    name,
                    file: path,
                    sql: content,
                });
                continue;
            }
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                return Err(Error::config(format!(
                    "{path}: model names (file stems) use lowercase letters, digits and `_`"
                )));
            }
            if let Some(other) = models.get(&name) {
                return Err(Error::config(format!(
                    "model `{name}` is defined twice: {} and {path}",
                    other.file
                )));
            }
            let refs = parse_model_sql(&path, &content)?;
            models.insert(
                name.clone(),
                Model {
                    name,
                    file: path,
                    layer,
                    sql: content,
                    deps: BTreeSet::new(),
                    raw: refs.iter().map(|r| r.to_string()).collect(),
                    tests: Vec::new(),
                },
            );
        }
        // Resolve references: bare names are models (or seeds), qualified names raw tables.
        let names: BTreeSet<String> = models.keys().cloned().collect();
        for name in seeds.keys() {
            if let Some(m) = models.get(name) {
                return Err(Error::config(format!(
                    "`{name}` is both a model ({}) and a seed",
                    m.file
                )));
            }
        }
        for m in models.values_mut() {
            let mut raw = BTreeSet::new();
            for r in std::mem::take(&mut m.raw) {
                let is_bare = !r.contains('.');
                let model_ref = r.strip_prefix(&format!("{MODELS_SCHEMA}.")).unwrap_or(&r);
                if (is_bare || r.starts_with(&format!("{MODELS_SCHEMA}.")))
                    && names.contains(model_ref)
                {
                    m.deps.insert(model_ref.to_string());
                } else if (is_bare && seeds.contains_key(&r))
                    || (!is_bare && known.names.contains(&r))
                {
                    raw.insert(r);
                } else {
                    return Err(Error::config(format!(
                        "{}: model `{}` reads `{r}`, which is neither a model nor a known table \
                         (raw tables are `<connector>.<stream>` or `<source>.<stream>`)",
                        m.file, m.name
                    )));
                }
            }
            m.raw = raw;
        }
        for (path, content) in test_files {
            let stem = Path::new(&path)
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".tests.toml"))
                .unwrap_or_default()
                .to_string();
            let Some(m) = models.get_mut(&stem) else {
                return Err(Error::config(format!(
                    "{path}: declares tests for `{stem}`, which is not a model"
                )));
            };
            m.tests = tests::parse_column_tests(&path, &stem, &content, &names)?;
        }
        let order = topo_order(&models)?;
        for seed in seeds.values() {
            catalog::seed_table(seed)?;
        }
        Ok(ModelSet {
            models,
            seeds,
            order,
            singular,
        })
    }

    /// `name` and, with a trailing `+`, every model downstream of it.
    pub fn select(&self, selectors: &[String]) -> Result<BTreeSet<String>> {
        let mut out = BTreeSet::new();
        for s in selectors {
            let (name, descendants) = match s.strip_suffix('+') {
                Some(n) => (n, true),
                None => (s.as_str(), false),
            };
            if !self.models.contains_key(name) {
                return Err(Error::config(format!(
                    "--select {s}: no model named `{name}` (models: {})",
                    self.models.keys().cloned().collect::<Vec<_>>().join(", ")
                )));
            }
            out.insert(name.to_string());
            if descendants {
                let mut frontier = vec![name.to_string()];
                while let Some(n) = frontier.pop() {
                    for m in self.models.values() {
                        if m.deps.contains(&n) && out.insert(m.name.clone()) {
                            frontier.push(m.name.clone());
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}

/// Kahn's algorithm; a cycle is reported with the files on it.
fn topo_order(models: &BTreeMap<String, Model>) -> Result<Vec<String>> {
    let mut indegree: BTreeMap<&str, usize> = models.keys().map(|k| (k.as_str(), 0)).collect();
    for m in models.values() {
        *indegree.get_mut(m.name.as_str()).expect("present") = m.deps.len();
    }
    let mut ready: Vec<&str> = indegree
        .iter()
        .filter(|(_, d)| **d == 0)
        .map(|(k, _)| *k)
        .collect();
    let mut order = Vec::new();
    while let Some(n) = ready.pop() {
        order.push(n.to_string());
        for m in models.values() {
            if m.deps.contains(n) {
                let d = indegree.get_mut(m.name.as_str()).expect("present");
                *d -= 1;
                if *d == 0 {
                    ready.push(m.name.as_str());
                }
            }
        }
        ready.sort_by(|a, b| b.cmp(a));
    }
    if order.len() != models.len() {
        // Walk from any unresolved model along unresolved deps until a name repeats.
        let stuck: BTreeSet<&str> = indegree
            .iter()
            .filter(|(_, d)| **d > 0)
            .map(|(k, _)| *k)
            .collect();
        let mut path: Vec<&str> = vec![*stuck.iter().next().expect("a stuck model")];
        loop {
            let cur = *path.last().expect("non-empty");
            let next = models[cur]
                .deps
                .iter()
                .map(String::as_str)
                .find(|d| stuck.contains(d))
                .expect("a stuck model depends on a stuck model");
            if let Some(pos) = path.iter().position(|p| *p == next) {
                let cycle: Vec<String> = path[pos..]
                    .iter()
                    .chain(std::iter::once(&next))
                    .map(|n| format!("{n} ({})", models[*n].file))
                    .collect();
                return Err(Error::config(format!(
                    "models form a cycle: {}",
                    cycle.join(" -> ")
                )));
            }
            path.push(next);
        }
    }
    Ok(order)
}

/// The outcome of one model.
#[derive(Debug, Clone, Serialize)]
pub struct ModelReport {
    /// Model name.
    pub name: String,
    /// `succeeded`, `failed`, `skipped`.
    pub status: String,
    /// Rows written.
    pub rows: u64,
    /// Wall time.
    pub seconds: f64,
    /// Error (or why it was skipped).
    pub error: Option<String>,
}

/// Runs the selected models (all if `select` is empty) in dependency order, up to
/// `concurrency` at once, each written to `<lake>/models/<name>` in one commit.
pub async fn run_models(
    config: &Config,
    select: &[String],
    run_id: &str,
) -> Result<Vec<ModelReport>> {
    let lake = config.lake.open()?;
    let ctx = Arc::new(catalog::session(config, &lake).await?);
    let known = catalog::known_tables(config);
    let set = ModelSet::load(config, &known)?;
    catalog::register_seeds(&ctx, &set)?;
    let chosen: BTreeSet<String> = if select.is_empty() {
        set.models.keys().cloned().collect()
    } else {
        set.select(select)?
    };
    // Parents outside the selection must already exist in the lake.
    for name in &chosen {
        for dep in &set.models[name].deps {
            if !chosen.contains(dep)
                && lake
                    .load(&format!("{MODELS_SCHEMA}/{dep}"))
                    .await?
                    .is_none()
            {
                return Err(Error::config(format!(
                    "model `{name}` reads `{dep}`, which is not selected and has not been built yet; select `{dep}+`"
                )));
            }
        }
    }
    let mut lock = lake
        .lock_source(
            "_models",
            run_id,
            &config.pipeline.name,
            std::time::Duration::from_secs(config.pipeline.lock_stale_secs),
        )
        .await?;
    let result = execute(
        &set,
        &chosen,
        ctx,
        &lake,
        config.models.concurrency.max(1),
        run_id,
    )
    .await;
    lock.release().await?;
    result
}

async fn execute(
    set: &ModelSet,
    chosen: &BTreeSet<String>,
    ctx: Arc<SessionContext>,
    lake: &Lake,
    concurrency: usize,
    run_id: &str,
) -> Result<Vec<ModelReport>> {
    let mut remaining: BTreeMap<String, BTreeSet<String>> = set
        .order
        .iter()
        .filter(|n| chosen.contains(*n))
        .map(|n| {
            let deps = set.models[n]
                .deps
                .iter()
                .filter(|d| chosen.contains(*d))
                .cloned()
                .collect();
            (n.clone(), deps)
        })
        .collect();
    let mut reports: Vec<ModelReport> = Vec::new();
    let mut failed: BTreeSet<String> = BTreeSet::new();
    let mut running = tokio::task::JoinSet::new();
    loop {
        // Skip models whose parents failed; start those whose parents are all done.
        let skipped: Vec<String> = remaining
            .iter()
            .filter(|(_, deps)| deps.iter().any(|d| failed.contains(d)))
            .map(|(n, _)| n.clone())
            .collect();
        for n in skipped {
            let parent = remaining[&n]
                .iter()
                .find(|d| failed.contains(*d))
                .cloned()
                .unwrap_or_default();
            remaining.remove(&n);
            failed.insert(n.clone());
            reports.push(ModelReport {
                name: n,
                status: "skipped".into(),
                rows: 0,
                seconds: 0.0,
                error: Some(format!("parent `{parent}` failed")),
            });
        }
        let ready: Vec<String> = remaining
            .iter()
            .filter(|(_, deps)| deps.is_empty())
            .map(|(n, _)| n.clone())
            .collect();
        for n in ready {
            if running.len() >= concurrency {
                break;
            }
            remaining.remove(&n);
            let model = set.models[&n].clone();
            let ctx = ctx.clone();
            let lake = lake.clone();
            let run_id = run_id.to_string();
            running.spawn(async move {
                let started = Instant::now();
                let r = build_model(&model, &ctx, &lake, &run_id).await;
                (model.name.clone(), r, started.elapsed().as_secs_f64())
            });
        }
        let Some(done) = running.join_next().await else {
            break;
        };
        let (name, result, seconds) =
            done.map_err(|e| Error::internal(format!("a model task crashed: {e}")))?;
        match result {
            Ok(rows) => {
                tracing::info!(model = %name, rows, seconds, "model built");
                for deps in remaining.values_mut() {
                    deps.remove(&name);
                }
                reports.push(ModelReport {
                    name,
                    status: "succeeded".into(),
                    rows,
                    seconds,
                    error: None,
                });
            }
            Err(e) => {
                tracing::error!(model = %name, error = %e, "model failed");
                failed.insert(name.clone());
                reports.push(ModelReport {
                    name,
                    status: "failed".into(),
                    rows: 0,
                    seconds,
                    error: Some(e.to_string()),
                });
            }
        }
    }
    Ok(reports)
}

/// Runs one model's query and writes its result as the Delta table `models/<name>`, then
/// registers it under its bare name for the models that read it.
async fn build_model(
    model: &Model,
    ctx: &SessionContext,
    lake: &Lake,
    run_id: &str,
) -> Result<u64> {
    let sql_err = |e: datafusion::error::DataFusionError| {
        Error::new(
            ErrorKind::Config,
            format!("{}: model `{}` failed: {e}", model.file, model.name),
        )
    };
    let df = ctx.sql(&model.sql).await.map_err(sql_err)?;
    let schema = Arc::new(df.schema().as_arrow().clone());
    let mut stream = df.execute_stream().await.map_err(sql_err)?;
    let mut w = TableWriter::open(
        lake,
        MODELS_SCHEMA,
        &model.name,
        schema,
        WriteMode::Rebuild,
        run_id,
        WriterSettings::default(),
    )
    .await?;
    let mut rows = 0u64;
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(sql_err)?;
        rows += batch.num_rows() as u64;
        w.write(batch).await?;
    }
    w.commit(&serde_json::json!({ "model": model.name, "file": model.file }))
        .await?;
    let table = lake
        .load(&format!("{MODELS_SCHEMA}/{}", model.name))
        .await?
        .ok_or_else(|| Error::internal("model table vanished"))?;
    catalog::register_model(ctx, &model.name, &table).await?;
    Ok(rows)
}

/// Runs the data tests against the built models.
pub async fn run_data_tests(config: &Config) -> Result<Vec<tests::TestResult>> {
    let lake = config.lake.open()?;
    let ctx = catalog::session(config, &lake).await?;
    let set = ModelSet::load(config, &catalog::known_tables(config))?;
    catalog::register_seeds(&ctx, &set)?;
    for name in set.models.keys() {
        if lake
            .load(&format!("{MODELS_SCHEMA}/{name}"))
            .await?
            .is_none()
        {
            return Err(Error::config(format!(
                "model `{name}` has not been built yet; run `revline models` first"
            )));
        }
    }
    Ok(tests::run_tests(&ctx, &set).await)
}

#[cfg(test)]
mod unit_tests;
