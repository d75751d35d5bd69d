"""The docs cannot drift from the command: every `vitrina` line in a shell block of README.md
and docs/*.md is parsed by the real CLI (the command exists, every option is known, every value
is valid), and the blocks marked `<!-- docs-test: run -->` are run, line by line, against a
real `vitrina up` on a fresh data folder (`localhost:8000` pointing at it): each line must
succeed, and a `# {...}` comment right under a line is the JSON it must print.

Output blocks are fenced as ```text (or another language) and are not read as commands."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer

from tests.conftest import ROOT, free_port, wait_until
from vitrina.cli.main import app

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL = {"", "bash", "sh", "shell", "console"}
RUN_MARK = "<!-- docs-test: run -->"
VITRINA = re.compile(r"^(?:\.venv/bin/)?vitrina$")


@dataclass
class Line:
    doc: str
    number: int
    text: str
    expected: str | None = None  # the JSON printed, from the `# {...}` line under it


@dataclass
class Block:
    doc: str
    number: int
    lines: list[Line]
    run: bool


def blocks(path: Path) -> Iterator[Block]:
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        fence = re.match(r"^```(\w*)\s*$", lines[i])
        if not fence:
            i += 1
            continue
        start, lang = i, fence.group(1)
        i += 1
        body: list[tuple[int, str]] = []
        while i < len(lines) and not lines[i].startswith("```"):
            body.append((i + 1, lines[i]))
            i += 1
        i += 1
        if lang in SHELL:
            run = start > 0 and lines[start - 1].strip() == RUN_MARK
            yield Block(path.name, start + 1, logical_lines(path.name, body), run)


def logical_lines(doc: str, body: list[tuple[int, str]]) -> list[Line]:
    """Commands with their `\\` continuations joined; a `# {` comment line is the previous one's output."""
    out: list[Line] = []
    pending: Line | None = None
    for number, text in body:
        if pending is not None:
            pending.text += "\n" + text
        elif text.lstrip().startswith("# {") and out:
            out[-1].expected = text.lstrip()[2:]
            continue
        elif text.strip() and not text.lstrip().startswith("#"):
            pending = Line(doc, number, text)
        else:
            continue
        if not text.rstrip().endswith("\\") and _balanced(pending.text):
            out.append(pending)
            pending = None
    return out


def _balanced(text: str) -> bool:
    try:
        shlex.split(text, comments=True)
    except ValueError:  # an open quote: the command goes on on the next line
        return False
    return True


def vitrina_calls(line: Line) -> list[list[str]]:
    """The arguments of every `vitrina` in a line (after env assignments, `docker compose ... exec SVC`)."""
    lexer = shlex.shlex(line.text.replace("\\\n", " "), posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    tokens = list(lexer)
    calls, segment = [], []
    for token in [*tokens, ";"]:
        if token in {";", "&&", "||", "|", "&"}:
            at = _command_at(segment)
            if at is not None:
                calls.append(segment[at + 1 :])
            segment = []
        else:
            segment.append(token)
    return calls


def _command_at(segment: list[str]) -> int | None:
    """Where `vitrina` is the command run: first after VAR=value assignments, or the first
    `vitrina` after `exec` (docker compose ... exec SERVICE vitrina ...)."""
    first = next((i for i, t in enumerate(segment) if "=" not in t), None)
    if first is not None and VITRINA.match(segment[first]):
        return first
    if "exec" in segment:
        return next((i for i, t in enumerate(segment) if i > segment.index("exec") and VITRINA.match(t)), None)
    return None


EXAMPLES = [line for doc in DOCS for block in blocks(doc) for line in block.lines]
CALLS = [(line, args) for line in EXAMPLES for args in vitrina_calls(line)]


def parse(args: list[str]) -> None:
    """Parse `args` as `vitrina` would, without running anything."""
    command: Any = typer.main.get_command(app)  # typer's own (vendored) click
    ctx = command.make_context("vitrina", list(args))
    while hasattr(command, "resolve_command"):  # a group: on to its subcommand
        rest = [*ctx._protected_args, *ctx.args]
        if not rest:
            return
        name, sub, remaining = command.resolve_command(ctx, rest)
        assert sub is not None, f"no command {name}"
        command, ctx = sub, sub.make_context(name or "", remaining, parent=ctx)


def test_the_docs_call_vitrina_somewhere() -> None:
    assert len(CALLS) > 30 and {d.name for d in DOCS} >= {"README.md", "CLI.md", "SQL.md", "MODELS.md"}


@pytest.mark.parametrize(("line", "args"), CALLS, ids=[f"{line.doc}:{line.number}" for line, _ in CALLS])
def test_every_vitrina_line_parses(line: Line, args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "vitrina-data").mkdir()
    try:
        parse(args)
    except typer.Exit:  # --help
        pass
    except typer.TyperException as exc:  # a usage error: what the command would print
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        pytest.fail(f"{line.doc}:{line.number}: `vitrina {' '.join(args)}`: {message}")


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Path, int]]:
    """A `vitrina up` on ./vitrina-data of a fresh folder, where the doc lines run."""
    folder = Path(tempfile.mkdtemp(prefix="vitrina-docs-"))
    port = free_port()
    log = open(folder / "up.log", "wb")  # noqa: SIM115 - the child's for its lifetime
    proc = subprocess.Popen([sys.executable, "-m", "vitrina", "up", "--port", str(port)], cwd=folder, stdout=log, stderr=subprocess.STDOUT)
    try:
        import httpx

        def ready() -> bool:
            assert proc.poll() is None, (folder / "up.log").read_text()
            return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200

        wait_until(ready, 60, "vitrina up for the docs")
        yield folder, port
    finally:
        proc.terminate()
        proc.wait(60)
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


RUNNABLE = [block for doc in DOCS for block in blocks(doc) if block.run]


@pytest.mark.parametrize("block", RUNNABLE, ids=[f"{b.doc}:{b.number}" for b in RUNNABLE])
def test_marked_blocks_run(block: Block, server: tuple[Path, int]) -> None:
    folder, port = server
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "COLUMNS": "120"}
    env.pop("VITRINA_API_KEY", None)
    for line in block.lines:
        text = re.sub(r"(localhost|127\.0\.0\.1):8000", f"127.0.0.1:{port}", line.text)
        text = text.replace(".venv/bin/vitrina", "vitrina")
        done = subprocess.run(["bash", "-o", "pipefail", "-c", text], cwd=folder, env=env, capture_output=True, text=True, timeout=60)
        where = f"{line.doc}:{line.number}: {line.text}"
        assert done.returncode == 0, f"{where}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        if line.expected is not None:
            assert json.loads(done.stdout) == json.loads(line.expected), f"{where}: printed {done.stdout}"
