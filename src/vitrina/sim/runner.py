"""Load sender: posts simulated events to `{url}/v1/streams/{stream}` at a target rate.

Each stream gets an equal share of the rate and its own pacing loop. Batch k of a stream is
due at an absolute monotonic time, so late wake-ups never add up to drift. Events are grouped
into small JSON arrays when the total rate would need more than ~200 requests/s, and a
semaphore bounds the requests in flight (a slow server slows the sender, it does not pile up
tasks).
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from vitrina.sim.generators import Event, diurnal_weight, generator, spoil

# Requests per second, all streams together, before events are batched: httpx spends ~1 ms
# of CPU per request, and its pool slows down as connections are added (measured here: ~900
# requests/s with one connection, ~300 with 64), so throughput comes from batching instead.
MAX_REQUESTS = 200
MAX_LAG = 1.0  # seconds behind schedule before missed batches are dropped instead of burst
LATENCY_SAMPLES = 50_000  # reservoir size: bounded memory for p50/p99 on long runs
TICK = 0.25  # seconds between progress callbacks


@dataclass
class Summary:
    streams: list[str]
    target_rate: float
    sent: int = 0  # events in requests that were issued
    accepted: int = 0
    rejected: int = 0  # refused by validation (listed in `rejected` or a 4xx answer)
    failed: int = 0  # no verdict: connection errors and 5xx answers
    invalid_sent: int = 0  # events spoiled on purpose (bad_fraction)
    behind: int = 0  # events not sent because the sender fell over MAX_LAG behind its schedule
    requests: int = 0
    status: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)  # transport errors by exception type
    per_stream: Counter[str] = field(default_factory=Counter)  # events sent
    latencies: list[float] = field(default_factory=list)  # seconds per answered request (a sample)
    elapsed: float = 0.0
    _seen: int = field(default=0, init=False, repr=False)
    _rng: random.Random = field(default_factory=lambda: random.Random(0), init=False, repr=False)

    def add_latency(self, seconds: float) -> None:
        # Reservoir sampling keeps an unbiased sample of every latency seen.
        self._seen += 1
        if len(self.latencies) < LATENCY_SAMPLES:
            self.latencies.append(seconds)
        else:
            slot = self._rng.randrange(self._seen)
            if slot < LATENCY_SAMPLES:
                self.latencies[slot] = seconds

    def quantile(self, q: float) -> float:
        """Request latency in seconds at quantile q (0 when nothing was answered)."""
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def p50(self) -> float:
        return self.quantile(0.5)

    @property
    def p99(self) -> float:
        return self.quantile(0.99)

    @property
    def rate(self) -> float:
        """Achieved rate: events sent per second."""
        return self.sent / self.elapsed if self.elapsed > 0 else 0.0

    def table(self) -> Table:
        t = Table(title=f"simulate: {', '.join(self.streams)}", show_header=False)
        t.add_column(style="bold")
        t.add_column(justify="right")
        rows = [
            ("target rate", f"{self.target_rate:,.0f} ev/s"),
            ("achieved rate", f"{self.rate:,.0f} ev/s"),
            ("elapsed", f"{self.elapsed:.1f} s"),
            ("sent", f"{self.sent:,}"),
            ("accepted", f"{self.accepted:,}"),
            ("rejected", f"{self.rejected:,}"),
            ("failed", f"{self.failed:,}"),
            ("invalid sent", f"{self.invalid_sent:,}"),
            ("dropped behind schedule", f"{self.behind:,}"),
            ("requests", f"{self.requests:,}"),
            ("latency p50", f"{self.p50 * 1000:.1f} ms"),
            ("latency p99", f"{self.p99 * 1000:.1f} ms"),
        ]
        rows += [(f"status {code}", f"{n:,}") for code, n in sorted(self.status.items())]
        rows += [(f"error {name}", f"{n:,}") for name, n in sorted(self.errors.items())]
        rows += [(f"sent to {name}", f"{n:,}") for name, n in sorted(self.per_stream.items())]
        for row in rows:
            t.add_row(*row)
        return t


def auto_batch(rate: float) -> int:
    """Events per request for a total rate: at most MAX_REQUESTS requests/s over all streams."""
    return max(1, math.ceil(rate / MAX_REQUESTS))


class _Sender:
    def __init__(self, client: httpx.AsyncClient, summary: Summary, concurrency: int) -> None:
        self.client, self.summary = client, summary
        self.slots = asyncio.Semaphore(concurrency)
        self.tasks: set[asyncio.Task[None]] = set()
        self.encoder = msgspec.json.Encoder()
        self.decoder = msgspec.json.Decoder()

    async def submit(self, stream: str, events: list[Event]) -> None:
        await self.slots.acquire()  # blocks the pacing loop when too many requests are in flight
        task = asyncio.create_task(self._post(stream, events))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _post(self, stream: str, events: list[Event]) -> None:
        s, n = self.summary, len(events)
        body = self.encoder.encode(events[0] if n == 1 else events)
        s.sent += n
        s.requests += 1
        s.per_stream[stream] += n
        started = time.perf_counter()
        try:
            resp = await self.client.post(f"/v1/streams/{stream}", content=body, headers={"content-type": "application/json"})
        except httpx.HTTPError as exc:  # refused, reset, timed out: count it and go on
            s.errors[type(exc).__name__] += 1
            s.failed += n
            return
        finally:
            self.slots.release()
        s.add_latency(time.perf_counter() - started)
        s.status[resp.status_code] += 1
        if resp.status_code >= 500:
            s.failed += n
        elif resp.status_code >= 400:
            s.rejected += n
        else:
            accepted, rejected = self._verdict(resp.content, n)
            s.accepted += accepted
            s.rejected += rejected

    def _verdict(self, content: bytes, n: int) -> tuple[int, int]:
        try:
            answer: Any = self.decoder.decode(content)
        except msgspec.DecodeError:
            return n, 0  # a 2xx without a readable body: take it as accepted
        if not isinstance(answer, dict):
            return n, 0
        if answer.get("message") == "ok":  # the seed routes' answer
            return n, 0
        rejected = answer.get("rejected")
        rejected_n = len(rejected) if isinstance(rejected, list) else 0
        accepted = answer.get("accepted")
        return (accepted if isinstance(accepted, int) else n - rejected_n), rejected_n

    async def drain(self) -> None:
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)


async def _pace(
    sender: _Sender,
    stream: str,
    rate: float,
    batch: int,
    start: float,
    end: float | None,
    rng: random.Random,
    bad_fraction: float,
    diurnal: bool,
    stop: asyncio.Event | None,
) -> None:
    make = generator(stream)
    due = start  # every stream counts from the same start, so the run's end is exact
    while end is None or due < end - 1e-9:
        while (wait := due - time.monotonic()) > 0:
            # Short sleeps towards an absolute target: oversleeping once is not carried over,
            # and a stop request is noticed within TICK even at very low rates.
            await asyncio.sleep(min(wait, TICK))
            if stop is not None and stop.is_set():
                return
        if stop is not None and stop.is_set():
            return
        now = time.time()
        current = rate * diurnal_weight(_utc_hour(now)) if diurnal else rate
        while time.monotonic() - due > MAX_LAG and (end is None or due < end - 1e-9):
            # far behind: drop the missed batches rather than burst, and count them
            sender.summary.behind += batch
            due += batch / current
        if end is not None and due >= end - 1e-9:
            return
        events = [make(rng, now) for _ in range(batch)]
        if bad_fraction > 0:
            for i, event in enumerate(events):
                if rng.random() < bad_fraction:
                    events[i] = spoil(stream, event, rng)
                    sender.summary.invalid_sent += 1
        await sender.submit(stream, events)
        due += batch / current


def _utc_hour(now: float) -> float:
    t = datetime.fromtimestamp(now, tz=UTC)
    return t.hour + t.minute / 60


async def simulate(
    url: str,
    streams: list[str],
    rate: float,
    duration: float | None,
    *,
    batch: int | None = None,
    seed: int | None = None,
    progress: Callable[[Summary], None] | None = None,
    bad_fraction: float = 0.0,
    diurnal: bool = False,
    concurrency: int = 16,
    timeout: float = 10.0,
    stop: asyncio.Event | None = None,
    key: str | None = None,
) -> Summary:
    """Send `rate` events/s in total, split evenly over `streams`, for `duration` seconds
    (None: until `stop` is set or the task is cancelled). `diurnal` scales the site_events
    rate by the hour of the day; `key` is an API key that may send them. Returns the counts;
    `progress` gets them every ~0.25 s."""
    if not streams:
        raise ValueError("choose at least one stream")
    if rate <= 0:
        raise ValueError("rate must be positive")
    for name in streams:
        generator(name)  # an unknown stream fails here, before any request
    summary = Summary(list(streams), rate)
    master = random.Random(seed)
    per_stream = rate / len(streams)
    size = batch or auto_batch(rate)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    started = time.monotonic()
    end = None if duration is None else started + duration

    async def report() -> None:
        if progress is not None:  # at once, so a caller holds the live summary from the start
            progress(summary)
        while True:
            await asyncio.sleep(TICK)
            summary.elapsed = time.monotonic() - started
            if progress is not None:
                progress(summary)

    headers = {"authorization": f"Bearer {key}"} if key else None
    async with httpx.AsyncClient(base_url=url.rstrip("/"), limits=limits, timeout=timeout, headers=headers) as client:
        sender = _Sender(client, summary, concurrency)
        reporter = asyncio.create_task(report())
        try:
            async with asyncio.TaskGroup() as group:
                for name in streams:
                    rng = random.Random(master.getrandbits(64))
                    use_diurnal = diurnal and name == "site_events"
                    group.create_task(_pace(sender, name, per_stream, size, started, end, rng, bad_fraction, use_diurnal, stop))
            await sender.drain()
        finally:
            reporter.cancel()
            for task in list(sender.tasks):  # cancelled midway: do not leave requests behind
                task.cancel()
            summary.elapsed = time.monotonic() - started
    if progress is not None:
        progress(summary)
    return summary


def run_with_progress(
    url: str,
    streams: list[str],
    rate: float,
    duration: float | None,
    batch: int | None = None,
    seed: int | None = None,
    console: Console | None = None,
    *,
    bad_fraction: float = 0.0,
    diurnal: bool = False,
    key: str | None = None,
) -> Summary:
    """`simulate` with a live progress line; Ctrl-C stops it and still returns the counts."""
    columns = (
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        TextColumn(
            "sent {task.fields[sent]:,}  [green]ok {task.fields[accepted]:,}[/]  "
            "[yellow]rejected {task.fields[rejected]:,}[/]  [red]failed {task.fields[failed]:,}[/]  "
            "{task.fields[rate]:,.0f} ev/s  p99 {task.fields[p99]:.1f} ms"
        ),
    )
    latest = Summary(list(streams), rate)
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("simulating", total=duration, sent=0, accepted=0, rejected=0, failed=0, rate=0.0, p99=0.0)

        def show(s: Summary) -> None:
            nonlocal latest
            latest = s
            bar.update(
                task,
                completed=min(s.elapsed, duration) if duration else s.elapsed,
                sent=s.sent,
                accepted=s.accepted,
                rejected=s.rejected,
                failed=s.failed,
                rate=s.rate,
                p99=s.p99 * 1000,
            )

        coro = simulate(
            url, streams, rate, duration, batch=batch, seed=seed, progress=show, bad_fraction=bad_fraction, diurnal=diurnal, key=key
        )
        try:
            return asyncio.run(coro)
        except KeyboardInterrupt:
            return latest  # simulate's cleanup ran; these are the counts up to the interrupt
