"""Loading into the warehouse: the loaders of the write-ahead log, Kafka and Redis, and the
group commit, all through one commit path (load/commit.py) and one sink (core.Sink)."""
