"""The user cache directory (never inside a bundle, whose files are checksummed).

``$INRGAN_EXPORT_CACHE``, else ``$XDG_CACHE_HOME/inrgan-export``, else
``~/.cache/inrgan-export``; one subfolder per kind: ``graphs`` (traced ONNX graphs),
``openvino`` (compiled models), ``calibration`` (INT8 activation ranges). Every entry is
content-keyed, and a key that does not match exactly is never used. Deleting the folder is
always safe.
"""
from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path


def user_cache_dir(kind: str) -> Path:
    base = os.environ.get("INRGAN_EXPORT_CACHE")
    if base:
        root = Path(base)
    else:
        root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "inrgan-export"
    return root / kind


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """SHA-256 over this package's Python sources: cached artifacts made by other code are
    never reused, even without a version bump."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()
