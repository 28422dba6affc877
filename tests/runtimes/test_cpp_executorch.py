"""The C++ runtime's ExecuTorch backend (runtimes/cpp/src/executorch_backend.cpp) against the
Python runtime's ExecuTorch backend, on executorch bundles (hypernet.pte / inr.pte, XNNPACK) of
both families: renders equal within the C++ backends' parity tolerance at native, 1/2, 2x,
non-square, zoom and extrapolation grids, batch 1 and 4, and past the programs' bound (tiled
and batch-chunked by both planners); no libtorch in the process; bad programs and renders no
split fits give one-line errors. The build is INRGAN_CPP_BUILD (ctest, also the sanitizer
build) or runtimes/cpp/build/release, built here when missing (see test_cpp_runtime.py).

The two exports (about 35 s of CPU each) run side by side, once: into INRGAN_TEST_ET_DIR when
given (ci.sh: shared by the release and sanitizer runs), else into this session's tmp."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from ..conftest import cli_command
from .test_cpp_runtime import TOLERANCE, _cases, cpp_build, one_line_error, render_cpp  # noqa: F401

PRESETS = {"paper": "demo:tiny", "sg2": "demo:sg2-tiny"}


@pytest.fixture(scope="module")
def built(cpp_build):  # noqa: F811
    version = subprocess.run([str(cpp_build / "inrgan-render"), "--version"], capture_output=True, text=True).stdout
    if "executorch built" not in version:
        pytest.skip(f"this C++ build has no ExecuTorch backend ({version.strip()}); see the CMake status line")
    return cpp_build


@pytest.fixture(scope="module")
def et_bundles(tmp_path_factory) -> dict[str, Path]:
    given = os.environ.get("INRGAN_TEST_ET_DIR")
    root = Path(given) if given else tmp_path_factory.mktemp("cpp-et")
    root.mkdir(parents=True, exist_ok=True)
    out = {family: root / f"{family}_et" for family in PRESETS}
    procs = {}
    for family, path in out.items():  # both at once: each export is mostly one core
        if not (path / "manifest.json").is_file():
            procs[family] = subprocess.Popen(
                [*cli_command(), PRESETS[family], "--target", "executorch", "-o", str(path), "--force"], cwd=root,
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for family, proc in procs.items():
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, f"export of {PRESETS[family]} failed:\n{err[-3000:]}"
    return out


def _past_bound(manifest: dict) -> tuple[int, int]:
    """A size past the export's bound (--max-res, default 2x native) in both axes, non-square."""
    mh, mw = manifest["executorch"]["bound"]["max_res"]
    return mh + mh // 4 + 3, mw + mw // 2 + 1


@pytest.mark.parametrize("family", sorted(PRESETS))
def test_renders_equal_python_executorch(built, et_bundles, tmp_path, family):
    from inrgan_export import open_bundle

    path = et_bundles[family]
    m = json.loads((path / "manifest.json").read_text())
    bound = m["executorch"]["bound"]
    over = bound["max_batch"] + 2  # past the batch bound too
    psi = [name for name in m["interface"]["hypernet_inputs"][1:] if name == "truncation_psi"]
    cases = [(f"{g}-b{b}", size, window, b, 1.0) for g, (size, window) in _cases(m["interface"]["native_size"]).items() if g != "odd-window" for b in (1, 4)]
    cases.append(("past-bound", _past_bound(m), (-0.1, 0.05, 1.2, 0.9), over, 1.0))
    if psi:
        cases.append(("native-psi0.7-b4", tuple(m["interface"]["native_size"]), (0.0, 0.0, 1.0, 1.0), 4, 0.7))
    z = np.random.RandomState(23).randn(over, m["interface"]["z_dim"]).astype(np.float32)
    got = _parity_dump(built, path, z, cases, tmp_path)
    failed = []
    with open_bundle(path, backend="executorch") as g:  # Python: ExecuTorch's runtime on the same .pte programs
        for label, size, window, batch, p in cases:
            extra = (np.full(batch, p, dtype=np.float32),) if psi else ()
            want = g.render(g.hypernet(z[:batch], *extra), size, window)
            if label == "past-bound":
                py_plan = g.last_plan
            image, pieces = got[label]
            assert image.shape == want.shape == (batch, 3, *size), label
            assert np.isfinite(image).all(), label
            diff = float(np.abs(image.astype(np.float64) - want).max())
            if diff > TOLERANCE:
                failed.append(f"{label}: max abs {diff:.3g} > {TOLERANCE:g}")
            if label != "past-bound":
                assert pieces == -(-batch // bound["max_batch"]), (label, pieces)  # one run per batch chunk, no tiles
    assert not failed, "; ".join(failed)
    if psi:  # psi reaches the program: 0.7 renders differ from 1.0
        assert float(np.abs(got["native-psi0.7-b4"][0] - got["native-b4"][0]).max()) > 100 * TOLERANCE
    # the render past the bound was split into pieces within it, as the Python planner splits it
    assert py_plan.pieces > 1
    assert got["past-bound"][1] == over * py_plan.pieces, (got["past-bound"][1], py_plan)


def _parity_dump(built, bundle, z, cases, folder):
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "z.npy", z)
    lines = [" ".join([label, str(size[0]), str(size[1]), *map(repr, map(float, window)), str(batch)] +
                      ([f"truncation_psi={psi!r}"] if psi != 1.0 else []))
             for label, size, window, batch, psi in cases]
    (folder / "cases.txt").write_text("\n".join(lines) + "\n")
    proc = subprocess.run([str(built / "inrgan-parity-dump"), str(bundle), str(folder / "z.npy"), str(folder / "cases.txt"),
                           str(folder), "executorch"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    pieces = dict(line.split(" pieces=") for line in proc.stdout.splitlines())
    return {label: (np.load(folder / f"{label}.npy"), int(pieces[label])) for label, *_ in cases}


def test_render_cli_and_no_libtorch(built, et_bundles, tmp_path):
    """inrgan-render --backend executorch renders; the process links ExecuTorch's runtime, CPU
    kernels and XNNPACK delegate and nothing of PyTorch; the programs are XNNPACK-delegated (the
    backend refuses a program whose delegate is not registered, so a render means it ran)."""
    from inrgan_export import open_bundle

    path = et_bundles["paper"]
    assert all(b"XnnpackBackend" in (path / f"{g}.pte").read_bytes() for g in ("hypernet", "inr"))
    render_cpp(built, path, "--backend", "executorch", "--seed", "3,4", "-o", tmp_path / "cpp.npy")
    with open_bundle(path, backend="executorch") as g:
        from inrgan_export.core.latents import latents_from_seeds

        want = g.generate(latents_from_seeds([3, 4], g.interface.z_dim), tuple(g.interface.native_size))
    assert float(np.abs(np.load(tmp_path / "cpp.npy") - want).max()) <= TOLERANCE
    ldd = subprocess.run(["ldd", str(built / "inrgan-render")], capture_output=True, text=True, check=True).stdout
    libs = {line.split()[0] for line in ldd.splitlines() if line.strip()}
    for needed in ("libexecutorch.so", "libexecutorch_backend_xnnpack.so", "libexecutorch_kernels_optimized.so"):
        assert needed in libs, (needed, ldd)
    assert not [lib for lib in libs if lib.startswith(("libtorch", "libc10"))], ldd  # libtorch, libtorch_cpu, libc10


def _copy(bundle: Path, to: Path) -> Path:
    shutil.copytree(bundle, to)
    return to


def _rewrite_sha(bundle: Path, rel: str) -> None:
    m = json.loads((bundle / "manifest.json").read_text())
    data = (bundle / rel).read_bytes()
    m["files"][rel].update(sha256=hashlib.sha256(data).hexdigest(), bytes=len(data))
    (bundle / "manifest.json").write_text(json.dumps(m))


def test_corrupt_program_is_a_one_line_error(built, et_bundles, tmp_path):
    bad = _copy(et_bundles["paper"], tmp_path / "bad")
    pte = bad / "inr.pte"
    data = bytearray(pte.read_bytes())
    data[8:40] = b"\xa5" * 32  # past the flatbuffer header: the program no longer parses
    pte.write_bytes(bytes(data))
    # as shipped: the checksum catches it
    one_line_error(render_cpp(built, bad, "--backend", "executorch", "-o", tmp_path / "x.png", check=False), 2, "inr.pte", "SHA-256")
    # with a matching checksum (a bad program exported as such): ExecuTorch refuses to load it
    _rewrite_sha(bad, "inr.pte")
    line = one_line_error(render_cpp(built, bad, "--backend", "executorch", "-o", tmp_path / "x.png", check=False), 2,
                          "ExecuTorch cannot load", "inr.pte")
    assert not (tmp_path / "x.png").exists(), line
    # a truncated program, likewise
    pte.write_bytes(bytes(data[:100]))
    _rewrite_sha(bad, "inr.pte")
    one_line_error(render_cpp(built, bad, "--backend", "executorch", "-o", tmp_path / "x.png", check=False), 2,
                   "ExecuTorch cannot load", "inr.pte")


#: seeded byte flips of inr.pte with the bundle's SHA-256 fixed up (a fully attacker-made
#: bundle); before the programs were verified (InternalConsistency), 7 of these 40 crashed
#: with SIGSEGV in Method::parse_values and one other seed's kernel check aborted
FLIP_SEED, FLIP_CASES = 1234, 40


def test_seeded_byte_flips_of_a_program_fail_cleanly(built, et_bundles, tmp_path):
    """Every flipped program renders (the flip hit weights) or is refused with one line,
    exit 2, naming the program: no signal, no exit 1, nothing written on refusal."""
    import random

    rng = random.Random(FLIP_SEED)
    bad = _copy(et_bundles["paper"], tmp_path / "flip")
    pte = bad / "inr.pte"
    original = pte.read_bytes()
    codes = []
    for case in range(FLIP_CASES):
        data = bytearray(original)
        for _ in range(rng.randint(1, 8)):
            k = rng.randrange(len(data))
            data[k] ^= 1 << rng.randrange(8)
        pte.write_bytes(bytes(data))
        _rewrite_sha(bad, "inr.pte")
        out = tmp_path / f"x{case}.png"
        proc = render_cpp(built, bad, "--backend", "executorch", "-o", out, check=False)
        codes.append(proc.returncode)
        assert proc.returncode in (0, 2), (case, proc.returncode, proc.stderr[-2000:])
        if proc.returncode == 2:
            one_line_error(proc, 2, "ExecuTorch", "inr")
            assert not out.exists(), case
    assert codes.count(2) >= FLIP_CASES // 2, codes  # not vacuous: most flips break the program


def test_no_split_within_the_bound_is_a_one_line_error(built, et_bundles, tmp_path):
    """Past the bound by so much that one row of the coarsest block alone exceeds it: the
    Python planner refuses it too."""
    from inrgan_export import open_bundle
    from inrgan_export.core.errors import ShapeError

    path = et_bundles["paper"]
    size = (512, 512)
    with open_bundle(path, backend="executorch") as g:
        with pytest.raises(ShapeError, match="cannot be split into pieces"):
            g.generate(np.zeros((1, g.interface.z_dim), np.float32), size)
    one_line_error(render_cpp(built, path, "--backend", "executorch", "--size", "512x512", "-o", tmp_path / "x.png", check=False), 2,
                   "size 512x512 cannot be split into pieces within this bundle's ExecuTorch bound", "32x32", "--max-res")
    assert not (tmp_path / "x.png").exists()


def test_bundle_without_programs_and_other_devices(built, et_bundles, tmp_path):
    plain = _copy(et_bundles["paper"], tmp_path / "plain")
    m = json.loads((plain / "manifest.json").read_text())
    del m["executorch"]
    (plain / "manifest.json").write_text(json.dumps(m))
    one_line_error(render_cpp(built, plain, "--backend", "executorch", "-o", tmp_path / "x.png", check=False), 2,
                   "has no ExecuTorch programs", "--target executorch")
    one_line_error(render_cpp(built, et_bundles["paper"], "--backend", "executorch", "--device", "GPU", "-o", tmp_path / "x.png",
                              check=False), 3, "runs on device CPU only", "GPU")
    assert not (tmp_path / "x.png").exists()
