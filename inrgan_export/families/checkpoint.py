"""A generator's weights with its family and config: what every loader and importer returns
and what the export side builds a model from. Lives with the families (importers are the
families' own), below the loaders in load/sources.py."""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..core.errors import CheckpointError, InrganError, OutputError

#: our .pt format (see inrgan_export.load.sources)
FORMAT = "inrgan-export/checkpoint"
FORMAT_VERSION = 1


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
    def family_spec(self) -> Any:
        from .base import get_family

        return get_family(self.family)

    def build(self) -> nn.Module:
        """The model in eval mode with these weights loaded strictly (mismatches are named).
        Shapes are compared on the meta device first, so a config that declares huge sizes
        allocates nothing before it is refused."""
        if self._model is not None:
            return self._model
        fam = self.family_spec
        try:
            cfg = fam.config_from_dict(self.config)
            with torch.device("meta"):  # shapes first, allocating nothing: the config may declare any size
                expected = fam.build(cfg).state_dict()
        except InrganError:
            raise
        except Exception as e:  # noqa: BLE001 - a config its family's model cannot be built from
            raise CheckpointError(f"the checkpoint's config does not build a {self.family} model: {type(e).__name__}: {_first_line(e)}") from None
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
            check_backed(k, got)
        model = fam.build(cfg)
        model.load_state_dict({k: v.to(expected[k].dtype) for k, v in self.state_dict.items()})
        self._model = frozen_model(model)
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


def frozen_model(model: nn.Module) -> nn.Module:
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model

def check_backed(name: str, t: torch.Tensor) -> None:
    """A tensor may not declare more elements than its storage holds from its offset (a
    stride-0 view of one value declaring gigabytes would be materialised by the first copy)."""
    itemsize = t.element_size()
    available = t.untyped_storage().nbytes() - t.storage_offset() * itemsize
    if t.numel() * itemsize > max(available, 0):
        raise CheckpointError(
            f"tensor {str(name)[:80]!r} declares shape {tuple(t.shape)} with strides {t.stride()} "
            f"({t.numel() * itemsize:,} bytes) but its storage holds {max(available, 0):,}: refused before copying"
        )


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return (text.splitlines()[0] if text else type(e).__name__)[:160]
