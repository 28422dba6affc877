"""The misuse catalogue of issue 20: each hostile or careless input, run through the real CLI,
with its exit code and first error line.

    python benchmarks/misuse_catalogue.py --cli .venv/bin/inrgan-export --json before.json
    python benchmarks/misuse_catalogue.py --cli .venv/bin/inrgan-export --json after.json \
        --before before.json --markdown benchmarks/results/misuse_catalogue.md

Every case builds its own inputs in a temporary directory from one demo:tiny bundle exported
at the start (about 20 s on 2 cores). Cases that need root (a 1 MiB tmpfs for "disk full", a
read-only tmpfs for "permission denied" as root bypasses file modes) say so when skipped.
"""
from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from inrgan_export.measure.harness import parser, record, write_json


def first_error(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    for ln in lines:
        if ln.startswith("inrgan-export: "):
            return ln
    return lines[-1] if lines else ""


class Catalogue:
    def __init__(self, cli: list[str], work: Path) -> None:
        self.cli = cli
        self.work = work
        self.rows: dict[str, dict] = {}

    def run(self, *args, cwd: Path | None = None, timeout: int = 300, keep: bool = False) -> subprocess.CompletedProcess:
        """Run the CLI; a render's output file is removed first unless ``keep``."""
        args = [str(x) for x in args]
        if args and args[0] == "render" and "-o" in args and not keep:
            try:
                Path(args[args.index("-o") + 1]).unlink(missing_ok=True)
            except OSError:
                pass
        return subprocess.run([*self.cli, *map(str, args)], capture_output=True, text=True, cwd=cwd or self.work,
                              timeout=timeout, env=dict(os.environ, PYTHONUNBUFFERED="1"))

    def record(self, case: str, proc_or_code, note: str = "") -> None:
        if isinstance(proc_or_code, subprocess.CompletedProcess):
            code, msg = proc_or_code.returncode, first_error(proc_or_code.stderr)
            if "Traceback" in proc_or_code.stderr:
                note = (note + "; " if note else "") + "traceback printed"
            if "\x1b[" in proc_or_code.stderr:
                note = (note + "; " if note else "") + "ANSI escapes"
        else:
            code, msg = proc_or_code
        self.rows[case] = {"exit": code, "message": msg[:220], "note": note}
        print(f"{case:<58} {code!s:>4}  {msg[:120]}  {note}", flush=True)

    # --------------------------------------------------------------- helpers
    def bundle_copy(self, base: Path, name: str) -> Path:
        dst = self.work / name
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(base, dst, symlinks=True)
        return dst


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def edit_manifest(bundle: Path, fn) -> None:
    m = json.loads((bundle / "manifest.json").read_text())
    fn(m)
    (bundle / "manifest.json").write_text(json.dumps(m, indent=1))


def relist(bundle: Path, m: dict, rel: str) -> None:
    m["files"][rel] = {"sha256": sha(bundle / rel), "bytes": (bundle / rel).stat().st_size}


def poison_inr(bundle: Path, value: float) -> None:
    """Set every float initializer of inr.onnx to ``value`` (NaN weights) and re-list it."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(bundle / "inr.onnx"))
    for init in model.graph.initializer:
        arr = numpy_helper.to_array(init)
        if arr.dtype == np.float32 and arr.size > 1:
            init.CopyFrom(numpy_helper.from_array(np.full_like(arr, value), init.name))
    onnx.save(model, str(bundle / "inr.onnx"))
    edit_manifest(bundle, lambda m: relist(bundle, m, "inr.onnx"))


def try_mount(path: Path, opts: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"  (mount tmpfs {opts} failed: {proc.stderr.strip()}; case skipped)")
    return proc.returncode == 0


def umount(path: Path) -> None:
    subprocess.run(["umount", str(path)], capture_output=True)


def interrupt_export(cat: Catalogue, sig: int, name: str, delay: float) -> tuple[int, str, str]:
    out = cat.work / name
    shutil.rmtree(out, ignore_errors=True)
    proc = subprocess.Popen([*cat.cli, "demo:tiny", "--target", "onnx", "-o", str(out)], cwd=cat.work,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # wait until the temporary directory exists (export under way), then signal
    t0 = time.time()
    while time.time() - t0 < 120 and not list(cat.work.glob(f".{name}.*.partial")):
        time.sleep(0.05)
    time.sleep(delay)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    left = sorted(p.name for p in cat.work.glob(f".{name}.*"))
    for p in cat.work.glob(f".{name}.*"):
        shutil.rmtree(p, ignore_errors=True)
    note = f"left behind: {left}" if left else "nothing left behind"
    if "\x1b[" in err:
        note += "; ANSI escapes"
    return proc.returncode, first_error(err), note


def cases_of(path: Path | None) -> dict | None:
    """The rows of an earlier run's JSON (a record with ``cases``, or the older bare mapping)."""
    if path is None:
        return None
    doc = json.loads(path.read_text())
    return doc["cases"] if "cases" in doc and "machine" in doc else doc


def main() -> int:
    ap = parser(__doc__)
    ap.add_argument("--cli", default=str(Path(sys.executable).with_name("inrgan-export")),
                    help="the command to run, e.g. .venv/bin/inrgan-export or 'python -m inrgan_export'")
    ap.add_argument("--v1", type=Path, default=None, help="JSON of a run on the first release (an extra column)")
    ap.add_argument("--json", type=Path, required=True)
    ap.add_argument("--before", type=Path, default=None)
    ap.add_argument("--markdown", type=Path, default=None)
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="misuse-"))
    cli = shlex.split(a.cli)
    cli[0] = str(Path(cli[0]).absolute()) if Path(cli[0]).exists() else cli[0]
    cat = Catalogue(cli, work)
    try:
        cases(cat)
    finally:
        for mnt in ("full", "ro"):
            umount(work / mnt)
        shutil.rmtree(work, ignore_errors=True)
    write_json(record(cases=cat.rows), a.json)
    if a.markdown:
        write_markdown(a.markdown, cases_of(a.before) or {}, cat.rows, cases_of(a.v1))
    return 0


def cases(cat: Catalogue) -> None:
    work = cat.work
    proc = cat.run("demo:tiny", "--target", "onnx", "-o", work / "base")
    assert proc.returncode == 0, proc.stderr
    base = work / "base"
    out_png = work / "o.png"

    # ---------------------------------------------------------------- bundles
    b = cat.bundle_copy(base, "abs_files")
    edit_manifest(b, lambda m: m["files"].__setitem__("/etc/passwd", {"sha256": "0" * 64, "bytes": 1}))
    cat.record("files entry absolute (/etc/passwd)", cat.run("render", b, "-o", out_png))

    b = cat.bundle_copy(base, "dotdot_files")
    edit_manifest(b, lambda m: m["files"].__setitem__("../../etc/passwd", {"sha256": "0" * 64, "bytes": 1}))
    cat.record("files entry with '..'", cat.run("render", b, "-o", out_png))

    b = cat.bundle_copy(base, "exists_probe")
    edit_manifest(b, lambda m: m["files"].__setitem__("sub/../../../../etc/shadow", {"sha256": "0" * 64, "bytes": 1}))
    p1 = cat.run("render", b, "-o", out_png)
    edit_manifest(b, lambda m: (m["files"].pop("sub/../../../../etc/shadow"),
                                m["files"].__setitem__("sub/../../../../etc/no-such", {"sha256": "0" * 64, "bytes": 1})))
    p2 = cat.run("render", b, "-o", out_png)
    same = first_error(p1.stderr).replace("shadow", "X") == first_error(p2.stderr).replace("no-such", "X")
    cat.record("files entry probing an outside path", p1, "same message for existing and missing path" if same
               else "messages differ: existence of outside paths revealed")

    outside = work / "outside"
    outside.mkdir(exist_ok=True)
    b = cat.bundle_copy(base, "symlink_out")
    shutil.copy(b / "inr.onnx", outside / "inr.onnx")
    (b / "inr.onnx").unlink()
    (b / "inr.onnx").symlink_to(outside / "inr.onnx")
    cat.record("listed graph is a symlink leaving the bundle", cat.run("render", b, "-o", out_png))

    b = cat.bundle_copy(base, "unlisted")
    edit_manifest(b, lambda m: m["files"].pop("inr.onnx"))
    poison_inr(b, 0.5)
    edit_manifest(b, lambda m: m["files"].pop("inr.onnx"))
    cat.record("graph not listed in files, then modified", cat.run("render", b, "-o", out_png))

    b = cat.bundle_copy(base, "graph_outside")
    shutil.copy(b / "inr.onnx", outside / "inr2.onnx")
    edit_manifest(b, lambda m: m["graphs"]["inr"].__setitem__("onnx", "../outside/inr2.onnx"))
    cat.record("graph path pointing outside ('../outside/inr2.onnx')", cat.run("render", b, "-o", out_png))

    b = cat.bundle_copy(base, "no_iface")
    edit_manifest(b, lambda m: m.pop("interface"))
    cat.record("manifest without 'interface'", cat.run("render", b, "-o", out_png))

    b = cat.bundle_copy(base, "files_str")
    edit_manifest(b, lambda m: m["files"].__setitem__("inr.onnx", "deadbeef"))
    cat.record("files entry that is a string", cat.run("render", b, "-o", out_png))

    b = cat.bundle_copy(base, "zero_native")
    edit_manifest(b, lambda m: m["interface"].__setitem__("native_size", [0, 0]))
    cat.record("native_size [0, 0]", cat.run("render", b, "-o", out_png))

    b = cat.bundle_copy(base, "nan_bpp")
    txt = (b / "manifest.json").read_text()
    m = json.loads(txt)
    m["interface"]["memory"]["bytes_per_pixel"][0] = float("nan")
    (b / "manifest.json").write_text(json.dumps(m))
    cat.record("bytes_per_pixel NaN", cat.run("render", b, "-o", out_png))

    b = cat.bundle_copy(base, "golden_unlisted")
    edit_manifest(b, lambda m: m["files"].pop("golden.npz"))
    cat.record("golden.npz not listed in files (verify)", cat.run("verify", b))

    # ---------------------------------------------------------------- outputs
    user = work / "userdir"
    user.mkdir(exist_ok=True)
    (user / "thesis.txt").write_text("precious")
    p = cat.run("demo:tiny", "--target", "onnx", "-o", user, "--force")
    cat.record("export -o NON_BUNDLE_DIR --force", p,
               "user file kept" if (user / "thesis.txt").exists() else "user file DELETED")

    sub = work / "dotcase"
    sub.mkdir(exist_ok=True)
    p = cat.run("demo:tiny", "--target", "onnx", "-o", ".", "--force", cwd=sub)
    left = sorted(x.name for x in sub.iterdir())
    cat.record("export -o . --force", p, f"left in cwd: {left}")

    b = cat.bundle_copy(base, "verify_self")
    p = cat.run("verify", b, "-o", b)
    p2 = cat.run("render", b, "-o", out_png)
    cat.record("verify BUNDLE -o BUNDLE", p, f"next render exit {p2.returncode}")

    # concurrent exports to one path
    conc = work / "conc"
    procs = [subprocess.Popen([*cat.cli, "demo:tiny", "--target", "onnx", "-o", str(conc)], cwd=work,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    res = [(pp.wait(timeout=300), pp.stderr.read()) for pp in procs]
    codes = sorted(r[0] for r in res)
    msg = next((first_error(e) for c, e in res if c != 0), "")
    cat.record("two concurrent export -o same/", (codes, msg), "both succeeded (one replaced the other)"
               if codes == [0, 0] else "one refused")

    code, msg, note = interrupt_export(cat, signal.SIGTERM, "term", 0.5)
    cat.record("SIGTERM during export", (code, msg), note)
    code, msg, note = interrupt_export(cat, signal.SIGINT, "intr", 0.5)
    cat.record("SIGINT during export", (code, msg), note)

    stale = work / ".stale.999999999.x1y2.partial"
    stale.mkdir(exist_ok=True)
    (stale / ".pid").write_text("999999999")
    (stale / "manifest.json").write_text("{}")
    p = cat.run("demo:tiny", "--target", "onnx", "-o", work / "stale")
    cat.record("stale .partial of a dead export (pid file)", p,
               "stale dir removed" if not stale.exists() else "stale dir still there")

    multi = work / "multi.png"
    blocked = work / "multi-seed0002.png"
    blocked.mkdir(exist_ok=True)
    p = cat.run("render", base, "--seed", "0-3", "-o", multi)
    written = sorted(x.name for x in work.glob("multi-seed*.png") if x.is_file())
    cat.record("render --seed 0-3 with one output name blocked", p, f"written: {written}")
    shutil.rmtree(blocked)

    exist = work / "exist.png"
    exist.write_bytes(b"my picture")
    p = cat.run("render", base, "-o", exist, keep=True)
    cat.record("render onto an existing file (no --force)", p,
               "file kept" if exist.read_bytes() == b"my picture" else "file overwritten")

    # ---------------------------------------------------------------- limits
    p = cat.run("render", base, "--seed", "0-4294967295", "-o", out_png, timeout=120)
    cat.record("--seed 0-4294967295", p)
    p = cat.run("render", base, "--size", "65536x65536", "-o", work / "huge.png", "--max-memory", "256M", timeout=300)
    cat.record("--size 65536x65536 (PNG)", p)
    p = cat.run("render", base, "--size", "65536x65536", "-o", work / "huge.npy", "--max-memory", "256M", timeout=300)
    cat.record("--size 65536x65536 (.npy)", p)
    p = cat.run("render", base, "--window=-1e39,0,1e39,1", "-o", work / "win.png")
    cat.record("--window=-1e39,0,1e39,1", p)
    p = cat.run("render", base, "--window=-3e38,0,3e38,1", "-o", work / "win.png")
    cat.record("--window=-3e38,0,3e38,1 (finite, span overflows)", p)
    b = cat.bundle_copy(base, "nan_weights")
    poison_inr(b, float("nan"))
    cat.record("NaN weights in a listed graph", cat.run("render", b, "-o", work / "nan.png"))
    z = work / "big.npy"
    np.save(z, np.full((1, 16), 1e30, dtype=np.float32))
    cat.record("latents of 1e30", cat.run("render", base, "--latent", z, "-o", work / "big.png"))

    # ---------------------------------------------------------------- exit codes of the system
    full = work / "full"
    if try_mount(full, "size=1m"):
        p = cat.run("render", base, "--size", "1024x1024", "-o", full / "x.npy")
        cat.record("disk full (1 MiB tmpfs, 12 MiB .npy)", p)
        p = cat.run("demo:tiny", "--target", "onnx", "-o", full / "b")
        cat.record("disk full during export (1 MiB tmpfs)", p)
        umount(full)
    ro = work / "ro"
    if try_mount(ro, "size=1m,ro"):
        cat.record("permission denied (read-only directory)", cat.run("render", base, "-o", ro / "x.png"))
        umount(ro)
    lat = work / "huge_latent.npy"
    with open(lat, "wb") as f:  # a header that claims [2**40, 16] float32 (a hostile/oversized input)
        hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 16), }"
        hdr = hdr + " " * (118 - len(hdr)) + "\n"
        f.write(b"\x93NUMPY\x01\x00" + len(hdr).to_bytes(2, "little") + hdr.encode())
    cat.record("latent .npy claiming 2**40 rows", cat.run("render", base, "--latent", lat, "-o", out_png))


def write_markdown(path: Path, before: dict, after: dict, v1: dict | None = None) -> None:
    lines = [
        "# Misuse catalogue (issue 20)",
        "",
        "Each input run through the real CLI (`inrgan-export`): exit code and first line of stderr, then",
        "the effect the script checked (in italics). Columns: *v1* is the first release (commit c554442),",
        "*before* the code this issue started from (after the typed manifest of issue 12), *after* this branch.",
        "Produced by `benchmarks/misuse_catalogue.py`; temporary paths differ between runs.",
        "",
        "```",
        "git archive c554442 inrgan_export | tar -x -C /tmp/v1",
        "PYTHONPATH=/tmp/v1 python benchmarks/misuse_catalogue.py --cli 'python -m inrgan_export' --json /tmp/v1.json",
        "python benchmarks/misuse_catalogue.py --json /tmp/before.json          # on the code before this issue",
        "python benchmarks/misuse_catalogue.py --json /tmp/after.json --before /tmp/before.json --v1 /tmp/v1.json \\",
        "    --markdown benchmarks/results/misuse_catalogue.md                  # on this branch",
        "```",
        "",
    ]
    cols = ([("v1", v1)] if v1 is not None else []) + [("before", before), ("after", after)]
    lines.append("| input | " + " | ".join(f"{n}: exit | {n}: message / effect" for n, _ in cols) + " |")
    lines.append("|---|" + "---|---|" * len(cols))

    def cell(r):
        if r is None:
            return "—", "(not run)"
        msg = r["message"].replace("|", "\\|")
        note = f" — *{r['note']}*" if r.get("note") else ""
        return str(r["exit"]), (f"`{msg}`{note}" if msg else (note or "(no message)"))

    cases = list(dict.fromkeys([*(v1 or {}), *before, *after]))
    for case in cases:
        cells = []
        for _, rows in cols:
            cells.extend(cell(rows.get(case)))
        lines.append(f"| {case} | " + " | ".join(cells) + " |")
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
