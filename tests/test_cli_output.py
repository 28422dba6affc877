"""What a user sees: a closed pipe, usage errors, verdict lines, quiet/verbose — through real
subprocess runs of the CLI."""
from __future__ import annotations

import os
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
