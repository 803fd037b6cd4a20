"""Reads a Revline lake with real third-party readers and prints what they see as JSON.

Usage: readers.py LAKE_DIR EXPORT_DIR
For each Delta table hubspot/{contacts,deals}: row counts and sums through the deltalake
package, Polars, pyarrow and pandas; for the Parquet export: pyarrow and DuckDB.
"""
import json
import sys

import deltalake
import duckdb
import polars as pl
import pyarrow.compute as pc
import pyarrow.parquet as pq

lake, export = sys.argv[1], sys.argv[2]
out = {}
for table in ["contacts", "deals"]:
    path = f"{lake}/hubspot/{table}"
    dt = deltalake.DeltaTable(path)
    arrow_table = dt.to_pyarrow_table()
    frame = pl.read_delta(path)
    pandas = dt.to_pandas()
    entry = {
        "version": dt.version(),
        "deltalake_rows": arrow_table.num_rows,
        "polars_rows": frame.height,
        "pandas_rows": len(pandas),
        "distinct_ids": pc.count_distinct(arrow_table["id"]).as_py(),
        "state_in_history": any("revline" in c for c in dt.history()),
    }
    if table == "deals":
        entry["pyarrow_amount"] = pc.sum(arrow_table["amount"]).as_py()
        entry["polars_amount"] = frame["amount"].sum()
        entry["pandas_amount"] = float(pandas["amount"].sum())
    out[table] = entry
exported = f"{export}/hubspot.deals.parquet"
out["export"] = {
    "pyarrow_rows": pq.read_table(exported).num_rows,
    "duckdb_rows": duckdb.sql(f"SELECT count(*) FROM read_parquet('{exported}')").fetchone()[0],
    "duckdb_amount": duckdb.sql(f"SELECT sum(amount) FROM read_parquet('{exported}')").fetchone()[0],
}
print(json.dumps(out))
