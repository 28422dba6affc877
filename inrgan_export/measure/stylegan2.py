"""The convolutional baseline of the paper's Figure 9 and Table 1: MACs of a StyleGAN2
synthesis network (config F: 512 channels up to 32², then halving; modulated 3×3 convs,
two per resolution from 8² on, one at 4²; 1×1 ToRGB per resolution), counted analytically.

A convolutional generator has no cheaper low-resolution mode: it renders at its native
resolution and is then downsampled, so its cost below native is flat.
"""
from __future__ import annotations

import math


def channels(res: int, channel_base: int = 32768, channel_max: int = 512) -> int:
    """StyleGAN2 config F: min(channel_base / res, channel_max)."""
    return min(channel_base // res, channel_max)


def synthesis_macs(native: int, with_mapping: bool = False) -> int:
    """MACs of one sample of StyleGAN2's synthesis network at its native resolution."""
    if native < 4 or 2 ** int(math.log2(native)) != native:
        raise ValueError(f"StyleGAN2 resolutions are powers of two >= 4, got {native}")
    total = 0
    res = 4
    c_in = channels(4)
    total += res * res * c_in * c_in * 9  # conv at 4x4 on the learned constant
    total += res * res * c_in * 3  # ToRGB
    while res < native:
        res *= 2
        c_out = channels(res)
        total += res * res * c_in * c_out * 9  # upsampling conv (computed at the output size)
        total += res * res * c_out * c_out * 9  # second conv
        total += res * res * c_out * 3  # ToRGB
        c_in = c_out
    if with_mapping:
        total += 8 * 512 * 512
    return total

