"""The one way a command gets its settings: the TOML file, the command's own options on top,
and the checks that need stages above config.py (a declared dashboard names streams, figures
and alert rules, so it is checked by the dashboards' own catalog)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from vitrina.config import ConfigError, Settings, load_settings
from vitrina.serve.dashboards.catalog import catalog_of
from vitrina.serve.dashboards.declared import DashboardConfigError

_console = Console(stderr=True)


def load_checked(config: Path | None, **overrides: Any) -> Settings:
    """The settings of `config` with `overrides`; raises ConfigError naming what is wrong."""
    settings = load_settings(config).with_overrides(**overrides)
    try:
        catalog_of(settings)
    except DashboardConfigError as exc:
        raise ConfigError(str(exc)) from None
    return settings


def settings_from(config: Path | None, **overrides: Any) -> Settings:
    """load_checked for a command: a bad file ends it with one line and exit code 2."""
    try:
        return load_checked(config, **overrides)
    except ConfigError as exc:
        _console.print(f"[red]config error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
