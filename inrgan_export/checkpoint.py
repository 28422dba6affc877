"""Our checkpoint format and safe loading of every model source.

A checkpoint is a ``.pt`` holding only plain containers and tensors::

    {"format": "inrgan-export/checkpoint", "format_version": 1, "family": "paper",
     "config": {...}, "state_dict": {name: tensor}, "provenance": {...}}

It is read with ``torch.load(weights_only=True)``, which refuses any pickled object
other than containers, numbers, strings and tensors: nothing in a checkpoint can execute
code. Demo checkpoints (``demo:<preset>``) are built in memory from a seed.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from .errors import CheckpointError, OutputError
from .families import Family, all_presets, get_family

FORMAT = "inrgan-export/checkpoint"
FORMAT_VERSION = 1
DEMO_PREFIX = "demo:"
DEMO_SEED = 20210601  # the seed of every demo checkpoint's weights


@dataclass
class Checkpoint:
    family: str
    config: dict[str, Any]
    state_dict: dict[str, torch.Tensor]
    provenance: dict[str, Any] = field(default_factory=dict)
    #: fitted latents that travel with the weights: {"latents": [N, z_dim] tensor,
    #: "names": [N] str, "split": [N] "train"|"heldout"} (None: no bank)
    latent_bank: dict[str, Any] | None = None
    #: a model already holding these weights (demo checkpoints build one anyway)
    _model: nn.Module | None = field(default=None, repr=False, compare=False)

    @property
    def family_spec(self) -> Family:
        return get_family(self.family)

    def build(self) -> nn.Module:
        """The model in eval mode with these weights loaded strictly (mismatches are named)."""
        if self._model is not None:
            return self._model
        fam = self.family_spec
        model = fam.build(fam.config_from_dict(self.config))
        expected = model.state_dict()
        missing = [k for k in expected if k not in self.state_dict]
        extra = [k for k in self.state_dict if k not in expected]
        if missing:
            raise CheckpointError(f"checkpoint lacks tensor {missing[0]!r} ({len(missing)} missing in all)")
        if extra:
            raise CheckpointError(f"checkpoint has unexpected tensor {extra[0]!r} ({len(extra)} extra in all)")
        for k, t in expected.items():
            got = self.state_dict[k]
            if tuple(got.shape) != tuple(t.shape):
                raise CheckpointError(f"tensor {k!r} has shape {tuple(got.shape)}, the config implies {tuple(t.shape)}")
            if not torch.is_floating_point(got) and torch.is_floating_point(t):
                raise CheckpointError(f"tensor {k!r} has dtype {got.dtype}, expected a float tensor")
        model.load_state_dict({k: v.to(expected[k].dtype) for k, v in self.state_dict.items()})
        self._model = _frozen(model)
        return self._model

    def to_payload(self) -> dict[str, Any]:
        payload = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "family": self.family,
            "config": self.config,
            "state_dict": {k: v.detach().cpu().contiguous() for k, v in self.state_dict.items()},
            "provenance": self.provenance,
        }
        if self.latent_bank is not None:
            payload["latent_bank"] = dict(self.latent_bank)
        return payload

    def save(self, path: str | Path, force: bool = False) -> Path:
        """Write atomically (temporary file in the same directory, then rename)."""
        path = Path(path)
        if path.exists() and not force:
            raise OutputError(f"output {path} exists; pass --force to overwrite it")
        parent = path.parent if str(path.parent) else Path(".")
        if not parent.is_dir():
            raise OutputError(f"output directory {parent} does not exist")
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
        except OSError as e:
            raise OutputError(f"cannot write to {parent}: {e.strerror}") from None
        try:
            with os.fdopen(fd, "wb") as f:
                torch.save(self.to_payload(), f)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path


def _frozen(model: nn.Module) -> nn.Module:
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Load one of our checkpoints; every other file gets a one-line reason and a hint."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist (expected a .pt file, demo:<preset> or a bundle directory)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise CheckpointError(
            f"{path} is not an inrgan-export checkpoint: it pickles Python objects that the safe loader refuses "
            f"({_weights_only_reason(first)}); nothing in it was executed"
        ) from None
    except Exception as e:  # noqa: BLE001 - torch.load fails in many ways on a damaged file
        detail = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{path} is corrupt or not a PyTorch file: {detail}") from None
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
        raise CheckpointError(f"{path}: state_dict entry {bad[0]!r} is not a tensor")
    get_family(payload["family"])  # unknown family → one-line error
    prov = dict(payload.get("provenance") or {})
    prov.setdefault("checkpoint_sha256", sha256_file(path))
    bank = _read_latent_bank(path, payload.get("latent_bank"))
    return Checkpoint(payload["family"], dict(payload["config"]), dict(state), prov, latent_bank=bank)


def _read_latent_bank(path: Path, bank: Any) -> dict[str, Any] | None:
    """The optional latent bank, checked: float [N, z] latents with N names and N splits."""
    if bank is None:
        return None
    from .latent_bank import validate_bank

    try:
        return validate_bank(bank)
    except ValueError as e:
        raise CheckpointError(f"{path}: invalid latent bank: {e}") from None


def _weights_only_reason(msg: str) -> str:
    for line in msg.split("\n"):
        if "Unsupported global" in line or "GLOBAL" in line:
            return line.strip().rstrip(".")[:160]
    return msg[:160] or "unsupported pickle content"


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
        _model=_frozen(model),
        provenance={
            "origin": f"demo:{name}",
            "description": f"seeded demo weights (seed {DEMO_SEED}), not trained; architecture: {preset.source}",
            "licence": "demo weights generated by inrgan-export; architecture from " + fam.licence_note,
        },
    )


def _fitted_demo(name: str, fam: Family, preset: Any) -> Checkpoint:
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
    """A checkpoint path, ``demo:<preset>`` or a StyleGAN2-ADA network pickle (``.pkl``)."""
    if src.startswith(DEMO_PREFIX):
        return demo_checkpoint(src[len(DEMO_PREFIX):])
    if str(src).lower().endswith(".pkl"):  # the authors' released networks (family sg2), read without running them
        from .families.sg2.pickle_import import load_network_pickle

        return load_network_pickle(src)
    return load_checkpoint(src)
