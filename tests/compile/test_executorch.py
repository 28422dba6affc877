"""ExecuTorch target (inrgan_export.compile.executorch) and backend (runtime.executorch_backend):
torch.export with bounded dims, XNNPACK-lowered .pte programs, parity through the real CLI,
renders beyond the bound tiled into pieces within it."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

pytest.importorskip("executorch", reason="the 'mobile' extra (executorch) is not installed here")

from inrgan_export import open_bundle, open_checkpoint  # noqa: E402
from inrgan_export.core.latents import latents_from_seeds  # noqa: E402

from ..conftest import assert_one_line_error, run_cli  # noqa: E402
from ..core.test_manifest import assert_valid_manifest  # noqa: E402

#: the bound of the test bundles: 2x native of the tiny presets, batch 4 (the parity batch)
BOUND = {"demo:tiny": "32x32", "demo:sg2-tiny": "64x64"}


@pytest.fixture(scope="module", params=["demo:tiny", "demo:sg2-tiny"])
def pte_bundle(request, tmp_path_factory):
    out = tmp_path_factory.mktemp("pte") / "b"
    proc = run_cli(request.param, "--target", "executorch", "--max-res", BOUND[request.param], "--max-batch", "4",
                   "-o", out, cwd=out.parent)
    assert proc.returncode == 0, proc.stderr
    (out.parent / "export.stderr").write_text(proc.stderr)  # what the user saw (test_libraries_output_...)
    return request.param, out


def test_bundle_holds_pte_programs_and_their_planned_memory(pte_bundle):
    preset, out = pte_bundle
    m = assert_valid_manifest(out)
    assert m["target"] == "executorch" and m["default_backend"] == "executorch"
    for g in ("hypernet", "inr"):
        assert (out / m["graphs"][g]["pte"]).is_file()
        assert m["executorch"]["planned_memory_bytes"][g] > 0
    h, w = (int(v) for v in BOUND[preset].split("x"))
    assert m["executorch"]["bound"]["max_res"] == [h, w] and m["executorch"]["bound"]["max_batch"] == 4
    assert not list(out.glob("*.onnx"))  # built from torch.export, not from the ONNX graphs
    rows = json.loads((out / "parity.json").read_text())["rows"]
    assert {r["grid"] for r in rows} >= {"native", "half", "double", "non-square", "zoom", "extrapolate"}
    assert {r["batch"] for r in rows} == {1, 4} and all(r["passed"] for r in rows)


def test_renders_beyond_the_bound_are_tiled_and_match_the_reference(pte_bundle):
    preset, out = pte_bundle
    ref = open_checkpoint(preset)
    z = latents_from_seeds(list(range(6)), ref.interface.z_dim)
    h, w = (int(v) for v in BOUND[preset].split("x"))
    size = (h + h // 2, 2 * w)  # past the bound on both axes
    with open_bundle(out) as g:
        img = g.generate(z, size)  # 6 latents: past the batch bound too
        assert g.last_plan.pieces > 1
    expected = ref.generate(z, size)
    assert np.abs(img - expected).max() < 1e-4


def test_int8_is_refused_naming_what_is_supported(tmp_path):
    proc = run_cli("demo:tiny", "--target", "executorch", "--precision", "int8", "-o", tmp_path / "q", cwd=tmp_path)
    assert_one_line_error(proc, 2, "int8", "executorch", "per-sample", "supported: fp32")
    assert not (tmp_path / "q").exists()


#: lines the libraries print on their own (seen before the output policy: torchao's "Failed to
#: load ….so", torch's glog-style "W1207 21:22:39…", ExecuTorch's "[cpuinfo_utils.cpp:71] …")
FOREIGN = re.compile(r"^(Failed to load |[WIE]\d{4} \d\d:\d\d|\[cpuinfo_utils\.cpp)", re.M)


def test_libraries_output_is_shown_only_with_verbose(pte_bundle, tmp_path):
    preset, out = pte_bundle
    if preset != "demo:tiny":
        pytest.skip("one preset checks the output policy")
    assert not FOREIGN.search((out.parent / "export.stderr").read_text())
    assert "• exporting inr.pte" in (out.parent / "export.stderr").read_text()  # our own progress stays
    quiet = run_cli("verify", out, cwd=tmp_path)
    assert quiet.returncode == 0 and not FOREIGN.search(quiet.stderr), quiet.stderr
    loud = run_cli("verify", out, "-v", cwd=tmp_path)
    assert loud.returncode == 0 and "[cpuinfo_utils.cpp" in loud.stderr, loud.stderr  # the ExecuTorch runtime's own lines
    assert quiet.stdout.splitlines()[-1] == loud.stdout.splitlines()[-1]  # the same verdict


# ------------------------------------------------------------------ untrusted programs (issue 30)
def _damaged(bundle, to, edit, rel="inr.pte"):
    """A copy of ``bundle`` whose ``rel`` is edited and whose SHA-256 in the manifest is fixed
    up to match: a bundle made hostile on purpose, which the checksum cannot catch."""
    import hashlib
    import shutil

    shutil.copytree(bundle, to)
    data = edit(bytearray((to / rel).read_bytes()))
    (to / rel).write_bytes(bytes(data))
    m = json.loads((to / "manifest.json").read_text())
    m["files"][rel].update(sha256=hashlib.sha256(data).hexdigest(), bytes=len(data))
    (to / "manifest.json").write_text(json.dumps(m))
    return to, hashlib.sha256(data).hexdigest()


def _garbage(data):
    import random

    return bytearray(random.Random(5).randbytes(len(data)))


def _body_flipped(data):
    data[64:400] = b"\xa5" * 336  # header intact, the flatbuffer's tables behind it broken
    return data


@pytest.mark.parametrize("pte_bundle", ["demo:tiny"], indirect=True)
def test_a_program_that_cannot_load_is_exit_2_never_an_abort(pte_bundle, tmp_path, private_cache):
    """A garbage .pte is refused by its header (no native code sees it); a header-valid one
    with broken tables is loaded first in a child process, whose failure (before: this process
    aborted with `terminate called ...`, exit 134) is one line, exit 2, in render and verify;
    the verdict is cached by SHA-256, and the exporter's own programs need no probe."""
    _, out = pte_bundle
    good_sha = json.loads((out / "manifest.json").read_text())["files"]["inr.pte"]["sha256"]
    assert (private_cache / "probes" / f"pte-{good_sha}").read_text() == "ok\n"  # recorded at export

    garbage, _ = _damaged(out, tmp_path / "garbage", _garbage)
    proc = run_cli("render", garbage, "-o", tmp_path / "g.png", cwd=tmp_path, timeout=300)
    assert_one_line_error(proc, 2, "inr.pte is not an ExecuTorch program")
    assert not (tmp_path / "g.png").exists()

    flipped, sha = _damaged(out, tmp_path / "flipped", _body_flipped)
    for args in (["render", flipped, "-o", tmp_path / "f.png"], ["verify", flipped]):
        proc = run_cli(*args, cwd=tmp_path, timeout=300)
        assert_one_line_error(proc, 2, "ExecuTorch cannot load inr.pte", "re-export the bundle")
        assert proc.stderr.rstrip().splitlines()[-1].startswith("inrgan-export: error:")  # the last line on stderr
    assert (private_cache / "probes" / f"pte-{sha}").read_text().startswith("bad: ")
    assert not (tmp_path / "f.png").exists()
    # render-many and serve refuse it in their driver, before any worker or replica starts
    # (before: render-many's workers crash-looped forever; serve died after ~33 s with exit 1)
    pytest.importorskip("ray", reason="the cluster extra is not installed")
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for args in (["render-many", flipped, "--seeds", "0-3", "--sizes", "16", "-o", tmp_path / "many"],
                 ["serve", flipped, "--port", port]):
        t = time.monotonic()
        proc = run_cli(*args, cwd=tmp_path, timeout=120)
        assert_one_line_error(proc, 2, "ExecuTorch cannot load inr.pte")
        assert time.monotonic() - t < 60, args[0]
    assert not (tmp_path / "many").exists()


@pytest.mark.parametrize("pte_bundle", ["demo:tiny"], indirect=True)
def test_executorch_bound_lies_name_the_field(pte_bundle, tmp_path):
    """The bound sizes every piece: a missing or absurd one is refused before any work
    (before: KeyError 'bound', an internal error, exit 1)."""
    import shutil

    _, out = pte_bundle
    for name, edit, needle in [
        ("no-bound", lambda s: s.pop("bound"), "field 'executorch.bound' is missing"),
        ("batch", lambda s: s["bound"].update(max_batch=10**9), "field 'executorch.bound.max_batch' is '1000000000'"),
        ("dims", lambda s: s["bound"]["dims"].pop("h0"), "field 'executorch.bound.dims.h0'"),
    ]:
        bad = tmp_path / name
        shutil.copytree(out, bad)
        m = json.loads((bad / "manifest.json").read_text())
        edit(m["executorch"])
        (bad / "manifest.json").write_text(json.dumps(m))
        proc = run_cli("render", bad, "-o", tmp_path / f"{name}.png", cwd=tmp_path, timeout=300)
        assert_one_line_error(proc, 2, needle)
