"""The items of a top-level JSON array, found without parsing them.

Hand-written because every JSON reader at hand (msgspec, json) recurses and gives up on an
item nested a thousand levels deep, taking the whole batch with it; this one only counts
brackets outside strings, so the other items can still be read and stored. Only called when
the decoders failed for depth (a rare, hostile body), never on the hot path.
"""

from __future__ import annotations

import re

# A string (escapes included), a run of openers, a run of closers, or a comma. Runs keep a
# body of 100,000 nested brackets to a few tokens.
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[{]+|[\]}]+|,')
_SPACE = b" \t\r\n"
# A bound on the work (about half a second here): beyond it the body is refused whole.
MAX_TOKENS = 1_000_000


class NotAnArray(ValueError):
    pass


def split_array(body: bytes) -> list[bytes]:
    """Each item's bytes, unparsed (a malformed item stays malformed for its own decode)."""
    body = body.strip(_SPACE)
    if body[:1] != b"[" or body[-1:] != b"]":
        raise NotAnArray("not a JSON array")
    items: list[bytes] = []
    depth = 0
    start = 0
    for count, m in enumerate(_TOKEN.finditer(body)):
        if count > MAX_TOKENS:
            raise NotAnArray(f"too large to split item by item (over {MAX_TOKENS:,} tokens)")
        first = body[m.start()]
        if first == 0x22:  # a string: brackets inside do not count
            continue
        run = m.end() - m.start()
        if first in b"[{":
            if depth == 0:  # the array's own bracket opens the first item
                start = m.start() + 1
            depth += run
        elif first in b"]}":
            if depth - run <= 0:
                end = m.start() + depth - 1  # the closer that ends the array
                if end != len(body) - 1 or depth - run < 0:
                    raise NotAnArray("unbalanced brackets")
                items.append(body[start:end])
                break
            depth -= run
        elif depth == 1:  # a comma between items
            items.append(body[start : m.start()])
            start = m.end()
    else:
        raise NotAnArray("unbalanced brackets")
    if len(items) == 1 and not items[0].strip(_SPACE):
        return []  # []
    return items
