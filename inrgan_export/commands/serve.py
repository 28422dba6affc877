"""``inrgan-export serve``: an HTTP render service of a bundle on Ray Serve."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..app.options import ServeOptions
from ..core.errors import UsageError
from . import args as a

HELP = "an HTTP render service of a bundle on Ray Serve (GET/POST /render, /healthz, /info)"


def add_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("bundle", type=Path)
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; beyond it, give --token)")
    s.add_argument("--token", default=None, metavar="FILE",
                   help="a file holding a bearer token: /render and /info then need 'Authorization: Bearer TOKEN' (else 401)")
    s.add_argument("--port", type=a.positive, default=8000, help="HTTP port (default 8000)")
    s.add_argument("--replicas", type=a.positive, default=1, help="replicas, each with the bundle open and its own θ cache (default 1)")
    s.add_argument("--address", default=None, help="existing cluster: auto, HOST:PORT or ray://HOST:PORT (default: start a local one)")
    s.add_argument("--backend", default=None, help="bundle backend (default: the bundle's own)")
    s.add_argument("--threads", type=a.positive, default=1, help="backend threads (and CPUs reserved) per replica (default 1)")
    s.add_argument("--max-memory", type=a.memory, default=None, metavar="BYTES", help="activation budget of one render per replica")
    s.add_argument("--oversize", choices=["tile", "refuse"], default="tile",
                   help="a render past the memory budget: tile it (default) or refuse it with 413")
    s.add_argument("--theta-cache", type=a.count, default=256, metavar="N", help="θ vectors cached per replica, LRU (default 256; 0: none)")
    s.add_argument("--max-batch", type=a.positive, default=8, help="requests rendered together per replica (default 8)")
    s.add_argument("--batch-wait", type=a.seconds, default=0.01, metavar="S", help="how long a batch waits to fill (default 0.01 s)")
    s.add_argument("--max-body", type=a.memory_any, default=1 << 20, metavar="BYTES", help="POST body limit, else 413 (default 1M)")
    s.add_argument("--max-pixels", type=a.positive, default=4096 * 4096, help="pixels per render, else 413 (default 16777216 = 4096x4096)")
    s.add_argument("--timeout", type=a.seconds, default=60.0, metavar="S", help="seconds per request in its replica, else 504 (default 60)")
    s.add_argument("--max-concurrent", type=a.positive, default=16, help="requests one replica works on at once (default 16)")
    s.add_argument("--max-queued", type=int, default=64, help="requests waiting beyond those, else 429 (default 64; -1: no limit)")
    s.add_argument("--cpus", type=a.positive, default=None, help="CPUs of the local cluster (default: all)")


def run(args: argparse.Namespace) -> int:
    """Runs until Ctrl-C or SIGTERM, then removes the service; a clean stop is exit 0."""
    from ..cluster.serve import run_service

    run_service(ServeOptions(
        bundle=args.bundle,
        host=args.host,
        port=args.port,
        replicas=args.replicas,
        address=args.address,
        backend=args.backend,
        threads=args.threads,
        max_memory=args.max_memory,
        oversize=args.oversize,
        theta_cache=args.theta_cache,
        max_batch=args.max_batch,
        batch_wait_s=args.batch_wait,
        max_body=args.max_body,
        max_pixels=args.max_pixels,
        timeout_s=args.timeout,
        max_concurrent=args.max_concurrent,
        max_queued=args.max_queued,
        cpus=args.cpus,
        debug=args.debug,
        token=read_token(args.token),
    ))
    return 0


def read_token(path: str | None) -> str | None:
    """``serve --token FILE``: the token from a file (never on the command line, where other
    users of the machine see it in the process list)."""
    if path is None:
        return None
    try:
        with open(path, "rb") as f:
            raw = f.read(4097)
    except OSError as e:
        raise UsageError(f"--token {path}: cannot read it ({e.strerror or type(e).__name__})") from None
    try:
        token = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        token = ""
    if not 16 <= len(token) <= 4096 or any(c.isspace() or not c.isprintable() for c in token):
        raise UsageError(f"--token {path} must hold one token of 16 to 4096 printable ASCII characters without spaces")
    return token
