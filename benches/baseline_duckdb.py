"""Baseline: the same reconciliation in DuckDB. Sum net by ISRC/store/sale period as exact
decimals on both sides, left join, count missing and underpaid keys and their amounts."""
import sys, duckdb

data = sys.argv[1]
con = duckdb.connect()
row = con.execute(f"""
WITH src AS (
  SELECT ISRC AS isrc, Store AS store, "Sales Period" AS sp, SUM(CAST("Net Revenue" AS DECIMAL(38,10))) AS net
  FROM read_csv('{data}/dsp/dsp_sales.csv', all_varchar=true) GROUP BY ALL),
lab AS (
  SELECT ISRC AS isrc, Source AS store, "Sale Period" AS sp, SUM(CAST(Receipts AS DECIMAL(38,10))) AS net
  FROM read_csv('{data}/label/label_statement.csv', all_varchar=true) GROUP BY ALL)
SELECT
  count(*) FILTER (WHERE lab.net IS NULL),
  count(*) FILTER (WHERE lab.net < src.net - 0.01),
  coalesce(sum(src.net) FILTER (WHERE lab.net IS NULL), 0),
  coalesce(sum(src.net - lab.net) FILTER (WHERE lab.net < src.net - 0.01), 0)
FROM src LEFT JOIN lab USING (isrc, store, sp)
""").fetchone()
print(f"missing={row[0]} underpaid={row[1]} missing_net={row[2]} short_net={row[3]}")
