"""Fixtures of the role tests: the real brokers of tests/log, and role processes stopped at
the end of each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.log.conftest import redis_server, services, tansu  # noqa: F401 - fixtures
from tests.roles.helpers import Role


@pytest.fixture
def roles(tmp_folder: Path) -> Iterator[Callable[..., Role]]:
    """`roles("api", "--workers", "2", env={...})`: a role process (not started); all are
    killed at the end."""
    made: list[Role] = []

    def make(*args: str, env: dict[str, str] | None = None, config: Path | None = None) -> Role:
        role = Role(tmp_folder, list(args), env or {}, config)
        made.append(role)
        return role

    yield make
    for role in made:
        role.kill()
