"""SQL models: files in `sql/` materialized into ClickHouse tables by vitrina's own runner,
incrementally over day partitions with a look-back, on a schedule inside `vitrina up`."""
