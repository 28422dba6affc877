"""The benchmark harness (inrgan_export.measure.harness, .timing): round order, calls per round,
spreads, the machine description and the record every benchmark script writes. Timing is
checked on a fake clock that advances only when a timed function runs, so the figures are exact."""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import pytest

from inrgan_export.measure import harness, timing


class FakeClock:
    """perf_counter that moves only when a timed function says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def fn(self, log: list, name: str, seconds: float):
        def run():
            log.append(name)
            self.now += seconds
        return run


@pytest.fixture()
def clock(monkeypatch) -> FakeClock:
    c = FakeClock()
    monkeypatch.setattr(time, "perf_counter", c)
    return c


def test_interleaved_rounds_rotate_and_warm_up_first(clock):
    log: list[str] = []
    fns = {n: clock.fn(log, n, s) for n, s in (("a", 1.0), ("b", 2.0), ("c", 3.0))}
    times = timing.interleaved_times(fns, rounds=3, warmup=1, rotate=True)
    assert log == ["a", "b", "c", "a", "b", "c", "b", "c", "a", "c", "a", "b"]
    assert times == {"a": [1.0] * 3, "b": [2.0] * 3, "c": [3.0] * 3}
    log.clear()
    timing.interleaved_times(fns, rounds=2, warmup=0)
    assert log == ["a", "b", "c", "a", "b", "c"]  # without rotate: the same order every round


def test_calls_per_round_give_the_time_of_one_call(clock):
    log: list[str] = []
    times = timing.interleaved_times({"a": clock.fn(log, "a", 0.5), "b": clock.fn(log, "b", 2.0)}, rounds=2, warmup=0,
                                     calls={"a": 4})
    assert log.count("a") == 8 and log.count("b") == 2
    assert times == {"a": [0.5, 0.5], "b": [2.0, 2.0]}
    assert timing.calls_for(clock.fn(log, "x", 0.004), 0.02) == 5
    assert timing.calls_for(clock.fn(log, "x", 1.0), 0.02) == 1


def test_ratio_spread_is_per_round():
    med, q1, q3 = timing.ratio_spread([2.0, 4.0, 9.0], [1.0, 1.0, 3.0])
    assert (med, q1, q3) == (3.0, 2.5, 3.5)


def test_spread_of_any_quantity():
    s = timing.spread([4.0, 1.0, 3.0, 2.0, 5.0], keep=True)
    assert s == {"median": 3.0, "q1": 2.0, "q3": 4.0, "min": 1.0, "max": 5.0, "n": 5, "values": [1.0, 2.0, 3.0, 4.0, 5.0]}
    assert "values" not in timing.spread([1.0])


def test_int_list_parses_sizes_and_names_a_bad_value():
    assert harness.int_list("64,128") == [64, 128]
    for bad in ("0", "a,b", "", "64,-1"):
        with pytest.raises(argparse.ArgumentTypeError, match="positive integers"):
            harness.int_list(bad)


def test_machine_description_is_this_machine():
    m = harness.machine_description()
    assert m["logical_cpus"] == os.cpu_count() and len(m["load_average"]) == 3
    assert m["versions"]["inrgan_export"] and isinstance(m["isa_flags"], list)
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        model = next(line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name"))
        assert m["cpu_model"] == model and model in harness.machine_line(m)


def test_record_leads_with_command_and_machine_and_writes_json(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("sys.argv", ["benchmarks/x.py", "--sizes", "16,32"])
    doc = harness.record(preset="tiny", rounds=1)
    assert list(doc)[:2] == ["command", "machine"] and doc["command"] == "python benchmarks/x.py --sizes 16,32"
    assert doc["preset"] == "tiny" and doc["machine"]["logical_cpus"] == os.cpu_count()
    out = tmp_path / "new" / "dir" / "r.json"
    harness.write_json(doc, out)
    assert json.loads(out.read_text()) == json.loads(json.dumps(doc)) and capsys.readouterr().out == ""
    harness.write_json({"a": 1}, None)
    assert json.loads(capsys.readouterr().out) == {"a": 1}
