"""Baseline: the same reconciliation with polars (lazy), exact decimals."""
import sys, polars as pl

data = sys.argv[1]
dec = pl.Decimal(38, 10)
src = (pl.scan_csv(f"{data}/dsp/dsp_sales.csv", infer_schema=False)
       .select(pl.col("ISRC").alias("isrc"), pl.col("Store").alias("store"), pl.col("Sales Period").alias("sp"),
               pl.col("Net Revenue").cast(dec).alias("net"))
       .group_by("isrc", "store", "sp").agg(pl.col("net").sum()))
lab = (pl.scan_csv(f"{data}/label/label_statement.csv", infer_schema=False)
       .select(pl.col("ISRC").alias("isrc"), pl.col("Source").alias("store"), pl.col("Sale Period").alias("sp"),
               pl.col("Receipts").cast(dec).alias("lnet"))
       .group_by("isrc", "store", "sp").agg(pl.col("lnet").sum()))
j = src.join(lab, on=["isrc", "store", "sp"], how="left")
tol = pl.lit("0.01").cast(dec)
out = j.select(
    pl.col("lnet").is_null().sum().alias("missing"),
    (pl.col("lnet") < pl.col("net") - tol).sum().alias("underpaid"),
    pl.when(pl.col("lnet").is_null()).then(pl.col("net")).otherwise(None).sum().alias("missing_net"),
    pl.when(pl.col("lnet") < pl.col("net") - tol).then(pl.col("net") - pl.col("lnet")).otherwise(None).sum().alias("short_net"),
).collect()
r = out.row(0)
print(f"missing={r[0]} underpaid={r[1]} missing_net={r[2]} short_net={r[3]}")
