"""Our checkpoint format and safe loading of every model source.

A checkpoint is a ``.pt`` holding only plain containers and tensors::

    {"format": "inrgan-export/checkpoint", "format_version": 1, "family": "paper",
     "config": {...}, "state_dict": {name: tensor}, "provenance": {...}}

It is read with ``torch.load(weights_only=True)``, which refuses any pickled object
other than containers, numbers, strings and tensors: nothing in a checkpoint can execute
code. Before that, the zip container is checked (stored records only, sizes within the
file); after it, every tensor must be backed by its storage (no stride-0 views that declare
more than the file holds), and before a model is built its tensor shapes are compared with
those of the same model built on PyTorch's ``meta`` device (no memory), so a config that
declares huge sizes is refused before anything is allocated. Demo checkpoints
(``demo:<preset>``) are built in memory from a seed.
"""
from __future__ import annotations

import pickle
import re
import zipfile
from pathlib import Path
from typing import Any, Mapping

import torch

from ..core.errors import CheckpointError
from ..families import all_presets, get_family, importer_for
from ..families.checkpoint import FORMAT, FORMAT_VERSION, Checkpoint, check_backed, frozen_model
from ..core.hashing import sha256_file

DEMO_PREFIX = "demo:"
DEMO_SEED = 20210601  # the seed of every demo checkpoint's weights


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Load one of our checkpoints; every other file gets a one-line reason and a hint."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist (expected a .pt file, demo:<preset> or a bundle directory)")
    payload = safe_torch_load(path)
    if not isinstance(payload, Mapping):
        raise CheckpointError(f"{path} holds a {type(payload).__name__}, not an inrgan-export checkpoint")
    if payload.get("format") != FORMAT:
        if payload and all(isinstance(v, torch.Tensor) for v in payload.values()):
            raise CheckpointError(
                f"{path} is a bare state dict (e.g. the authors' gen_ema.pt); import it with "
                f"`inrgan-export convert {path} --config CONFIG.yml -o OUT.pt`"
            )
        raise CheckpointError(f"{path} is not an inrgan-export checkpoint (no format tag {FORMAT!r})")
    version = payload.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(f"{path} has checkpoint format version {version!r}; this tool reads version {FORMAT_VERSION}")
    for key, typ in (("family", str), ("config", Mapping), ("state_dict", Mapping)):
        if not isinstance(payload.get(key), typ):
            raise CheckpointError(f"{path} lacks a valid {key!r} entry")
    state = payload["state_dict"]
    bad = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"{path}: state_dict entry {str(bad[0])[:80]!r} is not a tensor")
    for k, v in state.items():
        try:
            check_backed(k, v)
        except CheckpointError as e:
            raise CheckpointError(f"{path}: {e}") from None
    get_family(payload["family"])  # unknown family → one-line error
    prov = dict(payload.get("provenance") or {})
    prov.setdefault("checkpoint_sha256", sha256_file(path))
    bank = _read_latent_bank(path, payload.get("latent_bank"))
    return Checkpoint(payload["family"], dict(payload["config"]), dict(state), prov, latent_bank=bank)


def _read_latent_bank(path: Path, bank: Any) -> dict[str, Any] | None:
    """The optional latent bank, checked: float [N, z] latents with N names and N splits."""
    if bank is None:
        return None
    from ..core.latent_bank import validate_bank

    try:
        return validate_bank(bank)
    except ValueError as e:
        raise CheckpointError(f"{path}: invalid latent bank: {e}") from None


def safe_torch_load(path: Path) -> Any:
    """``torch.load(weights_only=True)`` of a file whose zip container was checked first;
    every failure is one line, a refused global is named in our words."""
    check_torch_zip(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise CheckpointError(
            f"{path} is not an inrgan-export checkpoint: {_weights_only_reason(str(e))}; nothing in it was executed"
        ) from None
    except Exception as e:  # noqa: BLE001 - torch.load fails in many ways on a damaged file
        detail = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{path} is corrupt or not a PyTorch file: {detail}") from None


def check_torch_zip(path: Path) -> None:
    """A torch.save zip holds uncompressed records inside the file: a record that is
    compressed, or that declares more bytes than the file has, is refused before reading."""
    size = path.stat().st_size
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except zipfile.BadZipFile:
        return  # not a zip: torch.load names what it is (legacy pickle or garbage)
    except Exception as e:  # noqa: BLE001 - a damaged central directory fails in many ways
        raise CheckpointError(f"{path} is corrupt or not a PyTorch file: {type(e).__name__}") from None
    for info in infos:
        if info.compress_type != zipfile.ZIP_STORED or info.file_size > size or info.header_offset + info.file_size > size:
            raise CheckpointError(
                f"{path}: zip record {info.filename[:80]!r} declares {info.file_size:,} bytes "
                f"({'compressed' if info.compress_type != zipfile.ZIP_STORED else 'stored'}) in a {size:,}-byte file; "
                "a PyTorch checkpoint stores its records uncompressed"
            )



_GLOBAL = re.compile(r"GLOBAL ([\w.]+)|Unsupported global: ([\w.]+)|global ([\w.]+) was not an allowed")


def _weights_only_reason(msg: str) -> str:
    """Our words for torch's weights_only refusal: the global it names, or its first line."""
    m = _GLOBAL.search(msg)
    if m:
        name = next(g for g in m.groups() if g)
        return f"refusing global {name}: it pickles Python objects, and a checkpoint holds only containers, numbers, strings and tensors"
    lines = [ln.strip() for ln in msg.splitlines() if ln.strip() and "weights_only" not in ln and "Weights only" not in ln]
    return "it pickles content the safe loader refuses" + (f" ({lines[0][:120]})" if lines else "")


def demo_checkpoint(name: str) -> Checkpoint:
    """The built-in demo generator ``demo:<name>``: the preset's architecture with the
    authors' initialisation drawn from a fixed seed. Deterministic: same weights on every
    machine with the pinned torch."""
    presets = all_presets()
    if name not in presets:
        raise CheckpointError(f"unknown demo preset {name!r}; available: {', '.join(sorted(presets))}")
    fam, preset = presets[name]
    if getattr(preset, "weights", None):
        return _fitted_demo(name, fam, preset)
    torch_gen = torch.Generator().manual_seed(DEMO_SEED)
    model = fam.build(preset.config)
    fam.init_weights(model, torch_gen)
    return Checkpoint(
        family=fam.name,
        config=preset.config.to_dict(),
        state_dict={k: v.detach() for k, v in model.state_dict().items()},
        _model=frozen_model(model),
        provenance={
            "origin": f"demo:{name}",
            "description": f"seeded demo weights (seed {DEMO_SEED}), not trained; architecture: {preset.source}",
            "licence": "demo weights generated by inrgan-export; architecture from " + fam.licence_note,
        },
    )


def _fitted_demo(name: str, fam: Any, preset: Any) -> Checkpoint:
    """A demo preset with fitted weights shipped as package data (``demo:photos``): our
    ``.pt`` format, read by the same safe loader, and checked against the preset's config."""
    from importlib.resources import files

    path = Path(str(files(f"inrgan_export.families.{fam.name}") / "data" / preset.weights))
    if not path.is_file():
        raise CheckpointError(f"demo:{name}: its weights {path} are missing from this install (package data); reinstall inrgan-export")
    ckpt = load_checkpoint(path)
    if ckpt.family != fam.name or fam.config_from_dict(ckpt.config) != preset.config:
        raise CheckpointError(f"demo:{name}: {path} does not hold the preset's architecture ({preset.source})")
    ckpt.provenance = {**ckpt.provenance, "origin": f"demo:{name}"}
    return ckpt


def load_source(src: str) -> Checkpoint:
    """A checkpoint path, ``demo:<preset>``, or a foreign file that a family's importer reads
    on its own (the authors' released ``.pkl``: family sg2, read without running it)."""
    if src.startswith(DEMO_PREFIX):
        return demo_checkpoint(src[len(DEMO_PREFIX):])
    importer = importer_for(Path(src), with_config=False)
    if importer is not None:
        return importer.load(Path(src))
    return load_checkpoint(src)


def open_checkpoint(src: str, max_memory: int | None = None, threads: int | None = None, device: str | None = "cpu",
                    precision: str = "fp32", compile: bool = False):
    """The PyTorch reference (:class:`~inrgan_export.load.torch_backend.TorchGenerator`)
    for a checkpoint path, ``.pkl`` or ``demo:<preset>``, on ``device`` (cpu, cuda, cuda:N;
    refused in one line before the checkpoint is read when that device is not here)."""
    from .torch_backend import TorchGenerator, check_run_options, cuda_facts, resolve_device

    check_run_options(resolve_device(device, cuda_facts()), precision, compile)
    ckpt = load_source(src)
    return TorchGenerator(ckpt.build(), ckpt.family_spec, max_memory=max_memory, threads=threads, device=device,
                          precision=precision, compile=compile)
