"""The installed C++ runtime starts anywhere (runtimes/cpp, INRGAN_BUNDLE_BACKENDS=ON).

* the release archive (cpack) is inrgan-runtime-<version>-linux-<arch>.tar.gz, unpacked into a
  fresh folder the build never saw; `cmake --install` into a prefix that is then moved;
* with the repository (build tree and .venv) and this Python environment hidden -- a private
  mount namespace lays an empty read-only tmpfs over them (`unshare`), nothing is renamed --
  and `env -i`: `ldd inrgan-render` has nothing `not found` and nothing resolved outside the
  prefix and the system library folders; every library the renders load, plugins and
  frontends included (`LD_DEBUG=libs`), comes from there too; the renders (ONNX Runtime and
  OpenVINO on the demo:tiny ONNX bundle, ExecuTorch on its ExecuTorch bundle) equal the Python
  runtime's within 1e-4; the consumer project (runtimes/cpp/tests/consumer) configures, builds
  and runs against the moved prefix;
* must-fail: the build tree's inrgan-render, whose run paths point into the hidden venv (what
  an INRGAN_BUNDLE_BACKENDS=OFF install keeps), does not start there, and the same checks name
  what it lacks; seen from outside, its libraries resolve outside any prefix and are flagged.

The build is INRGAN_CPP_BUILD (ctest, Release only) or runtimes/cpp/build/release, built here
when missing (see test_cpp_runtime.py). Everything the hidden runs touch lives in a temporary
folder outside the repository and the build tree.
"""
from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import pytest

import inrgan_export
from inrgan_export.core.latents import latents_from_seeds

from ..conftest import cli_command
from .test_cpp_runtime import CPP, REPO, TOLERANCE, bundle, cpp_build  # noqa: F401

#: libraries the system provides (libc, libstdc++, libcrypto, libpng, ...)
SYSTEM_LIB = re.compile(r"^/(usr/)?lib(32|64|x32)?/")
#: a library each backend's render must have loaded from the prefix (the plugin proves that
#: what OpenVINO opens itself, with no NEEDED entry, is found there too)
BACKEND_LIBS = {
    "onnxruntime": ("libonnxruntime.so",),
    "openvino": ("libopenvino.so", "libopenvino_intel_cpu_plugin.so", "libopenvino_onnx_frontend.so"),
    "executorch": ("libexecutorch.so", "libexecutorch_backend_xnnpack.so", "libexecutorch_kernels_optimized.so"),
}


# ----------------------------------------------------------------------------- isolation
def _hidden() -> list[Path]:
    """The folders a hidden run must not see: the repository (build tree, .venv), this Python
    environment, the build and the backends' library folders wherever they are."""
    paths = {REPO, Path(sys.prefix), Path(os.environ.get("INRGAN_CPP_BUILD") or CPP / "build")}
    import onnxruntime  # noqa: PLC0415 - where the wheels are (a venv outside the repo, too)

    paths.add(Path(onnxruntime.__file__).parent)
    found = sorted({p.resolve() for p in paths if p.exists()}, key=lambda p: len(p.parts))
    out: list[Path] = []
    for p in found:  # a folder inside one already hidden is hidden with it
        if not any(p == q or q in p.parents for q in out):
            out.append(p)
    return out


_ISOLATE = r"""
home=$1; shift
while [ "$1" != "--" ]; do mount -t tmpfs -o ro,size=64k,mode=755 inrgan-hidden "$1" || exit 97; shift; done
shift
exec env -i PATH=/usr/bin:/bin HOME="$home" LC_ALL=C "$@"
"""


def _unshare() -> list[str]:
    return ["unshare", "--user", "--map-root-user", "--mount", "--propagation", "private", "sh", "-c", _ISOLATE, "sh"]


@pytest.fixture(scope="module")
def work():
    """A folder outside the repository and the build tree (those are hidden during the runs)."""
    path = Path(tempfile.mkdtemp(prefix="inrgan-install-")).resolve()
    assert not any(h == path or h in path.parents for h in _hidden()), f"{path} would be hidden; set TMPDIR elsewhere"
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def no_hiding(work) -> str:
    """'' when a private mount namespace can hide folders here, else the reason it cannot
    (then the runs are only `env -i`, and the LD_DEBUG checks say where libraries came from)."""
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    probe = work / "probe"
    probe.mkdir()
    (probe / "seen").write_text("x")
    proc = subprocess.run([*_unshare(), str(work), str(probe), "--", "ls", "-A", str(probe)], capture_output=True, text=True)
    if proc.returncode != 0 or proc.stdout.strip():
        return f"cannot make a private mount namespace here (unshare: {proc.stderr.strip() or proc.stdout.strip()})"
    return ""


def isolated(no_hiding: str, home: Path, *cmd, env: dict[str, str] | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run CMD with `env -i` (PATH=/usr/bin:/bin, HOME, ENV), and with the repository, the
    build and the Python environment hidden unless NO_HIDING gives a reason why not."""
    home.mkdir(parents=True, exist_ok=True)
    extra = [f"{k}={v}" for k, v in (env or {}).items()]
    if no_hiding:  # the env -i part still holds; the LD_DEBUG checks below do the rest
        full = ["env", "-i", "PATH=/usr/bin:/bin", f"HOME={home}", "LC_ALL=C", *extra, *map(str, cmd)]
    else:
        full = [*_unshare(), str(home), *map(str, _hidden()), "--", *extra, *map(str, cmd)]
    return subprocess.run(full, capture_output=True, text=True, timeout=timeout)


# ----------------------------------------------------------------------------- checks
def ldd_problems(ldd: str, prefix: Path) -> list[str]:
    """What `ldd` shows outside PREFIX and the system library folders, or not found."""
    problems = []
    for line in ldd.splitlines():
        line = line.strip()
        if not line or line.startswith("linux-vdso") or line.startswith("statically linked"):
            continue
        if "=> not found" in line:
            problems.append(line)
            continue
        m = re.match(r"^(\S+) => (\S+) \(0x[0-9a-f]+\)$", line) or re.match(r"^(\S+) \(0x[0-9a-f]+\)$", line)
        assert m, f"unexpected ldd line: {line!r}"
        path = m.group(m.lastindex)
        if not _inside(path, prefix):
            problems.append(line)
    return problems


def _inside(path: str, prefix: Path) -> bool:
    real = os.path.normpath(path)
    return real.startswith(str(prefix) + os.sep) or bool(SYSTEM_LIB.match(real))


def loaded(ld_debug: str) -> list[str]:
    """Every library the loader initialised (LD_DEBUG=libs), dlopen-ed ones included."""
    return sorted({os.path.normpath(m) for m in re.findall(r"calling init: (\S+)", ld_debug)})


def readelf_runpaths(path: Path) -> list[str]:
    out = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True).stdout
    return [entry for m in re.findall(r"\((?:RPATH|RUNPATH)\)\s+Library r(?:un)?path: \[(.*)\]", out) for entry in m.split(":")]


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def backends(cpp_build) -> list[str]:  # noqa: F811
    version = subprocess.run([str(cpp_build / "inrgan-render"), "--version"], capture_output=True, text=True, check=True).stdout
    return [name for name in BACKEND_LIBS if f"{name} built" in version]


@pytest.fixture(scope="module")
def archive(cpp_build, work) -> Path:  # noqa: F811
    """The release archive, written by cpack outside the build tree."""
    proc = subprocess.run(["cpack", "--config", str(cpp_build / "CPackConfig.cmake"), "-B", str(work / "package")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    found = sorted((work / "package").glob("*.tar.gz"))
    assert len(found) == 1, found
    return found[0]


@pytest.fixture(scope="module")
def unpacked(archive, work) -> Path:
    """The archive unpacked into a folder that no build step has seen."""
    where = work / "elsewhere" / "opt"
    where.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "tar_filter"):  # Python >= 3.11.4: keep links inside the folder
            tar.extractall(where, filter="tar")
        else:
            tar.extractall(where)
    (prefix,) = list(where.iterdir())
    return prefix


@pytest.fixture(scope="module")
def moved_prefix(cpp_build, work) -> Path:  # noqa: F811
    """`cmake --install` into a prefix, then the prefix moved to another folder."""
    first = work / "install"
    proc = subprocess.run(["cmake", "--install", str(cpp_build), "--prefix", str(first)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    moved = work / "moved" / "inrgan"
    moved.parent.mkdir()
    first.rename(moved)
    return moved


@pytest.fixture(scope="module")
def et_bundle(backends, work) -> Path | None:
    """demo:tiny with --target executorch: INRGAN_TEST_ET_DIR/paper_et when the ExecuTorch
    tests exported it (ci.sh), else exported here."""
    if "executorch" not in backends:
        return None
    given = os.environ.get("INRGAN_TEST_ET_DIR")
    if given and (Path(given) / "paper_et" / "manifest.json").is_file():
        source = Path(given) / "paper_et"
    else:
        source = work / "export" / "tiny_et"
        source.parent.mkdir(exist_ok=True)
        proc = subprocess.run([*cli_command(), "demo:tiny", "--target", "executorch", "-o", str(source), "--force"],
                              capture_output=True, text=True, cwd=source.parent, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
    return Path(shutil.copytree(source, work / "bundles" / "tiny_et"))


@pytest.fixture(scope="module")
def onnx_bundle(bundle, work) -> Path:  # noqa: F811
    return Path(shutil.copytree(bundle, work / "bundles" / "tiny_onnx"))


def python_render(path: Path, backend: str | None, seeds: list[int], size: tuple[int, int]) -> np.ndarray:
    from inrgan_export import open_bundle

    with open_bundle(path, **({"backend": backend} if backend else {})) as g:
        return g.generate(latents_from_seeds(seeds, g.interface.z_dim), size)


# ----------------------------------------------------------------------------- tests
def test_archive_name_layout_and_version(archive, unpacked, backends):
    arch = platform.machine().lower().replace("amd64", "x86_64").replace("arm64", "aarch64")
    name = f"inrgan-runtime-{inrgan_export.__version__}-linux-{arch}"
    assert archive.name == f"{name}.tar.gz"
    assert unpacked.name == name  # one top folder
    with tarfile.open(archive) as tar:
        members = {m.name: m for m in tar.getmembers()}
    for part in ("bin/inrgan-render", "include/inrgan/inrgan.hpp", "lib/libinrgan.a", "lib/cmake/inrgan/inrganConfig.cmake",
                 "share/inrgan/bundled-libraries.txt"):
        assert f"{name}/{part}" in members, part
    if "onnxruntime" in backends:  # the soname link the wheel lacks travels as a link
        link = members[f"{name}/lib/libonnxruntime.so.1"]
        assert link.issym() and re.fullmatch(r"libonnxruntime\.so\.1\.\d+\.\d+", link.linkname), link.linkname
    version = subprocess.run([str(unpacked / "bin" / "inrgan-render"), "--version"], capture_output=True, text=True)
    assert version.stdout.startswith(f"inrgan-render {inrgan_export.__version__} "), version.stdout  # one version, from _version.py


def test_bundled_libraries_and_licences(unpacked, backends):
    listing = [line.split() for line in (unpacked / "share/inrgan/bundled-libraries.txt").read_text().splitlines()]
    by_backend: dict[str, list[str]] = {}
    for backend, name in listing:
        assert (unpacked / "lib" / name).exists(), name
        by_backend.setdefault(backend, []).append(name)
    assert sorted(by_backend) == sorted(backends)  # only the backends that were built
    for backend in backends:
        for lib in BACKEND_LIBS[backend]:
            assert any(name.startswith(lib) for name in by_backend[backend]), (backend, lib)
        licences = [p for p in (unpacked / "share/licenses" / backend).rglob("*") if p.is_file()]
        assert licences and any("licen" in p.read_text(errors="replace").lower() for p in licences), backend
    # every ELF file finds its libraries relative to itself, never through an absolute path
    for path in [*(unpacked / "bin").iterdir(), *(unpacked / "lib").glob("*.so*")]:
        if path.is_symlink():
            continue
        runpaths = readelf_runpaths(path)
        assert all(entry.startswith("$ORIGIN") for entry in runpaths), (path.name, runpaths)
    assert readelf_runpaths(unpacked / "bin" / "inrgan-render") == ["$ORIGIN/../lib"]


def test_hiding_works(no_hiding, work):
    """The hidden runs below see neither the repository nor this Python environment."""
    if no_hiding:
        pytest.skip(f"folders cannot be hidden here ({no_hiding}); the env -i and LD_DEBUG checks still run")
    proc = isolated(no_hiding, work / "home", "sh", "-c", f'ls -A "{REPO}" "{sys.prefix}"; echo "env:$(env | sort | tr "\\n" " ")"')
    assert proc.returncode == 0, proc.stderr
    listed = [line for line in proc.stdout.splitlines() if line and not line.endswith(":") and not line.startswith("env:")]
    assert listed == [], listed  # empty folders
    env = proc.stdout.split("env:")[1]
    assert "VIRTUAL_ENV" not in env and "LD_LIBRARY_PATH" not in env and "INRGAN" not in env, env


def test_ldd_resolves_inside_the_prefix(no_hiding, unpacked, work):
    proc = isolated(no_hiding, work / "home", "ldd", unpacked / "bin" / "inrgan-render")
    assert proc.returncode == 0, proc.stderr
    assert ldd_problems(proc.stdout, unpacked) == [], proc.stdout
    assert str(unpacked / "bin" / ".." / "lib") in proc.stdout  # the bundled libraries are the ones found


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino", "executorch"])
def test_renders_as_python_with_nothing_else(no_hiding, unpacked, onnx_bundle, et_bundle, backends, work, backend):
    if backend not in backends:
        pytest.skip(f"this C++ build has no {backend} backend")
    path = et_bundle if backend == "executorch" else onnx_bundle
    native = tuple(json.loads((path / "manifest.json").read_text())["interface"]["native_size"])
    size = native if backend == "executorch" else (24, 40)  # non-square past native (ExecuTorch: within its bound)
    out = work / f"render-{backend}.npy"
    home = work / f"home-{backend}"  # a fresh compiled-model cache: OpenVINO reads the ONNX graphs
    proc = isolated(no_hiding, home, unpacked / "bin" / "inrgan-render", path, "--backend", backend, "--seed", "3,4",
                    "--size", f"{size[0]}x{size[1]}", "-o", out, env={"LD_DEBUG": "libs"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    libs = loaded(proc.stderr)
    outside = [lib for lib in libs if not _inside(lib, unpacked)]
    assert outside == [], outside
    for lib in BACKEND_LIBS[backend]:
        assert any(Path(p).name.startswith(lib) and p.startswith(str(unpacked)) for p in libs), (lib, libs)
    want = python_render(path, "executorch" if backend == "executorch" else None, [3, 4], size)
    got = np.load(out)
    assert got.shape == want.shape and np.isfinite(got).all()
    assert float(np.abs(got - want).max()) <= TOLERANCE


def test_consumer_builds_and_runs_against_the_moved_prefix(no_hiding, moved_prefix, onnx_bundle, work):
    """runtimes/cpp/tests/consumer, configured, built and run with the same isolation."""
    src = Path(shutil.copytree(CPP / "tests" / "consumer", work / "consumer-src"))
    build = work / "consumer-build"
    gen = ["-G", "Ninja"] if shutil.which("ninja") else []
    for cmd in (["cmake", "-S", src, "-B", build, f"-DCMAKE_PREFIX_PATH={moved_prefix}", "-DCMAKE_BUILD_TYPE=Release", *gen],
                ["cmake", "--build", build]):
        proc = isolated(no_hiding, work / "home-consumer", *cmd)
        assert proc.returncode == 0, f"{cmd}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    cache = (build / "CMakeCache.txt").read_text()
    assert f"inrgan_DIR:PATH={moved_prefix}/lib/cmake/inrgan" in cache
    assert "site-packages" not in cache and str(REPO) not in cache
    proc = isolated(no_hiding, work / "home-consumer", build / "render_one", onnx_bundle, "3", "24", "40", work / "consumer.npy",
                    env={"LD_DEBUG": "libs"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    outside = [lib for lib in loaded(proc.stderr) if not _inside(lib, moved_prefix) and not lib.startswith(str(build))]
    assert outside == [], outside
    want = python_render(onnx_bundle, None, [3], (24, 40))
    assert float(np.abs(np.load(work / "consumer.npy") - want).max()) <= TOLERANCE


# ----------------------------------------------------------------------------- must-fail
def test_a_binary_that_needs_the_venv_does_not_start_hidden(no_hiding, cpp_build, onnx_bundle, work):  # noqa: F811
    """The build tree's inrgan-render keeps absolute run paths into the venv's wheels (as an
    INRGAN_BUNDLE_BACKENDS=OFF install does): hidden, ldd reports them not found and it fails
    to start -- the checks above would catch an install that is not self-contained."""
    if no_hiding:
        pytest.skip(f"folders cannot be hidden here ({no_hiding})")
    copy = work / "build-tree-tool" / "inrgan-render"
    copy.parent.mkdir()
    shutil.copy2(cpp_build / "inrgan-render", copy)  # the build tree itself is hidden
    ldd = isolated(no_hiding, work / "home", "ldd", copy)
    problems = ldd_problems(ldd.stdout, copy.parent)
    assert any("libopenvino.so" in p and "not found" in p for p in problems), ldd.stdout
    proc = isolated(no_hiding, work / "home", copy, onnx_bundle, "-o", work / "never.npy")
    assert proc.returncode == 127 and "error while loading shared libraries" in proc.stderr, (proc.returncode, proc.stderr)
    assert not (work / "never.npy").exists()


def test_ldd_check_flags_libraries_outside_the_prefix(cpp_build):  # noqa: F811
    """Seen without hiding, the build tree's tool resolves its backends in the venv: flagged."""
    ldd = subprocess.run(["ldd", str(cpp_build / "inrgan-render")], capture_output=True, text=True, check=True).stdout
    problems = ldd_problems(ldd, cpp_build)
    assert any("libopenvino.so" in p for p in problems), ldd
    assert not any("libc.so.6" in p for p in problems), problems  # system libraries are fine
