"""How raw generator outputs become 8-bit pixels. Part of the manifest contract, so it lives
in the torch-free layer that every runtime (Python and C++) reads."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping


@dataclass(frozen=True)
class DisplayMapping:
    """How raw outputs become 8-bit pixels: clamp to [lo, hi], then x*scale + offset, round half to even."""

    clamp: tuple[float, float] = (-1.0, 1.0)
    scale: float = 127.5
    offset: float = 127.5

    def to_manifest(self) -> dict[str, Any]:
        return {
            "clamp": list(self.clamp),
            "scale": self.scale,
            "offset": self.offset,
            "rounding": "nearest, ties to even (numpy.rint)",
            "dtype": "uint8",
            "formula": "uint8(rint(clip(x, lo, hi) * scale + offset))",
        }

    @classmethod
    def from_manifest(cls, d: Mapping[str, Any] | None) -> "DisplayMapping":
        d = d or {}
        lo, hi = d.get("clamp", (-1.0, 1.0))
        return cls((float(lo), float(hi)), float(d.get("scale", 127.5)), float(d.get("offset", 127.5)))
