"""The log between intake and the warehouse: what makes an answer durable (log/base.py: Log),
the write-ahead log of the data folder, Kafka topics and Redis Streams."""
