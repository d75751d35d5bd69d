"""Process-wide tuning for vitrina's long-running processes (`vitrina up`, `vitrina load`)."""

from __future__ import annotations

import gc


def settle_gc() -> None:
    """Call once start-up is done. Everything loaded by then (ClickHouse, the app, the stream
    declarations) lives for the whole run: freeze it out of the cyclic GC, whose full
    collections otherwise walk it again and again, and collect the young generation less
    often. Under load the default thresholds cost the event loop about a third of its time
    (py-spy) and the Kafka loader a fifth of its rate (bench/transport.py)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
