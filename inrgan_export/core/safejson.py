"""JSON documents read with limits: a manifest may be hostile too.

``json.loads`` recurses once per nesting level (a 100000-deep array ends in a RecursionError)
and reads whatever size the file has. :func:`load_json` checks the size on disk before
reading and the nesting depth on the raw text before parsing (one linear scan that skips
string contents), so both refusals happen before the parser runs; every refusal is one line.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from .errors import BundleError

MAX_BYTES = 16 * 2**20  # a manifest is a few KiB; its largest parts are file lists
MAX_DEPTH = 64


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_BRACKETS = re.compile(r"[\[\]{}]")


def json_depth(text: str) -> int:
    """Deepest nesting of ``[``/``{`` in a JSON text, brackets inside strings ignored."""
    depth = deepest = 0
    for ch in _BRACKETS.findall(_STRING.sub("", text)):
        if ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def load_json(path: str | Path, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH, error: type[Exception] = BundleError) -> Any:
    """The JSON document in ``path``, refused (``error``, one line) when it is larger than
    ``max_bytes`` on disk, nests deeper than ``max_depth``, or is not valid UTF-8 JSON."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise error(f"{path} is {size:,} bytes; a JSON document here may have at most {max_bytes:,}")
        with open(path, "rb") as f:
            raw = f.read(max_bytes + 1)
    except OSError as e:
        raise error(f"cannot read {path}: {e.strerror or type(e).__name__}") from None
    if len(raw) > max_bytes:  # grew since stat
        raise error(f"{path} is more than {max_bytes:,} bytes; a JSON document here may have at most {max_bytes:,}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise error(f"{path} is not valid JSON: not UTF-8 at byte {e.start}") from None
    depth = json_depth(text)
    if depth > max_depth:
        raise error(f"{path} nests {depth} levels deep; a JSON document here may nest at most {max_depth}")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as e:
        raise error(f"{path} is not valid JSON: {str(e).splitlines()[0][:160] if str(e) else type(e).__name__}") from None
