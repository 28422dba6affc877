"""The ``render`` command: latents → images through a bundle (torch-free) or, with the
``export`` extra, through a checkpoint's PyTorch reference."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .bundle import is_bundle
from .errors import BundleError, UsageError
from .latents import latents_from_seeds, load_latents
from .log import info, step
from .options import RenderOptions
from .runtime import open_bundle
from .runtime.base import Generator


def open_source(source: str, backend: str | None, device: str, max_memory: int | None, threads: int | None,
                allow_failed_parity: bool = False) -> Generator:
    """A bundle directory with its (or the given) backend; anything else is a checkpoint,
    ``.pkl`` or ``demo:<preset>`` run by the PyTorch reference."""
    if Path(source).is_dir():
        if not is_bundle(source):
            raise BundleError(f"{source} is a directory without manifest.json, not a bundle")
        return open_bundle(source, backend=backend, device=device, max_memory=max_memory, threads=threads,
                           allow_failed_parity=allow_failed_parity)
    if backend not in (None, "torch"):
        raise UsageError(
            f"backend {backend} runs bundles; export {source} first (inrgan-export export {source} --target onnx -o DIR), "
            "or use --backend torch"
        )
    from .checkpoint import open_checkpoint  # the export extra (PyTorch); missing: exit 3, see cli

    return open_checkpoint(source, max_memory=max_memory, threads=threads)


def render(opts: RenderOptions) -> list[Path]:
    from .imageio import write_images

    gen = open_source(opts.source, opts.backend, opts.device, opts.max_memory, opts.threads, opts.allow_failed_parity)
    iface = gen.interface
    if opts.latent is not None:
        z = load_latents(opts.latent, iface.z_dim)
        labels = [f"{i:04d}" for i in range(z.shape[0])]
    else:
        seeds = list(opts.seeds or (0,))
        z = latents_from_seeds(seeds, iface.z_dim)
        labels = [f"seed{s:04d}" for s in seeds]
    size = opts.size or iface.native_size
    extra = truncation_inputs(iface, opts.truncation, z.shape[0])
    with gen, step(f"rendering {len(labels)} image(s) at {size[0]}x{size[1]} with {gen.backend}"):
        images = gen.render(gen.hypernet(z, *extra), size, opts.window)
    paths = write_images(opts.out, images, labels, iface.display)
    if gen.last_plan is not None and gen.last_plan.pieces > 1:
        info(f"  rendered in {gen.last_plan.pieces} tiles to stay within the memory budget")
    for p in paths:
        info(f"wrote {p}")
    return paths


def truncation_inputs(iface, psi: float | None, batch: int) -> list[np.ndarray]:
    """``--truncation ψ`` as the hypernetwork's extra input (family sg2's ``truncation_psi``)."""
    if psi is None:
        return []
    if "truncation_psi" not in iface.hypernet_inputs:
        raise UsageError(f"--truncation: family {iface.family} has no truncation input (only the sg2 family takes one)")
    if iface.hypernet_inputs[1:2] != ("truncation_psi",):
        raise UsageError(f"--truncation: this generator's hypernetwork inputs are {', '.join(iface.hypernet_inputs)}")
    return [np.full(batch, psi, dtype=np.float32)]
