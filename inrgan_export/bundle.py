"""Bundle directories: writing them atomically and reading them back with checks.

A bundle is a directory with ``manifest.json`` (the contract every runtime reads; its
schema is documented in the README), the graphs, golden reference data and the parity
report. It is built in a temporary sibling directory and renamed into place only when
complete, so a failed export never leaves a partial bundle behind.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

from .errors import BundleError, OutputError
from .grid import GridLayout
from .hashing import sha256_file
from .manifest import MANIFEST_FILE as MANIFEST
from .manifest import FileEntry, Manifest
from .safejson import load_json


# ------------------------------------------------------------------ writing
class BundleWriter:
    """Context manager: yields a temporary directory, publishes it as ``out`` on success."""

    def __init__(self, out: str | Path, force: bool = False) -> None:
        self.out = Path(out)
        self.force = force
        self.tmp: Path | None = None

    def check(self) -> None:
        """Fail early, before any work, if the output cannot be written."""
        if self.out.exists() and not self.force:
            raise OutputError(f"output directory {self.out} exists; pass --force to replace it")
        if self.out.exists() and not self.out.is_dir():
            raise OutputError(f"output {self.out} exists and is not a directory")
        parent = self.out.resolve().parent
        if not parent.is_dir():
            raise OutputError(f"cannot create {self.out}: parent directory {parent} does not exist")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise OutputError(f"cannot create {self.out}: directory {parent} is not writable")

    def __enter__(self) -> Path:
        self.check()
        parent = self.out.resolve().parent
        try:
            self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.", suffix=".partial", dir=parent))
        except OSError as e:
            raise OutputError(f"cannot create {self.out}: {e.strerror}") from None
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
            if self.out.exists():
                trash = self.out.with_name(f".{self.out.name}.old-{os.getpid()}")
                os.replace(self.out, trash)
                os.replace(self.tmp, self.out)
                shutil.rmtree(trash, ignore_errors=True)
            else:
                os.replace(self.tmp, self.out)
        except OSError as e:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise OutputError(f"cannot publish bundle at {self.out}: {e.strerror}") from None


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
        for rel, entry in manifest.files.items():
            p = path / rel
            if not p.is_file():
                raise BundleError(f"bundle {path} lacks {rel} (listed in field 'files')")
            if verify_checksums and sha256_file(p) != entry.sha256:
                raise BundleError(f"bundle file {rel} does not match its SHA-256 in field 'files' (modified or corrupt)")
        return cls(path, manifest)

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
            return self.path / self.manifest.graph_file(name, kind)
        except BundleError:
            raise BundleError(f"bundle {self.path} has no {kind} file for graph {name!r}") from None

    def files(self) -> Iterator[str]:
        return iter(self.manifest.files)


def is_bundle(path: str | Path) -> bool:
    return (Path(path) / MANIFEST).is_file()
