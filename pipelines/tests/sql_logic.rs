//! SQL behaviour of the models: every `sql/tests/logic/*.slt` file runs in its own session
//! (see `revline::models::testing`) with small fixtures and exact expected outputs.

use std::path::PathBuf;

use async_trait::async_trait;
use revline::models::testing::TestSession;
use sqllogictest::{AsyncDB, DBOutput, DefaultColumnType};

struct Db(TestSession);

#[derive(Debug)]
struct DbError(String);

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for DbError {}

#[async_trait]
impl AsyncDB for Db {
    type Error = DbError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, DbError> {
        let rows = self.0.run(sql).await.map_err(|e| DbError(e.to_string()))?;
        if rows.is_empty()
            && !sql.trim_start().to_uppercase().starts_with("SELECT")
            && !sql.trim_start().to_uppercase().starts_with("WITH")
        {
            return Ok(DBOutput::StatementComplete(0));
        }
        let width = rows.first().map(|r| r.len()).unwrap_or(0);
        Ok(DBOutput::Rows {
            types: vec![DefaultColumnType::Any; width],
            rows,
        })
    }

    async fn shutdown(&mut self) {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_logic_files() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../sql/tests/logic");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .slt files in {}", dir.display());
    let mut failures = Vec::new();
    for file in &files {
        let mut runner = sqllogictest::Runner::new(|| async {
            Ok(Db(TestSession::new()
                .await
                .map_err(|e| DbError(e.to_string()))?))
        });
        if let Err(e) = runner.run_file_async(file).await {
            failures.push(format!("{}:\n{e}", file.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} files failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}
