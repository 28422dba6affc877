"""Tiny generators whose output reaches far outside [-1, 1]: a demo preset with its ToRGB
heads scaled ×16 (and, for the paper family, no output tanh), as a trained generator's
range is a property of the model (the authors' released generators reach ±16.8). Shared by
the parity-gate tests and benchmarks/parity_scaled_outputs.py."""
from __future__ import annotations

from pathlib import Path

import torch

from inrgan_export.load.sources import demo_checkpoint
from inrgan_export.families.checkpoint import Checkpoint

#: the presets, one per family (tests/conftest.py: FAMILY_FIXTURES)
PRESETS = {"paper": "tiny", "sg2": "sg2-tiny"}


def scaled_checkpoint(preset: str, factor: float = 16.0) -> Checkpoint:
    """``demo:<preset>`` with every ToRGB head's weights and bias × ``factor``: the output is
    ``factor`` × that of the same generator without an output activation (RGB heads are
    linear and summed across blocks)."""
    base = demo_checkpoint(preset)
    config = dict(base.config)
    state = {k: v.clone() for k, v in base.state_dict.items()}
    if base.family == "paper":
        config["output_activation"] = "none"  # tanh would squash the scaled output back into [-1, 1]
        # the paper family's ToRGB is predicted: its weights are rows of the hypernetwork's θ connector
        model = base.build()
        rows = [torch.arange(s.offset, s.end) for s in model.inr.segments if s.name.endswith(".to_rgb")]
        idx = torch.cat(rows)
        state["hypernet.connector.weight"][idx] *= factor
        state["hypernet.connector.bias"][idx] *= factor
    else:
        keys = [k for k in state if ".torgb.weight" in k or ".torgb.bias" in k]
        assert keys, "no ToRGB tensors found"
        for k in keys:
            state[k] = state[k] * factor
    return Checkpoint(family=base.family, config=config, state_dict=state,
                      provenance={"origin": f"demo:{preset} with ToRGB x{factor:g} (test generator)"})


def save_scaled(preset: str, path: Path, factor: float = 16.0) -> Path:
    scaled_checkpoint(preset, factor).save(path)
    return path
