"""Writes data/golden_latents.txt: what numpy's legacy RandomState produces, for the C++ tests
(test_latents.cpp) to match bit for bit. Run once with any numpy >= 1.17 and commit the result:

    python runtimes/cpp/tests/make_golden_latents.py

Lines:
    raw SEED COUNT v0 v1 ...         the first COUNT 32-bit MT19937 outputs of RandomState(SEED)
    gauss SEED Z_DIM h0 h1 ...       RandomState(SEED).randn(1, Z_DIM).astype(float32), each
                                     value as the 8 hex digits of its float32 bit pattern
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

OUT = Path(__file__).parent / "data" / "golden_latents.txt"

# integer seeds from 0 to 2^32 - 1 (numpy seeds these with init_genrand)
RAW = {5489: 1300, 0: 1300, 4294967295: 700}
GAUSS = {0: 512, 1: 17, 3: 512, 7: 1, 42: 2000, 5489: 64, 123456789: 33, 2147483648: 512, 4294967295: 512}


def main() -> None:
    lines = [f"# numpy {np.__version__}: numpy.random.RandomState legacy streams; regenerate with make_golden_latents.py"]
    for seed, count in RAW.items():
        raw = np.random.RandomState(seed)._bit_generator.random_raw(count)
        lines.append(f"raw {seed} {count} " + " ".join(str(int(v)) for v in raw))
    for seed, z_dim in GAUSS.items():
        z = np.random.RandomState(seed).randn(1, z_dim).astype(np.float32)[0]
        lines.append(f"gauss {seed} {z_dim} " + " ".join(f"{int(b):08x}" for b in z.view(np.uint32)))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
