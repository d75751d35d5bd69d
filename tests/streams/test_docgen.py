from pathlib import Path

from vitrina.streams.builtin import BUILTIN
from vitrina.streams.docgen import render


def test_streams_doc_is_current() -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "STREAMS.md"
    assert doc.read_text() == render(BUILTIN), "regenerate: python -m vitrina.streams.docgen > docs/STREAMS.md"
