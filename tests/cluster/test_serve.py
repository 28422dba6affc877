"""serve on the session's Ray cluster (see conftest.py), over real HTTP on 127.0.0.1: answers
equal to ``render``'s, refusals with their status and one line, limits, a replica killed under
load, a clean shutdown; and the real CLI started, asked, and stopped with SIGINT.

Every request loop is bounded (a count of requests, a count of retries, a deadline)."""
from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from inrgan_export import open_bundle
from inrgan_export.core.latents import latent_from_seed
from inrgan_export.app.options import ServeOptions

from ..conftest import cli_command, run_cli

pytest.importorskip("ray.serve", reason="the cluster extra is not installed (pip install 'inrgan-export[cluster]')")

from inrgan_export.cluster.serve import start_service, stop_service  # noqa: E402

#: a batched render may differ from a lone one in the last bits (ONNX Runtime's GEMMs see
#: another batch size); measured on the tiny bundle: well below this
BATCHED_ATOL = 1e-5
TOKEN = "t0k3n-" + "a" * 26  # the /slow service's bearer token
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1 never goes through a proxy


def http(url: str, data: bytes | None = None, method: str | None = None, timeout: float = 60.0,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with OPENER.open(req, timeout=timeout) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def npy(body: bytes) -> np.ndarray:
    return np.load(io.BytesIO(body), allow_pickle=False)


def png_pixels(data: bytes | Path) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data) as img:
        return np.asarray(img.convert("RGB"))


def npy_body(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=True)
    return buf.getvalue()


def one_line(body: bytes) -> str:
    text = body.decode()
    assert text.endswith("\n") and text.count("\n") == 1, text
    return text.strip()


def serve_processes(root: int) -> dict[int, str]:
    """Ray Serve's processes (replicas, controller, proxies) below process ``root``, by their
    process titles (``ray::ServeReplica:app:deployment`` ...)."""
    import psutil

    out = {}
    try:
        children = psutil.Process(root).children(recursive=True)
    except psutil.NoSuchProcess:
        return out
    for p in children:
        try:
            title = " ".join(p.cmdline())
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        if any(k in title for k in ("ServeReplica", "ServeController", "ProxyActor")):
            out[p.pid] = title
    return out


@pytest.fixture(scope="module")
def budget_64(tiny_bundle) -> int:
    """Activation bytes of one 64x64 render of the tiny bundle: as a budget, 64x64 renders
    whole and 128x128 needs tiles."""
    g = open_bundle(tiny_bundle)
    assert g.plan(g.grid((128, 128)), 1).estimate_bytes > g.plan(g.grid((64, 64)), 1).estimate_bytes
    return g.plan(g.grid((64, 64)), 1).estimate_bytes


@pytest.fixture(scope="module")
def service(ray_cluster, tiny_bundle, budget_64):
    """Three applications behind one proxy: ``/`` (two replicas, small body and pixel limits),
    ``/strict`` (one replica taking one request at a time with a queue of one, tiled renders
    refused) and ``/slow`` (a time limit of 1 s, tiles of 64x64, a bearer token)."""
    port = free_port()
    common = dict(bundle=Path(tiny_bundle).resolve(), port=port, replica_cpus=0.25, batch_wait_s=0.05)
    apps = {
        "main": ("/", ServeOptions(**common, replicas=2, max_body=4096, max_pixels=256 * 256, debug=True)),  # --debug: PIDs
        "strict": ("/strict", ServeOptions(**{**common, "batch_wait_s": 0.3}, max_concurrent=1, max_queued=1,
                                           oversize="refuse", max_memory=budget_64)),
        "slow": ("/slow", ServeOptions(**common, timeout_s=1.0, max_memory=budget_64, token=TOKEN)),  # and a bearer token
    }
    urls = {}
    try:
        for name, (prefix, opts) in apps.items():
            urls[name] = start_service(opts, app_name=name, route_prefix=prefix)
        yield urls
    finally:
        for name in apps:
            stop_service(name)


@pytest.fixture(scope="module")
def refs(tiny_bundle, tmp_path_factory) -> Path:
    """``render``'s own files (real CLI) that the service's answers are compared with."""
    d = tmp_path_factory.mktemp("serve-ref")
    runs = {
        "s3.npy": ("--seed", "3", "--size", "32x24"),
        "s3.png": ("--seed", "3", "--size", "32x24"),
        "s3win.npy": ("--seed", "3", "--size", "20x20", "--window", "-0.25,0,0.75,1"),
        "s0-7.npy": ("--seed", "0-7", "--size", "16x16"),
    }
    for name, args in runs.items():
        proc = run_cli("render", tiny_bundle, *args, "-o", d / name, cwd=d)
        assert proc.returncode == 0, proc.stderr
    return d


def test_render_alone_is_bit_identical_to_render_and_the_second_ask_hits_the_cache(service, refs, tiny_bundle):
    url = service["main"]
    status, head, body = http(f"{url}/render?seed=3&size=32x24&format=npy")
    assert status == 200 and head["x-batch-size"] == "1", head
    assert body == (refs / "s3.npy").read_bytes()  # the very file render writes
    status, head, body = http(f"{url}/render?seed=3&size=32x24")
    assert status == 200 and head["content-type"] == "image/png"
    np.testing.assert_array_equal(png_pixels(body), png_pixels(refs / "s3.png"))
    status, head, body = http(f"{url}/render?seed=3&size=20x20&window=-0.25,0,0.75,1&format=npy")
    assert status == 200 and head["x-batch-size"] == "1"
    assert body == (refs / "s3win.npy").read_bytes()
    # POST the same latent as .npy and as JSON: the same bytes
    z = latent_from_seed(3, open_bundle(tiny_bundle).interface.z_dim)
    for data in (npy_body(z[0]), json.dumps({"latent": z[0].tolist()}).encode()):
        status, head, body = http(f"{url}/render?size=32x24&format=npy", data=data)
        assert status == 200, body
        assert body == (refs / "s3.npy").read_bytes()
    # θ is cached per replica: asked again of the replica that computed it, a hit
    seen: dict[str, str] = {}
    for _ in range(20):
        status, head, body = http(f"{url}/render?seed=11&size=8x8&format=npy")
        assert status == 200
        if head["x-replica"] in seen:
            assert head["x-theta-cache"] == "hit" and body == seen[head["x-replica"]]
            break
        assert head["x-theta-cache"] == "miss"
        seen[head["x-replica"]] = body
    else:
        pytest.fail("20 requests never reached the same replica twice")


def test_concurrent_requests_are_batched_within_the_tolerance(service, refs):
    url = service["main"]
    ref = np.load(refs / "s0-7.npy")
    results: dict[int, tuple] = {}
    barrier = threading.Barrier(8)

    def ask(seed: int) -> None:
        barrier.wait(timeout=30)
        results[seed] = http(f"{url}/render?seed={seed}&size=16x16&format=npy")

    threads = [threading.Thread(target=ask, args=(s,)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(results) == list(range(8))
    batches = []
    for seed, (status, head, body) in results.items():
        assert status == 200, body
        batches.append(int(head["x-batch-size"]))
        np.testing.assert_allclose(npy(body)[0], ref[seed], rtol=0, atol=BATCHED_ATOL)
    assert max(batches) > 1, batches  # eight at once over two replicas: some rendered together


def test_mix_and_t_interpolate_theta_as_render_does(service, tiny_bundle, tmp_path):
    proc = run_cli("render", tiny_bundle, "--interpolate", "3,7", "--t", "0,0.3,1", "--size", "16x16", "-o", "x.npy", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    ref = np.load(tmp_path / "x.npy")
    assert np.abs(ref[1] - ref[0]).max() > 1e-2 and np.abs(ref[1] - ref[2]).max() > 1e-2
    for k, t in enumerate(("0", "0.3", "1")):
        status, head, body = http(f"{service['main']}/render?seed=3&mix=7&t={t}&size=16x16&format=npy")
        assert status == 200, body
        np.testing.assert_allclose(npy(body)[0], ref[k], rtol=0, atol=BATCHED_ATOL)


def test_info_is_inspect_json(service, tiny_bundle, tmp_path):
    status, head, body = http(f"{service['main']}/info")
    assert status == 200 and head["content-type"] == "application/json"
    proc = run_cli("inspect", Path(tiny_bundle).resolve(), "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    expected = json.loads(proc.stdout)
    expected.pop("command")
    assert expected["bundle"] == str(Path(tiny_bundle).resolve())
    expected["bundle"] = Path(tiny_bundle).name  # the name only: where it lies on the server is not the client's business
    assert json.loads(body) == expected
    assert str(Path(tiny_bundle).resolve().parent).encode() not in body
    status, head, body = http(f"{service['main']}/healthz")
    health = json.loads(body)
    assert status == 200 and health["status"] == "ok" and health["backend"] == "onnxruntime"
    assert health["torch_imported"] is False  # the replica runs the torch-free runtime
    assert health["pid"] > 0  # the main service runs with debug=True (serve --debug)
    # without --debug no process id: the replica is named by an opaque token
    strict = json.loads(http(f"{service['strict']}/healthz")[2])
    assert "pid" not in strict and isinstance(strict["replica"], str) and len(strict["replica"]) == 8, strict


def npy_header_claiming(rows: int) -> bytes:
    """A .npy body whose header declares ``rows`` x 16 float32 and holds one row of data."""
    from numpy.lib import format as npy

    buf = io.BytesIO()
    npy.write_array_header_1_0(buf, {"descr": "<f4", "fortran_order": False, "shape": (rows, 16)})
    return buf.getvalue() + np.zeros(16, np.float32).tobytes()


@pytest.mark.parametrize("path, data, method, status, needle", [
    ("/render?seed=abc", None, None, 400, "seed 'abc' is not an integer"),
    ("/render?seed=-1", None, None, 400, "seed '-1'"),
    ("/render?size=0x5", None, None, 400, "size 0x5 is impossible"),
    ("/render?size=big", None, None, 400, "size 'big' is not HxW"),
    ("/render?window=1,1,0,0", None, None, 400, "window 1,1,0,0 is empty"),
    ("/render?window=0,0,1", None, None, 400, "is not X0,Y0,X1,Y1"),
    ("/render?truncation=0.7", None, None, 400, "family paper has no truncation input"),
    ("/render?format=gif", None, None, 400, "format 'gif' is not one of png, npy"),
    ("/render?sede=3", None, None, 400, "unknown parameter 'sede'"),
    ("/render?seed=1&seed=2", None, None, 400, "parameter 'seed' is given twice"),
    ("/render?size=512x512", None, None, 413, "262144 pixels, more than this service's limit of 65536"),
    ("/render", b"{not json", None, 400, "neither a .npy array nor JSON"),
    ("/render", b'{"latent": [1, 2, 3]}', None, 400, "latent has shape [3]; this generator takes [N, 16]"),
    ("/render", b'{"latent": [NaN, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]}', None, 400, "contains NaN or Inf"),
    ("/render", b'{"z": []}', None, 400, 'JSON body must be {"latent"'),
    ("/render", npy_body(np.array([{"a": 1}], dtype=object)), None, 400, "not a plain .npy array"),
    ("/render", npy_body(np.zeros((2, 16), np.float32)), None, 400, "latent has 2 rows"),
    ("/render", npy_body(np.zeros(16, np.int64)), None, 400, "dtype int64; expected float32"),
    ("/render?seed=3", b'{"latent": []}', None, 400, "'seed' is for GET"),
    ("/render", b"x" * 5000, None, 413, "limit of 4096 bytes"),
    ("/render?seed=3&mix=7&t=1.5", None, None, 400, "t = 1.5 is outside [0, 1]"),
    ("/render?seed=3&mix=3&t=0.5", None, None, 400, "seed and mix are the same latent"),
    ("/render?seed=3&mix=7", None, None, 400, "mix and t go together"),
    ("/render?seed=3&mix=bank:0&t=0.5", None, None, 400, "has no latent bank"),
    # the CLI's guards on bodies (issue 30; before: 500 with MemoryError, RecursionError, OverflowError)
    ("/render", npy_header_claiming(10**9), None, 400, "declares shape [1000000000, 16]"),
    ("/render", b'{"latent": ' + b"[" * 2000 + b"]" * 2000 + b"}", None, 400, "nests 2001 levels deep"),
    ("/render", b'{"latent": [' + b"9" * 4000 + b"]}", None, 400, '"latent" must be a list of 16 numbers'),
    ("/nothing", None, None, 404, "no route /nothing"),
    ("/render", None, "DELETE", 405, "DELETE /render is not a route"),
])
def test_bad_requests_get_4xx_with_one_line_and_the_service_keeps_serving(service, path, data, method, status, needle):
    got, head, body = http(service["main"] + path, data=data, method=method)
    assert got == status, body
    assert needle in one_line(body)
    got, head, body = http(f"{service['main']}/render?seed=2&size=8x8")
    assert got == 200


def test_limits_of_the_strict_and_slow_services(service, budget_64):
    strict, slow = service["strict"], service["slow"]
    # past the memory budget, refused rather than tiled
    status, head, body = http(f"{strict}/render?seed=1&size=128x128")
    assert status == 413 and "this service refuses tiled renders (oversize=refuse)" in one_line(body)
    assert http(f"{strict}/render?seed=1&size=64x64")[0] == 200
    # one request at a time and a queue of one: the rest of twelve at once get 429 at once
    codes: list[int] = []
    barrier = threading.Barrier(12)

    def ask(seed: int) -> None:
        barrier.wait(timeout=30)
        codes.append(http(f"{strict}/render?seed={seed}&size=16x16")[0])

    threads = [threading.Thread(target=ask, args=(s,)) for s in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(codes) == 12 and set(codes) <= {200, 429}, codes
    assert codes.count(200) >= 1 and codes.count(429) >= 1, codes
    assert http(f"{strict}/render?seed=1&size=16x16")[0] == 200  # and it serves on
    # past the time limit (4096x4096 in 4096 tiles of 64x64): 504 with the limit named; health
    # still answers; the render stops at its next tile (before: it rendered on, and a small
    # request right after waited behind it and got 504 too)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    status, head, body = http(f"{slow}/render?seed=1&size=4096x4096&format=npy", headers=auth)
    assert status == 504 and "longer than this service's limit of 1 s" in one_line(body)
    assert http(f"{slow}/healthz")[0] == 200  # health needs no token (it names no path or process)
    deadline = time.monotonic() + 30
    while json.loads(http(f"{slow}/healthz")[2])["cancelled"] < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert json.loads(http(f"{slow}/healthz")[2])["cancelled"] == 1
    t = time.monotonic()
    assert http(f"{slow}/render?seed=1&size=16x16", headers=auth)[0] == 200
    assert time.monotonic() - t < 30
    # the token: without it, or with another one, 401 before any work (serve --token)
    for headers in ({}, {"Authorization": "Bearer " + "x" * len(TOKEN)}, {"Authorization": TOKEN}):
        status, head, body = http(f"{slow}/render?seed=1&size=16x16", headers=headers)
        assert status == 401 and "Authorization: Bearer TOKEN" in one_line(body), (headers, status)
    assert http(f"{slow}/info", headers={})[0] == 401 and http(f"{slow}/info", headers=auth)[0] == 200


def test_replica_killed_under_load_loses_no_retried_request(service, tiny_bundle):
    url = service["main"]
    replicas: set[int] = set()
    for _ in range(40):  # find both replicas' processes
        replicas.add(json.loads(http(f"{url}/healthz")[2])["pid"])
        if len(replicas) == 2:
            break
    assert len(replicas) == 2, replicas
    victim = min(replicas)
    seeds = list(range(100, 124))
    done: dict[int, bytes] = {}
    failures: list[int] = []
    started = threading.Event()

    def client(part: list[int]) -> None:
        for seed in part:
            for _attempt in range(60):  # a client that retries failed requests, within a bound
                try:
                    status, head, body = http(f"{url}/render?seed={seed}&size=16x16&format=npy", timeout=30)
                except OSError:
                    status, body = 0, b""
                if status == 200:
                    done[seed] = body
                    started.set()
                    break
                failures.append(status)
                time.sleep(0.25)

    threads = [threading.Thread(target=client, args=(seeds[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    assert started.wait(60)
    os.kill(victim, signal.SIGKILL)
    for t in threads:
        t.join(timeout=300)
    assert sorted(done) == seeds, (sorted(done), failures)
    g = open_bundle(tiny_bundle)
    for seed, body in done.items():
        np.testing.assert_allclose(npy(body)[0], g.generate(latent_from_seed(seed, 16), (16, 16))[0], rtol=0,
                                   atol=BATCHED_ATOL)
    print(f"replica {victim} killed; {len(failures)} failed attempt(s) retried: {failures}")
    # Serve replaces the killed replica
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        pids = {json.loads(http(f"{url}/healthz")[2])["pid"] for _ in range(8)}
        if victim not in pids and len(pids) == 2:
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"the killed replica {victim} was not replaced within 90 s")


def test_shutdown_leaves_no_serve_process(service):
    before = serve_processes(os.getpid())
    assert sum("ServeReplica" in t for t in before.values()) >= 4, before  # 2 + 1 + 1 replicas
    for name in service:
        stop_service(name)
    deadline = time.monotonic() + 60
    while serve_processes(os.getpid()) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert serve_processes(os.getpid()) == {}
    with pytest.raises(OSError):
        http(f"{service['main']}/healthz", timeout=5)


def test_cli_serve_answers_then_stops_cleanly_on_sigint(tiny_bundle, refs, tmp_path):
    """The real command, its own local Ray cluster: /healthz, one render equal to render's,
    then SIGINT: exit 0, the port closed and every process it started gone."""
    import psutil

    port = free_port()
    proc = subprocess.Popen([*cli_command(), "serve", str(tiny_bundle), "--port", str(port), "--cpus", "1"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    url = f"http://127.0.0.1:{port}"
    lines: list[str] = []
    ready = threading.Event()

    def read_stderr() -> None:
        for line in proc.stderr:
            lines.append(line)
            if "Ctrl-C stops" in line:
                ready.set()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        assert ready.wait(150), f"serve did not say it is ready (exit {proc.poll()}): {''.join(lines)}"
        assert http(f"{url}/healthz", timeout=30)[0] == 200
        status, head, body = http(f"{url}/render?seed=3&size=32x24&format=npy")
        assert status == 200 and body == (refs / "s3.npy").read_bytes()
        started = {p.pid for p in psutil.Process(proc.pid).children(recursive=True)}
        assert started  # its Ray cluster: gcs, raylet, proxy, controller, replica ...
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(timeout=10)
    err = "".join(lines)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "serve: stopped" in err, err
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
                                              for p in started):
        time.sleep(0.5)
    alive = [p for p in started if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert alive == [], alive
    with pytest.raises(OSError):
        http(f"{url}/healthz", timeout=5)


def test_cli_serve_refuses_bad_input_before_starting(tiny_bundle, tmp_path):
    from ..conftest import assert_one_line_error

    assert_one_line_error(run_cli("serve", tmp_path / "nothing", cwd=tmp_path), 2, "nothing")
    assert_one_line_error(run_cli("serve", tiny_bundle, "--port", "70000", cwd=tmp_path), 2, "--port 70000")
    assert_one_line_error(run_cli("serve", tiny_bundle, "--oversize", "shrink", cwd=tmp_path), 2, "shrink")
    # another address than 127.0.0.1: the warning first (here an address this machine does not have)
    proc = run_cli("serve", tiny_bundle, "--host", "192.0.2.1", "--port", "8000", cwd=tmp_path)
    assert_one_line_error(proc, 2, "cannot listen on 192.0.2.1:8000")
    assert "without --token: anyone who can reach this address can use it" in proc.stderr
    # with a token: no warning; a token file that is not one is refused before anything starts
    (tmp_path / "token").write_text(TOKEN + "\n")
    proc = run_cli("serve", tiny_bundle, "--host", "192.0.2.1", "--port", "8000", "--token", tmp_path / "token", cwd=tmp_path)
    assert_one_line_error(proc, 2, "cannot listen on 192.0.2.1:8000")
    assert "without --token" not in proc.stderr
    (tmp_path / "short").write_text("abc")
    assert_one_line_error(run_cli("serve", tiny_bundle, "--token", tmp_path / "short", cwd=tmp_path), 2, "16 to 4096")
    assert_one_line_error(run_cli("serve", tiny_bundle, "--token", tmp_path / "none", cwd=tmp_path), 2, "cannot read it")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = run_cli("serve", tiny_bundle, "--port", str(port), cwd=tmp_path)
        assert_one_line_error(proc, 2, f"127.0.0.1:{port}")
        assert "without --token" not in proc.stderr  # 127.0.0.1: no warning


def test_missing_ray_exits_3_naming_the_extra(tiny_bundle, tmp_path):
    """Ray hidden from the interpreter (an import that fails, as without the extra)."""
    code = ("import sys; sys.modules['ray'] = None\n"
            "from inrgan_export.cli import main\n"
            f"sys.exit(main(['serve', {str(tiny_bundle)!r}, '--port', '{free_port()}']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    from ..conftest import assert_one_line_error

    assert_one_line_error(proc, 3, "serve needs Ray Serve", "pip install 'inrgan-export[cluster]'")
