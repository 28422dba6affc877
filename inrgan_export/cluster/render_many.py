"""``render-many``: thousands of renders on a Ray cluster, nothing lost, nothing twice.

The driver expands the job list (every seed x size x window), drops what the output
directory already holds complete (listed in ``index.jsonl`` with a matching SHA-256), and
streams the seeds still to do through a Ray Data ``map_batches`` over actor workers. Each
worker opens the bundle once, computes θ once per latent of its batch, renders every
size and window it was asked for on grids it keeps, and returns encoded files. Only the
driver writes: each file atomically (temporary name, then ``os.replace``), then one index
line. So a worker killed mid-batch loses nothing (Ray retries the batch on a restarted
actor and its first attempt never reached the driver), a key that arrives twice is written
once, and an interrupted driver leaves complete files only; a rerun finishes the set.

Workers never write to the output directory, so it need not be shared between nodes; the
bundle must be readable at the same path on every node.

Over 400 lines: the resumable job (index, atomic writes, settings check, Ray workers) is one
protocol and reads best in one place.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import stat
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ..core.errors import BackendUnavailable, OutputError, UsageError
from ..core.bundle import directory_lock
from ..core.grid import Window, check_size
from ..app.options import RenderManyOptions

#: render-many's own limit on distinct seeds (``render`` stops at 4096), checked before a
#: range is expanded.
MAX_RENDER_MANY_SEEDS = 1_000_000
INDEX = "index.jsonl"
SETTINGS = "render-many.json"
PARTIAL = ".partial"
#: test hook: a marker file whose presence makes the first worker batch that sees it
#: remove it and kill its own process (tests/cluster/test_render_many.py)
CRASH_ONCE_ENV = "INRGAN_EXPORT_TEST_CRASH_ONCE"
FORMATS = ("png", "npy")

Key = tuple[int, int]  # (seed, job index into the (size, window) list)


@dataclass(frozen=True)
class Job:
    """One output kind of every seed: a size and a window."""

    size: tuple[int, int]
    window: Window

    def file_name(self, seed: int, fmt: str) -> str:
        name = f"seed{seed:010d}-{self.size[0]}x{self.size[1]}"
        if not self.window.is_full():
            name += "-win" + self.window.text().replace(",", "_")
        return f"{name}.{fmt}"

    def record(self, seed: int, fmt: str) -> dict[str, Any]:
        w = self.window
        return {"seed": seed, "size": list(self.size), "window": [w.x0, w.y0, w.x1, w.y1], "file": self.file_name(seed, fmt)}


@dataclass(frozen=True)
class RenderManyResult:
    total: int
    skipped: int
    rendered: int
    seconds: float
    #: seconds from the pipeline's start to the first written batch (cluster, actors, bundle loads)
    first_output_s: float | None = None


# ------------------------------------------------------------------ files
def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_path(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_atomic(path: Path, data: bytes) -> None:
    """The whole file or nothing under ``path``: a hidden temporary beside it, then a rename."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}{PARTIAL}")
    try:
        tmp.unlink(missing_ok=True)  # never through a link planted under the temporary's name
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644), "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def remove_partials(out: Path) -> int:
    """Temporaries a killed driver could not remove (SIGKILL); never a complete output."""
    stale = [p for p in out.glob(f".*{PARTIAL}") if p.is_file()]
    for p in stale:
        p.unlink(missing_ok=True)
    return len(stale)


def open_own(path: Path, flags: int, mode: int = 0o644):
    """``open`` of one of render-many's own files in the output folder: never through a
    symlink (O_NOFOLLOW), only a regular file; anything else is one line, exit 2. A missing
    file raises FileNotFoundError (the caller decides)."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), mode)
    except FileNotFoundError:
        raise
    except OSError as e:
        if path.is_symlink():
            raise OutputError(f"{path} is a symlink; render-many writes its own files in the output folder only: "
                              "remove it or choose another -o directory") from None
        raise OutputError(f"{path} cannot be used ({os.strerror(e.errno or 0).lower()}); "
                          "remove it or choose another -o directory") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OutputError(f"{path} is not a regular file; remove it or choose another -o directory")
        return os.fdopen(fd, "rb" if (flags & os.O_ACCMODE) == os.O_RDONLY else "ab")
    except BaseException:
        os.close(fd)
        raise


def read_index(out: Path, log=None) -> list[dict[str, Any]]:
    """Index lines; a torn last line (a driver killed while appending), a line that is not
    UTF-8 or not an entry is skipped with a warning (its output is rendered again)."""
    path = out / INDEX
    try:
        f = open_own(path, os.O_RDONLY)
    except FileNotFoundError:
        return []
    entries, bad = [], 0
    with f:
        for line in f:
            try:
                entry = json.loads(line.decode("utf-8"))
            except ValueError:  # UnicodeDecodeError and JSONDecodeError alike
                bad += 1
                continue
            if (isinstance(entry, dict) and {"seed", "size", "window", "file", "sha256"} <= entry.keys()
                    and isinstance(entry["file"], str) and isinstance(entry["sha256"], str)):
                entries.append(entry)
            else:
                bad += 1
    if bad and log is not None:
        log(f"render-many: warning: {bad} unreadable line(s) in {path} skipped; their outputs are rendered again")
    return entries


def complete_outputs(out: Path, wanted: dict[str, Key], log=None) -> dict[Key, dict[str, Any]]:
    """Keys whose file is listed in the index and still has the listed checksum (a regular
    file, not a symlink: those are rendered again, replacing the link)."""
    done: dict[Key, dict[str, Any]] = {}
    for entry in read_index(out, log):
        key = wanted.get(entry["file"])
        if key is None or key in done:
            continue
        path = out / entry["file"]
        if not path.is_symlink() and path.is_file() and sha256_path(path) == entry["sha256"]:
            done[key] = entry
    return done


def write_index(out: Path, entries: Iterable[dict[str, Any]]) -> None:
    text = "".join(json.dumps(e, sort_keys=True) + "\n" for e in entries)
    write_atomic(out / INDEX, text.encode("utf-8"))


# ------------------------------------------------------------------ options
def parse_render_many_seeds(text: str) -> tuple[int, ...]:
    """The ``render`` seed syntax with render-many's own limit, counted before expansion."""
    from ..core.latents import parse_seeds

    seeds = parse_seeds(text, limit=MAX_RENDER_MANY_SEEDS)
    return tuple(dict.fromkeys(seeds))  # a seed named twice is one output, not two


def parse_windows(text: str) -> tuple[Window, ...]:
    """``X0,Y0,X1,Y1;X0,Y0,X1,Y1``: windows are separated by semicolons."""
    windows = tuple(Window.parse(part) for part in text.split(";") if part.strip())
    if not windows:
        raise UsageError(f"--windows {text!r} names no window (e.g. 0,0,1,1;0.25,0.25,0.75,0.75)")
    return tuple(dict.fromkeys(windows))


def jobs_of(opts: RenderManyOptions) -> list[Job]:
    return [Job(check_size(size), window) for size in dict.fromkeys(opts.sizes) for window in opts.windows]


def settings_of(opts: RenderManyOptions, backend: str) -> dict[str, Any]:
    """What makes two runs' files interchangeable: the bundle, backend, ψ and format."""
    return {
        "bundle_manifest_sha256": sha256_path(Path(opts.bundle) / "manifest.json"),
        "backend": backend,
        "truncation": opts.truncation,
        "format": opts.image_format,
    }


def check_settings(out: Path, settings: dict[str, Any]) -> None:
    path = out / SETTINGS
    if path.exists() or path.is_symlink():
        with open_own(path, os.O_RDONLY) as f:
            data = f.read(1 << 20)
        try:
            old = json.loads(data.decode("utf-8"))
        except ValueError:
            old = None
        if old != settings:
            diff = [k for k in settings if not isinstance(old, dict) or old.get(k) != settings[k]]
            raise OutputError(
                f"{out} holds renders made with other settings ({', '.join(diff) or SETTINGS + ' unreadable'}); "
                "choose another -o directory"
            )
        return
    write_atomic(path, (json.dumps(settings, indent=1, sort_keys=True) + "\n").encode("utf-8"))


# ------------------------------------------------------------------ worker
class RenderWorker:
    """A Ray Data actor: opens the bundle once; per batch of seeds computes θ once and renders
    every requested (size, window) on grids it builds once."""

    def __init__(self, bundle: str, backend: str | None, threads: int, max_memory: int | None,
                 jobs: list[tuple[tuple[int, int], tuple[float, float, float, float]]],
                 truncation: float | None, image_format: str) -> None:
        from ..backends import open_bundle

        self.gen = open_bundle(bundle, backend=backend, threads=threads, max_memory=max_memory).activate()
        iface = self.gen.interface
        self.z_dim = iface.z_dim
        self.display = iface.display
        self.grids = [self.gen.grid(size, Window(*window)) for size, window in jobs]
        self.extra = [np.float32(truncation)] if truncation is not None else []
        self.image_format = image_format

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        from ..core.latents import latent_from_seed

        crash_once()
        seeds = [int(s) for s in batch["seed"]]
        wanted = [[int(j) for j in str(text).split(",")] for text in batch["jobs"]]
        z = np.concatenate([latent_from_seed(s, self.z_dim) for s in seeds], axis=0)
        theta = self.gen.hypernet(z, *self.extra)  # once per latent
        out_seed, out_job, out_data = [], [], []
        for job, grid in enumerate(self.grids):
            rows = [i for i, jobs in enumerate(wanted) if job in jobs]
            if not rows:
                continue
            images = self.gen.render_on(theta[rows], grid)
            for i, image in zip(rows, images):
                out_seed.append(seeds[i])
                out_job.append(job)
                out_data.append(self.encode(image))
        data = np.empty(len(out_data), dtype=object)
        data[:] = out_data
        return {"seed": np.array(out_seed, dtype=np.int64), "job": np.array(out_job, dtype=np.int64), "data": data}

    def encode(self, image: np.ndarray) -> bytes:
        """The bytes ``render`` would write for this one image (PNG, or .npy of [1, 3, H, W])."""
        buf = io.BytesIO()
        if self.image_format == "npy":
            np.save(buf, image[None].astype(np.float32), allow_pickle=False)
        else:
            from PIL import Image

            from ..core.imageio import to_uint8

            Image.fromarray(to_uint8(image[None], self.display)[0], "RGB").save(buf, format="PNG")
        return buf.getvalue()


def crash_once() -> None:
    marker = os.environ.get(CRASH_ONCE_ENV)
    if not marker:
        return
    try:
        os.unlink(marker)  # only one worker wins the unlink
    except FileNotFoundError:
        return
    os._exit(17)


# ------------------------------------------------------------------ driver
def token_mode_for(address: str | None) -> None:
    """`ray start --head` enables token authentication and saves the token in
    ~/.ray/auth_token; Ray uses it for ``auto`` but for an explicit address only in token
    mode, which Ray reads when it is imported: so turn it on first whenever a token is at
    hand (an explicit RAY_AUTH_MODE wins)."""
    if address in (None, "auto") or "RAY_AUTH_MODE" in os.environ:
        return
    if os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH") or (Path.home() / ".ray" / "auth_token").is_file():
        os.environ["RAY_AUTH_MODE"] = "token"


def check_reachable(address: str, timeout: float = 10.0) -> None:
    """Ray retries an unreachable address for many minutes: refuse at once where nothing
    answers at HOST:PORT (``auto`` is left to Ray)."""
    import socket

    if address == "auto":
        return
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise UsageError(f"--address {address!r} is not auto, HOST:PORT or ray://HOST:PORT")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as e:
        raise BackendUnavailable(f"no Ray cluster answers at --address {address}: {e.strerror or e}") from None


def import_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise BackendUnavailable("render-many needs Ray: pip install 'inrgan-export[cluster]'") from None
    return ray


def start_ray(ray, opts: RenderManyOptions) -> bool:
    """Connect to ``opts.address`` or start a quiet local cluster; True if this run must shut it down."""
    if ray.is_initialized():
        return False  # an embedding program (or a test session) owns the connection
    quiet = dict(logging_level=logging.ERROR, log_to_driver=False)
    if opts.address is not None:
        try:
            ray.init(address=opts.address, **quiet)
        except (ConnectionError, RuntimeError, ValueError) as e:
            msg = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
            raise BackendUnavailable(
                f"cannot connect to the Ray cluster at --address {opts.address}: {msg} "
                "(is it running, and is its token in RAY_AUTH_TOKEN or ~/.ray/auth_token?)"
            ) from None
        return True
    # "local": a new cluster even where `ray start` left one running on this machine
    ray.init(address="local", num_cpus=opts.cpus or os.cpu_count() or 1, include_dashboard=False, **quiet)
    return True


def render_many(opts: RenderManyOptions, log=None) -> RenderManyResult:
    """Render every missing (seed, size, window) of ``opts`` into ``opts.out``."""
    from ..backends import open_bundle

    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    t0 = time.perf_counter()
    if opts.image_format not in FORMATS:
        raise UsageError(f"--format {opts.image_format!r} is not one of {', '.join(FORMATS)}")
    if not opts.seeds:
        raise UsageError("--seeds names no seed")
    if len(opts.seeds) > MAX_RENDER_MANY_SEEDS:
        raise UsageError(f"{len(opts.seeds)} seeds are more than render-many's limit of {MAX_RENDER_MANY_SEEDS}")
    if opts.address is not None:
        check_reachable(opts.address)
    token_mode_for(opts.address)
    ray = import_ray()
    # everything a worker would refuse is refused here first, with one line
    probe = open_bundle(opts.bundle, backend=opts.backend, threads=1, max_memory=opts.max_memory)
    iface = probe.interface
    jobs = jobs_of(opts)
    for job in jobs:
        probe.check_size_range(job.size)
    if opts.truncation is not None and "truncation_psi" not in iface.hypernet_inputs[1:2]:
        raise UsageError(f"--truncation: family {iface.family} has no truncation input (only the sg2 family takes one)")
    out = Path(opts.out)
    if out.is_symlink() and not out.exists():
        raise OutputError(f"output {out} is a dangling symlink or a symlink loop; choose another -o directory")
    if out.exists() and not out.is_dir():
        raise OutputError(f"output {out} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    def busy() -> None:  # a second render-many into one folder: refuse at once, or queue with --wait
        if not opts.wait:
            raise OutputError(f"another render-many is writing into {out}; wait for it to finish, "
                              "pass --wait to queue behind it, or choose another -o directory")
        log(f"render-many: waiting for the other render-many writing into {out}")

    with directory_lock(out, busy):  # no two drivers append to one index
        return _render_locked(opts, probe, jobs, out, log, t0, ray)


def _render_locked(opts: RenderManyOptions, probe, jobs: list[Job], out: Path, log, t0: float, ray) -> RenderManyResult:
    check_settings(out, settings_of(opts, probe.backend))
    remove_partials(out)

    names = {job.file_name(seed, opts.image_format): (seed, j) for seed in opts.seeds for j, job in enumerate(jobs)}
    total = len(names)
    done = complete_outputs(out, names, log)
    pending: dict[int, list[int]] = {}
    for seed in opts.seeds:
        todo = [j for j in range(len(jobs)) if (seed, j) not in done]
        if todo:
            pending[seed] = todo
    todo_count = sum(len(v) for v in pending.values())
    log(f"render-many: {total} outputs ({len(opts.seeds)} seeds x {len(jobs)} size/window), "
        f"{len(done)} complete in {out}, {todo_count} to render")
    rendered, first_output_s = _run(ray, opts, jobs, pending, out, done, todo_count, log) if todo_count else (0, None)
    order = {key: i for i, key in enumerate((seed, j) for seed in opts.seeds for j in range(len(jobs)))}
    write_index(out, (done[k] for k in sorted(done, key=order.__getitem__)))
    missing = total - len(done)
    if missing:
        raise OutputError(f"{missing} of {total} outputs were not rendered; rerun the same command to finish the set")
    return RenderManyResult(total, total - rendered, rendered, time.perf_counter() - t0, first_output_s)


def _run(ray, opts: RenderManyOptions, jobs: list[Job], pending: dict[int, list[int]], out: Path,
         done: dict[Key, dict[str, Any]], todo_count: int, log) -> tuple[int, float | None]:
    t_start = time.perf_counter()
    owns = start_ray(ray, opts)
    try:
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        ctx.print_on_execution_start = False
        logging.getLogger("ray.data").setLevel(logging.ERROR)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        batches = -(-len(pending) // opts.batch)
        workers = max(1, min(opts.workers or max(1, cpus // opts.threads), batches))
        log(f"render-many: {workers} worker(s) x {opts.threads} thread(s), {batches} batch(es) of up to {opts.batch} seeds"
            + (f", cluster {opts.address}" if opts.address else f", local cluster of {cpus} CPUs"))
        rows = [{"seed": seed, "jobs": ",".join(map(str, todo))} for seed, todo in pending.items()]
        ds = ray.data.from_items(rows, override_num_blocks=max(1, min(len(rows), workers * 4, batches)))
        rendered = ds.map_batches(
            RenderWorker,
            fn_constructor_kwargs=dict(
                bundle=str(Path(opts.bundle).resolve()),
                backend=opts.backend,
                threads=opts.threads,
                max_memory=opts.max_memory,
                jobs=[(job.size, (job.window.x0, job.window.y0, job.window.x1, job.window.y1)) for job in jobs],
                truncation=opts.truncation,
                image_format=opts.image_format,
            ),
            batch_size=opts.batch,
            batch_format="numpy",
            # Ray Data's actor pool restarts a dead worker and reruns its batch (without limit)
            compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=opts.threads,
        )
        return _collect(rendered, jobs, opts.image_format, out, done, todo_count, log, t_start)
    finally:
        if owns:
            ray.shutdown()


def _collect(rendered, jobs: list[Job], fmt: str, out: Path, done: dict[Key, dict[str, Any]], todo_count: int, log,
             t_start: float) -> tuple[int, float | None]:
    """Write what the workers return, one file and one index line per key, with progress;
    returns the count and the seconds to the first written batch."""
    count, t_shown = 0, 0.0
    first: float | None = None
    with open_own(out / INDEX, os.O_WRONLY | os.O_APPEND | os.O_CREAT) as index:
        for batch in rendered.iter_batches(batch_size=None, batch_format="numpy"):
            for seed, j, data in zip(batch["seed"], batch["job"], batch["data"]):
                key = (int(seed), int(j))
                if key in done:
                    continue  # a retried batch that had already arrived: written once
                data = bytes(data)
                entry = {**jobs[key[1]].record(key[0], fmt), "sha256": sha256_bytes(data)}
                write_atomic(out / entry["file"], data)
                index.write((json.dumps(entry, sort_keys=True) + "\n").encode("utf-8"))
                index.flush()
                done[key] = entry
                count += 1
            now = time.perf_counter()
            if first is None and count:
                first = now - t_start
            if now - t_shown >= 1.0 or count == todo_count:
                t_shown = now
                rate = count / max(now - t_start, 1e-9)
                log(f"render-many: {count}/{todo_count} rendered, {rate:.1f} images/s")
    return count, first
