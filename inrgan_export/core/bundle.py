"""Bundle directories: writing them atomically and reading them back with checks.

A bundle is a directory with ``manifest.json`` (the contract every runtime reads; its
schema is documented in the README), the graphs, golden reference data and the parity
report. It is built in a temporary sibling directory and renamed into place only when
complete, so a failed export never leaves a partial bundle behind.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from . import signals
from .errors import BundleError, OutputError
from .grid import GridLayout
from .hashing import sha256_file
from .manifest import MANIFEST_FILE as MANIFEST
from .manifest import FileEntry, Manifest
from .safejson import load_json


# ------------------------------------------------------------------ writing
class BundleWriter:
    """Context manager: yields a temporary directory, publishes it as ``out`` on success.

    Publishing is a check-and-rename under an exclusive ``flock`` of the parent directory: an
    output that appeared (or changed) since :meth:`check` was made by someone else and is
    never replaced. ``--force`` replaces only a directory holding a manifest of ours. The
    temporary directory's name carries the exporting process's id, so a later export removes
    those left by processes that died (SIGKILL, power loss)."""

    def __init__(self, out: str | Path, force: bool = False) -> None:
        self.given = Path(out)
        # absolute and normalised: "-o ." names the current directory, not an empty name
        self.out = Path(os.path.abspath(out))
        self.force = force
        self.tmp: Path | None = None
        self.seen: tuple[int, int] | None = None  # (device, inode) of the output at check()

    def check(self) -> None:
        """Fail early, before any work, if the output cannot be written."""
        out = self.out
        if out.exists() or out.is_symlink():
            if not self.force:
                raise OutputError(f"output directory {self.given} exists; pass --force to replace it")
            if out.is_symlink() or not out.is_dir():
                raise OutputError(f"output {self.given} exists and is not a directory; not replaced")
            if not holds_our_manifest(out):
                raise OutputError(
                    f"output directory {self.given} is not an inrgan-export bundle (no manifest.json of ours); "
                    "--force replaces only bundles: remove it yourself or choose another -o"
                )
            st = out.stat()
            self.seen = (st.st_dev, st.st_ino)
        parent = out.parent
        if not parent.is_dir():
            raise OutputError(f"cannot create {self.given}: parent directory {parent} does not exist")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise OutputError(f"cannot create {self.given}: directory {parent} is not writable")

    def __enter__(self) -> Path:
        self.check()
        parent = self.out.parent
        remove_stale_partials(parent)
        try:
            self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.{os.getpid()}.", suffix=".partial", dir=parent))
        except OSError as e:
            raise OutputError(f"cannot create {self.given}: {e.strerror}") from None
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self.tmp is not None
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(self.tmp, 0o777 & ~umask)  # mkdtemp makes it private; publish with normal permissions
        try:
            signals.check()  # an interrupt a library swallowed still discards the bundle
            with directory_lock(self.out.parent):
                self._publish()
        except OSError as e:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise OutputError(f"cannot publish bundle at {self.given}: {e.strerror}") from None
        except BaseException:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise

    def _publish(self) -> None:
        """Under the parent's lock: rename into place, or replace exactly what check() saw."""
        assert self.tmp is not None
        out = self.out
        try:
            st = out.lstat()
            now: tuple[int, int] | None = (st.st_dev, st.st_ino)
        except FileNotFoundError:
            now = None
        if now is None:
            os.rename(self.tmp, out)  # nobody else can create it while we hold the lock
            return
        if now != self.seen or not holds_our_manifest(out):
            raise OutputError(
                f"output {self.given} was created or replaced by another process while this export ran; "
                "not replaced (this export is discarded)"
            )
        trash = out.with_name(f".{out.name}.{os.getpid()}.old.partial")
        os.rename(out, trash)
        os.rename(self.tmp, out)
        shutil.rmtree(trash, ignore_errors=True)


def holds_our_manifest(directory: Path) -> bool:
    """A directory that holds a manifest.json written by this tool (its ``schema`` field)."""
    from .manifest import SCHEMA_ID

    mpath = directory / MANIFEST
    try:
        if mpath.is_symlink() or not mpath.is_file() or mpath.stat().st_size > (16 << 20):
            return False
        data = json.loads(mpath.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("schema") == SCHEMA_ID


class directory_lock:
    """An exclusive ``flock`` of a directory (no lock file is left behind). ``on_busy``, when
    given, is called once if another process holds the lock: it raises to refuse, or returns
    to wait for the lock; without it the lock is simply waited for."""

    def __init__(self, directory: Path, on_busy: Callable[[], None] | None = None) -> None:
        self.directory, self.on_busy = directory, on_busy
        self.fd: int | None = None

    def __enter__(self) -> "directory_lock":
        import fcntl

        self.fd = os.open(self.directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
        try:
            if self.on_busy is None:
                fcntl.flock(self.fd, fcntl.LOCK_EX)
                return self
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self.on_busy()
                fcntl.flock(self.fd, fcntl.LOCK_EX)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)  # releases the lock
            self.fd = None


#: ``.<name>.<pid>.<random>.partial``: temporary bundles (and replaced ones) of an export
_PARTIAL = re.compile(r"^\..+\.(\d+)\.[^./]+\.partial$")


def remove_stale_partials(parent: Path) -> list[Path]:
    """Remove the temporary directories of exports whose process no longer exists."""
    removed = []
    try:
        entries = list(parent.iterdir())
    except OSError:
        return removed
    for p in entries:
        m = _PARTIAL.match(p.name)
        if not m or p.is_symlink() or not p.is_dir():
            continue
        pid = int(m.group(1))
        if pid == os.getpid() or _alive(pid):
            continue
        shutil.rmtree(p, ignore_errors=True)
        removed.append(p)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return pid < (1 << 22)  # someone else's live process (or an impossible pid: dead)
    return True


def file_entries(directory: Path) -> dict[str, FileEntry]:
    """SHA-256 and size of every file in the bundle except the manifest itself."""
    out = {}
    for p in sorted(directory.rglob("*")):
        if p.is_file() and p.name != MANIFEST:
            rel = p.relative_to(directory).as_posix()
            out[rel] = FileEntry(sha256_file(p), p.stat().st_size)
    return out


def write_manifest(directory: Path, manifest: Manifest | Mapping[str, Any]) -> Manifest:
    """Record every file's checksum and write ``manifest.json``; returns the final manifest."""
    if not isinstance(manifest, Manifest):
        manifest = Manifest.from_json(dict(manifest), require_files=False)
    final = manifest.with_files(file_entries(directory))
    (directory / MANIFEST).write_text(final.dumps(), encoding="utf-8")
    return final


# ------------------------------------------------------------------ reading
@dataclass
class Bundle:
    path: Path
    manifest: Manifest
    #: read from disk by :meth:`open` (every listed file checked); a stage's bundle under
    #: construction has no ``files`` yet
    checked: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.manifest, Manifest):  # a stage's manifest under construction
            self.manifest = Manifest.from_json(dict(self.manifest), require_files=False)

    @classmethod
    def open(cls, path: str | Path, verify_checksums: bool = True) -> "Bundle":
        path = Path(path)
        mpath = path / MANIFEST
        if not path.is_dir():
            raise BundleError(f"bundle {path} is not a directory")
        if not mpath.is_file():
            raise BundleError(f"bundle {path} has no {MANIFEST}")
        try:
            data = load_json(mpath)  # size and nesting limits: the manifest may be hostile
        except (OSError, ValueError) as e:
            raise BundleError(f"{mpath} is not valid JSON: {e}") from None
        manifest = Manifest.from_json(data, where=str(mpath))
        root = path.resolve()
        for rel, entry in manifest.files.items():
            # containment first: nothing is said about a path outside the bundle, not even
            # whether it exists
            p = confined(root, rel, "files")
            if not p.is_file():
                raise BundleError(f"bundle {path} lacks {rel} (listed in field 'files')")
            if verify_checksums and sha256_file(p) != entry.sha256:
                raise BundleError(f"bundle file {rel} does not match its SHA-256 in field 'files' (modified or corrupt)")
        return cls(path, manifest, checked=True)

    def listed_file(self, rel: str, what: str) -> Path:
        """The path of a file a runtime is about to open: inside the bundle and, in a bundle
        read from disk, listed in ``files`` (so :meth:`open` checked its SHA-256)."""
        p = confined(self.path.resolve(), rel, what)
        if self.checked and rel not in self.manifest.files:
            raise BundleError(
                f"bundle {self.path}: {what} file {rel!r} is not listed in field 'files', so its checksum "
                "cannot be checked; refused (re-export the bundle)"
            )
        return p

    # convenient views
    @property
    def family(self) -> str:
        return self.manifest.family

    @property
    def target(self) -> str:
        return self.manifest.target

    @property
    def interface(self) -> dict[str, Any]:
        return self.manifest["interface"]

    @property
    def layout(self) -> GridLayout:
        return self.manifest.interface.layout

    def graph_file(self, name: str, kind: str = "onnx") -> Path:
        try:
            rel = self.manifest.graph_file(name, kind)
        except BundleError:
            raise BundleError(f"bundle {self.path} has no {kind} file for graph {name!r}") from None
        return self.listed_file(rel, f"graphs[{name!r}].{kind}")

    def files(self) -> Iterator[str]:
        return iter(self.manifest.files)


def confined(root: Path, rel: str, what: str) -> Path:
    """``root / rel`` with every symlink resolved, refused unless it stays inside ``root``
    (``root`` already resolved). The message names only ``rel``, never what lies outside."""
    target = (root / rel).resolve()
    if target != root and root not in target.parents:
        raise BundleError(f"bundle path {rel!r} (field '{what}') leaves the bundle (absolute, '..' or a symlink out); refused")
    return target


def is_bundle(path: str | Path) -> bool:
    return (Path(path) / MANIFEST).is_file()
