"""What a user sees: a closed pipe, usage errors, verdict lines, quiet/verbose — through real
subprocess runs of the CLI."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from .conftest import DATA, assert_one_line_error, cli_command, run_cli

V1 = DATA / "bundle_v1"


def _inspect_closed_after(nbytes: int) -> subprocess.CompletedProcess:
    """``inrgan-export inspect V1 --json | head -c NBYTES``: the reader leaves after NBYTES."""
    r, w = os.pipe()
    proc = subprocess.Popen([*cli_command(), "inspect", str(V1), "--json"], stdout=w, stderr=subprocess.PIPE)
    os.close(w)
    with os.fdopen(r, "rb") as reader:
        got = reader.read(nbytes) if nbytes else b""
    _, err = proc.communicate(timeout=120)
    assert len(got) == nbytes
    return subprocess.CompletedProcess(proc.args, proc.returncode, got, err.decode())


def test_a_reader_that_closed_the_pipe_first_ends_the_run_quietly():
    """Deterministic: no byte can be written (the pre-fix code died with BrokenPipeError, exit 1)."""
    proc = _inspect_closed_after(0)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr


def test_head_c_10_twenty_times_no_traceback():
    for _ in range(20):
        proc = _inspect_closed_after(10)
        assert proc.stdout == b'{\n  "comma'
        assert proc.returncode == 0 and "Traceback" not in proc.stderr and "Error" not in proc.stderr, proc.stderr


@pytest.mark.parametrize(
    "args,needles",
    [
        (["rendr", "demo:tiny", "-o", "x.png"], ["'rendr'", "did you mean `render`?"]),
        (["inspcet", "b"], ["did you mean `inspect`?"]),
        (["render", "demo:tiny", "--sed", "3", "-o", "x.png"], ["render: unrecognized arguments: --sed", "did you mean --seed?"]),
        (["export", "demo:tiny"], ["export: the following arguments are required: --target"]),
        (["render", "demo:tiny", "--seed", "0-5000", "-o", "x.png"], ["5001 seeds", "at most 4096", "render-many"]),
        (["demo:tiny", "--target", "onnx", "--precision", "int8", "--calib-method", "kl"],
         ["--calib-method", "'kl'", "max, percentile, entropy"]),
    ],
)
def test_usage_errors_are_one_last_line_with_the_program_named_once(args, needles, tmp_path):
    proc = run_cli(*args, cwd=tmp_path)
    line = assert_one_line_error(proc, 2, *needles)
    assert line.count("inrgan-export") == 1 or "`inrgan-export render-many" in line, line
    assert proc.stderr.splitlines()[-1] == line and "usage:" not in proc.stderr
    assert not any(tmp_path.iterdir())


def test_a_missing_checkpoint_is_still_read_as_a_source(tmp_path):
    """Only a word close to a command is a typo: ``model.pt`` stays a (missing) source."""
    proc = run_cli("model.pt", "--target", "onnx", cwd=tmp_path)
    line = assert_one_line_error(proc, 2, "model.pt")
    assert "did you mean" not in line


def test_a_bad_calib_method_from_python_fails_before_any_export(tmp_path):
    import inrgan_export
    from inrgan_export.core.errors import UsageError

    with pytest.raises(UsageError, match="'kl' is not one of max, percentile, entropy"):
        inrgan_export.export("demo:tiny", target="onnx", precision="int8", out=tmp_path / "b", calib_method="kl")
    assert not any(tmp_path.iterdir())


def test_demo_list_needs_no_torch_and_says_seeded_or_fitted(tmp_path):
    code = ("import sys; from inrgan_export.cli import main; rc = main(['demo', '--list']); "
            "assert 'torch' not in sys.modules, 'torch imported'; sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = [line for line in proc.stdout.splitlines() if line.startswith("demo:")]
    assert len({line.index("²") for line in rows}) == 1  # the native column aligned after long names
    weights = {line.split()[0]: line.split()[5] for line in rows}
    assert weights["demo:photos"] == weights["demo:photos-sg2"] == "fitted"
    assert weights["demo:tiny"] == weights["demo:released-church-bil"] == "seeded"


def test_verify_ends_with_its_verdict_and_a_failure_with_fail(tiny_bundle, tmp_path):
    import json
    import shutil

    import numpy as np

    from inrgan_export.core.grid import parity_grids
    from inrgan_export.core.bundle import MANIFEST, write_manifest

    proc = run_cli("verify", tiny_bundle, "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    printed = json.loads(proc.stdout)
    grids = sum(g.golden for g in parity_grids(16))  # without --reference: the grids with golden data
    assert proc.stderr.splitlines()[-1] == (f"verify: PASS ({grids} grids, {printed['checks']} checks, "
                                            f"worst {printed['lowest_psnr_db']:.1f} dB)")
    bad = tmp_path / "bad"  # golden data that disagrees with the graphs (as tests/verify does)
    shutil.copytree(tiny_bundle, bad)
    with np.load(bad / "golden.npz") as d:
        arrays = {k: d[k] for k in d.files}
    arrays["ref_half"] = arrays["ref_half"] + np.float32(2e-3)
    np.savez_compressed(bad / "golden.npz", **arrays)
    manifest = json.loads((bad / MANIFEST).read_text())
    manifest.pop("files")
    write_manifest(bad, manifest)
    proc = run_cli("verify", bad, cwd=tmp_path)
    assert_one_line_error(proc, 4, "parity gate failed", "half")
    verdicts = [line for line in proc.stdout.splitlines() if line.startswith("verify: ")]
    assert len(verdicts) == 1 and re.fullmatch(rf"verify: FAIL \([12] of {printed['checks']} checks failed on {grids} grids, "
                                               r"worst \d+\.\d dB\)", verdicts[0]), verdicts  # half: split and fused


def test_bench_prints_a_summary_and_flags_noisy_figures(tmp_path):
    import json

    from inrgan_export.commands.bench import summary_lines

    proc = run_cli("bench", "demo:tiny", "--quick", "--sizes", "8,16", "--backends", "onnxruntime", "-o", tmp_path / "b",
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    results = json.loads((tmp_path / "b" / "results.json").read_text())
    rows = [line.split() for line in proc.stdout.splitlines() if line.startswith("onnxruntime ")]
    assert [r[3] for r in rows] == ["8x8", "16x16"]
    assert [float(r[4]) for r in rows] == [float(f"{p['inr_median_ms']:.3g}") for p in results["points"]]
    point = dict(results["points"][0], inr_median_ms=1.0, inr_iqr_ms=0.09, hypernet_median_ms=2.0, hypernet_iqr_ms=0.21)
    _, warnings = summary_lines({"points": [point]})
    assert len(warnings) == 1 and "hypernet: IQR 0.21 ms is 10 % of its median 2 ms" in warnings[0]
    _, warnings = summary_lines({"points": [dict(point, hypernet_iqr_ms=0.2)]})
    assert warnings == []


def test_quiet_silences_progress_and_keeps_results(tmp_path):
    loud = run_cli("render", "demo:tiny", "--seed", "1", "--size", "8", "-o", tmp_path / "a.png", cwd=tmp_path)
    assert loud.returncode == 0 and "• rendering 1 image(s)" in loud.stderr, loud.stderr
    quiet = run_cli("render", "demo:tiny", "--seed", "1", "--size", "8", "-o", tmp_path / "b.png", "-q", cwd=tmp_path)
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    both = run_cli("-q", "render", "demo:tiny", "-v", "-o", tmp_path / "c.png", cwd=tmp_path)
    assert_one_line_error(both, 2, "-v/--verbose", "-q/--quiet")


def test_progress_lines_in_a_log_are_sparse(monkeypatch, capsys):
    """Off a terminal: at most one progress line per 10 s (before: one per 10 % step)."""
    from inrgan_export.core import log

    clock = iter(range(1, 1000, 1))  # each update is one second later
    monkeypatch.setattr(log.time, "monotonic", lambda: float(next(clock)))
    monkeypatch.setattr(log, "_last_line", 0.0)
    with log.progress(35, "parity") as bar:
        for _ in range(35):
            bar.update(1)
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["  parity: 10/35", "  parity: 20/35", "  parity: 30/35"]


def test_the_python_api_can_be_quiet(tmp_path, capfd):
    import inrgan_export

    bundle = inrgan_export.export("demo:tiny", target="onnx", out=tmp_path / "b", quiet=True)
    assert bundle.manifest["parity"]["passed"]
    assert capfd.readouterr().err == ""


def test_a_silent_long_step_says_it_is_still_running(monkeypatch, capsys, tmp_path):
    """A step with no progress of its own (ExecuTorch's lowering) gets a line per interval, and
    a step's size sums the files it lists (the .ort step reported the 275 B operator list)."""
    import time

    from inrgan_export.core import log

    monkeypatch.setattr(log, "LINE_INTERVAL_S", 0.2)
    (tmp_path / "a.ort").write_bytes(b"x" * 1000)
    (tmp_path / "b.ort").write_bytes(b"x" * 2000)
    with log.step("lowering inr.pte (XNNPACK)", lambda: sorted(tmp_path.glob("*.ort"))):
        time.sleep(0.9)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "• lowering inr.pte (XNNPACK) ..."
    beats = [line for line in lines if line.startswith("  … lowering inr.pte: still running")]
    assert 2 <= len(beats) <= 5, lines
    assert lines[-1].startswith("  done in ") and lines[-1].endswith(", 2 files, 2.9 KB")
