"""The bare confluent-kafka consume rate, in a process of its own that imports nothing else:
the baseline of the Kafka loader's rate (bench/transport.py). Run inside a bigger process,
the same loop is slower, because the cyclic GC walks everything that process has loaded.

    python -m bench.bare_consume BOOTSTRAP TOPIC N 'CONFIG_JSON'   # prints messages/s, CPU s
"""

from __future__ import annotations

import json
import sys
import time

import confluent_kafka


def consume_rate(config: dict[str, object], topic: str, n: int) -> tuple[float, float]:
    """Messages/s from the first message to the n-th, touching each message's value (what any
    consumer does with a message at least), and the CPU seconds this process spent meanwhile."""
    c = confluent_kafka.Consumer(config)
    c.subscribe([topic])
    got, started, cpu = 0, 0.0, 0.0
    while got < n:
        msgs = c.consume(10_000, 1.0)
        if msgs and not started:
            started, cpu = time.perf_counter(), time.process_time()
        for m in msgs:
            m.value()
        got += len(msgs)
    rate, cpu = n / (time.perf_counter() - started), time.process_time() - cpu
    c.close()
    return rate, cpu


if __name__ == "__main__":
    bootstrap, topic, n, extra = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
    print(*consume_rate({"bootstrap.servers": bootstrap, **extra}, topic, n))
