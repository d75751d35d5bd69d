"""Batch settings renamed so that each name means one thing: the old names still work, with a
warning that names the new one, logged once per process."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from vitrina import config
from vitrina.config import ConfigError, load_settings

OLD = "[writer]\nflush_rows = 7\nlinger_ms = 5\n[transport]\nlinger_ms = 9\n"


def test_the_old_names_set_the_new_ones_and_say_so_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(config, "_warned", set())
    path = tmp_path / "old.toml"
    path.write_text(OLD)
    caplog.set_level(logging.WARNING, "vitrina.config")
    s = load_settings(path)
    assert (s.writer.wal_batch_rows, s.writer.commit_batch_rows, s.writer.commit_linger_ms) == (7, 7, 5)
    assert s.transport.batch_linger_ms == 9
    load_settings(path)  # read again: no second warning
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings == [
        "[writer] flush_rows is deprecated: use wal_batch_rows and commit_batch_rows",
        "[writer] linger_ms is deprecated: use commit_linger_ms",
        "[transport] linger_ms is deprecated: use batch_linger_ms",
    ]


def test_the_new_names_alone_say_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config, "_warned", set())
    path = tmp_path / "new.toml"
    path.write_text("[writer]\nwal_batch_rows = 3\ncommit_batch_rows = 4\ncommit_linger_ms = 1\n[transport]\nbatch_linger_ms = 2\n")
    caplog.set_level(logging.WARNING, "vitrina.config")
    s = load_settings(path)
    assert (s.writer.wal_batch_rows, s.writer.commit_batch_rows, s.writer.commit_linger_ms, s.transport.batch_linger_ms) == (3, 4, 1, 2)
    assert not caplog.records


def test_an_old_name_beside_its_new_one_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "both.toml"
    path.write_text("[transport]\nlinger_ms = 9\nbatch_linger_ms = 10\n")
    with pytest.raises(ConfigError, match=r"\[transport\] linger_ms is the old name of batch_linger_ms"):
        load_settings(path)
