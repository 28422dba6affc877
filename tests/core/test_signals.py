"""SIGTERM is handled like SIGINT (inrgan_export.core.signals): exit 130, one line, and the
export's temporary directory removed, even where a library swallows or wraps the interrupt."""
from __future__ import annotations

import signal
import subprocess
import time

import pytest

from inrgan_export import cli
from inrgan_export.core import signals

from ..conftest import cli_command


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_export_exits_130_and_leaves_nothing(tmp_path, sig):
    proc = subprocess.Popen([*cli_command(), "demo:tiny", "--target", "onnx", "-o", "b"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t0 = time.time()
    while not list(tmp_path.glob(".b.*.partial")) and proc.poll() is None and time.time() - t0 < 120:
        time.sleep(0.02)
    time.sleep(0.3)  # inside the ONNX export
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "inrgan-export: interrupted"
    assert "Traceback" not in err and "\x1b[" not in err
    assert list(tmp_path.iterdir()) == []


def test_an_interrupt_wrapped_by_a_library_is_still_an_interrupt():
    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as k:
            raise RuntimeError("exporter failed") from k
    except RuntimeError as e:
        wrapped = e
    assert cli._interrupted(wrapped)
    assert not cli._interrupted(RuntimeError("a real bug"))
    assert signals.received() is None
