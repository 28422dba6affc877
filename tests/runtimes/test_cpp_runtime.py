"""The C++ runtime (runtimes/cpp) against the Python side, on demo:tiny and the tiny sg2
bundles (demo:sg2-tiny, nearest, and demo:sg2-tiny-bil, bilinear).

* per-grid inputs and tiles: byte for byte equal to inrgan_export.core.grid, for several layouts;
* renders: inrgan-render (OpenVINO, f32) equals the Python runtime (ONNX Runtime) within
  1e-4 at native, 1/2, 2x, non-square and windowed sizes, for --latent and --seed, and the
  Python OpenVINO runtime on an IR bundle; bundle precisions run or fail as in Python;
* sg2 (halving size rule, y-up coordinates, truncation_psi): C++ vs Python within the gate of
  Python's `verify` (finite, max |diff| <= the manifest's fp32 parity gate) at native, 1/2, 2x,
  non-square, zoom and extrapolation, psi 1.0 and 0.7, batch 1 and 3, one process per bundle;
* PNG output is the manifest's display mapping of the raw output;
* bad bundles and bad arguments give one-line errors with the Python CLI's exit codes.
* a bundle whose recorded gate (parity or INT8) failed for the backend is refused (exit 4) by the
  Python runtime's rule unless --allow-failed-parity, which renders it as the untouched bundle.

The binaries come from INRGAN_CPP_BUILD (set by ctest, also for the sanitizer build) or are
built here into runtimes/cpp/build/release. The bundle is INRGAN_TEST_BUNDLE (exported there
when missing) or the suite's tiny_bundle.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from inrgan_export.core.grid import CoordConvention, GridLayout, PaperSizeRule, Window
from inrgan_export.core.imageio import to_uint8
from inrgan_export.core.latents import latents_from_seeds

from ..conftest import run_cli

REPO = Path(__file__).resolve().parents[2]
CPP = REPO / "runtimes" / "cpp"
DEFAULT_BUILD = CPP / "build" / "release"
TOLERANCE = 1e-4  # the export's parity gate on images in [-1, 1]

#: Debian packages the build needs (runtimes/cpp/ci.sh installs them)
BUILD_HEADERS = {
    "nlohmann-json3-dev": "/usr/include/nlohmann/json.hpp",
    "libssl-dev": "/usr/include/openssl/evp.h",
    "libpng-dev": "/usr/include/png.h",
}


# ----------------------------------------------------------------------------- fixtures
def _build_here() -> Path:
    missing = [tool for tool in ("cmake", "c++") if shutil.which(tool) is None]
    missing += [pkg for pkg, header in BUILD_HEADERS.items() if not Path(header).exists()]
    if missing:
        pytest.skip(f"C++ runtime not built: missing {', '.join(missing)} (runtimes/cpp/ci.sh installs them)")
    configure = ["cmake", "-S", str(CPP), "-B", str(DEFAULT_BUILD), f"-DINRGAN_PYTHON={sys.executable}"]
    if shutil.which("ninja") and not (DEFAULT_BUILD / "CMakeCache.txt").exists():
        configure += ["-G", "Ninja"]
    for cmd in (configure, ["cmake", "--build", str(DEFAULT_BUILD), "-j2"]):
        proc = subprocess.run(cmd, capture_output=True, text=True)
        assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return DEFAULT_BUILD


@pytest.fixture(scope="session")
def cpp_build() -> Path:
    given = os.environ.get("INRGAN_CPP_BUILD")
    return Path(given) if given else _build_here()


@pytest.fixture(scope="session")
def bundle(request) -> Path:
    given = os.environ.get("INRGAN_TEST_BUNDLE")
    if not given:
        return request.getfixturevalue("tiny_bundle")
    path = Path(given)
    if not (path / "manifest.json").is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        proc = run_cli("demo:tiny", "--target", "onnx", "-o", path, "--force", cwd=path.parent)
        assert proc.returncode == 0, proc.stderr
    return path


#: the sg2 test presets: demo:sg2-tiny (nearest) and demo:sg2-tiny-bil (bilinear, align_corners)
SG2_PRESETS = {"nearest": "demo:sg2-tiny", "bil": "demo:sg2-tiny-bil"}


@pytest.fixture(scope="session")
def sg2_bundles(tmp_path_factory) -> dict[str, Path]:
    """Exported next to INRGAN_TEST_BUNDLE when given (shared by ci.sh's two builds), else here."""
    given = os.environ.get("INRGAN_TEST_BUNDLE")
    root = Path(given).parent if given else tmp_path_factory.mktemp("sg2")
    out = {}
    for variant, preset in SG2_PRESETS.items():
        path = root / f"sg2_tiny_{variant}_onnx"
        if not (path / "manifest.json").is_file():
            root.mkdir(parents=True, exist_ok=True)
            proc = run_cli(preset, "--target", "onnx", "-o", path, "--force", cwd=root)
            assert proc.returncode == 0, proc.stderr
        out[variant] = path
    return out


def parity_gate(manifest: dict):
    """The fp32 gate the export's `verify` applied to this bundle, as the manifest's
    parity.gates records it (a :class:`~inrgan_export.verify.Gate`: per image, max |diff| <=
    atol · max(1, max |ref|), atol the family's parity_atol)."""
    from inrgan_export.verify import Gate

    gates = [Gate.from_json(g) for g in manifest["parity"]["gates"].values() if g["precision"] == "fp32"]
    assert gates, "bundle has no fp32 parity gate"
    return min(gates, key=lambda g: g.atol)


def gate_passes(got: np.ndarray, want: np.ndarray, gate) -> tuple[bool, float]:
    """verify's fp32 gate (``Gate.passes``), the Python output as the reference: NaN/Inf
    fails; else its recorded rule. Returns the verdict and max |diff|."""
    from inrgan_export.verify import relative_error

    if not np.isfinite(got).all():
        return False, float("inf")
    max_abs = float(np.abs(got.astype(np.float64) - want).max())
    judged = relative_error(want, got)[0] if gate.scaled else max_abs
    return judged <= gate.atol, max_abs


@pytest.fixture(scope="session")
def manifest(bundle) -> dict:
    return json.loads((bundle / "manifest.json").read_text())


@pytest.fixture(scope="session")
def python_generator(bundle):
    from inrgan_export import open_bundle

    with open_bundle(bundle) as g:  # the Python runtime: ONNX Runtime, FP32, CPU
        yield g


def render_cpp(cpp_build: Path, *args, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(cpp_build / "inrgan-render"), *map(str, args)], capture_output=True, text=True, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def one_line_error(proc: subprocess.CompletedProcess, code: int, *needles: str) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("inrgan-render: error: "), proc.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def window_text(window) -> str:
    return ",".join(repr(float(v)) for v in window)


# ------------------------------------------------------------------ grids, byte for byte
@pytest.fixture(scope="session")
def layouts(manifest, sg2_bundles) -> dict[str, GridLayout]:
    found = _layouts(manifest)
    for variant, path in sg2_bundles.items():
        sg2 = json.loads((path / "manifest.json").read_text())
        found[f"sg2-{variant}"] = GridLayout.from_manifest(sg2["interface"]["grid"])
    return found


def _layouts(manifest: dict) -> dict[str, GridLayout]:
    tiny = GridLayout.from_manifest(manifest["interface"]["grid"])
    church_rule = PaperSizeRule(native=256, num_blocks=2, upsample_block_idx=1)
    return {
        "bundle": tiny,
        "bilinear": GridLayout(tiny.size_rule, tiny.coords, "bilinear", False, tiny.edges),
        "bilinear-align-corners": GridLayout(tiny.size_rule, tiny.coords, "bilinear", True, tiny.edges),
        "centered-coordinates": GridLayout(tiny.size_rule, CoordConvention((-1.0, -0.5), (2.0, 1.5)), "nearest", False, tiny.edges),
        "church": GridLayout(church_rule, CoordConvention(), "nearest", False, ((0, 1),)),
    }


SIZES = [(16, 16), (8, 8), (4, 4), (32, 32), (12, 20), (1, 1), (7, 300), (256, 256), (384, 96), (3, 1000)]
WINDOWS = [(0.0, 0.0, 1.0, 1.0), (0.25, 0.25, 0.75, 0.75), (-0.25, -0.25, 1.25, 1.25), (0.1, 0.2, 0.3, 0.9)]


def _dump(cpp_build, layout, size, window, out, bands=None) -> None:
    spec = out.parent / f"{out.name}.json"
    spec.write_text(json.dumps(layout.to_manifest()))
    cmd = [cpp_build / "inrgan-grid-dump", spec, f"{size[0]}x{size[1]}", window_text(window), out]
    if bands:
        cmd.append(f"{bands[0]},{bands[1]}")
    proc = subprocess.run(list(map(str, cmd)), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def _assert_same_arrays(expected: dict[str, np.ndarray], folder: Path, label: str) -> None:
    dumped = {p.stem: np.load(p) for p in folder.glob("*.npy")}
    assert sorted(dumped) == sorted(expected), label
    for name, want in expected.items():
        got = dumped[name]
        assert got.dtype == want.dtype and got.shape == want.shape, (label, name, got.dtype, got.shape, want.dtype, want.shape)
        assert got.tobytes() == np.ascontiguousarray(want).tobytes(), (label, name)


@pytest.mark.parametrize("layout_name", ["bundle", "bilinear", "bilinear-align-corners", "centered-coordinates", "church", "sg2-nearest", "sg2-bil"])
def test_grid_inputs_equal_python_byte_for_byte(cpp_build, layouts, tmp_path, layout_name):
    layout = layouts[layout_name]
    for size in SIZES:
        for k, window in enumerate(WINDOWS):
            out = tmp_path / f"{size[0]}x{size[1]}-{k}"
            _dump(cpp_build, layout, size, window, out)
            _assert_same_arrays(dict(layout.build(size, Window(*window)).arrays), out, f"{layout_name} {size} {window}")


@pytest.mark.parametrize("layout_name", ["bundle", "bilinear", "church", "sg2-bil"])
def test_tiles_equal_python(cpp_build, layouts, tmp_path, layout_name):
    layout = layouts[layout_name]
    for size, bands in [((256, 256), (2, 3)), ((64, 40), (4, 1)), ((384, 96), (8, 8)), ((16, 16), (3, 2))]:
        out = tmp_path / f"{size[0]}x{size[1]}"
        _dump(cpp_build, layout, size, WINDOWS[3], out, bands)
        grid = layout.build(size, Window(*WINDOWS[3]))
        tiles = grid.tiles(*bands)
        spans = json.loads((out / "tiles.json").read_text())
        assert [{"rows": [list(s) for s in t.y.spans], "cols": [list(s) for s in t.x.spans]} for t in tiles] == spans
        for k, tile in enumerate(tiles):
            _assert_same_arrays(grid.slice(tile), out / f"tile{k}", f"{layout_name} {size} tile {k}")


# ------------------------------------------------------------------ renders vs Python
def _cases(native: list[int]) -> dict[str, tuple[tuple[int, int], tuple[float, ...]]]:
    h, w = native
    full = (0.0, 0.0, 1.0, 1.0)
    return {
        "native": ((h, w), full),
        "half": ((h // 2, w // 2), full),
        "double": ((2 * h, 2 * w), full),
        "non-square": ((3 * h // 4, 5 * w // 4), full),
        "window": ((h, w), (0.25, 0.25, 0.75, 0.75)),
        "extrapolate": ((h, w), (-0.25, -0.25, 1.25, 1.25)),
        "odd-window": ((7, 33), (0.1, 0.2, 0.3, 0.9)),
    }


@pytest.mark.parametrize("case", ["native", "half", "double", "non-square", "window", "extrapolate", "odd-window"])
def test_render_equals_python_runtime(cpp_build, bundle, manifest, python_generator, tmp_path, case):
    size, window = _cases(manifest["interface"]["native_size"])[case]
    z = np.random.RandomState(11).randn(3, manifest["interface"]["z_dim"]).astype(np.float32)
    np.save(tmp_path / "z.npy", z)
    render_cpp(cpp_build, bundle, "--latent", tmp_path / "z.npy", "--size", f"{size[0]}x{size[1]}",
               "--window", window_text(window), "-o", tmp_path / "cpp.npy")
    got = np.load(tmp_path / "cpp.npy")
    want = python_generator.generate(z, size, window)
    assert got.dtype == np.float32 and got.shape == want.shape == (3, 3, *size)
    assert np.isfinite(got).all()
    assert float(np.abs(got - want).max()) <= TOLERANCE


def test_seeds_are_the_python_latents(cpp_build, bundle, manifest, python_generator, tmp_path):
    render_cpp(cpp_build, bundle, "--seed", "0-2,7", "-o", tmp_path / "seeds.npy")
    want = python_generator.generate(latents_from_seeds([0, 1, 2, 7], manifest["interface"]["z_dim"]), manifest["interface"]["native_size"])
    assert float(np.abs(np.load(tmp_path / "seeds.npy") - want).max()) <= TOLERANCE


@pytest.mark.parametrize("family", ["paper", "sg2"])
def test_interpolation_frames_equal_python(cpp_build, bundle, sg2_bundles, tmp_path, family):
    """inrgan-render --interpolate: the Python runtime's θ-space frames (interpolate()) within the gate."""
    from inrgan_export import open_bundle
    from inrgan_export.app.interpolation import interpolate

    path = bundle if family == "paper" else sg2_bundles["nearest"]
    render_cpp(cpp_build, path, "--interpolate", "1,2,3", "--steps", "4", "--size", "24x20", "-o", tmp_path / "walk.npy")
    got = np.load(tmp_path / "walk.npy")
    with open_bundle(path) as g:
        za, zb, zc = latents_from_seeds([1, 2, 3], g.interface.z_dim)
        want = np.concatenate([*interpolate(g, za, zb, 4, size=(24, 20)), *list(interpolate(g, zb, zc, 4, size=(24, 20)))[1:]])
        display = g.interface.display
    assert got.shape == want.shape == (7, 3, 24, 20)
    assert float(np.abs(got - want).max()) <= TOLERANCE
    assert float(np.abs(got[1] - got[0]).max()) > 1e-2  # the frames move
    render_cpp(cpp_build, path, "--interpolate", "1,2,3", "--steps", "4", "--size", "24x20", "-o", tmp_path / "walk.png")
    from PIL import Image

    strip = np.asarray(Image.open(tmp_path / "walk.png").convert("RGB")).astype(int)
    assert strip.shape == (24, 7 * 20, 3)
    assert np.abs(strip - np.concatenate(list(to_uint8(got, display)), axis=1)).max() == 0


def test_render_prints_the_recorded_parity_gates_and_refuses_an_unknown_rule(cpp_build, bundle, tmp_path):
    import shutil

    from inrgan_export.core.bundle import write_manifest

    proc = render_cpp(cpp_build, bundle, "--seed", "0", "-o", tmp_path / "x.npy")
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith("parity gates (recorded at export): ") and "onnxruntime split: max abs <= 0.0001 * max(1, max|ref|)" in line
    bad = tmp_path / "bad"
    shutil.copytree(bundle, bad)
    m = json.loads((bad / "manifest.json").read_text())
    m.pop("files")
    m["parity"]["gates"]["onnxruntime split"]["rule"] = "psnr_of_range"
    write_manifest(bad, m)
    one_line_error(render_cpp(cpp_build, bad, "--seed", "0", "-o", tmp_path / "y.npy", check=False), 2,
                   "parity.gates['onnxruntime split']", "rule is 'psnr_of_range'")
    assert not (tmp_path / "y.npy").exists()


def test_png_is_the_display_mapping_of_the_raw_output(cpp_build, bundle, python_generator, tmp_path):
    from PIL import Image

    render_cpp(cpp_build, bundle, "--seed", "3,5", "--size", "12x20", "-o", tmp_path / "raw.npy")
    proc = render_cpp(cpp_build, bundle, "--seed", "3,5", "--size", "12x20", "-o", tmp_path / "img.png")
    raw = np.load(tmp_path / "raw.npy")
    expected = to_uint8(raw, python_generator.interface.display)
    for k, seed in enumerate((3, 5)):
        path = tmp_path / f"img-seed{seed:04d}.png"
        assert f"wrote {path}" in proc.stderr
        with Image.open(path) as im:
            assert im.mode == "RGB" and im.size == (20, 12)
            assert np.array_equal(np.asarray(im), expected[k])
    render_cpp(cpp_build, bundle, "--seed", "3", "-o", tmp_path / "one.png")
    assert (tmp_path / "one.png").is_file() and not list(tmp_path.glob("one-*"))


def test_tiled_render_equals_python_and_whole_render(cpp_build, bundle, manifest, python_generator, tmp_path):
    from inrgan_export import open_bundle

    native = manifest["interface"]["native_size"]
    size = (8 * native[0], 6 * native[1])  # far over a 1 MiB budget: tiled on both sides
    render_cpp(cpp_build, bundle, "--seed", "4", "--size", f"{size[0]}x{size[1]}", "--max-memory", "1M", "-o", tmp_path / "tiled.npy")
    render_cpp(cpp_build, bundle, "--seed", "4", "--size", f"{size[0]}x{size[1]}", "-o", tmp_path / "whole.npy")
    tiled, whole = np.load(tmp_path / "tiled.npy"), np.load(tmp_path / "whole.npy")
    assert float(np.abs(tiled - whole).max()) <= 1e-5
    with open_bundle(bundle, max_memory=1 << 20) as g:
        want = g.generate(latents_from_seeds([4], manifest["interface"]["z_dim"]), size)
        assert g.last_plan.pieces > 1
    assert float(np.abs(tiled - want).max()) <= TOLERANCE


def test_cpp_api(cpp_build, bundle, sg2_bundles):
    for args in ([bundle], [sg2_bundles["nearest"], "truncation_psi"]):
        proc = subprocess.run([str(cpp_build / "inrgan-api-check"), *map(str, args)], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        assert "ok   extra_hypernet_inputs_by_name" in proc.stderr and "FAIL" not in proc.stderr


# ------------------------------------------------------------------ compiled-model cache
def test_compiled_model_cache_is_shared_with_python(cpp_build, sg2_bundles, tmp_path, monkeypatch):
    """C++ caches compiled models in the folder the Python OpenVINO backend uses for the same
    bundle, OpenVINO version and device; Python then loads C++'s entries (adds none)."""
    if not _python_openvino_available():
        pytest.skip("the Python OpenVINO backend is not in this version of inrgan_export")
    import openvino as ov

    from inrgan_export import open_bundle
    from inrgan_export.core.bundle import Bundle
    from inrgan_export.backends.openvino_backend import cache_dir_for

    monkeypatch.setenv("INRGAN_EXPORT_CACHE", str(tmp_path / "cache"))
    bundle = sg2_bundles["bil"]
    expected = cache_dir_for(Bundle.open(bundle), ov.__version__, "CPU")
    render_cpp(cpp_build, bundle, "--seed", "1", "-o", tmp_path / "a.npy")
    assert [p.name for p in (tmp_path / "cache" / "openvino").iterdir()] == [expected.name]
    blobs = sorted(p.name for p in expected.iterdir())
    assert len(blobs) == 2, blobs  # hypernet and inr
    render_cpp(cpp_build, bundle, "--seed", "1", "-o", tmp_path / "b.npy")  # second open: loaded, not recompiled
    with open_bundle(bundle, backend="openvino") as g:
        assert Path(g.cache_dir) == expected
        g.generate(latents_from_seeds([1], g.interface.z_dim), g.interface.native_size)
    assert sorted(p.name for p in expected.iterdir()) == blobs
    assert np.array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))


# ------------------------------------------------------------------ the installed library
def test_installed_library_builds_a_consumer_project(cpp_build, sg2_bundles, tmp_path):
    """`cmake --install` into a prefix; a project outside the tree finds it with
    find_package(inrgan CONFIG), links inrgan::inrgan (dependencies resolved by the package
    config) and renders a bundle within the gate."""
    from inrgan_export import open_bundle

    prefix, build = tmp_path / "prefix", tmp_path / "consumer"
    steps = [
        ["cmake", "--install", str(cpp_build), "--prefix", str(prefix)],
        ["cmake", "-S", str(CPP / "tests" / "consumer"), "-B", str(build), f"-DCMAKE_PREFIX_PATH={prefix}", f"-DINRGAN_PYTHON={sys.executable}",
         *(["-G", "Ninja"] if shutil.which("ninja") else [])],
        ["cmake", "--build", str(build)],
    ]
    for cmd in steps:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"{' '.join(cmd)}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    for part in ("include/inrgan/inrgan.hpp", "lib/libinrgan.a", "lib/cmake/inrgan/inrganConfig.cmake", "bin/inrgan-render"):
        assert (prefix / part).is_file(), part
    cache = (build / "CMakeCache.txt").read_text()
    assert f"inrgan_DIR:PATH={prefix}/lib/cmake/inrgan" in cache  # the installed package, not the build tree
    bundle = sg2_bundles["nearest"]
    proc = subprocess.run([str(build / "render_one"), str(bundle), "3", "24", "40", str(tmp_path / "c.npy")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    m = json.loads((bundle / "manifest.json").read_text())
    with open_bundle(bundle) as g:
        want = g.generate(latents_from_seeds([3], m["interface"]["z_dim"]), (24, 40))
    ok, max_abs = gate_passes(np.load(tmp_path / "c.npy"), want, parity_gate(m))
    assert ok, max_abs


# ------------------------------------------------------------------ sg2 vs Python, in the gate
def sg2_cases(native: list[int]) -> list[tuple[str, tuple[int, int], tuple[float, ...], int, float]]:
    """(label, size, window, batch, psi): every grid x psi {1.0, 0.7} x batch {1, 3}."""
    h, w = native
    full = (0.0, 0.0, 1.0, 1.0)
    grids = {
        "native": ((h, w), full),
        "half": ((h // 2, w // 2), full),
        "double": ((2 * h, 2 * w), full),
        "non-square": ((3 * h // 4, 5 * w // 4), full),
        "zoom": ((h, w), (0.25, 0.25, 0.75, 0.75)),
        "extrapolate": ((h, w), (-0.25, -0.25, 1.25, 1.25)),
    }
    return [(f"{g}-psi{psi:g}-b{batch}", size, window, batch, psi)
            for g, (size, window) in grids.items() for psi in (1.0, 0.7) for batch in (1, 3)]


def run_parity_dump(cpp_build: Path, bundle: Path, z: np.ndarray, cases, folder: Path) -> dict[str, np.ndarray]:
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "z.npy", z)
    lines = [" ".join([label, str(size[0]), str(size[1]), *map(repr, map(float, window)), str(batch), f"truncation_psi={psi!r}"])
             for label, size, window, batch, psi in cases]
    (folder / "cases.txt").write_text("\n".join(lines) + "\n")
    proc = subprocess.run([str(cpp_build / "inrgan-parity-dump"), str(bundle), str(folder / "z.npy"), str(folder / "cases.txt"), str(folder)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return {label: np.load(folder / f"{label}.npy") for label, *_ in cases}


@pytest.mark.parametrize("variant", sorted(SG2_PRESETS))
def test_sg2_renders_equal_python_within_the_gate(cpp_build, sg2_bundles, tmp_path, variant):
    from inrgan_export import open_bundle

    bundle = sg2_bundles[variant]
    m = json.loads((bundle / "manifest.json").read_text())
    gate = parity_gate(m)
    atol = gate.atol
    z = np.random.RandomState(17).randn(3, m["interface"]["z_dim"]).astype(np.float32)
    cases = sg2_cases(m["interface"]["native_size"])
    got = run_parity_dump(cpp_build, bundle, z, cases, tmp_path)
    rows, failed = [], []
    with open_bundle(bundle) as g:  # the Python runtime: ONNX Runtime, FP32
        for label, size, window, batch, psi in cases:
            want = g.render(g.hypernet(z[:batch], np.full(batch, psi, dtype=np.float32)), size, window)
            assert got[label].shape == want.shape == (batch, 3, *size), label
            ok, max_abs = gate_passes(got[label], want, gate)
            rows.append({"case": label, "size": list(size), "window": list(window), "max_abs": max_abs, "gate": atol, "passed": ok})
            if not ok:
                failed.append(f"{label}: max abs {max_abs:.3g} fails {gate.describe()}")
    report = os.environ.get("INRGAN_CPP_PARITY_REPORT")
    if report:  # the per-case figures, for the record (runtimes/cpp/README.md)
        Path(report).mkdir(parents=True, exist_ok=True)
        build = Path(cpp_build).name
        (Path(report) / f"sg2-{variant}-{build}.json").write_text(json.dumps(rows, indent=1))
    assert not failed, "; ".join(failed)
    # psi 0.7 renders differ from psi 1.0 (the input reaches the graph)
    assert float(np.abs(got["native-psi0.7-b3"] - got["native-psi1-b3"]).max()) > 10 * atol


@pytest.mark.slow
def test_released_church_configuration_equals_python_within_the_gate(cpp_build, tmp_path_factory, tmp_path):
    """demo:released-church (the authors' released churches.pkl configuration, 256²) at native
    size, a zoom window and ψ 0.7, batch 1 and 2. INRGAN_RELEASED_CHURCH_BUNDLE reuses an
    exported bundle; otherwise it is exported here (tens of minutes on 2 cores)."""
    from inrgan_export import open_bundle

    given = os.environ.get("INRGAN_RELEASED_CHURCH_BUNDLE")
    bundle = Path(given) if given else tmp_path_factory.mktemp("released") / "released_church_onnx"
    if not (bundle / "manifest.json").is_file():
        proc = run_cli("demo:released-church", "--target", "onnx", "-o", bundle, "--force", cwd=bundle.parent, timeout=5400)
        assert proc.returncode == 0, proc.stderr
    m = json.loads((bundle / "manifest.json").read_text())
    gate = parity_gate(m)
    h, w = m["interface"]["native_size"]
    cases = [("native-psi1-b2", (h, w), (0.0, 0.0, 1.0, 1.0), 2, 1.0), ("native-psi0.7-b1", (h, w), (0.0, 0.0, 1.0, 1.0), 1, 0.7),
             ("zoom-psi0.7-b1", (h // 2, w // 2), (0.25, 0.25, 0.75, 0.75), 1, 0.7)]
    z = np.random.RandomState(23).randn(2, m["interface"]["z_dim"]).astype(np.float32)
    got = run_parity_dump(cpp_build, bundle, z, cases, tmp_path)
    with open_bundle(bundle) as g:
        for label, size, window, batch, psi in cases:
            want = g.render(g.hypernet(z[:batch], np.full(batch, psi, dtype=np.float32)), size, window)
            ok, max_abs = gate_passes(got[label], want, gate)
            print(f"released-church {label}: max abs {max_abs:.3g} (gate {gate.describe()})")
            assert ok, (label, max_abs, gate.describe())


def test_sg2_gate_catches_a_wrong_coordinate_convention(cpp_build, sg2_bundles, tmp_path):
    """The same gate fails when C++ samples y downwards (the manifest's y-up kind dropped): the
    parity check above can fail."""
    from inrgan_export import open_bundle

    flipped = tmp_path / "flipped"
    shutil.copytree(sg2_bundles["nearest"], flipped)
    _edit_manifest(flipped, lambda m: m["interface"]["grid"]["coordinates"].pop("kind"))
    render_cpp(cpp_build, flipped, "--seed", "2", "-o", tmp_path / "flipped.npy")
    m = json.loads((flipped / "manifest.json").read_text())
    with open_bundle(sg2_bundles["nearest"]) as g:
        want = g.generate(latents_from_seeds([2], m["interface"]["z_dim"]), m["interface"]["native_size"])
    ok, max_abs = gate_passes(np.load(tmp_path / "flipped.npy"), want, parity_gate(m))
    assert not ok and max_abs > 1e-2


def test_truncation_on_the_command_line(cpp_build, bundle, sg2_bundles, tmp_path):
    from inrgan_export import open_bundle

    sg2 = sg2_bundles["bil"]
    m = json.loads((sg2 / "manifest.json").read_text())
    render_cpp(cpp_build, sg2, "--seed", "0,5", "--truncation", "0.6", "--size", "20x36", "-o", tmp_path / "psi.npy")
    with open_bundle(sg2) as g:
        z = latents_from_seeds([0, 5], m["interface"]["z_dim"])
        want = g.render(g.hypernet(z, np.full(2, 0.6, dtype=np.float32)), (20, 36))
    ok, max_abs = gate_passes(np.load(tmp_path / "psi.npy"), want, parity_gate(m))
    assert ok, max_abs
    # a generator without the input refuses the option (exit 2, one line naming it)
    one_line_error(render_cpp(cpp_build, bundle, "--truncation", "0.7", "-o", tmp_path / "x.png", check=False), 2,
                   "--truncation: this generator's hypernetwork has no truncation_psi input")
    assert not (tmp_path / "x.png").exists()


def test_no_family_name_is_hard_coded(cpp_build, sg2_bundles, tmp_path):
    """Renaming the family changes nothing: the interface alone says how to render."""
    renamed = tmp_path / "renamed"
    shutil.copytree(sg2_bundles["nearest"], renamed)
    _edit_manifest(renamed, lambda m: (m.update(family="someone-elses"), m["interface"].update(family="someone-elses")))
    render_cpp(cpp_build, renamed, "--seed", "3", "--size", "16x24", "-o", tmp_path / "renamed.npy")
    render_cpp(cpp_build, sg2_bundles["nearest"], "--seed", "3", "--size", "16x24", "-o", tmp_path / "sg2.npy")
    assert np.array_equal(np.load(tmp_path / "renamed.npy"), np.load(tmp_path / "sg2.npy"))


@pytest.mark.parametrize("version", ["1.1", "1.17"])  # the integer 1: every other test's bundle
def test_manifest_versions_of_major_1_open(cpp_build, bundle, tmp_path, version):
    copy = tmp_path / "v"
    shutil.copytree(bundle, copy)
    _edit_manifest(copy, lambda m: m.update(manifest_version=version))
    render_cpp(cpp_build, copy, "--seed", "1", "-o", tmp_path / "out.npy")


# ------------------------------------------------------------------ OpenVINO IR bundles
@pytest.fixture(scope="session")
def ir_bundle(bundle, tmp_path_factory) -> Path:
    """The tiny bundle with OpenVINO IR next to its ONNX, laid out as the openvino target
    writes it (graphs.<name>.openvino/.openvino_weights, an "openvino" section), converted
    here with OpenVINO's converter because a full --target openvino export takes minutes."""
    import openvino as ov

    from inrgan_export.core.bundle import write_manifest

    out = tmp_path_factory.mktemp("ir") / "tiny_ov"
    shutil.copytree(bundle, out)
    m = json.loads((out / "manifest.json").read_text())
    for name, entry in m["graphs"].items():
        ov.save_model(ov.convert_model(str(out / entry["onnx"])), str(out / f"{name}.xml"), compress_to_fp16=False)
        entry.update(openvino=f"{name}.xml", openvino_weights=f"{name}.bin")
    m["openvino"] = {"version": ov.__version__, "device": "CPU", "precision": "fp32", "inference_precision_hint": "f32",
                     "inference_precision": {name: "f32" for name in m["graphs"]}}
    m["default_backend"] = "openvino"
    m.pop("files")
    write_manifest(out, m)  # recomputes the SHA-256 of every file
    return out


def _python_openvino_available() -> bool:
    from inrgan_export.backends import BACKENDS

    return "openvino" in BACKENDS


def test_ir_bundle_equals_python_runtimes(cpp_build, ir_bundle, manifest, python_generator, tmp_path):
    size, window = (12, 20), (0.1, 0.2, 0.9, 0.7)
    z = np.random.RandomState(5).randn(2, manifest["interface"]["z_dim"]).astype(np.float32)
    np.save(tmp_path / "z.npy", z)
    render_cpp(cpp_build, ir_bundle, "--latent", tmp_path / "z.npy", "--size", "12x20", "--window", window_text(window),
               "-o", tmp_path / "ir.npy")
    got = np.load(tmp_path / "ir.npy")
    assert float(np.abs(got - python_generator.generate(z, size, window)).max()) <= TOLERANCE  # ONNX Runtime
    if _python_openvino_available():
        from inrgan_export import open_bundle

        with open_bundle(ir_bundle, backend="openvino", threads=2) as g:  # the same IR on the same backend
            assert float(np.abs(got - g.generate(z, size, window)).max()) <= 1e-6


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16", "int8"])
def test_bundle_precision_runs_or_fails_as_in_python(cpp_build, ir_bundle, tmp_path, capsys, precision):
    """A precision the device lacks is refused as the Python CLI refuses it (same code and
    message); one it has runs: the hint is set explicitly and read back."""
    if not _python_openvino_available():
        pytest.skip("the Python OpenVINO backend is not in this version of inrgan_export")
    from inrgan_export.cli import main as python_cli

    variant = tmp_path / f"tiny_{precision}"
    shutil.copytree(ir_bundle, variant)
    _edit_manifest(variant, lambda m: m["openvino"].update(precision=precision))
    code = python_cli(["render", str(variant), "--seed", "1", "-o", str(tmp_path / "py.npy")])
    python_err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("inrgan-export: error: ")]
    cpp = render_cpp(cpp_build, variant, "--seed", "1", "-o", tmp_path / "cpp.npy", check=False)
    assert cpp.returncode == code, (cpp.stderr, python_err)
    if code == 0:
        tolerance = TOLERANCE if precision in ("fp32", "int8") else 0.05  # int8 here has no Q/DQ nodes: f32
        assert float(np.abs(np.load(tmp_path / "cpp.npy") - np.load(tmp_path / "py.npy")).max()) <= tolerance
    else:
        assert one_line_error(cpp, code).removeprefix("inrgan-render: error: ") == python_err[0].removeprefix("inrgan-export: error: ")


# ------------------------------------------------------------------ errors
def _edit_manifest(path: Path, edit) -> None:
    m = json.loads((path / "manifest.json").read_text())
    edit(m)
    (path / "manifest.json").write_text(json.dumps(m))


def _drop_grid_input(m):
    m["interface"]["grid"]["inputs"].pop()


BAD_BUNDLES = {
    "missing graph": (lambda p: (p / "inr.onnx").unlink(), "lacks inr.onnx"),
    "missing listed file": (lambda p: (p / "parity.md").unlink(), "lacks parity.md (listed in field 'files')"),
    "checksum mismatch": (lambda p: (p / "parity.md").open("a").write("x"), "parity.md does not match its SHA-256 in field 'files'"),
    "graph checksum mismatch": (lambda p: (p / "hypernet.onnx").open("ab").write(b"\0"), "hypernet.onnx does not match its SHA-256"),
    "manifest version": (lambda p: _edit_manifest(p, lambda m: m.update(manifest_version=2)),
                         "field 'manifest_version' is 2; this runtime reads major version 1 (1 or \"1.N\")"),
    "manifest major version": (lambda p: _edit_manifest(p, lambda m: m.update(manifest_version="2.0")),
                               "field 'manifest_version' is \"2.0\"; this runtime reads major version 1"),
    "manifest version text": (lambda p: _edit_manifest(p, lambda m: m.update(manifest_version="1.x")), "field 'manifest_version' is \"1.x\""),
    "extra hypernet input": (lambda p: _edit_manifest(p, lambda m: m["interface"]["hypernet_inputs"].append("truncation_psi")),
                             "graph 'hypernet' takes inputs z but field 'interface' names truncation_psi,z"),
    "hypernet input default": (lambda p: _edit_manifest(p, lambda m: m["interface"].update(hypernet_input_defaults={"z": 1.0})),
                               "field 'interface.hypernet_input_defaults' names 'z', which is not an extra hypernetwork input"),
    "schema": (lambda p: _edit_manifest(p, lambda m: m.update(schema="other/thing")), "field 'schema' is \"other/thing\""),
    "family": (lambda p: _edit_manifest(p, lambda m: m.update(family=3)), "field 'family' must be a string"),
    "size rule": (lambda p: _edit_manifest(p, lambda m: m["interface"]["grid"]["size_rule"].update(kind="linear")),
                  "field 'interface.grid.size_rule.kind' is 'linear'; this runtime knows: halving, paper-exp"),
    "resample mode": (lambda p: _edit_manifest(p, lambda m: m["interface"]["grid"]["resample"].update(mode="bicubic")),
                      "field 'interface.grid.resample.mode' is 'bicubic'"),
    "missing field": (lambda p: _edit_manifest(p, lambda m: m["interface"].pop("z_dim")), "field 'interface.z_dim' is missing"),
    "wrong type": (lambda p: _edit_manifest(p, lambda m: m["interface"].update(theta_dim="many")), "field 'interface.theta_dim' must be an integer"),
    "grid inputs": (lambda p: _edit_manifest(p, _drop_grid_input), "field 'interface.grid.inputs' lists"),
    "openvino precision": (lambda p: _edit_manifest(p, lambda m: m.update(openvino={"precision": "int4"})),
                           "field 'openvino.precision' is 'int4'; this runtime knows: bf16, fp16, fp32, int8"),
    "inference precision": (lambda p: _edit_manifest(p, lambda m: m.update(openvino={"inference_precision": "f64"})),
                            "field 'openvino.inference_precision' is 'f64'"),
    "coordinate convention": (lambda p: _edit_manifest(p, lambda m: m["interface"]["grid"]["coordinates"].update(kind="polar")),
                              "field 'interface.grid.coordinates.kind' is \"polar\"; this runtime knows: y-up"),
    "path outside": (lambda p: _edit_manifest(p, lambda m: m["files"].update({"../secret": {"sha256": "0"}})), "leaves the bundle directory"),
    "not json": (lambda p: (p / "manifest.json").write_text("{not json"), "is not valid JSON"),
    # numbers that size work, past the hard limits (issue 30: 10^8 blocks was std::bad_alloc, exit 1)
    "num_blocks lie": (lambda p: _edit_manifest(p, lambda m: m["interface"]["grid"]["size_rule"].update(num_blocks=10**8)),
                       "field 'interface.grid.size_rule.num_blocks' must be an integer from 1 to 16 (found 100000000)"),
    "z_dim lie": (lambda p: _edit_manifest(p, lambda m: m["interface"].update(z_dim=2**31 - 1)),
                  "field 'interface.z_dim' must be an integer from 1 to 65536"),
    # numbers that disagree with the graph (before: exit 1, OpenVINO's/ONNX Runtime's multi-line text)
    "z_dim vs graph": (lambda p: _edit_manifest(p, lambda m: m["interface"].update(z_dim=8)),
                       "graph 'hypernet' does not match fields 'interface.z_dim' (8) and 'interface.theta_dim'"),
    "theta_dim vs graph": (lambda p: _edit_manifest(p, lambda m: m["interface"].update(theta_dim=7)),
                           "graph 'hypernet' does not match fields 'interface.z_dim' (16) and 'interface.theta_dim' (7)"),
    "no manifest": (lambda p: (p / "manifest.json").unlink(), "has no manifest.json"),
}


@pytest.mark.parametrize("name", sorted(BAD_BUNDLES))
def test_bad_bundles_name_the_field(cpp_build, bundle, tmp_path, name):
    broken = tmp_path / "broken"
    shutil.copytree(bundle, broken)
    damage, needle = BAD_BUNDLES[name]
    damage(broken)
    proc = render_cpp(cpp_build, broken, "--seed", "1", "-o", tmp_path / "out.png", check=False)
    one_line_error(proc, 2, needle)
    assert not (tmp_path / "out.png").exists()


def test_not_a_bundle(cpp_build, tmp_path):
    one_line_error(render_cpp(cpp_build, tmp_path / "nowhere", "-o", tmp_path / "x.png", check=False), 2, "is not a directory")


def _bad_latents(tmp_path: Path, z_dim: int) -> dict[str, Path]:
    np.save(tmp_path / "wide.npy", np.ones((2, z_dim + 1), dtype=np.float32))
    nan = np.ones((2, z_dim), dtype=np.float32)
    nan[1, 0] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    np.save(tmp_path / "ints.npy", np.ones((1, z_dim), dtype=np.int32))
    (tmp_path / "text.npy").write_text("not numpy")
    np.save(tmp_path / "many.npy", np.zeros((4097, z_dim), dtype=np.float32))
    return {k: tmp_path / f"{k}.npy" for k in ("wide", "nan", "ints", "text", "many")}


BAD_ARGUMENTS = {
    # name: (arguments after BUNDLE, exit code, text the error names)
    "size zero": (["--size", "0x5"], 2, "size 0x5 is impossible: height and width must be in 1..65536"),
    "size text": (["--size", "big"], 2, "size 'big' is not HxW or N"),
    "size too large": (["--size", "70000x5"], 2, "1..65536"),
    "empty window": (["--window", "1,1,0,0"], 2, "window 1,1,0,0 is empty"),
    "window text": (["--window", "0,0,1"], 2, "is not X0,Y0,X1,Y1"),
    "window inf": (["--window", "0,0,inf,1"], 2, "non-finite"),
    "negative seed": (["--seed", "-1"], 2, "seed -1 is out of range: seeds are integers in 0..4294967295"),
    "seed text": (["--seed", "x"], 2, "seed list 'x' is not N, A-B or N,M,..."),
    "seed and latent": (["--seed", "1", "--latent", "{wide}"], 2, "not allowed with argument --seed"),
    "latent shape": (["--latent", "{wide}"], 2, "shape [2, {z_dim_plus_1}]; this generator takes [N, {z_dim}]"),
    "latent nan": (["--latent", "{nan}"], 2, "row 1 contains NaN or Inf"),
    "latent dtype": (["--latent", "{ints}"], 2, "dtype <i4; expected float32"),
    "latent not npy": (["--latent", "{text}"], 2, "is not a plain .npy array"),
    "latent missing": (["--latent", "{tmp}/missing.npy"], 2, "does not exist"),
    "latent rows": (["--latent", "{many}"], 2, "has 4097 rows; render takes at most 4096 latents per run (as --seed)"),
    "output suffix": (["-o", "{tmp}/out.jpg"], 2, "must end in .png or .npy"),
    "output directory": (["-o", "{tmp}/no/such/dir/out.png"], 2, "does not exist"),
    "unknown backend": (["--backend", "tflite"], 2, "unknown backend 'tflite'; valid: openvino, tensorrt, onnxruntime"),
    "unknown option": (["--colour", "red"], 2, "unrecognized argument --colour"),
    "threads": (["--threads", "0"], 2, "'0' is not a positive integer"),
    "memory": (["--max-memory", "10"], 2, "memory budget '10' is too small"),
    "device": (["--device", "NOT_A_DEVICE"], 3, "OpenVINO has no device 'NOT_A_DEVICE' here; available: CPU"),
}


@pytest.mark.parametrize("name", sorted(BAD_ARGUMENTS))
def test_bad_arguments(cpp_build, bundle, manifest, tmp_path, name):
    z_dim = manifest["interface"]["z_dim"]
    values = {k: str(v) for k, v in _bad_latents(tmp_path, z_dim).items()}
    values.update(tmp=str(tmp_path), z_dim=str(z_dim), z_dim_plus_1=str(z_dim + 1))
    args, code, needle = BAD_ARGUMENTS[name]
    args = [a.format(**values) for a in args]
    if "-o" not in args:
        args += ["-o", str(tmp_path / "out.png")]
    one_line_error(render_cpp(cpp_build, bundle, *args, check=False), code, needle.format(**values))
    assert not list(tmp_path.glob("out*")) and not list(tmp_path.glob(".out*"))


def test_missing_operands(cpp_build, bundle, tmp_path):
    one_line_error(render_cpp(cpp_build, bundle, check=False), 2, "-o/--out")
    one_line_error(render_cpp(cpp_build, "-o", tmp_path / "x.png", check=False), 2, "BUNDLE")
    assert render_cpp(cpp_build, "--help").stdout.startswith("usage: inrgan-render")


def test_tensorrt_reported_as_not_built(cpp_build, bundle, tmp_path):
    version = render_cpp(cpp_build, "--version").stdout
    if "tensorrt built" in version:
        pytest.skip("this build has the TensorRT backend")
    assert "tensorrt not built" in version
    one_line_error(render_cpp(cpp_build, bundle, "--backend", "tensorrt", "-o", tmp_path / "x.png", check=False), 3,
                   "backend tensorrt is not built")


@pytest.mark.parametrize("args", [["--size", "0x5"], ["--window", "1,1,0,0"], ["--seed", "-1"], ["--seed", "1-x"], ["--size", "9x"],
                                  ["--truncation", "x"], ["--truncation", "nan"], ["--interpolate", "4,4"],
                                  ["--interpolate", "1,x"], ["--interpolate", "1,2", "--steps", "0"],
                                  ["--interpolate", "1,2", "--steps", "5000"], ["--interpolate", "1,bank:0"]])
def test_errors_mirror_the_python_cli(cpp_build, bundle, tmp_path, capsys, args):
    from inrgan_export.cli import main as python_cli

    code = python_cli(["render", str(bundle), *args, "-o", str(tmp_path / "x.png")])
    python_line = [line for line in capsys.readouterr().err.splitlines() if line.startswith("inrgan-export: error: ")][0]
    cpp = render_cpp(cpp_build, bundle, *args, "-o", tmp_path / "x.png", check=False)
    assert cpp.returncode == code == 2
    assert one_line_error(cpp, 2).removeprefix("inrgan-render: error: ") == python_line.removeprefix("inrgan-export: error: ")


# ------------------------------------------------------------------ recorded gate verdicts
def _fail_openvino_path(m: dict) -> None:
    """A failed parity path of the C++ default backend, recorded as `verify` records one."""
    h, w = m["interface"]["native_size"]
    m["parity"]["paths"]["openvino split"] = {**m["parity"]["paths"]["onnxruntime split"], "backend": "openvino", "passed": False}
    m["parity"].update(passed=False, failures=[f"native {h}x{w} (openvino split, batch 4): max abs 0.31 > 0.0001"])


def _fail_int8(m: dict) -> None:
    m["int8"] = {"gates": {"passed": False, "failed_by": ["PSNR 21.3 dB (worst image) < 40 dB"], "latent_seeds": "0..63"}}


def _fail_legacy(m: dict) -> None:
    """A bundle from before per-path verdicts: only the overall one."""
    h, w = m["interface"]["native_size"]
    m["parity"].pop("paths")
    m["parity"].update(passed=False, failures=[f"half {h // 2}x{w // 2} (fp32, batch 1): NaN/Inf in output"])


FAILED_GATES = {"parity path": _fail_openvino_path, "int8": _fail_int8, "legacy overall verdict": _fail_legacy}


@pytest.fixture(scope="module")
def untouched_render(cpp_build, bundle, tmp_path_factory) -> np.ndarray:
    out = tmp_path_factory.mktemp("untouched") / "ref.npy"
    render_cpp(cpp_build, bundle, "--seed", "0,3", "-o", out)
    return np.load(out)


@pytest.mark.parametrize("gate", sorted(FAILED_GATES))
def test_a_failed_gate_refuses_the_backend_unless_allowed(cpp_build, bundle, untouched_render, tmp_path, gate):
    """A bundle whose manifest records a failed gate for the backend (the rule of the Python
    runtime's failed_gate) is refused: exit 4, one line naming the gate and the override, no
    output; --allow-failed-parity renders it exactly as the untouched bundle."""
    from inrgan_export.backends.base import failed_gate

    failed = tmp_path / "failed"
    shutil.copytree(bundle, failed)
    _edit_manifest(failed, FAILED_GATES[gate])  # manifest.json itself is not in its checksummed files
    why = failed_gate(json.loads((failed / "manifest.json").read_text()), "openvino")
    assert why
    out = tmp_path / "out.npy"
    line = one_line_error(render_cpp(cpp_build, failed, "--seed", "0,3", "-o", out, check=False), 4,
                          f"bundle {failed} refuses backend openvino: {why}; run `inrgan-export verify {failed}` for the report, "
                          "or pass --allow-failed-parity")
    assert not list(tmp_path.glob("*out*")), line
    render_cpp(cpp_build, failed, "--seed", "0,3", "--allow-failed-parity", "-o", out)
    assert np.array_equal(np.load(out), untouched_render)


def test_a_failed_gate_of_another_backend_leaves_this_one_alone(cpp_build, bundle, untouched_render, tmp_path, capsys):
    """The real bundle with its onnxruntime split path recorded as failed: OpenVINO renders as
    before; the C++ onnxruntime backend (when built) is refused with the Python CLI's line."""
    from inrgan_export.cli import main as python_cli

    failed = tmp_path / "failed"
    shutil.copytree(bundle, failed)

    def fail_onnxruntime_split(m):
        h, w = m["interface"]["native_size"]
        m["parity"]["paths"]["onnxruntime split"]["passed"] = False
        m["parity"].update(passed=False, failures=[f"native {h}x{w} (onnxruntime split, batch 1): max abs 0.012 > 0.0001"])

    _edit_manifest(failed, fail_onnxruntime_split)
    render_cpp(cpp_build, failed, "--seed", "0,3", "-o", tmp_path / "ov.npy")
    assert np.array_equal(np.load(tmp_path / "ov.npy"), untouched_render)
    if "onnxruntime built" not in render_cpp(cpp_build, "--version").stdout:
        return
    capsys.readouterr()
    assert python_cli(["render", str(failed), "--backend", "onnxruntime", "--seed", "0", "-o", str(tmp_path / "py.png")]) == 4
    python_line = [line for line in capsys.readouterr().err.splitlines() if line.startswith("inrgan-export: error: ")][0]
    cpp = render_cpp(cpp_build, failed, "--backend", "onnxruntime", "--seed", "0", "-o", tmp_path / "cpp.png", check=False)
    assert one_line_error(cpp, 4, "onnxruntime split").removeprefix("inrgan-render: error: ") == \
        python_line.removeprefix("inrgan-export: error: ").replace("(allow_failed_parity=True)", "(Options::allow_failed_parity)")
    assert not list(tmp_path.glob("*.png"))


# ------------------------------------------------------------------ latent banks
@pytest.fixture(scope="module")
def banked_bundle(tmp_path_factory) -> Path:
    """demo:tiny's weights with a 5-latent bank, exported through the real CLI."""
    import torch

    from inrgan_export.load.sources import Checkpoint, demo_checkpoint

    root = tmp_path_factory.mktemp("banked")
    tiny = demo_checkpoint("tiny")
    bank = {"latents": torch.from_numpy(np.random.RandomState(11).randn(5, 16).astype(np.float32)),
            "names": [f"crop{i}" for i in range(5)], "split": ["train"] * 4 + ["heldout"]}
    path = Checkpoint(tiny.family, tiny.config, tiny.state_dict, latent_bank=bank).save(root / "banked.pt")
    proc = run_cli("export", path, "--target", "onnx", "-o", root / "bundle", cwd=root)
    assert proc.returncode == 0, proc.stderr
    return root / "bundle"


def test_latent_bank_rows_equal_python(cpp_build, banked_bundle, bundle, tmp_path, capsys):
    from inrgan_export.cli import main as python_cli

    render_cpp(cpp_build, banked_bundle, "--latent-bank", "1,3", "-o", tmp_path / "cpp.npy")
    assert python_cli(["render", str(banked_bundle), "--latent-bank", "1,3", "-o", str(tmp_path / "py.npy")]) == 0
    got, want = np.load(tmp_path / "cpp.npy"), np.load(tmp_path / "py.npy")
    assert got.shape == want.shape == (2, 3, 16, 16)
    assert float(np.abs(got - want).max()) <= TOLERANCE
    proc = render_cpp(cpp_build, banked_bundle, "--latent-bank", "4", "-o", tmp_path / "b.png")
    assert (tmp_path / "b.png").is_file()
    # the same one-line errors as the Python CLI
    capsys.readouterr()
    code = python_cli(["render", str(banked_bundle), "--latent-bank", "5", "-o", str(tmp_path / "x.png")])
    python_line = [line for line in capsys.readouterr().err.splitlines() if line.startswith("inrgan-export: error: ")][0]
    cpp = render_cpp(cpp_build, banked_bundle, "--latent-bank", "5", "-o", tmp_path / "x.png", check=False)
    assert code == 2 and "--latent-bank index 5 is out of range" in python_line
    assert one_line_error(cpp, 2).removeprefix("inrgan-render: error: ") == python_line.removeprefix("inrgan-export: error: ")
    one_line_error(render_cpp(cpp_build, banked_bundle, "--latent-bank", "x", "-o", tmp_path / "x.png", check=False), 2, "not an index list")
    one_line_error(render_cpp(cpp_build, bundle, "--latent-bank", "0", "-o", tmp_path / "x.png", check=False), 2, "has no latent bank")
    one_line_error(render_cpp(cpp_build, banked_bundle, "--latent-bank", "0", "--seed", "1", "-o", tmp_path / "x.png", check=False), 2,
                   "--latent-bank: not allowed with argument --seed")
    assert not list(tmp_path.glob("x*"))
