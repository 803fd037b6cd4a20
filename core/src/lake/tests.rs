use std::sync::Arc;

use arrow::array::{Int64Array, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::util::pretty::pretty_format_batches;
use datafusion::prelude::SessionContext;

use super::*;
use crate::schema::timestamp_type;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, true),
        Field::new("n", DataType::Int64, true),
        Field::new("updated_at", timestamp_type(), true),
    ]))
}

fn batch(rows: &[(&str, i64, i64)]) -> RecordBatch {
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(StringArray::from(
                rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            )),
            Arc::new(Int64Array::from(
                rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            )),
            Arc::new(
                TimestampMicrosecondArray::from(rows.iter().map(|r| r.2).collect::<Vec<_>>())
                    .with_timezone("UTC"),
            ),
        ],
    )
    .unwrap()
}

async fn rows(lake: &Lake, rel: &str) -> String {
    let table = lake.load(rel).await.unwrap().unwrap();
    let ctx = SessionContext::new();
    register(&ctx, "t", &table).await.unwrap();
    let cols: Vec<String> = arrow_schema_of(&table)
        .unwrap()
        .fields()
        .iter()
        .filter(|f| f.name() != "updated_at")
        .map(|f| f.name().clone())
        .collect();
    let df = ctx
        .sql(&format!("SELECT {} FROM t ORDER BY id", cols.join(", ")))
        .await
        .unwrap();
    pretty_format_batches(&df.collect().await.unwrap())
        .unwrap()
        .to_string()
}

async fn writer(lake: &Lake, mode: WriteMode) -> TableWriter {
    TableWriter::open(
        lake,
        "src",
        "things",
        schema(),
        mode,
        "run-1",
        WriterSettings::default(),
    )
    .await
    .unwrap()
}

fn merge_mode() -> WriteMode {
    WriteMode::Merge {
        keys: vec!["id".into()],
        cursor: Some("updated_at".into()),
    }
}

#[tokio::test]
async fn append_commits_data_and_state_together() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
    assert!(lake.read_state("src", "things").await.unwrap().is_none());

    let mut w = writer(&lake, WriteMode::Append).await;
    w.write(batch(&[("a", 1, 10), ("b", 2, 20)])).await.unwrap();
    // Nothing is visible before the commit.
    let t = lake.load("src/things").await.unwrap().unwrap();
    assert_eq!(t.snapshot().unwrap().log_data().num_files(), 0);
    let out = w
        .commit(&serde_json::json!({"cursor": "x1"}))
        .await
        .unwrap();
    assert_eq!(out.rows, 2);
    assert_eq!(out.files_added, 1);
    w.write(batch(&[("c", 3, 30)])).await.unwrap();
    w.commit(&serde_json::json!({"cursor": "x2"}))
        .await
        .unwrap();

    let meta = lake.read_state("src", "things").await.unwrap().unwrap();
    assert_eq!(meta.state, serde_json::json!({"cursor": "x2"}));
    assert_eq!(meta.run_id, "run-1");
    assert_eq!(
        rows(&lake, "src/things").await,
        "+----+---+\n| id | n |\n+----+---+\n| a  | 1 |\n| b  | 2 |\n| c  | 3 |\n+----+---+"
    );
    assert_eq!(
        lake.list_tables().await.unwrap(),
        vec![("src".to_string(), "things".to_string())]
    );
}

#[tokio::test]
async fn replace_removes_old_rows_on_its_first_commit_only() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
    let mut w = writer(&lake, WriteMode::Append).await;
    w.write(batch(&[("a", 1, 10), ("b", 2, 20)])).await.unwrap();
    w.commit(&serde_json::json!(1)).await.unwrap();

    let mut w = writer(&lake, WriteMode::Replace).await;
    w.write(batch(&[("z", 9, 90)])).await.unwrap();
    let out = w.commit(&serde_json::json!(2)).await.unwrap();
    assert_eq!(out.files_removed, 1);
    w.write(batch(&[("y", 8, 80)])).await.unwrap();
    let out = w.commit(&serde_json::json!(3)).await.unwrap();
    assert_eq!(
        out.files_removed, 0,
        "later commits of a replacing writer append"
    );
    assert_eq!(
        rows(&lake, "src/things").await,
        "+----+---+\n| id | n |\n+----+---+\n| y  | 8 |\n| z  | 9 |\n+----+---+"
    );
}

#[tokio::test]
async fn merge_upserts_on_key_and_latest_cursor_wins() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
    let mut w = writer(&lake, WriteMode::Append).await;
    w.write(batch(&[("a", 1, 10), ("b", 2, 20), ("c", 3, 30)]))
        .await
        .unwrap();
    w.commit(&serde_json::json!("s1")).await.unwrap();

    let mut w = writer(&lake, merge_mode()).await;
    // b is updated twice in one commit (latest cursor wins), c arrives with an OLDER cursor
    // than stored (ignored), d is new.
    w.write(batch(&[("b", 20, 25), ("d", 4, 40)]))
        .await
        .unwrap();
    w.write(batch(&[("b", 21, 26), ("c", 99, 5)]))
        .await
        .unwrap();
    w.commit(&serde_json::json!("s2")).await.unwrap();
    assert_eq!(
        rows(&lake, "src/things").await,
        "+----+----+\n| id | n  |\n+----+----+\n| a  | 1  |\n| b  | 21 |\n| c  | 3  |\n| d  | 4  |\n+----+----+"
    );
    assert_eq!(
        lake.read_state("src", "things")
            .await
            .unwrap()
            .unwrap()
            .state,
        "s2"
    );
    // Staged files were removed: every data file on disk is referenced by the log
    // (live, or removed by the merge and kept until vacuum).
    let log: String = std::fs::read_dir(dir.path().join("src/things/_delta_log"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    let on_disk: Vec<String> = std::fs::read_dir(dir.path().join("src/things"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".parquet"))
        .collect();
    assert!(on_disk.len() >= 2);
    for f in &on_disk {
        assert!(log.contains(f.as_str()), "stray file {f}");
    }
}

#[tokio::test]
async fn merge_replaces_a_changed_row_at_an_equal_cursor() {
    // Daily reports: a restated day keeps its date (the cursor) but its values change.
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
    let mut w = writer(&lake, WriteMode::Append).await;
    w.write(batch(&[("a", 1, 10), ("b", 2, 20), ("c", 3, 30)]))
        .await
        .unwrap();
    w.commit(&serde_json::json!("s1")).await.unwrap();

    let mut w = writer(&lake, merge_mode()).await;
    // a: same cursor, new value (replaced); b: same cursor, same value; c: older (ignored).
    w.write(batch(&[("a", 5, 10), ("b", 2, 20), ("c", 9, 5)]))
        .await
        .unwrap();
    w.commit(&serde_json::json!("s2")).await.unwrap();
    assert_eq!(
        rows(&lake, "src/things").await,
        "+----+---+\n| id | n |\n+----+---+\n| a  | 5 |\n| b  | 2 |\n| c  | 3 |\n+----+---+"
    );

    // Re-reading unchanged rows at the same cursor rewrites no file.
    let mut w = writer(&lake, merge_mode()).await;
    w.write(batch(&[("a", 5, 10), ("b", 2, 20)])).await.unwrap();
    let outcome = w.commit(&serde_json::json!("s3")).await.unwrap();
    assert_eq!(outcome.files_added, 0, "{outcome:?}");
    assert_eq!(outcome.files_removed, 0, "{outcome:?}");
}

#[tokio::test]
async fn uncommitted_writes_are_invisible_and_state_does_not_move() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
    let mut w = writer(&lake, WriteMode::Append).await;
    w.write(batch(&[("a", 1, 10)])).await.unwrap();
    w.commit(&serde_json::json!("committed")).await.unwrap();
    w.write(batch(&[("b", 2, 20)])).await.unwrap();
    drop(w); // a crash: written but never committed
    assert_eq!(
        lake.read_state("src", "things")
            .await
            .unwrap()
            .unwrap()
            .state,
        "committed"
    );
    assert_eq!(
        rows(&lake, "src/things").await,
        "+----+---+\n| id | n |\n+----+---+\n| a  | 1 |\n+----+---+"
    );
}

#[tokio::test]
async fn new_columns_are_added_and_old_ones_kept() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
    let mut w = writer(&lake, WriteMode::Append).await;
    w.write(batch(&[("a", 1, 10)])).await.unwrap();
    w.commit(&serde_json::json!("s1")).await.unwrap();

    let wider = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, true),
        Field::new("extra", DataType::Utf8, true),
    ]));
    let mut w = TableWriter::open(
        &lake,
        "src",
        "things",
        wider.clone(),
        merge_mode(),
        "run-2",
        WriterSettings::default(),
    )
    .await
    .unwrap();
    // The evolution commit carries the state forward.
    assert_eq!(
        lake.read_state("src", "things")
            .await
            .unwrap()
            .unwrap()
            .state,
        "s1"
    );
    let b = RecordBatch::try_new(
        wider,
        vec![
            Arc::new(StringArray::from(vec!["e"])),
            Arc::new(StringArray::from(vec!["new"])),
        ],
    )
    .unwrap();
    w.write(b).await.unwrap();
    w.commit(&serde_json::json!("s2")).await.unwrap();
    assert_eq!(
        rows(&lake, "src/things").await,
        "+----+---+-------+\n| id | n | extra |\n+----+---+-------+\n| a  | 1 |       |\n| e  |   | new   |\n+----+---+-------+"
    );
}

#[tokio::test]
async fn incompatible_type_change_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
    let mut w = writer(&lake, WriteMode::Append).await;
    w.write(batch(&[("a", 1, 10)])).await.unwrap();
    w.commit(&serde_json::json!(1)).await.unwrap();
    let changed = Arc::new(Schema::new(vec![Field::new("n", DataType::Boolean, true)]));
    let err = TableWriter::open(
        &lake,
        "src",
        "things",
        changed,
        WriteMode::Append,
        "r",
        WriterSettings::default(),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("column `n` of table `src.things` is Int64 in the lake"),
        "{err}"
    );
}

#[tokio::test]
async fn compaction_merges_small_files_and_keeps_state() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
    let settings = WriterSettings {
        compact_min_small_files: 4,
        ..WriterSettings::default()
    };
    let mut w = TableWriter::open(
        &lake,
        "src",
        "things",
        schema(),
        WriteMode::Append,
        "r",
        settings,
    )
    .await
    .unwrap();
    for i in 0..5 {
        w.write(batch(&[(&format!("k{i}"), i, i)])).await.unwrap();
        w.commit(&serde_json::json!(i)).await.unwrap();
    }
    let removed = w.compact_if_needed(&serde_json::json!(4)).await.unwrap();
    assert_eq!(removed, 5);
    let table = lake.load("src/things").await.unwrap().unwrap();
    assert_eq!(table.snapshot().unwrap().log_data().num_files(), 1);
    assert_eq!(
        lake.read_state("src", "things")
            .await
            .unwrap()
            .unwrap()
            .state,
        4
    );
    assert!(rows(&lake, "src/things").await.contains("| k4 | 4 |"));
}

#[tokio::test]
async fn rebuild_replaces_rows_and_schema_in_one_commit() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
    let mut w = writer(&lake, WriteMode::Append).await;
    w.write(batch(&[("a", 1, 10), ("b", 2, 20)])).await.unwrap();
    w.commit(&serde_json::json!(1)).await.unwrap();
    let before = lake
        .load("src/things")
        .await
        .unwrap()
        .unwrap()
        .version()
        .unwrap();

    // The model's SQL changed: `n` is now text, `updated_at` is gone, `k` is new (Int32, Utf8View).
    let new = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8View, false),
        Field::new("n", DataType::Utf8, true),
        Field::new("k", DataType::Int32, true),
    ]));
    let b = RecordBatch::try_new(
        new.clone(),
        vec![
            Arc::new(arrow::array::StringViewArray::from(vec!["z"])),
            Arc::new(StringArray::from(vec!["nine"])),
            Arc::new(arrow::array::Int32Array::from(vec![7])),
        ],
    )
    .unwrap();
    let mut w = TableWriter::open(
        &lake,
        "src",
        "things",
        new,
        WriteMode::Rebuild,
        "r2",
        WriterSettings::default(),
    )
    .await
    .unwrap();
    w.write(b).await.unwrap();
    w.commit(&serde_json::json!(2)).await.unwrap();
    let table = lake.load("src/things").await.unwrap().unwrap();
    assert_eq!(table.version().unwrap(), before + 1, "one commit");
    let schema = arrow_schema_of(&table).unwrap();
    let cols: Vec<(String, String)> = schema
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().to_string()))
        .collect();
    assert_eq!(
        cols,
        vec![
            ("id".to_string(), "Utf8".to_string()),
            ("n".to_string(), "Utf8".to_string()),
            ("k".to_string(), "Int64".to_string())
        ]
    );
    let ctx = SessionContext::new();
    register(&ctx, "t", &table).await.unwrap();
    let out = ctx
        .sql("SELECT * FROM t")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(
        pretty_format_batches(&out).unwrap().to_string(),
        "+----+------+---+\n| id | n    | k |\n+----+------+---+\n| z  | nine | 7 |\n+----+------+---+"
    );
}
