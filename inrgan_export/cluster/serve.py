"""``serve``: a render service on Ray Serve.

Other programs (a web app, a tile server for zoomable images) ask for renders over HTTP:

    GET  /render?seed=3&size=256x256&window=x0,y0,x1,y1&truncation=0.7&format=png|npy
    GET  /render?seed=3&mix=7&t=0.3 (θ-space interpolation, as ``render --interpolate 3,7 --t 0.3``;
                                     seed and mix also take latent bank rows: bank:2)
    POST /render?size=...   body: a .npy latent [z_dim] or [1, z_dim], or JSON {"latent": [...]}
    GET  /healthz           this replica's state (JSON)
    GET  /info              the bundle's ``inspect --json`` dict

Each replica opens the bundle once (torch-free runtime), keeps an LRU cache of θ keyed by the
latent's bytes and ψ, and renders the requests that Serve's batching gathers in one
hypernetwork call and one INR call per (size, window). Renders run on one thread beside the
event loop, so ``/healthz`` and the time limit keep working while a replica renders.

Every refusal is one line of text with an HTTP status: 400 bad input (the runtime's own
checks and messages), 404/405 unknown route or method, 413 body, pixels or (``oversize=refuse``)
memory budget exceeded, 429 more requests than the replicas take and queue, 504 past the
time limit. The service has no authentication; it listens on 127.0.0.1 unless told otherwise.

Over 400 lines: the HTTP surface (parameters, limits, status codes) and the replica that renders
are one service.
"""
from __future__ import annotations

import asyncio
import io
import json
import logging
import math
import os
import hmac
import secrets
import socket
import sys
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..core.errors import BackendUnavailable, InrganError, UsageError
from ..backends.base import RenderCancelled
from ..core.grid import Window, parse_size
from ..core.latents import MAX_SEED, latent_from_seed, npy_header_of
from ..core.safejson import json_depth
from ..app.options import ServeOptions

APP_NAME = "inrgan"
DEPLOYMENT_NAME = "RenderReplica"
MEDIA_TYPES = {"png": "image/png", "npy": "application/octet-stream"}
RENDER_PARAMS = ("seed", "size", "window", "truncation", "format", "mix", "t")
OVERSIZE = ("tile", "refuse")
LOOPBACK = ("127.0.0.1", "localhost", "::1")
ROUTES = "GET /render, POST /render, GET /healthz, GET /info"
NPY_MAGIC = b"\x93NUMPY"


class HttpError(Exception):
    """A refusal: an HTTP status and the one-line message the client reads."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class RenderItem:
    """One validated render request."""

    z: np.ndarray  # [1, z_dim] float32, finite
    psi: float | None
    size: tuple[int, int]
    window: Window
    fmt: str
    mix: np.ndarray | None = None  # the other end of a θ-space interpolation, [1, z_dim]
    t: float = 0.0
    #: set when the request timed out (504): its render stops at the next piece
    cancel: threading.Event = field(default_factory=threading.Event, compare=False)

    def theta_key(self) -> bytes:
        """θ depends on the latent and ψ only (no ψ is ψ = 1, the hypernetwork's neutral value)."""
        return self.z.tobytes() + np.float32(1.0 if self.psi is None else self.psi).tobytes()


class ThetaCache:
    """θ per latent, least recently used dropped first. Used from the render thread only."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.entries: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: bytes) -> np.ndarray | None:
        theta = self.entries.get(key)
        if theta is None:
            self.misses += 1
            return None
        self.entries.move_to_end(key)
        self.hits += 1
        return theta

    def put(self, key: bytes, theta: np.ndarray) -> None:
        if self.capacity < 1:
            return
        self.entries[key] = theta
        self.entries.move_to_end(key)
        while len(self.entries) > self.capacity:
            self.entries.popitem(last=False)

    def stats(self) -> dict[str, int]:
        return {"entries": len(self.entries), "capacity": self.capacity, "hits": self.hits, "misses": self.misses}


# ------------------------------------------------------------------ request parsing
def parse_render_params(pairs: list[tuple[str, str]], method: str) -> dict[str, str]:
    """Query parameters of /render: each known one at most once, no unknown one (a typo such
    as ``sede=3`` must not silently render seed 0)."""
    params: dict[str, str] = {}
    for key, value in pairs:
        if key not in RENDER_PARAMS:
            raise HttpError(400, f"unknown parameter {key!r}; valid: {', '.join(RENDER_PARAMS)}")
        if key in params:
            raise HttpError(400, f"parameter {key!r} is given twice")
        params[key] = value
    if method == "POST" and "seed" in params:
        raise HttpError(400, "POST /render takes its latent from the body; 'seed' is for GET /render")
    return params


def parse_seed(text: str) -> int:
    try:
        seed = int(text)
    except ValueError:
        seed = -1
    if not 0 <= seed <= MAX_SEED:
        raise HttpError(400, f"seed {text!r} is not an integer in 0..{MAX_SEED}")
    return seed


def parse_psi(text: str) -> float:
    try:
        psi = float(text)
    except ValueError:
        psi = math.nan
    if not math.isfinite(psi):
        raise HttpError(400, f"truncation {text!r} is not a finite number (e.g. 0.7; 1 = no truncation)")
    return psi


#: nesting of a JSON body: {"latent": [[...]]} needs 3
MAX_BODY_JSON_DEPTH = 8


def parse_latent_body(body: bytes, z_dim: int) -> np.ndarray:
    """A .npy array (never unpickled; its header checked against the body's length before
    numpy allocates what it declares) or JSON ``{"latent": [...]}`` (nesting checked before
    the parser recurses) — the CLI's guards (check_npy_header, safejson); shape checks follow."""
    if body.startswith(NPY_MAGIC):
        try:
            npy_header_of(io.BytesIO(body), len(body), "request body")
            return np.load(io.BytesIO(body), allow_pickle=False)
        except InrganError as e:
            raise HttpError(400, str(e)) from None
        except (ValueError, OSError, EOFError, MemoryError) as e:
            msg = (str(e).strip().splitlines() or [type(e).__name__])[0][:120]
            raise HttpError(400, f"request body is not a plain .npy array: {msg}") from None
    if not body.strip():
        raise HttpError(400, 'POST /render needs a latent in the body: a .npy array or JSON {"latent": [...]}')
    try:
        text = body.decode("utf-8")
        depth = json_depth(text)
        if depth > MAX_BODY_JSON_DEPTH:
            raise HttpError(400, f"JSON body nests {depth} levels deep; a latent needs at most {MAX_BODY_JSON_DEPTH}")
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError):  # ValueError: also integers past Python's digit limit
        raise HttpError(400, 'request body is neither a .npy array nor JSON {"latent": [...]}') from None
    if not isinstance(doc, dict) or set(doc) != {"latent"}:
        raise HttpError(400, f'JSON body must be {{"latent": [{z_dim} numbers]}}')
    try:
        return np.asarray(doc["latent"], dtype=np.float64)
    except (ValueError, TypeError, OverflowError, RecursionError):  # OverflowError: a 4,000-digit integer
        raise HttpError(400, f'"latent" must be a list of {z_dim} numbers') from None


async def read_body(request: Any, limit: int) -> bytes:
    """The request body, refused with 413 past ``limit`` bytes before it is all read."""
    length = request.headers.get("content-length")
    too_big = f"is more than this service's limit of {limit} bytes (max_body)"
    if length is not None and length.isdigit() and int(length) > limit:
        raise HttpError(413, f"request body of {length} bytes {too_big}")
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise HttpError(413, f"request body {too_big}")
        chunks.append(chunk)
    return b"".join(chunks)


def route_of(scope: dict[str, Any]) -> str:
    """The path below the application's route prefix."""
    path = scope.get("path", "/")
    root = scope.get("root_path", "").rstrip("/")
    if root and path.startswith(root):
        path = path[len(root):]
    return "/" + path.strip("/")


def status_of(err: Exception) -> tuple[int, str]:
    if isinstance(err, HttpError):
        return err.status, err.message
    if isinstance(err, InrganError):
        return (400 if err.exit_code == 2 else 500), str(err)
    msg = (str(err).strip().splitlines() or [""])[0][:200]
    return 500, f"internal error: {type(err).__name__}: {msg}"


# ------------------------------------------------------------------ the replica
class RenderReplica:
    """One Serve replica: the bundle opened once, a θ cache, one render thread."""

    def __init__(self, opts: ServeOptions) -> None:
        from ray import serve

        from ..app.inspect_bundle import inspect_bundle
        from ..backends import open_bundle

        self.opts = opts
        self.gen = open_bundle(opts.bundle, backend=opts.backend, threads=opts.threads, max_memory=opts.max_memory).activate()
        self.iface = self.gen.interface
        self.takes_psi = self.iface.hypernet_inputs[1:2] == ("truncation_psi",)
        # the bundle's name, never where it lies on the server
        self.info = {**inspect_bundle(opts.bundle, verify_checksums=False), "bundle": Path(opts.bundle).name}
        self.replica_id = secrets.token_hex(4)  # names this replica to clients without its process id
        self.cache = ThetaCache(opts.theta_cache)
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="render")
        self.render_batch = serve.batch(max_batch_size=opts.max_batch, batch_wait_timeout_s=opts.batch_wait_s)(self.render_items)
        self.served = 0
        self.cancelled_renders = 0  # renders stopped because every requester had timed out
        self.started = time.time()

    # ---------------------------------------------------------------- HTTP
    async def __call__(self, request: Any) -> Any:
        from starlette.responses import Response

        try:
            route = route_of(request.scope)
            method = request.method
            if self.opts.token is not None and route != "/healthz":
                given = request.headers.get("authorization", "")
                if not hmac.compare_digest(given.encode("utf-8", "replace"), f"Bearer {self.opts.token}".encode()):
                    raise HttpError(401, "this service needs 'Authorization: Bearer TOKEN' (serve --token)")
            if route in ("/healthz", "/info"):
                if method != "GET":
                    raise HttpError(405, f"{method} {route} is not a route; valid: {ROUTES}")
                return json_response(self.health() if route == "/healthz" else self.info)
            if route != "/render":
                raise HttpError(404, f"no route {route}; valid: {ROUTES}")
            if method not in ("GET", "POST"):
                raise HttpError(405, f"{method} /render is not a route; valid: {ROUTES}")
            params = parse_render_params(list(request.query_params.multi_items()), method)
            if method == "POST":
                z = parse_latent_body(await read_body(request, self.opts.max_body), self.iface.z_dim)
            else:
                z = self.latent_of(params.get("seed", "0"))
            item = self.render_item(z, params)
            t0 = time.perf_counter()
            try:
                result = await asyncio.wait_for(self.render_batch(item), self.opts.timeout_s)
            except asyncio.TimeoutError:
                item.cancel.set()  # its render stops between tiles and frees its memory
                raise HttpError(504, f"render took longer than this service's limit of {self.opts.timeout_s:g} s (timeout)") from None
            if isinstance(result, Exception):
                raise result
            data, meta = result
            self.served += 1
            headers = {
                "X-Theta-Cache": meta["theta_cache"],
                "X-Batch-Size": str(meta["batch"]),
                "X-Replica": self.replica_id,
                "X-Render-Seconds": f"{time.perf_counter() - t0:.4f}",
            }
            return Response(data, media_type=MEDIA_TYPES[item.fmt], headers=headers)
        except Exception as e:  # noqa: BLE001 - every failure is one status line for the client
            status, message = status_of(e)
            return Response(message + "\n", status_code=status, media_type="text/plain")

    def render_item(self, z: np.ndarray, params: dict[str, str]) -> RenderItem:
        """Every check the runtime would make, before the request joins a batch (so one bad
        request cannot fail the others of its batch)."""
        z = self.gen.check_latents(z)
        if z.shape[0] != 1:
            raise HttpError(400, f"latent has {z.shape[0]} rows; /render takes one latent [z_dim] or [1, z_dim] per request")
        size = parse_size(params["size"]) if "size" in params else tuple(self.iface.native_size)
        pixels = size[0] * size[1]
        if pixels > self.opts.max_pixels:
            raise HttpError(413, f"size {size[0]}x{size[1]} is {pixels} pixels, more than this service's limit of "
                                 f"{self.opts.max_pixels} (max_pixels)")
        self.gen.check_size_range(size)
        window = Window.parse(params["window"]) if "window" in params else Window()
        psi = parse_psi(params["truncation"]) if "truncation" in params else None
        if psi is not None and not self.takes_psi:
            raise HttpError(400, f"truncation: family {self.iface.family} has no truncation input (only the sg2 family takes one)")
        fmt = params.get("format", "png")
        if fmt not in MEDIA_TYPES:
            raise HttpError(400, f"format {fmt!r} is not one of {', '.join(MEDIA_TYPES)}")
        mix, t = self.mix_of(z, params)
        return RenderItem(z, psi, size, window, fmt, mix, t)

    def latent_of(self, text: str) -> np.ndarray:
        """A seed, or ``bank:N``: a row of the bundle's latent bank."""
        if not text.startswith("bank:"):
            return latent_from_seed(parse_seed(text), self.iface.z_dim)
        from ..core.latent_bank import read_bundle_bank, select

        if not text[5:].isdigit():
            raise HttpError(400, f"{text!r}: bank:N takes one row index (e.g. bank:3)")
        z, _ = select(read_bundle_bank(self.gen.bundle.path, self.gen.bundle.manifest), text[5:], str(self.opts.bundle))
        return self.gen.check_latents(z)

    def mix_of(self, z: np.ndarray, params: dict[str, str]) -> tuple[np.ndarray | None, float]:
        """``mix`` (the other latent) and ``t`` in [0, 1], checked as ``render --interpolate`` checks them."""
        if ("mix" in params) != ("t" in params):
            raise HttpError(400, "mix and t go together: mix=SEED_B (or bank:N) and t in [0, 1]")
        if "mix" not in params:
            return None, 0.0
        from ..app.interpolation import check_endpoints, check_ts

        try:
            t = float(params["t"])
        except ValueError:
            raise HttpError(400, f"t {params['t']!r} is not a number in [0, 1]") from None
        t = float(check_ts([t])[0])
        mix = self.latent_of(params["mix"])
        check_endpoints(z, mix, ("seed", "mix"))
        return mix, t

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "replica": self.replica_id,
            **({"pid": os.getpid()} if self.opts.debug else {}),  # a process id only for --debug
            "backend": self.gen.backend,
            "family": self.iface.family,
            "served": self.served,
            "cancelled": self.cancelled_renders,
            "theta_cache": self.cache.stats(),
            # replicas run the torch-free runtime: the export stack never loads here
            "torch_imported": "torch" in sys.modules,
            "uptime_s": round(time.time() - self.started, 1),
        }

    # ---------------------------------------------------------------- rendering
    async def render_items(self, items: list[RenderItem]) -> list[Any]:
        """Serve's batch: rendered on the render thread; per item (bytes, meta) or its error."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, self.render_now, items)

    def render_now(self, items: list[RenderItem]) -> list[Any]:
        try:
            keys = [item.theta_key() for item in items]
            ends = [replace(item, z=item.mix, mix=None) for item in items if item.mix is not None]
            thetas, hits = self.thetas(items + ends, keys + [end.theta_key() for end in ends])
        except Exception as e:  # noqa: BLE001 - the whole batch shares the hypernetwork call
            return [e] * len(items)
        groups: dict[tuple, list[int]] = {}
        for i, item in enumerate(items):
            groups.setdefault((item.size, item.window), []).append(i)
        results: list[Any] = [None] * len(items)
        for (size, window), rows in groups.items():
            try:
                grid = self.gen.grid(size, window)
                if self.opts.oversize == "refuse":
                    plan = self.gen.plan(grid, 1)
                    if plan.pieces > 1:
                        raise HttpError(413, f"size {size[0]}x{size[1]} needs {plan.pieces} tiles to stay within the memory "
                                             f"budget of {self.gen.max_memory} bytes; this service refuses tiled renders (oversize=refuse)")
                # every requester of this (size, window) gone (504): stop between tiles
                self.gen.cancelled = lambda rows=rows: all(items[i].cancel.is_set() for i in rows)
                try:
                    images = self.gen.render_on(np.stack([self.theta_of(items[i], keys[i], thetas) for i in rows]), grid)
                except RenderCancelled:
                    self.cancelled_renders += 1
                    raise
                finally:
                    self.gen.cancelled = None
                for i, image in zip(rows, images):
                    meta = {"theta_cache": "hit" if keys[i] in hits else "miss", "batch": len(items)}
                    results[i] = (encode(image, items[i].fmt, self.iface.display), meta)
            except Exception as e:  # noqa: BLE001 - this (size, window) only
                for i in rows:
                    results[i] = e
        return results

    @staticmethod
    def theta_of(item: RenderItem, key: bytes, thetas: dict[bytes, np.ndarray]) -> np.ndarray:
        """θ of an item; for a mix, the blend of its two ends' θ (the CLI's θ-space lerp)."""
        if item.mix is None:
            return thetas[key]
        from ..app.interpolation import lerp

        end = replace(item, z=item.mix, mix=None).theta_key()
        return lerp(thetas[key], thetas[end], item.t).astype(np.float32)

    def thetas(self, items: list[RenderItem], keys: list[bytes]) -> tuple[dict[bytes, np.ndarray], set[bytes]]:
        """θ of every item: from the cache, the rest in one hypernetwork call (a latent twice
        in a batch is computed once)."""
        thetas: dict[bytes, np.ndarray] = {}
        for key in dict.fromkeys(keys):
            theta = self.cache.get(key)
            if theta is not None:
                thetas[key] = theta
        hits = set(thetas)
        missing = {key: item for key, item in zip(keys, items) if key not in thetas}
        if missing:
            z = np.concatenate([item.z for item in missing.values()], axis=0)
            extra = [np.array([1.0 if it.psi is None else it.psi for it in missing.values()], dtype=np.float32)] if self.takes_psi else []
            for key, theta in zip(missing, self.gen.hypernet(z, *extra)):
                theta = theta.copy()
                thetas[key] = theta
                self.cache.put(key, theta)
        return thetas, hits


def encode(image: np.ndarray, fmt: str, display: Any) -> bytes:
    """The bytes ``render -o OUT.npy|OUT.png`` writes for this one image."""
    buf = io.BytesIO()
    if fmt == "npy":
        np.save(buf, image[None].astype(np.float32), allow_pickle=False)
    else:
        from PIL import Image

        from ..core.imageio import to_uint8

        Image.fromarray(to_uint8(image[None], display)[0], "RGB").save(buf, format="PNG")
    return buf.getvalue()


def json_response(obj: dict[str, Any]) -> Any:
    from starlette.responses import Response

    return Response(json.dumps(obj, allow_nan=False, default=str) + "\n", media_type="application/json")


# ------------------------------------------------------------------ the driver
def check_options(opts: ServeOptions) -> None:
    if not 1 <= opts.port <= 65535:
        raise UsageError(f"--port {opts.port} is not a TCP port (1..65535)")
    if opts.oversize not in OVERSIZE:
        raise UsageError(f"--oversize {opts.oversize!r} is not one of {', '.join(OVERSIZE)}")
    for name in ("replicas", "threads", "max_batch", "max_body", "max_pixels", "max_concurrent"):
        if getattr(opts, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} {getattr(opts, name)} must be at least 1")
    if opts.max_queued < -1 or opts.theta_cache < 0:
        raise UsageError("--max-queued must be -1 (no limit) or more, --theta-cache 0 or more")
    if not (math.isfinite(opts.timeout_s) and opts.timeout_s > 0) or not (0 <= opts.batch_wait_s <= 10):
        raise UsageError(f"--timeout {opts.timeout_s:g} must be > 0 s and --batch-wait {opts.batch_wait_s:g} in 0..10 s")


def check_port_free(host: str, port: int) -> None:
    """Serve's proxy would fail to bind later and less clearly: refuse a taken port now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            raise UsageError(f"cannot listen on {host}:{port}: {e.strerror or e} (choose another --port or --host)") from None


def import_serve():
    try:
        import ray
        from ray import serve
    except ImportError:
        raise BackendUnavailable("serve needs Ray Serve: pip install 'inrgan-export[cluster]'") from None
    return ray, serve


def build_app(opts: ServeOptions) -> Any:
    """The Serve application: ``opts.replicas`` replicas of :class:`RenderReplica`."""
    _, serve = import_serve()
    options: dict[str, Any] = dict(
        name=DEPLOYMENT_NAME,
        num_replicas=opts.replicas,
        max_ongoing_requests=opts.max_concurrent,
        max_queued_requests=opts.max_queued,
        ray_actor_options={"num_cpus": opts.threads if opts.replica_cpus is None else opts.replica_cpus},
        # a killed replica is noticed and replaced within seconds
        health_check_period_s=2.0,
        health_check_timeout_s=30.0,
        graceful_shutdown_timeout_s=5.0,
    )
    try:
        from ray.serve.config import BackpressureConfig

        options["backpressure_config"] = BackpressureConfig(status_code=429, retry_after_s=1)
    except ImportError:  # Ray releases before BackpressureConfig answer a full queue with 503
        pass
    return serve.deployment(**options)(RenderReplica).bind(opts)


def start_service(opts: ServeOptions, app_name: str = APP_NAME, route_prefix: str = "/") -> str:
    """Deploy the application on the connected Ray cluster (Serve's HTTP proxy on
    ``opts.host:opts.port`` if Serve is not running there yet); returns its base URL once
    every replica is up."""
    _, serve = import_serve()
    serve.start(http_options={"host": opts.host, "port": opts.port})
    serve.run(build_app(opts), name=app_name, route_prefix=route_prefix, blocking=False)
    host = f"[{opts.host}]" if ":" in opts.host else opts.host
    return f"http://{host}:{opts.port}{route_prefix.rstrip('/')}"


def stop_service(app_name: str = APP_NAME) -> None:
    """Delete the application; shut Serve down when no other application is left on it."""
    _, serve = import_serve()
    from ray.serve.exceptions import RayServeException

    try:
        serve.delete(app_name)
        others = serve.status().applications
    except RayServeException:  # no Serve instance on this cluster (any more)
        return
    if not others:
        serve.shutdown()


def run_service(opts: ServeOptions, log: Callable[[str], None] | None = None,
                stop: threading.Event | None = None) -> None:
    """``inrgan-export serve``: start the service and keep it until interrupted (Ctrl-C or
    SIGTERM) or ``stop`` is set; then remove it, and the local cluster if this started one."""
    from ..backends import open_bundle
    from .render_many import check_reachable, token_mode_for

    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    check_options(opts)
    # what a replica would refuse is refused here, with one line, before any cluster starts
    probe = open_bundle(opts.bundle, backend=opts.backend, threads=1, max_memory=opts.max_memory)
    opts = replace(opts, bundle=Path(opts.bundle).resolve(), backend=probe.backend)
    if opts.host not in LOOPBACK and opts.token is None:
        log(f"serve: WARNING: listening on {opts.host}:{opts.port} without --token: "
            "anyone who can reach this address can use it")
    check_port_free(opts.host, opts.port)
    if opts.address is not None:
        check_reachable(opts.address)
    token_mode_for(opts.address)
    ray, _ = import_serve()
    stop = stop or threading.Event()
    owns = start_ray(ray, opts)
    try:
        quiet_serve_logs()
        url = start_service(opts)
        log(f"serve: {opts.bundle} ({probe.interface.family}, {opts.backend}) at {url} with {opts.replicas} replica(s); "
            f"GET {url}/render?seed=0&size=256x256 ; Ctrl-C stops")
        with stop_on_signals(stop):
            try:
                while not stop.wait(0.5):
                    pass
            except KeyboardInterrupt:
                pass
            log("serve: stopping")
            stop_service()
    finally:
        if owns:
            ray.shutdown()
    log("serve: stopped")


@contextmanager
def stop_on_signals(stop: threading.Event):
    """SIGINT (Ctrl-C) and SIGTERM set ``stop`` while the service runs, also where the shell
    started it with SIGINT ignored (a background job); the old handlers come back after."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def quiet_serve_logs() -> None:
    if os.environ.get("INRGAN_EXPORT_DEBUG"):
        return
    for name in ("ray.serve", "ray"):
        logging.getLogger(name).setLevel(logging.WARNING)


def start_ray(ray, opts: ServeOptions) -> bool:
    """Connect to ``opts.address`` or start a quiet local cluster; True if this service owns it."""
    if ray.is_initialized():
        return False
    quiet = dict(logging_level=logging.ERROR, log_to_driver=False)
    if opts.address is not None:
        try:
            ray.init(address=opts.address, **quiet)
        except (ConnectionError, RuntimeError, ValueError) as e:
            msg = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
            raise BackendUnavailable(f"cannot connect to the Ray cluster at --address {opts.address}: {msg}") from None
        return True
    ray.init(address="local", num_cpus=opts.cpus or os.cpu_count() or 1, include_dashboard=False, **quiet)
    return True
