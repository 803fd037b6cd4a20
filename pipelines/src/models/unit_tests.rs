use super::*;

fn known() -> KnownTables {
    KnownTables {
        names: ["hubspot.deals", "hubspot.contacts", "stripe.invoices"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
    }
}

fn files(list: &[(&str, &str)]) -> Vec<SourceFile> {
    list.iter()
        .map(|(p, c)| (p.to_string(), c.to_string()))
        .collect()
}

#[test]
fn dependencies_come_from_parsed_references_and_order_the_dag() {
    let set = ModelSet::from_files(
        files(&[
            ("sql/marts/c.sql", "SELECT * FROM b JOIN a USING (id)"),
            (
                "sql/intermediate/b.sql",
                "WITH x AS (SELECT * FROM a) SELECT * FROM x",
            ),
            (
                "sql/staging/a.sql",
                "SELECT id FROM hubspot.deals -- FROM not_a_table",
            ),
            ("sql/staging/d.sql", "SELECT 1 AS one"),
        ]),
        &known(),
    )
    .unwrap();
    assert_eq!(
        set.models["c"].deps,
        ["a", "b"].iter().map(|s| s.to_string()).collect()
    );
    assert!(
        set.models["b"].deps.contains("a"),
        "CTE names are not tables"
    );
    assert_eq!(
        set.models["a"].raw.iter().cloned().collect::<Vec<_>>(),
        vec!["hubspot.deals"]
    );
    let pos = |n: &str| set.order.iter().position(|x| x == n).unwrap();
    assert!(pos("a") < pos("b") && pos("b") < pos("c"));
    assert_eq!(set.models["c"].layer, "marts");
    assert_eq!(
        set.select(&["b+".into()]).unwrap(),
        ["b", "c"].iter().map(|s| s.to_string()).collect()
    );
    assert_eq!(set.select(&["a".into()]).unwrap().len(), 1);
    assert!(
        set.select(&["zz+".into()])
            .unwrap_err()
            .to_string()
            .contains("no model named `zz`")
    );
}

#[test]
fn cycles_are_rejected_naming_the_files() {
    let err = ModelSet::from_files(
        files(&[
            ("m/a.sql", "SELECT * FROM c"),
            ("m/b.sql", "SELECT * FROM a"),
            ("m/c.sql", "SELECT * FROM b"),
            ("m/d.sql", "SELECT * FROM a"),
        ]),
        &known(),
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("models form a cycle: "), "{msg}");
    for f in ["a (m/a.sql)", "b (m/b.sql)", "c (m/c.sql)"] {
        assert!(msg.contains(f), "{msg}");
    }
    assert!(!msg.contains("d (m/d.sql)"), "{msg}");
}

#[test]
fn unknown_tables_and_statements_other_than_select_are_refused_by_name() {
    let err = ModelSet::from_files(
        files(&[("sql/marts/x.sql", "SELECT * FROM hubspot.dealz")]),
        &known(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("sql/marts/x.sql: model `x` reads `hubspot.dealz`, which is neither a model nor a known table"),
        "{err}"
    );
    let err = ModelSet::from_files(files(&[("sql/marts/x.sql", "SELECT * FROM y")]), &known())
        .unwrap_err();
    assert!(err.to_string().contains("reads `y`"), "{err}");
    for (sql, kind) in [
        ("DELETE FROM hubspot.deals", "DELETE FROM"),
        ("INSERT INTO t VALUES (1)", "INSERT INTO"),
        ("CREATE TABLE t AS SELECT 1", "CREATE TABLE"),
        ("DROP TABLE hubspot.deals", "DROP TABLE"),
        ("COPY (SELECT 1) TO 'x.csv'", "COPY"),
    ] {
        let err = ModelSet::from_files(files(&[("sql/m/x.sql", sql)]), &known()).unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("sql/m/x.sql: `{kind}` is not allowed in a model")),
            "{sql}: {err}"
        );
    }
    let err =
        ModelSet::from_files(files(&[("m/x.sql", "SELECT 1; SELECT 2")]), &known()).unwrap_err();
    assert!(
        err.to_string()
            .contains("exactly one SELECT statement, found 2"),
        "{err}"
    );
    let err = ModelSet::from_files(files(&[("m/x.sql", "SELEC 1")]), &known()).unwrap_err();
    assert!(
        err.to_string().contains("m/x.sql: SQL does not parse"),
        "{err}"
    );
    let err = ModelSet::from_files(
        files(&[("m/x.sql", "SELECT 1"), ("u/x.sql", "SELECT 2")]),
        &known(),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("model `x` is defined twice: m/x.sql and u/x.sql"),
        "{err}"
    );
}

#[test]
fn column_tests_are_read_beside_the_model() {
    let set = ModelSet::from_files(
        files(&[
            ("m/accounts.sql", "SELECT 1 AS account_key"),
            ("m/deals.sql", "SELECT 1 AS account_key, 'open' AS state"),
            (
                "m/deals.tests.toml",
                "[columns.account_key]\nnot_null = true\nrelationships = { model = \"accounts\", column = \"account_key\" }\n\
                 [columns.state]\naccepted_values = [\"open\", \"won\"]\n",
            ),
            ("sql/tests/no_negative.sql", "SELECT * FROM deals WHERE account_key < 0"),
        ]),
        &known(),
    )
    .unwrap();
    let labels: Vec<String> = set.models["deals"]
        .tests
        .iter()
        .map(|t| t.label())
        .collect();
    assert_eq!(
        labels,
        vec![
            "not_null(account_key)",
            "relationships(account_key -> accounts.account_key)",
            "accepted_values(state)"
        ]
    );
    assert_eq!(set.singular.len(), 1);
    assert!(
        !set.models.contains_key("no_negative"),
        "singular tests are not models"
    );
    let err = ModelSet::from_files(
        files(&[
            ("m/a.sql", "SELECT 1 AS k"),
            ("m/a.tests.toml", "[columns.k]\nuniq = true\n"),
        ]),
        &known(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("m/a.tests.toml") && err.to_string().contains("uniq"),
        "{err}"
    );
}
