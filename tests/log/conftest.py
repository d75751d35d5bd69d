"""Fixtures: real brokers for the transport tests, stopped at the end of each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.log.services import Moto, Redis, Service, Tansu


@pytest.fixture
def services(tmp_folder: Path) -> Iterator[Callable[..., Any]]:
    """`services(Tansu)`, `services(Redis)`, `services(Moto)`: started; all killed at the end."""
    started: list[Service] = []

    def make(cls: type[Service], *args: Any) -> Any:
        svc = cls(tmp_folder, *args)
        started.append(svc)
        return svc.start()

    yield make
    for svc in reversed(started):
        svc.kill()


@pytest.fixture
def tansu(services: Callable[..., Any]) -> Tansu:
    return services(Tansu)  # type: ignore[no-any-return]


@pytest.fixture
def redis_server(services: Callable[..., Any]) -> Redis:
    return services(Redis)  # type: ignore[no-any-return]


@pytest.fixture
def moto(services: Callable[..., Any]) -> Moto:
    return services(Moto)  # type: ignore[no-any-return]
