"""render-many on a real Ray cluster (one per session, see conftest.py): outputs equal to
``render``'s, resumable runs, a worker killed mid-run, an interrupted driver, input refusals."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from inrgan_export import open_bundle
from inrgan_export.cluster.render_many import INDEX, PARTIAL, render_many
from inrgan_export.core.grid import Window
from inrgan_export.app.options import RenderManyOptions

from ..conftest import assert_one_line_error, cli_command, run_cli

SIZES = ((16, 16), (32, 24))
SEEDS = tuple(range(12))


def outputs(out: Path, suffix: str = "png") -> list[Path]:
    return sorted(out.glob(f"seed*.{suffix}"))


def index_entries(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / INDEX).read_text().splitlines()]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_complete_set(out: Path, seeds, sizes, suffix: str = "png") -> None:
    """Every (seed, size) once: one file each, one index line each with the file's checksum."""
    names = {f"seed{s:010d}-{h}x{w}.{suffix}" for s in seeds for h, w in sizes}
    assert {p.name for p in outputs(out, suffix)} == names
    entries = index_entries(out)
    assert sorted(e["file"] for e in entries) == sorted(names)  # each exactly once
    for e in entries:
        assert sha256(out / e["file"]) == e["sha256"], e
    assert not list(out.glob(f".*{PARTIAL}"))


def png_pixels(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


@pytest.fixture(scope="module")
def render_refs(tiny_bundle, tmp_path_factory) -> dict:
    """``render``'s own outputs (real CLI, one batch of 12 seeds per size): raw .npy per size,
    and render's PNG files of the first size (its PNGs are the display mapping of these floats)."""
    ref = tmp_path_factory.mktemp("render-ref")
    refs = {}
    for h, w in SIZES:
        proc = run_cli("render", tiny_bundle, "--seed", "0-11", "--size", f"{h}x{w}", "-o", ref / f"r{h}x{w}.npy", cwd=ref)
        assert proc.returncode == 0, proc.stderr
        refs[(h, w)] = np.load(ref / f"r{h}x{w}.npy")
    h, w = SIZES[0]
    proc = run_cli("render", tiny_bundle, "--seed", "0-11", "--size", f"{h}x{w}", "-o", ref / "r.png", cwd=ref)
    assert proc.returncode == 0, proc.stderr
    refs["png"] = {s: png_pixels(ref / f"r-seed{s:04d}.png") for s in SEEDS}
    refs["display"] = open_bundle(tiny_bundle).interface.display
    return refs


def render_pixels(refs: dict, seed: int, size: tuple[int, int]) -> np.ndarray:
    """render's PNG pixels for this seed and size (its PNG file, or its floats display-mapped)."""
    if size == SIZES[0]:
        return refs["png"][seed]
    from inrgan_export.core.imageio import to_uint8

    return to_uint8(refs[size][seed : seed + 1], refs["display"])[0]


def test_twentyfour_pngs_equal_render_and_rerun_renders_nothing(tiny_bundle, render_refs, ray_cluster, tmp_path):
    """The acceptance run through the real CLI on its own local cluster (no --address)."""
    out = tmp_path / "many"
    args = ["render-many", tiny_bundle, "--seeds", "0-11", "--sizes", "16x16,32x24", "-o", out, "--cpus", "2"]
    proc = run_cli(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "24 rendered, 0 already complete" in proc.stdout
    assert "24/24 rendered" in proc.stderr and "images/s" in proc.stderr
    assert_complete_set(out, SEEDS, SIZES)
    for h, w in SIZES:
        for s in SEEDS:
            mine = png_pixels(out / f"seed{s:010d}-{h}x{w}.png")
            theirs = render_pixels(render_refs, s, (h, w))
            # batches of 8 + 4 here, one of 12 in render: the same floats on this machine,
            # at most one 8-bit level apart where a backend's kernels depend on the batch
            assert np.abs(mine.astype(int) - theirs.astype(int)).max() <= 1, (s, h, w)
    stamps = {p.name: p.stat().st_mtime_ns for p in outputs(out)}

    again = run_cli(*args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "0 rendered, 24 already complete" in again.stdout
    assert {p.name: p.stat().st_mtime_ns for p in outputs(out)} == stamps  # nothing rewritten


def test_npy_bit_identical_to_render_with_the_same_batch(tiny_bundle, render_refs, ray_cluster, tmp_path):
    """One batch of all 12 seeds, as render runs them: the raw floats are bit-identical."""
    out = tmp_path / "npy"
    proc = run_cli("render-many", tiny_bundle, "--seeds", "0-11", "--sizes", "16x16,32x24", "--format", "npy",
                   "--batch", "12", "--workers", "1", "--address", ray_cluster, "-o", out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert_complete_set(out, SEEDS, SIZES, "npy")
    for h, w in SIZES:
        ref = render_refs[(h, w)]
        mine = np.concatenate([np.load(out / f"seed{s:010d}-{h}x{w}.npy") for s in SEEDS])
        assert mine.dtype == np.float32 and mine.shape == ref.shape
        assert np.array_equal(mine, ref), float(np.abs(mine - ref).max())


def test_rerun_renders_exactly_what_is_missing_or_corrupt(tiny_bundle, ray_cluster, tmp_path):
    opts = RenderManyOptions(bundle=tiny_bundle, out=tmp_path / "o", seeds=(0, 1, 2, 3), sizes=((16, 16),),
                             windows=(Window(), Window(0.25, 0.25, 0.75, 0.75)))
    first = render_many(opts, log=lambda msg: None)
    assert (first.rendered, first.skipped, first.total) == (8, 0, 8)
    files = sorted(p.name for p in (tmp_path / "o").glob("seed*.png"))
    assert "seed0000000002-16x16-win0.25_0.25_0.75_0.75.png" in files and len(files) == 8
    good = {name: (tmp_path / "o" / name).read_bytes() for name in files}
    (tmp_path / "o" / files[0]).write_bytes(b"truncated")  # fails its checksum
    (tmp_path / "o" / files[5]).unlink()  # lost
    second = render_many(opts, log=lambda msg: None)
    assert (second.rendered, second.skipped) == (2, 6)
    assert {name: (tmp_path / "o" / name).read_bytes() for name in files} == good
    assert len(index_entries(tmp_path / "o")) == 8


def test_worker_killed_mid_run_is_retried_and_every_output_written_once(tiny_bundle, render_refs, ray_cluster,
                                                                        crash_marker, tmp_path):
    """The first worker batch after arming kills its own process (os._exit); Ray restarts the
    actor and reruns the batch; the set is complete, each output once, equal to render's."""
    crash_marker.write_text("armed")
    try:
        t = time.monotonic()
        result = render_many(RenderManyOptions(bundle=tiny_bundle, out=tmp_path / "killed", seeds=SEEDS, sizes=SIZES, batch=4),
                             log=lambda msg: None)
        assert time.monotonic() - t < 120
        assert not crash_marker.exists(), "no worker died: the test did not test a kill"
    finally:
        crash_marker.unlink(missing_ok=True)
    assert result.rendered == 24
    assert_complete_set(tmp_path / "killed", SEEDS, SIZES)
    for h, w in SIZES:
        for s in SEEDS:
            mine = png_pixels(tmp_path / "killed" / f"seed{s:010d}-{h}x{w}.png").astype(int)
            assert np.abs(mine - render_pixels(render_refs, s, (h, w))).max() <= 1, (s, h, w)


def test_interrupted_driver_leaves_only_complete_files_and_rerun_finishes(tiny_bundle, ray_cluster, tmp_path):
    out = tmp_path / "int"
    seeds = range(400)
    args = ["render-many", tiny_bundle, "--seeds", "0-399", "--sizes", "32", "--batch", "1", "--workers", "1",
            "--address", ray_cluster, "-o", out]
    proc = subprocess.Popen([*cli_command(), *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=tmp_path, env=dict(os.environ, PYTHONUNBUFFERED="1"),
                            # a runner started in the background ignores SIGINT, and children inherit that
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline and not list(out.glob("seed*.png")):
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode == 130, (proc.returncode, err)  # interrupted, not finished
    assert "interrupted" in err and "Traceback" not in err
    written = outputs(out)
    assert 0 < len(written) < 400
    assert not list(out.glob(f".*{PARTIAL}"))
    listed = {}
    for line in (out / INDEX).read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a torn last line is allowed; the rerun ignores it
        listed[entry["file"]] = entry["sha256"]
    for p in written:  # every file whole: decodes, and matches its index line if it has one
        assert png_pixels(p).shape == (32, 32, 3)
        if p.name in listed:
            assert sha256(p) == listed[p.name]

    rerun = run_cli(*args, cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    rendered = int(rerun.stdout.split("render-many: ")[1].split(" rendered")[0])
    assert 0 < rendered <= 400 - len(listed)
    assert_complete_set(out, seeds, ((32, 32),))


def test_seed_limit_refused_before_expansion(tiny_bundle, tmp_path):
    t = time.monotonic()
    proc = run_cli("render-many", tiny_bundle, "--seeds", "0-4294967295", "--sizes", "16", "-o", tmp_path / "x", cwd=tmp_path)
    assert time.monotonic() - t < 30  # 2**32 seeds are never listed
    assert_one_line_error(proc, 2, "0-4294967295", "1000000")
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    "args, needles",
    [
        (["--sizes", "0x5"], ["0x5"]),
        (["--windows", "0,0,1"], ["0,0,1"]),
        (["--truncation", "0.7"], ["--truncation", "paper"]),
    ],
)
def test_bad_input_one_line_exit_2(tiny_bundle, tmp_path, args, needles):
    base = {"--sizes": "16"}
    for flag, value in zip(args[::2], args[1::2]):
        base[flag] = value
    flat = [x for kv in base.items() for x in kv]
    proc = run_cli("render-many", tiny_bundle, "--seeds", "0-3", *flat, "-o", tmp_path / "x", cwd=tmp_path)
    assert_one_line_error(proc, 2, *needles)
    assert not (tmp_path / "x").exists()


def test_missing_ray_exits_3_naming_the_extra(tiny_bundle, tmp_path):
    """Ray hidden from the interpreter (an import that fails, as without the extra)."""
    code = ("import sys; sys.modules['ray'] = None\n"
            "from inrgan_export.cli import main\n"
            f"sys.exit(main(['render-many', {str(tiny_bundle)!r}, '--seeds', '0', '--sizes', '16', '-o', 'x']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert_one_line_error(proc, 3, "pip install 'inrgan-export[cluster]'")
    assert not (tmp_path / "x").exists()


# ------------------------------------------------------------------ the output folder is ours alone (issue 30)
@pytest.fixture
def sentinel(tmp_path):
    """A file beside tmp_path (outside it): nothing a test runs may change it."""
    path = tmp_path.parent / f"{tmp_path.name}-sentinel.txt"
    path.write_text("sentinel\n")
    yield path
    assert path.read_text() == "sentinel\n", "a file outside the test's folder was written"
    path.unlink()


def _hostile_folder(kind: str, out: Path, sentinel: Path) -> Path:
    """An output folder (or -o) prepared the way an attacker or a careless user leaves it."""
    if kind in ("index-symlink", "settings-symlink"):
        out.mkdir()
        (out / ("index.jsonl" if kind == "index-symlink" else "render-many.json")).symlink_to(sentinel)
    elif kind in ("index-dir", "settings-dir"):
        (out / ("index.jsonl" if kind == "index-dir" else "render-many.json")).mkdir(parents=True)
    elif kind == "dangling":
        out.symlink_to(out.parent / "nowhere")
    elif kind == "loop":
        out.symlink_to(out)
    return out


@pytest.mark.parametrize("kind, needles", [
    ("index-symlink", ["index.jsonl is a symlink"]),
    ("settings-symlink", ["render-many.json is a symlink"]),
    ("index-dir", ["index.jsonl is not a regular file"]),
    ("settings-dir", ["render-many.json is not a regular file"]),
    ("dangling", ["dangling symlink or a symlink loop"]),
    ("loop", ["dangling symlink or a symlink loop"]),
])
def test_a_hostile_output_folder_is_one_line_exit_2(tiny_bundle, tmp_path, sentinel, kind, needles):
    """Before: a symlinked index.jsonl had 8 lines appended to its target (exit 0); a folder
    where a file belongs, a dangling -o or a loop printed a traceback (exit 1)."""
    out = _hostile_folder(kind, tmp_path / "o", sentinel)
    proc = run_cli("render-many", tiny_bundle, "--seeds", "0-3", "--sizes", "16", "-o", out, cwd=tmp_path, timeout=120)
    assert_one_line_error(proc, 2, *needles)
    assert proc.stderr.rstrip().splitlines()[-1].startswith("inrgan-export: error:")
    assert not list(tmp_path.glob("o/seed*"))


def test_a_second_run_into_a_busy_folder_refuses_or_waits(tiny_bundle, ray_cluster, tmp_path, sentinel):
    """The folder's lock (flock, as another render-many holds it): refused at once in one line,
    or with --wait queued until the holder is done; and a garbage (non-UTF-8) index line is
    skipped with a warning and its output rendered again (before: UnicodeDecodeError, exit 1,
    and resume was blocked)."""
    import fcntl
    import threading

    out = tmp_path / "o"
    opts = RenderManyOptions(bundle=tiny_bundle, out=out, seeds=(0, 1, 2, 3), sizes=((16, 16),))
    assert render_many(opts, log=lambda msg: None).rendered == 4
    lines = (out / INDEX).read_bytes().splitlines(keepends=True)
    (out / INDEX).write_bytes(lines[0] + b"\xff\xfe not utf-8 \x80\n" + b"".join(lines[2:]) + b"[1, 2]\n")

    fd = os.open(out, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # "another render-many"
    try:
        t = time.monotonic()
        proc = run_cli("render-many", tiny_bundle, "--seeds", "0-3", "--sizes", "16", "--address", ray_cluster, "-o", out,
                       cwd=tmp_path, timeout=120)
        assert_one_line_error(proc, 2, "another render-many is writing into", "--wait")
        assert time.monotonic() - t < 60
        logs: list[str] = []
        waiting = threading.Thread(target=lambda: logs.append(render_many(
            RenderManyOptions(bundle=tiny_bundle, out=out, seeds=(0, 1, 2, 3), sizes=((16, 16),), wait=True), log=logs.append)))
        waiting.start()
        deadline = time.monotonic() + 60
        while not any("waiting for the other render-many" in str(m) for m in logs) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert waiting.is_alive() and any("waiting" in str(m) for m in logs), logs
    finally:
        os.close(fd)  # the holder is done
    waiting.join(120)
    result = logs[-1]
    assert (result.rendered, result.skipped) == (1, 3), logs  # the garbage line's output, again
    assert any("warning: 2 unreadable line(s)" in str(m) for m in logs), logs
    assert_complete_set(out, (0, 1, 2, 3), ((16, 16),))
