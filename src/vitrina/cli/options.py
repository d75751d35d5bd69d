"""Options shared by the commands, with the checks a person would otherwise meet later as a
puzzling result (a typo'd data folder quietly created and reported empty; port 99999 bound
to a random port)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer


def existing_folder(path: Path | None) -> Path | None:
    """A --data-dir must exist: only `up` (and `keys add`, before a first `up`) make one."""
    if path is not None and not path.is_dir():
        raise typer.BadParameter(f"no data folder {str(path)!r} (`vitrina up --data-dir {path}` makes one)")
    return path


DataDirOpt = Annotated[
    Optional[Path], typer.Option("--data-dir", callback=existing_folder, help="Data folder (default ./vitrina-data); it must exist.")
]
NewDataDirOpt = Annotated[Optional[Path], typer.Option("--data-dir", help="Data folder (default ./vitrina-data; made if missing).")]
ConfigOpt = Annotated[Optional[Path], typer.Option("--config", "-c", help="TOML settings file.")]
UrlOpt = Annotated[Optional[str], typer.Option(help="A running vitrina (default: the one on the data folder).")]
PortOpt = Annotated[Optional[int], typer.Option(min=1, max=65535, help="Port (1-65535; default 8000).")]
