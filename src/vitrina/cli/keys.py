"""`vitrina keys add|list|revoke`: the API keys of `[auth]`. They live in a file (default
<data_dir>/keys.json) that a running server rereads when it changes, so these commands work
with or without one. A key may send streams (--stream), read (--read), operate (--operate), or
any mix of them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

from vitrina.cli.options import ConfigOpt, DataDirOpt, NewDataDirOpt
from vitrina.cli.output import Format, FormatOpt, emit

if TYPE_CHECKING:
    from vitrina.auth.keys import KeyFile

console = Console(stderr=True)
out = Console()


def _store(config: Path | None, data_dir: Path | None) -> KeyFile:
    from vitrina.auth.keys import KeyFile
    from vitrina.cli.config_file import settings_from

    return KeyFile(settings_from(config, data_dir=data_dir).keys_path)


def _refused(exc: Exception) -> typer.Exit:
    """A key that cannot be made or removed, or a key file that cannot be read (which is
    never overwritten: that would throw its keys away)."""
    console.print(f"[red]{escape(str(exc))}[/red]")
    return typer.Exit(2)


def register(app: typer.Typer) -> None:
    keys = typer.Typer(
        help="API keys: which streams a producer may send, who may read, who may operate ([auth] enabled = true).", no_args_is_help=True
    )

    @keys.command("add")
    def add(
        name: Annotated[str, typer.Argument(help="A name for the key, e.g. the producer's.")],
        stream: Annotated[Optional[list[str]], typer.Option("--stream", help="A stream it may send (repeatable; * for all).")] = None,
        read: Annotated[
            bool, typer.Option("--read", help="It may read: SQL, rollups, streams, dashboards, model and alert states.")
        ] = False,
        operate: Annotated[
            bool, typer.Option("--operate", help="It may operate: run models, reports and alert rounds, flush the log.")
        ] = False,
        rate: Annotated[float, typer.Option(help="Events per second it may send (0: no limit).")] = 0.0,
        data_dir: NewDataDirOpt = None,
        config: ConfigOpt = None,
    ) -> None:
        """Make a key and print its token (shown this once; only its hash is kept)."""
        from vitrina.auth.keys import KeyProblem, KeysUnavailable

        store = _store(config, data_dir)
        try:
            token = store.add(name, tuple(stream or ()), read, rate, operate)
        except (KeyProblem, KeysUnavailable) as exc:
            raise _refused(exc) from None
        out.print(token)

    @keys.command("list")
    def list_(data_dir: DataDirOpt = None, config: ConfigOpt = None, fmt: FormatOpt = Format.table) -> None:
        """The keys: name, streams, read, operate, rate, created (never the tokens)."""
        from vitrina.auth.keys import KeysUnavailable

        try:
            keys = _store(config, data_dir).all()
        except KeysUnavailable as exc:
            raise _refused(exc) from None
        columns = ("name", "streams", "read", "operate", "events/s", "created")
        rows = [[k.name, list(k.streams), k.read, k.operate, k.rate, k.created] for k in keys]
        if fmt is Format.table:
            rows = [[n, s, "yes" if r else "", "yes" if o else "", f"{rate:g}" if rate else "no limit", c] for n, s, r, o, rate, c in rows]
        emit(columns, rows, fmt)

    @keys.command("revoke")
    def revoke(name: str, data_dir: DataDirOpt = None, config: ConfigOpt = None) -> None:
        """Remove a key; a running server stops accepting it within a second."""
        from vitrina.auth.keys import KeyProblem, KeysUnavailable

        store = _store(config, data_dir)
        try:
            store.revoke(name)
        except (KeyProblem, KeysUnavailable) as exc:
            raise _refused(exc) from None
        out.print(f"revoked {name}")

    app.add_typer(keys, name="keys")
