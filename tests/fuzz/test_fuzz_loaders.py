"""Property-based fuzzing of every file loader (issue 19): released-format pickles, our .pt
checkpoints, .npy latents and bundle manifests, seeded with valid files.

The property: a generated file either loads or is refused with an error of exit code 2 (one
line) — never another exception (MemoryError, RecursionError, an internal error), never past
an address-space limit set on this process with ``resource`` while the loaders run, never
past a generous backstop alarm. Example counts are fixed and the search is derandomized, so
CI runs the same cases every time; each test also checks that its cases were not vacuous
(some loaded, some were refused). A few generated files go through the real CLI in a
subprocess under RLIMIT_AS."""
from __future__ import annotations

import shutil

import contextlib
import io
import random
import resource
import signal
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from inrgan_export.core.bundle import Bundle
from inrgan_export.load.sources import demo_checkpoint, load_checkpoint
from inrgan_export.core.errors import InrganError
from inrgan_export.families.sg2.pickle_import import LIMITS, RestrictedUnpickler, load_network_pickle
from ..families.sg2_pickle_writer import dumps, network_pickle
from inrgan_export.core.latents import load_latents

from .. import hostile_inputs as hi
from ..conftest import DATA, cli_command

#: address space the loaders may add to this process while fuzzing
HEADROOM = 2 * 2**30
#: backstop per example (the loaders' limits are counted; this only stops a runaway)
ALARM_S = 120


def fuzz(n: int):
    """``n`` examples, the same ones on every run; no shrinking (a failure prints its example
    and a reproduce blob; shrinking a slow loader's failure would cost minutes of CI)."""
    return settings(max_examples=n, deadline=None, derandomize=True, database=None, phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck), print_blob=True)


def _vm_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * resource.getpagesize()


@contextlib.contextmanager
def bounded():
    """RLIMIT_AS of this process at its current size + HEADROOM, and a backstop alarm."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = _vm_bytes() + HEADROOM
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)

    def alarm(signum, frame):
        raise TimeoutError(f"a loader ran past the {ALARM_S} s backstop")

    old = signal.signal(signal.SIGALRM, alarm)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    signal.alarm(ALARM_S)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def outcome(load) -> str:
    """'loaded', or the refusal's class name; anything but an exit-2 error fails the test."""
    with bounded():
        try:
            load()
        except InrganError as e:
            assert e.exit_code == 2, f"{type(e).__name__} (exit {e.exit_code}): {e}"
            text = str(e)
            assert "\n" not in text and 0 < len(text) < 2000, text
            return type(e).__name__
    return "loaded"


def assert_not_vacuous(seen: Counter) -> None:
    print(f"outcomes: {dict(seen)}")
    refused = sum(v for k, v in seen.items() if k != "loaded")
    assert seen["loaded"] >= 1 and refused >= 1, seen


# ------------------------------------------------------------------ mutations
INTERESTING = [0, 1, 0x7F, 0x80, 0xFF]
BIG_INTS = [2**31 - 1, 2**32 - 1, 2**63 - 1, 2**64 - 1, 10**12]


@st.composite
def mutated(draw, seed: bytes, hot: tuple[int, int] | None = None):
    """1-4 byte-level mutations of ``seed``; positions biased to ``hot`` (start, end) when given."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            data += b"\x80"
        lo, hi_ = (0, len(data) - 1)
        if hot is not None and draw(st.booleans()):
            lo, hi_ = max(0, min(hot[0], len(data) - 1)), max(0, min(hot[1], len(data) - 1))
        pos = draw(st.integers(lo, hi_))
        kind = draw(st.sampled_from(["flip", "set", "int32", "int64", "insert", "delete", "truncate", "dup"]))
        if kind == "flip":
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set":
            data[pos] = draw(st.sampled_from(INTERESTING))
        elif kind == "int32":
            data[pos:pos + 4] = (draw(st.sampled_from(BIG_INTS)) & 0xFFFFFFFF).to_bytes(4, "little")
        elif kind == "int64":
            data[pos:pos + 8] = (draw(st.sampled_from(BIG_INTS)) & (2**64 - 1)).to_bytes(8, "little")
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[pos:pos + draw(st.integers(1, 64))]
        elif kind == "truncate":
            del data[pos:]
        else:
            n = draw(st.integers(1, 256))
            data[pos:pos] = data[pos:pos + n] * draw(st.integers(1, 8))
    return bytes(data)


# ------------------------------------------------------------------ seeds
@pytest.fixture(scope="module")
def sg2_seed() -> bytes:
    """A small released-format pickle (no caches, no D): most of its bytes are opcodes."""
    model = demo_checkpoint("sg2-tiny").build()
    return dumps(network_pickle(model, extras=False, caches=False))


@pytest.fixture(scope="module")
def pt_seed() -> bytes:
    buf = io.BytesIO()
    torch.save(demo_checkpoint("tiny").to_payload(), buf)
    return buf.getvalue()


@pytest.fixture(scope="module")
def work():
    with tempfile.TemporaryDirectory() as d:
        yield Path(d)


def _write(work: Path, name: str, data: bytes) -> Path:
    path = work / name
    path.write_bytes(data)
    return path


# ------------------------------------------------------------------ released-format pickles
def test_fuzz_released_pickle_bytes(sg2_seed, work):
    seen: Counter = Counter()
    seeds = [sg2_seed, (DATA / "sg2" / "tiny.pkl").read_bytes()]

    @fuzz(100)
    @given(st.sampled_from([0, 1]).flatmap(lambda i: mutated(seeds[i], hot=(0, 4096))))
    def check(data):
        path = _write(work, "f.pkl", data)
        with open(path, "rb") as f:
            up = RestrictedUnpickler(f, len(data))
            with contextlib.suppress(Exception), bounded():
                up.load()
        assert up.stored_bytes <= len(data) and up.copied_items <= LIMITS.max_copied_items + len(data)
        seen[outcome(lambda: load_network_pickle(path))] += 1

    check()
    assert_not_vacuous(seen)


@st.composite
def hostile_structure(draw):
    kind = draw(st.sampled_from(["dag", "deep", "cycle", "wide", "value"]))
    if kind == "dag":
        return hi.shared_dag(draw(st.integers(1, 60)))
    if kind == "deep":
        return hi.deep_list(draw(st.integers(1, 400)))
    if kind == "cycle":
        loop: list = [draw(st.integers())]
        loop.append([loop])
        return loop
    if kind == "wide":
        return {str(i): i for i in range(draw(st.integers(0, 200_000)))}
    return draw(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=50), st.binary(max_size=50)))


SG2_KWARGS = [("z_dim",), ("w_dim",), ("img_resolution",), ("mapping_kwargs", "num_layers"), ("synthesis_kwargs", "channel_base"),
              ("synthesis_kwargs", "channel_max"), ("cfg", "fmm", "rank"), ("cfg", "num_extra_convs"), ("cfg", "input", "resolution"),
              ("cfg", "coords", "res_configs"), ("cfg", "junk")]


def test_fuzz_released_pickle_structure(work):
    """Init arguments replaced by drawn values: numbers of any size, wrong types, and
    shared-reference DAGs, deep lists, cycles and wide dicts."""
    model = demo_checkpoint("sg2-tiny").build()
    seen: Counter = Counter()

    @fuzz(30)
    @given(st.lists(st.tuples(st.sampled_from(SG2_KWARGS), st.one_of(
        st.integers(-2**70, 2**70), st.sampled_from([0, 1, 3, 4, 64, 65, 2**14, 2**20, 2**40]), hostile_structure())), max_size=3))
    def check(edits):
        data = network_pickle(model, extras=False, caches=False)
        kwargs = data["G_ema"].args[0]["state"]["_init_kwargs"]
        for path, value in edits:
            node = kwargs
            for key in path[:-1]:
                node = node.get(key) if isinstance(node, dict) else None
            if isinstance(node, dict):
                node[path[-1]] = value
        import sys

        old = sys.getrecursionlimit()
        sys.setrecursionlimit(max(old, 3000))  # the pure-Python pickler recurses into deep lists
        try:
            blob = dumps(data)
        finally:
            sys.setrecursionlimit(old)
        path = _write(work, "s.pkl", blob)
        seen[outcome(lambda: load_network_pickle(path))] += 1

    check()
    assert_not_vacuous(seen)


# ------------------------------------------------------------------ our .pt format
def test_fuzz_pt_bytes(pt_seed, work):
    seen: Counter = Counter()

    @fuzz(100)
    @given(mutated(pt_seed, hot=(0, 2048)))
    def check(data):
        path = _write(work, "f.pt", data)
        seen[outcome(lambda: load_checkpoint(path).build())] += 1

    seen[outcome(lambda: load_checkpoint(_write(work, "ok.pt", pt_seed)).build())] += 1
    check()
    assert_not_vacuous(seen)


def test_fuzz_pt_config_and_tensors(work):
    """Config values and tensors replaced by drawn ones: any size, wrong types, stride-0 views."""
    payload = demo_checkpoint("tiny").to_payload()
    keys = sorted(payload["config"])
    names = sorted(payload["state_dict"])
    seen: Counter = Counter()

    @fuzz(80)
    @given(
        st.lists(st.tuples(st.sampled_from(keys), st.one_of(
            st.integers(-2**40, 2**40), st.sampled_from([0, 1, 64, 65, 200000, 2**31]), st.floats(allow_nan=True),
            st.text(max_size=8), st.none(), st.lists(st.integers(0, 8), max_size=3))), max_size=2),
        st.lists(st.tuples(st.sampled_from(names), st.lists(st.integers(0, 70000), min_size=1, max_size=3), st.booleans()), max_size=2),
    )
    def check(config_edits, tensor_edits):
        p = {**payload, "config": dict(payload["config"]), "state_dict": dict(payload["state_dict"])}
        for k, v in config_edits:
            p["config"][k] = v
        for name, shape, broadcast in tensor_edits:
            p["state_dict"][name] = torch.zeros(1).expand(*shape) if broadcast else torch.zeros([min(s, 64) for s in shape])
        buf = io.BytesIO()
        torch.save(p, buf)
        path = _write(work, "c.pt", buf.getvalue())
        seen[outcome(lambda: load_checkpoint(path).build())] += 1

    seen[outcome(lambda: load_checkpoint(_write(work, "ok.pt", _saved(payload))).build())] += 1
    check()
    assert_not_vacuous(seen)


def _saved(payload) -> bytes:
    buf = io.BytesIO()
    torch.save(payload, buf)
    return buf.getvalue()


# ------------------------------------------------------------------ .npy latents
def _npy(arr: np.ndarray, version=None) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, version=version)
    return buf.getvalue()


def test_fuzz_npy(work):
    seeds = [_npy(np.ones((3, 16), np.float32)), _npy(np.ones(16, np.float32)), _npy(np.ones((2, 16), np.float64), (2, 0))]
    seen: Counter = Counter()

    @fuzz(120)
    @given(st.sampled_from([0, 1, 2]).flatmap(lambda i: st.one_of(mutated(seeds[i], hot=(0, 128)), st.just(seeds[i]))))
    def check(data):
        path = _write(work, "z.npy", data)
        seen[outcome(lambda: load_latents(path, 16))] += 1

    check()
    assert_not_vacuous(seen)


# ------------------------------------------------------------------ manifests
def test_fuzz_manifest(work):
    bundle = work / "bundle"
    shutil.copytree(DATA / "bundle_v1", bundle)  # a real (small) bundle: its manifest is the seed
    seed = (bundle / "manifest.json").read_bytes()
    seen: Counter = Counter()

    @fuzz(120)
    @given(st.one_of(mutated(seed), st.just(seed), st.integers(1, 300).map(lambda d: seed.replace(b"{", b"[" * d + b"{", 1))))
    def check(data):
        (bundle / "manifest.json").write_bytes(data)
        seen[outcome(lambda: Bundle.open(bundle))] += 1

    check()
    assert_not_vacuous(seen)


# ------------------------------------------------------------------ bundles made hostile on purpose (issue 30)
def _fix_sha(bundle: Path, rel: str) -> None:
    """The manifest's SHA-256 of ``rel`` made to match: the checksum says nothing any more."""
    import hashlib
    import json

    data = (bundle / rel).read_bytes()
    m = json.loads((bundle / "manifest.json").read_text())
    m["files"][rel].update(sha256=hashlib.sha256(data).hexdigest(), bytes=len(data))
    (bundle / "manifest.json").write_text(json.dumps(m))


def _render_small(bundle: Path) -> None:
    from inrgan_export import open_bundle

    with open_bundle(bundle) as g:
        g.generate(np.zeros((1, g.interface.z_dim), np.float32), (8, 8))


def test_fuzz_ort_programs_with_checksums_fixed_up(work, tiny_ort_mobile):
    """Mutated .ort graphs (ONNX Runtime's own format) with the bundle's SHA-256 updated, loaded
    and run in this process: a render or one exit-2 line (before: "internal error", exit 1)."""
    bundle = work / "ort"
    shutil.copytree(tiny_ort_mobile, bundle)
    seed = (bundle / "inr.ort").read_bytes()
    seen: Counter = Counter()

    @fuzz(40)
    @given(st.one_of(mutated(seed), st.just(seed)))
    def check(data):
        (bundle / "inr.ort").write_bytes(data)
        _fix_sha(bundle, "inr.ort")
        seen[outcome(lambda: _render_small(bundle))] += 1

    check()
    assert_not_vacuous(seen)


#: the manifest numbers that size work, with values a liar would pick
LYING_NUMBERS = {
    ("grid", "size_rule", "num_blocks"): [0, 2, 4, 5, 17, 10**8, 2**63],
    ("grid", "size_rule", "native"): [0, 1, 3, 2**20],
    ("grid", "size_rule", "upsample_block_idx"): [-1, 3, 10**9],
    ("z_dim",): [1, 8, 17, 10**9],
    ("theta_dim",): [1, 7, 10**12],
    ("memory", "bytes_per_pixel"): [[], [1], [10**15, 1, 1], [1, 1, 1, 1]],
    ("native_size",): [[0, 16], [10**9, 10**9], [16]],
    ("display", "clamp"): ["ab", [1, -1], [0, 1, 2]],
    ("grid", "resample", "edges"): [[[0, 5]], [[9, 9]], [[-1, 0]]],
}


def test_fuzz_manifests_with_lying_numbers(work, tiny_bundle):
    """A manifest whose checksums are all right but whose numbers lie (1-3 of them): it renders
    (the lie was harmless) or is refused with one exit-2 line naming a field, in bounded memory."""
    import json

    bundle = work / "liar"
    shutil.copytree(tiny_bundle, bundle)
    seed = json.loads((bundle / "manifest.json").read_text())
    keys = sorted(LYING_NUMBERS)
    seen: Counter = Counter()

    @fuzz(60)
    @given(st.lists(st.sampled_from(keys).flatmap(lambda k: st.tuples(st.just(k), st.sampled_from(LYING_NUMBERS[k]))),
                    min_size=0, max_size=3))
    def check(lies):
        m = json.loads(json.dumps(seed))
        for path, value in lies:
            d = m["interface"]
            for key in path[:-1]:
                d = d[key]
            d[path[-1]] = value
        (bundle / "manifest.json").write_text(json.dumps(m))
        seen[outcome(lambda: _render_small(bundle))] += 1

    check()
    assert_not_vacuous(seen)


# ------------------------------------------------------------------ the real CLI
def test_fuzzed_files_through_the_cli(tmp_path, sg2_seed, pt_seed):
    """One mutated file per format through the real CLI under RLIMIT_AS: exit 0 or 2."""
    rng = random.Random(19)

    def mutate(seed: bytes, hot: int) -> bytes:
        data = bytearray(seed)
        for _ in range(3):
            pos = rng.randrange(min(hot, len(data)))
            data[pos] ^= 1 << rng.randrange(8)
        return bytes(data)

    npy = _npy(np.ones((2, 16), np.float32))
    cases = [
        (_write(tmp_path, "a.pkl", mutate(sg2_seed, 4096)), ["convert", "{}", "-o", "out_pkl.pt"]),
        (_write(tmp_path, "a.pt", mutate(pt_seed, 2048)), ["render", "{}", "--seed", "1", "-o", "out_pt.png"]),
        (_write(tmp_path, "a.npy", mutate(npy, 128)), ["render", "demo:tiny", "--latent", "{}", "-o", "out_npy.png"]),
    ]
    limit = int(1.5 * 2**30)
    for path, args in cases:
        proc = subprocess.run([*cli_command(), *[a.format(path) for a in args]], cwd=tmp_path, capture_output=True, text=True,
                              timeout=300, preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit)))
        assert proc.returncode in (0, 2), (path.name, proc.returncode, proc.stderr[-500:])
        assert "Traceback" not in proc.stderr
        if proc.returncode == 2:
            assert len([ln for ln in proc.stderr.splitlines() if ln.startswith("inrgan-export: error:")]) == 1
