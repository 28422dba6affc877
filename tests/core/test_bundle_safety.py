"""Bundles run only what they verified, and publishing never loses data (issue 20):
inrgan_export.core.bundle's confinement, listing and writer rules, through the API and the CLI."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from inrgan_export.core.bundle import MANIFEST, Bundle, BundleWriter, remove_stale_partials
from inrgan_export.load.sources import sha256_file
from inrgan_export.core.errors import BundleError, OutputError

from ..conftest import assert_one_line_error, run_cli


def copy_bundle(src, dst):
    shutil.copytree(src, dst, symlinks=True)
    return dst


def edit(bundle, fn):
    m = json.loads((bundle / MANIFEST).read_text())
    fn(m)
    (bundle / MANIFEST).write_text(json.dumps(m))


def relist(bundle, m, rel):
    m["files"][rel] = {"sha256": sha256_file(bundle / rel), "bytes": (bundle / rel).stat().st_size}


def test_listed_symlink_leaving_the_bundle_is_refused(tiny_bundle, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    b = copy_bundle(tiny_bundle, tmp_path / "b")
    shutil.copy(b / "inr.onnx", outside / "inr.onnx")  # same bytes: the checksum would match
    (b / "inr.onnx").unlink()
    (b / "inr.onnx").symlink_to(outside / "inr.onnx")
    with pytest.raises(BundleError, match="'inr.onnx'.*leaves the bundle"):
        Bundle.open(b)
    line = assert_one_line_error(run_cli("render", b, "-o", tmp_path / "o.png", cwd=tmp_path), 2, "inr.onnx", "leaves the bundle")
    assert str(outside) not in line  # says nothing about what lies outside
    assert not (tmp_path / "o.png").exists()
    # a symlink that stays inside the bundle is fine
    (b / "inr.onnx").unlink()
    (b / "sub").mkdir()
    shutil.copy(outside / "inr.onnx", b / "sub" / "inr.onnx")
    (b / "inr.onnx").symlink_to("sub/inr.onnx")
    Bundle.open(b)


def test_a_graph_not_listed_in_files_is_refused(tiny_bundle, tmp_path):
    """The attack of the issue: drop inr.onnx from 'files', then change it: it must not run."""
    b = copy_bundle(tiny_bundle, tmp_path / "b")
    edit(b, lambda m: m["files"].pop("inr.onnx"))
    with open(b / "inr.onnx", "ab") as f:
        f.write(b"\0")  # modified after the export
    line = assert_one_line_error(run_cli("render", b, "-o", tmp_path / "o.png", cwd=tmp_path), 2,
                                 "'inr.onnx'", "not listed in field 'files'")
    assert "graphs['inr'].onnx" in line
    assert not (tmp_path / "o.png").exists()
    # the same for the golden data that verify reads
    g = copy_bundle(tiny_bundle, tmp_path / "g")
    edit(g, lambda m: m["files"].pop("golden.npz"))
    assert_one_line_error(run_cli("verify", g, cwd=tmp_path), 2, "golden.npz", "not listed")


def test_paths_outside_are_refused_without_saying_whether_they_exist(tiny_bundle, tmp_path):
    b = copy_bundle(tiny_bundle, tmp_path / "b")
    (tmp_path / "exists.onnx").write_bytes(b"x")
    lines = []
    for rel in ("../exists.onnx", "../missing.onnx"):
        edit(b, lambda m: m["graphs"]["inr"].__setitem__("onnx", rel))
        lines.append(assert_one_line_error(run_cli("render", b, "-o", tmp_path / "o.png", cwd=tmp_path), 2, "graphs['inr'].onnx"))
    assert lines[0].replace("exists", "X") == lines[1].replace("missing", "X")
    # a directory symlink inside the bundle that points out, used by a files entry
    c = copy_bundle(tiny_bundle, tmp_path / "c")
    (tmp_path / "d").mkdir()
    shutil.copy(c / "parity.md", tmp_path / "d" / "parity.md")
    (c / "link").symlink_to(tmp_path / "d")
    edit(c, lambda m: (m["files"].__setitem__("link/parity.md", m["files"]["parity.md"])))
    with pytest.raises(BundleError, match="'link/parity.md'.*leaves the bundle"):
        Bundle.open(c)


def test_force_replaces_only_a_bundle_of_ours(tiny_bundle, tmp_path):
    user = tmp_path / "user"
    user.mkdir()
    (user / "thesis.txt").write_text("precious")
    with pytest.raises(OutputError, match="not an inrgan-export bundle"):
        BundleWriter(user, force=True).check()
    (user / MANIFEST).write_text(json.dumps({"schema": "someone-else"}))
    with pytest.raises(OutputError, match="not an inrgan-export bundle"):
        BundleWriter(user, force=True).check()
    # through the CLI, with "-o ." naming the current directory (it used to crash on an empty name)
    proc = run_cli("demo:tiny", "--target", "onnx", "-o", ".", "--force", cwd=user)
    assert_one_line_error(proc, 2, "output directory . is not an inrgan-export bundle")
    assert sorted(p.name for p in user.iterdir()) == ["manifest.json", "thesis.txt"]


def test_publish_refuses_a_bundle_created_meanwhile(tmp_path):
    """Two exports to one path: the second to finish must not replace the first."""
    out = tmp_path / "b"
    first = BundleWriter(out)
    second = BundleWriter(out)
    t1 = first.__enter__()
    t2 = second.__enter__()  # both checked while nothing existed
    (t1 / MANIFEST).write_text(json.dumps({"schema": "inrgan-export/bundle"}))
    (t1 / "a").write_text("first")
    first.__exit__(None, None, None)
    (t2 / "a").write_text("second")
    with pytest.raises(OutputError, match="created or replaced by another process"):
        second.__exit__(None, None, None)
    assert (out / "a").read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]  # the loser's temporary is gone
    # with --force both: the one that checked the old bundle replaces it, the other is refused
    a, b = BundleWriter(out, force=True), BundleWriter(out, force=True)
    ta, tb = a.__enter__(), b.__enter__()
    (ta / MANIFEST).write_text(json.dumps({"schema": "inrgan-export/bundle"}))
    (ta / "a").write_text("third")
    a.__exit__(None, None, None)
    (tb / "a").write_text("fourth")
    with pytest.raises(OutputError, match="created or replaced"):
        b.__exit__(None, None, None)
    assert (out / "a").read_text() == "third"


def test_stale_partials_of_dead_exports_are_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    stale = tmp_path / f".x.{dead_pid}.abcd1234.partial"
    stale.mkdir()
    (stale / "inr.onnx").write_bytes(b"half")
    live = tmp_path / f".y.{os.getppid()}.abcd1234.partial"  # a live process's export: kept
    live.mkdir()
    other = tmp_path / ".notes.partial"  # not ours: kept
    other.mkdir()
    if dead_pid == os.getppid():
        pytest.skip("pid reused at once")
    with BundleWriter(tmp_path / "new") as tmp:
        (tmp / "a").write_text("1")
    assert not stale.exists() and live.exists() and other.exists()
    assert remove_stale_partials(tmp_path) == []


def test_verify_out_refuses_the_bundle_itself(tiny_bundle, tmp_path):
    """``verify B -o B`` used to rewrite B's listed parity.json, so B failed its checksums
    afterwards. (Writing the report elsewhere: tests/test_verify.py.)"""
    from inrgan_export.core.errors import UsageError
    from inrgan_export.app.pipeline import check_report_dir

    b = copy_bundle(tiny_bundle, tmp_path / "b")
    before = (b / "parity.json").read_bytes()
    assert_one_line_error(run_cli("verify", b, "-o", b, cwd=tmp_path), 2, "inside the bundle")
    for target in (b / "reports", tmp_path / "b" / "." / "x" / ".."):
        with pytest.raises(UsageError, match="inside the bundle"):
            check_report_dir(target, b)
    check_report_dir(tmp_path / "elsewhere", b)
    assert (b / "parity.json").read_bytes() == before and not (b / "reports").exists()
    Bundle.open(b)  # still passes its own checksums


# ------------------------------------------------------------------ manifests that lie about their graphs (issue 30)
def _set(path: list[str], value):
    def fn(m):
        d = m
        for key in path[:-1]:
            d = d[key]
        d[path[-1]] = value
    return fn


def _external_data_at(location: str):
    """hypernet.onnx with its external data pointing elsewhere, its SHA-256 fixed up."""
    def fn(bundle):
        import hashlib

        import onnx

        model = onnx.load(str(bundle / "hypernet.onnx"), load_external_data=False)
        for t in model.graph.initializer:
            for e in t.external_data:
                if e.key == "location":
                    e.value = location
        data = model.SerializeToString()
        (bundle / "hypernet.onnx").write_bytes(data)
        edit(bundle, lambda m: m["files"]["hypernet.onnx"].update(sha256=hashlib.sha256(data).hexdigest(), bytes=len(data)))
    return fn


#: before (issue 30): 10^8 blocks ran 83 s into 5.8 GB; the others were exit 1 ("internal
#: error", ValueError on a string clamp) or wrong work sized from the lie
LIES = {
    "num_blocks past the limit": (_set(["interface", "grid", "size_rule", "num_blocks"], 10**8),
                                  ["field 'interface.grid.size_rule.num_blocks' is 100000000", "1 to 16"]),
    "num_blocks vs the graph": (lambda m: (m["interface"]["grid"]["size_rule"].update(num_blocks=5),
                                           m["interface"]["memory"].update(bytes_per_pixel=[1] * 5)),
                                ["field 'interface.grid.size_rule.num_blocks' (5) does not match inr.onnx", "3 coordinate grids"]),
    "bytes_per_pixel per block": (_set(["interface", "memory", "bytes_per_pixel"], [1]),
                                  ["field 'interface.memory.bytes_per_pixel' has 1 values"]),
    "z_dim": (_set(["interface", "z_dim"], 8), ["field 'interface.z_dim' (8) does not match hypernet.onnx", "width 16"]),
    "theta_dim": (_set(["interface", "theta_dim"], 7), ["field 'interface.theta_dim' (7) does not match hypernet.onnx"]),
    "output name": (_set(["interface", "output_name"], "image"), ["field 'interface.output_name' ('image')", "'rgb'"]),
    "hypernet inputs": (_set(["interface", "hypernet_inputs"], ["w"]), ["field 'interface.hypernet_inputs'", "['z']"]),
    "display clamp": (_set(["interface", "display"], {"clamp": "ab"}), ["field 'clamp' is \"ab\""]),
}


@pytest.mark.parametrize("name", sorted(LIES))
def test_a_manifest_that_lies_about_its_graphs_is_refused_naming_the_field(tiny_bundle, tmp_path, name):
    bad = copy_bundle(tiny_bundle, tmp_path / "b")
    lie, needles = LIES[name]
    edit(bad, lie)
    proc = run_cli("render", bad, "--seed", "1", "-o", tmp_path / "x.png", cwd=tmp_path, timeout=60)
    assert_one_line_error(proc, 2, *needles)
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("location", ["/etc/hostname", "../outside.weights"])
def test_external_data_outside_the_bundle_is_one_line_exit_2(tiny_bundle, tmp_path, location):
    """ONNX Runtime's own check refuses it; before, its exception was an internal error, exit 1."""
    bad = copy_bundle(tiny_bundle, tmp_path / "b")
    shutil.copy(bad / "hypernet.weights", tmp_path / "outside.weights")  # the right bytes, outside the bundle
    _external_data_at(location)(bad)
    proc = run_cli("render", bad, "--seed", "1", "-o", tmp_path / "x.png", cwd=tmp_path, timeout=60)
    assert_one_line_error(proc, 2, "ONNX Runtime cannot load hypernet.onnx", "External data path")
