"""Options of each command: frozen dataclasses built once at the CLI edge and validated
there; the pipeline never rewrites them."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..compile import PRECISIONS, TARGETS  # noqa: F401  (re-exported for the CLI)
from ..core.errors import UsageError
from ..core.grid import Window
from ..core.manifest import DEFAULT_INT8_WORST_DB


@dataclass(frozen=True)
class ExportOptions:
    source: str
    target: str
    precision: str
    out: Path
    force: bool = False
    max_memory: int | None = None
    threads: int | None = None
    debug: bool = False
    #: device the target compiles for (OpenVINO: CPU/GPU/NPU/AUTO; TensorRT: the CUDA GPU)
    device: str = "CPU"
    #: OpenVINO IR weight storage: compress weights to FP16 in the .bin (inference precision is separate)
    compress_weights: bool = False
    #: resolution range (H, W) that compiled profiles cover (TensorRT); None: the target's default
    min_res: tuple[int, int] | None = None
    opt_res: tuple[int, int] | None = None
    max_res: tuple[int, int] | None = None
    max_batch: int = 4
    #: INT8: calibration latents, method (max | percentile | entropy) and worst-case PSNR gate
    calib_latents: int | Path = 32  # a count of prior latents, or the user's own .npy
    calib_method: str = "percentile"
    min_psnr: float = DEFAULT_INT8_WORST_DB

    def __post_init__(self) -> None:
        # checked here, not by the calibrator: that would refuse it after the ONNX export ran
        if self.calib_method not in CALIB_METHODS:
            raise UsageError(f"calib_method {self.calib_method!r} is not one of {', '.join(CALIB_METHODS)}")


#: INT8 activation range methods (ONNX Runtime's calibrators: MinMax, Percentile, Entropy)
CALIB_METHODS = ("max", "percentile", "entropy")


@dataclass(frozen=True)
class ConvertOptions:
    source: Path
    out: Path
    config: Path | None = None
    dataset: str | None = None
    force: bool = False


@dataclass(frozen=True)
class RenderOptions:
    source: str
    out: Path
    seeds: tuple[int, ...] | None = None
    latent: Path | None = None
    size: tuple[int, int] | None = None
    window: Window = Window()
    backend: str | None = None
    device: str = "CPU"
    max_memory: int | None = None
    threads: int | None = None
    force: bool = False  # replace existing output files
    truncation: float | None = None  # ψ for generators with a truncation input (family sg2)
    allow_nonfinite: bool = False  # write images holding NaN/Inf instead of refusing them
    latent_bank: str | None = None  # rows of the source's fitted latent bank ("3", "0-7", "heldout")
    contact_sheet: bool = False  # one labelled PNG of the first latent at several sizes and windows
    allow_failed_parity: bool = False  # render through a backend whose recorded gate failed
    precision: str | None = None  # torch backend: fp32 (default), or fp16/bf16 autocast
    compile: bool = False  # torch backend on CUDA: torch.compile with CUDA graphs per fixed size


@dataclass(frozen=True)
class VerifyOptions:
    bundle: Path
    reference: str | None = None
    out: Path | None = None
    max_memory: int | None = None
    threads: int | None = None


@dataclass(frozen=True)
class RenderManyOptions:
    """``render-many``: every (seed, size, window) of the cross product, rendered by Ray workers
    that each open the bundle once; the output directory is resumable (see cluster.render_many)."""

    bundle: Path
    out: Path
    seeds: tuple[int, ...]
    sizes: tuple[tuple[int, int], ...]
    windows: tuple[Window, ...] = (Window(),)
    truncation: float | None = None
    backend: str | None = None
    image_format: str = "png"  # png | npy
    #: None: start a local cluster for this run; else ``auto`` or ``HOST:PORT`` / ``ray://HOST:PORT``
    address: str | None = None
    #: actor workers (default: the cluster's CPUs / threads); each opens the bundle once
    workers: int | None = None
    #: backend threads of each worker (and the CPUs each worker reserves)
    threads: int = 1
    #: seeds per worker batch: θ is computed once per batch, each size and window rendered from it
    batch: int = 8
    #: CPUs of the local cluster (None: all of this machine's); ignored with ``address``
    cpus: int | None = None
    max_memory: int | None = None
    #: another render-many holding the output folder: wait for it (True) or refuse (False)
    wait: bool = False


@dataclass(frozen=True)
class ServeOptions:
    """``serve``: an HTTP render service on Ray Serve. Each replica opens the bundle once and
    keeps an LRU cache of θ; every limit below answers with an HTTP status, never a crash
    (see cluster.serve and the README's ``serve`` section)."""

    bundle: Path
    host: str = "127.0.0.1"
    port: int = 8000
    replicas: int = 1
    #: None: start a local cluster for this service; else ``auto`` or ``HOST:PORT`` / ``ray://HOST:PORT``
    address: str | None = None
    backend: str | None = None
    #: backend threads per replica; each replica reserves this many Ray CPUs unless replica_cpus says otherwise
    threads: int = 1
    replica_cpus: float | None = None
    #: activation budget of one render in a replica (None: the runtime's default)
    max_memory: int | None = None
    #: past the memory budget: "tile" (the runtime splits the render) or "refuse" (HTTP 413)
    oversize: str = "tile"
    #: θ vectors each replica keeps (LRU, keyed by latent bytes and ψ)
    theta_cache: int = 256
    #: requests rendered together (Serve batching) and how long a batch waits to fill
    max_batch: int = 8
    batch_wait_s: float = 0.01
    #: request body (POST latent) limit in bytes → 413
    max_body: int = 1 << 20
    #: pixels of one render (height x width) → 413
    max_pixels: int = 4096 * 4096
    #: seconds a request may take in its replica → 504
    timeout_s: float = 60.0
    #: requests one replica works on at once (Serve's max_ongoing_requests), and requests
    #: waiting for a replica beyond that (max_queued_requests) before the service answers 429
    max_concurrent: int = 16
    max_queued: int = 64
    #: CPUs of the local cluster (None: all of this machine's); ignored with ``address``
    cpus: int | None = None
    #: --debug: /healthz shows each replica's process id
    debug: bool = False
    #: a bearer token that /render and /info require (None: none, for 127.0.0.1)
    token: str | None = field(default=None, repr=False)
