//! Data tests: column tests declared beside a model (`<model>.tests.toml`) and singular tests
//! (`sql/tests/*.sql`, rows returned are failures). A failing test names the model, the test
//! and up to 5 failing rows.

use std::collections::{BTreeMap, BTreeSet};

use datafusion::prelude::SessionContext;
use revline_core::{Error, Result};
use serde::{Deserialize, Serialize};

use super::ModelSet;

/// One column test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnTest {
    /// Model.
    pub model: String,
    /// Column.
    pub column: String,
    /// What is tested.
    pub kind: TestKind,
}

/// The column test kinds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestKind {
    /// No two rows share a (non-null) value.
    Unique,
    /// No null values.
    NotNull,
    /// Every non-null value is in the list.
    AcceptedValues(Vec<String>),
    /// Every non-null value exists in `model.column`.
    Relationship {
        /// Parent model.
        model: String,
        /// Parent column.
        column: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ColumnSpec {
    #[serde(default)]
    unique: bool,
    #[serde(default)]
    not_null: bool,
    accepted_values: Option<Vec<String>>,
    relationships: Option<RelSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RelSpec {
    model: String,
    column: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestsFile {
    columns: BTreeMap<String, ColumnSpec>,
}

/// Parses `<model>.tests.toml`:
/// ```toml
/// [columns.account_key]
/// unique = true
/// not_null = true
/// [columns.lifecycle]
/// accepted_values = ["prospect", "customer", "churned"]
/// [columns.account_key_ref]
/// relationships = { model = "unified_accounts", column = "account_key" }
/// ```
pub fn parse_column_tests(
    path: &str,
    model: &str,
    text: &str,
    models: &BTreeSet<String>,
) -> Result<Vec<ColumnTest>> {
    let file: TestsFile =
        toml::from_str(text).map_err(|e| Error::config(format!("{path}: {}", e.message())))?;
    let mut out = Vec::new();
    for (column, spec) in file.columns {
        let t = |kind| ColumnTest {
            model: model.to_string(),
            column: column.clone(),
            kind,
        };
        if spec.unique {
            out.push(t(TestKind::Unique));
        }
        if spec.not_null {
            out.push(t(TestKind::NotNull));
        }
        if let Some(v) = spec.accepted_values {
            out.push(t(TestKind::AcceptedValues(v)));
        }
        if let Some(r) = spec.relationships {
            if !models.contains(&r.model) {
                return Err(Error::config(format!(
                    "{path}: column `{column}` relates to `{}`, which is not a model",
                    r.model
                )));
            }
            out.push(t(TestKind::Relationship {
                model: r.model,
                column: r.column,
            }));
        }
    }
    Ok(out)
}

fn q(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

impl ColumnTest {
    /// Short name, e.g. `unique(account_key)`.
    pub fn label(&self) -> String {
        match &self.kind {
            TestKind::Unique => format!("unique({})", self.column),
            TestKind::NotNull => format!("not_null({})", self.column),
            TestKind::AcceptedValues(_) => format!("accepted_values({})", self.column),
            TestKind::Relationship { model, column } => {
                format!("relationships({} -> {model}.{column})", self.column)
            }
        }
    }

    /// The query whose rows are failures.
    pub fn sql(&self) -> String {
        let (m, c) = (q(&self.model), q(&self.column));
        match &self.kind {
            TestKind::Unique => format!(
                "SELECT {c}, COUNT(*) AS occurrences FROM {m} WHERE {c} IS NOT NULL GROUP BY {c} HAVING COUNT(*) > 1"
            ),
            TestKind::NotNull => format!("SELECT * FROM {m} WHERE {c} IS NULL"),
            TestKind::AcceptedValues(v) => format!(
                "SELECT {c}, COUNT(*) AS occurrences FROM {m} WHERE {c} IS NOT NULL AND {c} NOT IN ({}) GROUP BY {c}",
                v.iter().map(|x| lit(x)).collect::<Vec<_>>().join(", ")
            ),
            TestKind::Relationship { model, column } => format!(
                "SELECT child.{c} FROM {m} child LEFT JOIN {p} parent ON child.{c} = parent.{pc} \
                 WHERE child.{c} IS NOT NULL AND parent.{pc} IS NULL",
                p = q(model),
                pc = q(column)
            ),
        }
    }
}

/// One test's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct TestResult {
    /// Model (or `-` for singular tests).
    pub model: String,
    /// Test label or singular test name.
    pub test: String,
    /// Failing rows.
    pub failures: u64,
    /// Up to 5 failing rows, rendered.
    pub examples: Vec<String>,
    /// Set when the test query itself failed.
    pub error: Option<String>,
}

impl TestResult {
    /// Whether the test passed.
    pub fn passed(&self) -> bool {
        self.failures == 0 && self.error.is_none()
    }
}

async fn run_one(ctx: &SessionContext, model: &str, test: &str, sql: &str) -> TestResult {
    let mut r = TestResult {
        model: model.to_string(),
        test: test.to_string(),
        failures: 0,
        examples: Vec::new(),
        error: None,
    };
    let batches = match ctx.sql(sql).await {
        Ok(df) => df.collect().await,
        Err(e) => Err(e),
    };
    match batches {
        Err(e) => r.error = Some(e.to_string()),
        Ok(batches) => {
            for b in &batches {
                for row in 0..b.num_rows() {
                    r.failures += 1;
                    if r.examples.len() < 5 {
                        let cells: Vec<String> = b
                            .schema()
                            .fields()
                            .iter()
                            .zip(b.columns())
                            .map(|(f, c)| {
                                let v = if c.is_null(row) {
                                    "null".to_string()
                                } else {
                                    arrow::util::display::array_value_to_string(c, row)
                                        .unwrap_or_default()
                                };
                                format!("{}={v}", f.name())
                            })
                            .collect();
                        r.examples.push(cells.join(", "));
                    }
                }
            }
        }
    }
    r
}

/// Runs every column test of the built models and every singular test.
pub async fn run_tests(ctx: &SessionContext, set: &ModelSet) -> Vec<TestResult> {
    let mut out = Vec::new();
    for m in set.models.values() {
        for t in &m.tests {
            out.push(run_one(ctx, &m.name, &t.label(), &t.sql()).await);
        }
    }
    for s in &set.singular {
        out.push(run_one(ctx, "-", &s.name, &s.sql).await);
    }
    out
}

/// A report line per failing test.
pub fn describe_failure(r: &TestResult) -> String {
    match &r.error {
        Some(e) => format!("FAIL {} {}: the test query failed: {e}", r.model, r.test),
        None => format!(
            "FAIL {} {}: {} failing row(s)\n    {}",
            r.model,
            r.test,
            r.failures,
            r.examples.join("\n    ")
        ),
    }
}
