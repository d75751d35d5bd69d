"""Durable transports between intake and the warehouse: Kafka topics and Redis Streams."""
