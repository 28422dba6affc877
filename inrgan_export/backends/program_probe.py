"""Programs are untrusted input: an ExecuTorch ``.pte`` is checked before this process loads it.

ExecuTorch's Python bindings abort the whole process (``terminate called ...``, exit 134) on
some damaged programs, even with full verification, and no ``try`` can catch an abort. So a
program this process has not seen loads first in a child process: the header is checked here
(cheap, no native code), then a child loads the program and its ``forward`` method; a child
that fails or dies makes the program a one-line :class:`BundleError` (exit 2). The verdict is
cached by the file's SHA-256 in the user cache (``probes``), so the child runs once per
program, and the exporter records its own programs as good when it writes them.
"""
from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
from pathlib import Path

from ..core.cache import user_cache_dir
from ..core.errors import BundleError
from ..core.hashing import sha256_file

#: the flatbuffer file identifier of an ExecuTorch program (bytes 4-8: "ET" and a schema version)
PTE_IDENTIFIER = re.compile(rb"ET\d\d")
#: the optional extended header right after it: magic, header length, then four uint64 sizes
EXTENDED_MAGIC = b"eh00"
#: seconds a child may take to load one program (a tiny one takes ~3 s on a loaded machine)
PROBE_TIMEOUT_S = 180
_CHILD = (
    "import sys\n"
    "from executorch.runtime import Runtime, Verification\n"
    "p = Runtime.get().load_program(sys.argv[1], verification=Verification.InternalConsistency)\n"
    "if 'forward' not in p.method_names: raise SystemExit('no method forward')\n"
    "p.load_method('forward')\n"
)


def check_pte_header(path: Path) -> None:
    """The fixed header of a ``.pte``: identifier and, where present, the extended header's
    sizes against the file's size. Names the file and what is wrong."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(64)
    if len(head) < 8 or not PTE_IDENTIFIER.fullmatch(head[4:8]):
        raise BundleError(f"{path.name} is not an ExecuTorch program (no ET flatbuffer identifier at byte 4); re-export the bundle")
    (root,) = struct.unpack_from("<I", head, 0)
    if not 8 <= root < size:
        raise BundleError(f"{path.name} is not a valid ExecuTorch program (root offset {root} outside the file of {size} bytes)")
    if head[8:12] == EXTENDED_MAGIC:
        if len(head) < 48:
            raise BundleError(f"{path.name} is not a valid ExecuTorch program (truncated extended header)")
        (length,) = struct.unpack_from("<I", head, 12)
        program_size, segment_base, segment_size = struct.unpack_from("<QQQ", head, 16)
        if length < 32 or program_size > size or (segment_size and segment_base + segment_size > size):
            raise BundleError(f"{path.name} is not a valid ExecuTorch program (its header's sizes exceed the file of {size} bytes)")


def _verdict_path(sha256: str) -> Path:
    return user_cache_dir("probes") / f"pte-{sha256}"


def record_good(path: Path, sha256: str | None = None) -> None:
    """Remember a program as loadable (the exporter calls this for the programs it wrote)."""
    verdict = _verdict_path(sha256 or sha256_file(path))
    try:
        verdict.parent.mkdir(parents=True, exist_ok=True)
        tmp = verdict.with_name(f".{verdict.name}.{os.getpid()}")
        tmp.write_text("ok\n")
        os.replace(tmp, verdict)
    except OSError:
        pass  # no cache: the program is probed again next time


def check_program(path: Path, sha256: str | None = None) -> None:
    """Raise :class:`BundleError` unless the ``.pte`` at ``path`` loads; ``sha256`` is its
    checksum where the bundle already verified it."""
    check_pte_header(path)
    sha = sha256 or sha256_file(path)
    verdict = _verdict_path(sha)
    try:
        text = verdict.read_text()
    except OSError:
        text = ""
    if text == "ok\n":
        return
    if text.startswith("bad: "):
        raise BundleError(f"ExecuTorch cannot load {path.name}: {text[5:].strip()} (not a valid program; re-export the bundle)")
    reason = _probe(path)
    if reason is None:
        record_good(path, sha)
        return
    try:
        verdict.parent.mkdir(parents=True, exist_ok=True)
        verdict.write_text(f"bad: {reason}\n")
    except OSError:
        pass
    raise BundleError(f"ExecuTorch cannot load {path.name}: {reason} (not a valid program; re-export the bundle)")


def _probe(path: Path) -> str | None:
    """Load the program in a child process: None if it loads, else why not, in one line."""
    env = {**os.environ, "PYTHONFAULTHANDLER": ""}
    try:
        proc = subprocess.run([sys.executable, "-c", _CHILD, str(path)], capture_output=True, text=True, errors="replace",
                              timeout=PROBE_TIMEOUT_S, env=env, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return f"loading it took over {PROBE_TIMEOUT_S} s"
    if proc.returncode == 0:
        return None
    lines = [line.strip() for line in proc.stderr.splitlines() if line.strip()]
    if proc.returncode < 0:
        detail = f"the loader died with signal {-proc.returncode}"
    elif proc.returncode == 134 or any(line.startswith("terminate called") for line in lines):
        detail = "the loader aborted"
    else:
        detail = lines[-1][:200] if lines else f"the loader exited with status {proc.returncode}"
    if detail.startswith("ModuleNotFoundError"):
        return None  # no ExecuTorch in this interpreter: the caller's import says so itself
    return detail
