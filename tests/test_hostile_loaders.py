"""Hostile files for every loader (issue 19): our .pt format, .npy latents, the manifest JSON,
and released-format pickles through the real CLI. Every one exits 2 with one line naming
what was refused, under an address-space limit, with a small peak RSS; a legitimate load
afterwards in the same process gives identical output."""
from __future__ import annotations

import json
import os
import sys
import signal
import resource
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

from inrgan_export.core.bundle import Bundle
from inrgan_export.load.sources import demo_checkpoint, load_checkpoint, load_source
from inrgan_export.cli import main as cli_main
from inrgan_export.core.errors import BundleError, CheckpointError, ConfigError, InputValueError, ShapeError, UsageError
from inrgan_export.core.latents import check_npy_header, load_latents
from inrgan_export.core.safejson import json_depth, load_json

from . import hostile_inputs as hi
from .conftest import assert_one_line_error, cli_command

#: the CLI's address-space limit in these runs: a legitimate render fits in 1 GiB
RLIMIT_AS = int(1.5 * 2**30)
#: peak RSS a refused hostile file may cost (a bare CLI run that imports torch: ~250 MB)
MAX_RSS_MB = 400


#: a small launcher between pytest and the CLI: a process started by fork from a big process
#: inherits its peak RSS in ``ru_maxrss`` (Linux keeps the old address space's high-water mark
#: across exec), so the CLI is forked from this small interpreter instead, which reports the
#: CLI's own peak RSS (KiB) in the file named by its first argument
LAUNCHER = """
import os, resource, sys
limit, report, argv = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
pid = os.fork()
if pid == 0:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    os.execvp(argv[0], argv)
_, status, usage = os.wait4(pid, 0)
with open(report, "w") as f:
    f.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status) & 0xFF)
"""


def run_limited(args: list, cwd: Path, backstop_s: float = 300) -> tuple[subprocess.CompletedProcess, float]:
    """The real CLI under RLIMIT_AS; the completed process and the CLI's own peak RSS in MB.
    The wall-clock backstop only stops a runaway child."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "maxrss"
        cmd = [sys.executable, "-c", LAUNCHER, str(RLIMIT_AS), str(report), *cli_command(), *map(str, args)]
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=err, start_new_session=True)
        try:
            proc.wait(timeout=backstop_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        out.seek(0)
        err.seek(0)
        done = subprocess.CompletedProcess(proc.args, proc.returncode, out.read().decode(), err.read().decode())
        rss_kib = int(report.read_text()) if report.exists() else 0
    return done, rss_kib / 1024


# ------------------------------------------------------------------ the real CLI, limited
@pytest.mark.parametrize("name", [
    "pickle: init kwargs shared-reference DAG, 24 levels",
    "pickle: stride-(0,0) tensor declaring 16384^2",
    ".pt: mapping_hid_dim 200000",
    ".npy: header claims 10^12 rows",
    "manifest: 100000-deep JSON",
])
def test_hostile_file_exits_2_within_memory_limits(tmp_path, name):
    build, cli_args = hi.CLASSES[name]
    path = build(tmp_path)
    proc, rss = run_limited(cli_args(path, tmp_path), tmp_path)
    assert_one_line_error(proc, 2)
    assert rss < MAX_RSS_MB, (name, rss)
    assert not list(tmp_path.glob("*_out*"))


@pytest.mark.parametrize("name", list(hi.CLASSES))
def test_every_hostile_class_exits_2_with_one_line(tmp_path, capsys, name):
    """In this process, through the CLI's entry point (the same code as the executable)."""
    build, cli_args = hi.CLASSES[name]
    path = build(tmp_path)
    code = cli_main(cli_args(path, tmp_path))
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("inrgan-export:")]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("inrgan-export: error:"), err
    assert "Traceback" not in err and len(lines[0]) < 600


# ------------------------------------------------------------------ our .pt format
def _render_tiny(ckpt) -> torch.Tensor:
    model = ckpt.build()
    z = torch.from_numpy(np.random.RandomState(3).randn(1, model.z_dim).astype(np.float32))
    with torch.no_grad():
        return model.hypernet(z)


def test_pt_with_huge_config_is_refused_before_building(tmp_path):
    reference = _render_tiny(demo_checkpoint("tiny"))
    path = hi.pt_huge_config(tmp_path / "huge.pt", 200000)
    ckpt = load_checkpoint(path)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(CheckpointError, match=r"'hypernet\.mapping\.0\.linear\.weight' has shape \(32, 16\), the config implies \(200000, 16\)"):
        ckpt.build()
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100 * 1024  # KiB: nothing near 160 GB was touched
    good = tmp_path / "good.pt"
    demo_checkpoint("tiny").save(good)
    assert torch.equal(_render_tiny(load_checkpoint(good)), reference)


def test_pt_config_caps_refuse_layer_counts(tmp_path):
    payload = demo_checkpoint("tiny").to_payload()
    payload["config"] = dict(payload["config"], mapping_num_layers=10**9)
    torch.save(payload, tmp_path / "layers.pt")
    with pytest.raises(ConfigError, match="num_layers=1000000000 exceeds the limit 64"):
        load_checkpoint(tmp_path / "layers.pt").build()


def test_pt_that_pickles_os_system_names_the_global(tmp_path):
    path = hi.pt_os_system(tmp_path / "system.pt")
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    msg = str(err.value)
    assert f"refusing global {os.system.__module__}.system" in msg and "nothing in it was executed" in msg
    assert "weights_only" not in msg and "\n" not in msg
    assert not path.with_suffix(".ran").exists()


def test_pt_tensor_not_backed_by_its_storage_is_refused(tmp_path):
    payload = demo_checkpoint("tiny").to_payload()
    name = next(iter(payload["state_dict"]))
    shape = payload["state_dict"][name].shape
    payload["state_dict"][name] = torch.zeros(1).expand(*shape)
    torch.save(payload, tmp_path / "s0.pt")
    with pytest.raises(CheckpointError, match=f"tensor '{name}' declares shape .* but its storage holds 4"):
        load_checkpoint(tmp_path / "s0.pt")


def test_pt_with_compressed_zip_record_is_refused(tmp_path):
    import zipfile

    good = tmp_path / "good.pt"
    demo_checkpoint("tiny").save(good)
    bad = tmp_path / "deflated.pt"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
    with pytest.raises(CheckpointError, match="stores its records uncompressed"):
        load_checkpoint(bad)


# ------------------------------------------------------------------ .npy latents
def test_npy_header_is_checked_against_the_file(tmp_path):
    path = hi.npy_huge_rows(tmp_path / "rows.npy", 10**12, 8)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ShapeError, match=r"declares shape \[1000000000000, 8\] of float32 \(32,000,000,000,000 bytes\) but holds 64 bytes"):
        load_latents(path, 8)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50 * 1024
    ok = hi.npy_huge_rows(tmp_path / "two.npy", 2, 8)  # the same writer, honest header: loads
    assert check_npy_header(ok) == ((2, 8), np.dtype("<f4"))
    assert load_latents(ok, 8).shape == (2, 8)
    with pytest.raises(UsageError, match="not a plain .npy"):
        (tmp_path / "junk.npy").write_bytes(b"\x93NUMPY\x01\x00\xff\xff{")
        load_latents(tmp_path / "junk.npy", 8)
    np.save(tmp_path / "big.npy", np.full((2, 8), 1e300))  # finite as float64, Inf as the float32 the graphs take
    with pytest.raises(InputValueError, match="row 0 contains NaN or Inf"):
        load_latents(tmp_path / "big.npy", 8)
    np.save(tmp_path / "c.npy", np.ones((1, 8), np.complex64))
    with pytest.raises(InputValueError, match="complex64"):
        load_latents(tmp_path / "c.npy", 8)


# ------------------------------------------------------------------ manifest JSON
def test_load_json_refuses_oversize_and_deep_documents(tmp_path):
    p = tmp_path / "m.json"
    p.write_text(json.dumps({"a": [[["x]]]]{{{{"]]], "b": '"[[[[\\'}))
    assert json_depth(p.read_text()) == 4 and load_json(p, max_depth=4)["a"] == [[["x]]]]{{{{"]]]
    with pytest.raises(BundleError, match="nests 4 levels deep; a JSON document here may nest at most 3"):
        load_json(p, max_depth=3)
    with pytest.raises(BundleError, match=r"is \d+ bytes; a JSON document here may have at most 10"):
        load_json(p, max_bytes=10)
    hi.manifest_deep(tmp_path / "deep", 100000)
    with pytest.raises(BundleError, match="nests 100001 levels deep"):
        Bundle.open(tmp_path / "deep")
    (tmp_path / "bad.json").write_bytes(b"\xff\xfe{}")
    with pytest.raises(BundleError, match="not UTF-8"):
        load_json(tmp_path / "bad.json")


def test_legitimate_bundle_opens_after_hostile_manifests(tmp_path, tiny_bundle):
    ref = Bundle.open(tiny_bundle).manifest
    for build in (lambda d: hi.manifest_deep(d / "deep"), lambda d: hi.manifest_big(d / "big", 20)):
        with pytest.raises(BundleError):
            Bundle.open(build(tmp_path))
        assert Bundle.open(tiny_bundle).manifest == ref


def test_legitimate_pt_load_after_each_hostile_pt(tmp_path):
    good = tmp_path / "good.pt"
    demo_checkpoint("tiny").save(good)
    reference = _render_tiny(load_source(str(good)))
    for build in (hi.pt_huge_config, hi.pt_os_system):
        with pytest.raises(CheckpointError):
            load_source(str(build(tmp_path / f"{build.__name__}.pt"))).build()
        assert torch.equal(_render_tiny(load_source(str(good))), reference)
