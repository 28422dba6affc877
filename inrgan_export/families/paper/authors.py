"""Import the authors' paper-time files: `gen_ema.pt` (a plain state dict of their
`INRGenerator`) plus their YAML config.

Their `INRModuleDict` registers every child twice (in `_inr_modules` and as an attribute)
and is nested twice, so each INR tensor appears under up to four keys; the copies share
storage and must be equal. The fixed Fourier basis is stored as a buffer: it is derived
from the config here and the stored copy is checked against it.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping

import torch
import yaml

from ...core.errors import CheckpointError, ConfigError
from .config import PaperConfig
from .model import PaperGenerator

_ALIAS = re.compile(r"^inr\.model\.(?:_inr_modules\.)?(b_\d+)\.(?:_inr_modules\.)?(coord_embedder|transform|connector|to_rgb)\.")


def read_yaml(path: str | Path) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except OSError as e:
        raise ConfigError(f"cannot read config {path}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"config {path} is not valid YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config {path} is not a YAML mapping")
    return data


def canonical_key(key: str) -> str:
    return _ALIAS.sub(r"inr.model.\1.\2.", key)


def canonicalize(state: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """Fold the authors' duplicate keys into one, checking that the copies agree."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(f"entry {key!r} of the state dict is a {type(value).__name__}, not a tensor")
        c = canonical_key(key)
        if c in out:
            if out[c].shape != value.shape or not torch.equal(out[c], value):
                raise CheckpointError(f"duplicate keys for {c!r} hold different tensors (e.g. {key!r})")
            continue
        out[c] = value
    return out


def authors_key_map(model: PaperGenerator) -> dict[str, str]:
    """Our state-dict key → the authors' canonical key, for every tensor we need."""
    cfg = model.cfg
    m: dict[str, str] = {}
    for i, block in enumerate(model.hypernet.mapping):
        m[f"hypernet.mapping.{i}.linear.weight"] = f"mapping_network.{i}.transform.0.weight"
        m[f"hypernet.mapping.{i}.linear.bias"] = f"mapping_network.{i}.transform.0.bias"
        if block.bn is not None:
            for name in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
                m[f"hypernet.mapping.{i}.bn.{name}"] = f"mapping_network.{i}.transform.1.{name}"
        if block.residual:
            m[f"hypernet.mapping.{i}.main_branch_weight"] = f"mapping_network.{i}.main_branch_weight"
    m["hypernet.connector.weight"] = "connector.weight"
    m["hypernet.connector.bias"] = "connector.bias"
    for i, block in enumerate(model.inr.blocks):
        # transform layers are [FMM, activation] pairs: FMM j sits at index 2j
        for j in range(len(block.layers)):
            m[f"inr.blocks.{i}.layers.{j}.weight"] = f"inr.model.b_{i}.transform._inr_modules.{2 * j}.weight"
        if block.connector is not None:
            m[f"inr.blocks.{i}.connector.lr.weight"] = f"inr.model.b_{i}.connector._inr_modules.0.lr_feat_embedder.weight"
            m[f"inr.blocks.{i}.connector.hr.weight"] = f"inr.model.b_{i}.connector._inr_modules.0.hr_coord_embedder.weight"
    del cfg
    return m


def convert_state_dict(state: Mapping[str, Any], cfg: PaperConfig) -> dict[str, torch.Tensor]:
    """The authors' `INRGenerator.state_dict()` → ours, strictly: every missing, extra or
    mis-shaped tensor is named."""
    src = canonicalize(state)
    model = PaperGenerator(cfg)
    ours = model.state_dict()
    key_map = authors_key_map(model)
    out: dict[str, torch.Tensor] = {}
    missing = [a for a in key_map.values() if a not in src]
    if missing:
        raise CheckpointError(f"checkpoint lacks {len(missing)} tensor(s) the config needs, e.g. {missing[0]!r}")
    used = set(key_map.values())
    # the fixed Fourier basis is derived data: check it, do not import it
    for i, block in enumerate(model.inr.blocks):
        key = f"inr.model.b_{i}.coord_embedder._inr_modules.0.basis"
        if key in src:
            used.add(key)
            stored = src[key]
            expected = block.fourier.fixed_basis
            if stored.shape != expected.shape or not torch.equal(stored.float(), expected):
                raise CheckpointError(
                    f"tensor {key!r} {tuple(stored.shape)} differs from the fixed basis the config implies "
                    f"{tuple(expected.shape)}: config and checkpoint do not belong together"
                )
        elif block.fourier.fixed_basis.shape[0]:
            raise CheckpointError(f"checkpoint lacks {key!r} although the config has fixed Fourier features")
    extra = sorted(set(src) - used)
    if extra:
        raise CheckpointError(f"checkpoint has {len(extra)} tensor(s) the config does not explain, e.g. {extra[0]!r}")
    for ours_key, theirs in key_map.items():
        t = src[theirs]
        want = ours[ours_key].shape
        if tuple(t.shape) != tuple(want):
            raise CheckpointError(
                f"tensor {theirs!r} has shape {tuple(t.shape)}, the config implies {tuple(want)}"
            )
        out[ours_key] = t.detach().clone().to(ours[ours_key].dtype)
    return out


def import_authors_checkpoint(src: Path, config: Path | None = None, dataset: str | None = None):
    """The authors' ``gen_ema.pt`` with their experiment config (or ``inr-gan.yml`` plus a
    dataset section) → our :class:`~inrgan_export.families.checkpoint.Checkpoint`; the strict
    load names any mismatch before anything is written."""
    from ...core.hashing import sha256_file
    from ..checkpoint import Checkpoint
    from ..base import AUTHORS_LICENCE_NOTE as LICENCE_NOTE

    if config is None:
        raise ConfigError(f"converting {src} needs its config: --config CONFIG.yml (the experiment's config or inr-gan.yml with --dataset)")
    cfg = PaperConfig.from_authors_yaml(read_yaml(config), dataset)
    try:
        state = torch.load(src, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any failure of the safe loader is one message
        raise _foreign(src, e) from None
    if not isinstance(state, dict):
        raise _foreign(src, TypeError(f"holds a {type(state).__name__}, not a state dict"))
    ckpt = Checkpoint(
        family="paper",
        config=cfg.to_dict(),
        state_dict=convert_state_dict(state, cfg),
        provenance={
            "origin": f"converted from {src.name} (authors' paper-time code, archive/original-implementation)",
            "source_sha256": sha256_file(src),
            "config_file": config.name,
            "config_sha256": sha256_file(config),
            "dataset_section": dataset,
            "licence": LICENCE_NOTE,
        },
    )
    ckpt.build()
    return ckpt


def _foreign(path: Path, err: Exception) -> CheckpointError:
    text = str(err).strip().splitlines()[0][:160] if str(err).strip() else type(err).__name__
    return CheckpointError(f"{path} is not a plain PyTorch state dict that can be loaded safely: {text}")
