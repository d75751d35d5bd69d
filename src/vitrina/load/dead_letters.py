"""Rows of the `rejected` table: an item or message that could not be stored, kept with its
raw bytes (cut at 64 KiB), where it came from and why."""

from __future__ import annotations

import msgspec

from vitrina.intake.validate import Problem
from vitrina.streams.rejected import DeadLetter

RAW_KEEP_BYTES = 64 * 1024


_encoder = msgspec.json.Encoder()


def dead_letters(stream: str, source: str, items: list[tuple[str, str, bytes]], key: str = "") -> bytes:
    """JSONEachRow rows of the rejected table for (position, reason, raw) items sent with `key`."""
    return _encoder.encode_lines([DeadLetter(stream, source, position, reason, raw_text(raw), key) for position, reason, raw in items])


def encode(letters: list[DeadLetter]) -> bytes:
    return _encoder.encode_lines(letters)


def problem_reason(p: Problem) -> str:
    return f"{p.field}: {p.message}" if p.field else p.message


def raw_text(value: bytes) -> str:
    return value[:RAW_KEEP_BYTES].decode("utf-8", "replace")
