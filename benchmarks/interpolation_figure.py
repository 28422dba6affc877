"""The README's interpolation figure: pixel blend vs θ-space vs z-space interpolation between
two bank latents of ``demo:photos`` and ``demo:photos-sg2``, side by side, plus an infinite
zoom into a bank latent (animated WebP).

    .venv/bin/python benchmarks/interpolation_figure.py -o benchmarks/results/interpolation

Writes ``<out>_<preset>.png`` (rows: pixel blend, θ lerp, z slerp; columns t = 0 .. 1),
``<out>.json`` (per row and t the mean Sobel gradient magnitude of the frame, a measure of
how sharp it is: a pixel blend of two different images loses edges mid-way where the INR
forms keep them) and ``<out>_zoom_photos.webp``. Runs the PyTorch reference (the bundles
match it to < 1e-4); the product path is the same code (``inrgan_export.interpolate``,
``render --animate zoom``).
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from inrgan_export import interpolate, open_checkpoint
from inrgan_export.load.sources import load_source
from inrgan_export.core.imageio import to_uint8
from inrgan_export.measure.harness import machine_line, parser, record, write_json

PRESETS = ("photos", "photos-sg2")
ROWS = ("pixel blend", "θ lerp", "z slerp")


def sobel_energy(img: np.ndarray) -> float:
    """Mean Sobel gradient magnitude of the display-mapped luma (0..255) of [3, H, W] in [-1, 1]."""
    x = (np.clip(img, -1, 1) + 1) * 127.5
    y = 0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2]
    gx = (y[:-2, 2:] + 2 * y[1:-1, 2:] + y[2:, 2:]) - (y[:-2, :-2] + 2 * y[1:-1, :-2] + y[2:, :-2])
    gy = (y[2:, :-2] + 2 * y[2:, 1:-1] + y[2:, 2:]) - (y[:-2, :-2] + 2 * y[:-2, 1:-1] + y[:-2, 2:])
    return float(np.mean(np.hypot(gx, gy)))


def rows_of(preset: str, a: int, b: int, steps: int, size: tuple[int, int]) -> dict[str, list[np.ndarray]]:
    g = open_checkpoint(f"demo:{preset}")
    bank = load_source(f"demo:{preset}").latent_bank["latents"]
    za, zb = bank[a : a + 1], bank[b : b + 1]
    with g:
        img_a, img_b = g.generate(za, size)[0], g.generate(zb, size)[0]
        ts = np.arange(steps) / (steps - 1)
        return {
            "pixel blend": [((1 - t) * img_a + t * img_b).astype(np.float32) for t in ts],
            "θ lerp": [f[0] for f in interpolate(g, za, zb, steps, space="theta", size=size)],
            "z slerp": [f[0] for f in interpolate(g, za, zb, steps, space="latent", size=size)],
        }, g.interface.display


def compose(rows: dict[str, list[np.ndarray]], display, title: str):
    from PIL import Image, ImageDraw

    frames = next(iter(rows.values()))
    h, w = frames[0].shape[1:]
    label_w, top, gap = 84, 16, 2
    sheet = Image.new("RGB", (label_w + len(frames) * (w + gap), top + len(rows) * (h + gap)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    draw.text((4, 2), title, fill=(0, 0, 0))
    for r, (name, imgs) in enumerate(rows.items()):
        y = top + r * (h + gap)
        draw.text((4, y + h // 2 - 6), name.replace("θ", "theta"), fill=(0, 0, 0))
        for c, img in enumerate(imgs):
            sheet.paste(Image.fromarray(to_uint8(img[None], display)[0], "RGB"), (label_w + c * (w + gap), y))
    return sheet


def main() -> None:
    p = parser(__doc__)
    p.add_argument("-o", "--out", type=Path, default=Path("benchmarks/results/interpolation"))
    p.add_argument("--a", type=int, default=0, help="bank row of the first end (default 0)")
    p.add_argument("--b", type=int, default=3, help="bank row of the second end (default 3: another photo)")
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--size", type=int, default=64, help="frame side (default 64: the presets' native size)")
    p.add_argument("--zoom-frames", type=int, default=36)
    args = p.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    size = (args.size, args.size)
    print(machine_line())
    result = record(bank_rows=[args.a, args.b], size=list(size), steps=args.steps,
                    measure="mean Sobel gradient magnitude of the display-mapped luma (0..255), per frame", presets={})
    for preset in PRESETS:
        rows, display = rows_of(preset, args.a, args.b, args.steps, size)
        title = f"demo:{preset}, bank {args.a} -> {args.b}, t = 0 .. 1 ({args.steps} steps, {args.size}x{args.size})"
        compose(rows, display, title).save(f"{args.out}_{preset}.png")
        result["presets"][preset] = {name: [round(sobel_energy(f), 2) for f in frames] for name, frames in rows.items()}
        print(preset, {k: v[len(v) // 2] for k, v in result["presets"][preset].items()}, "(edge energy mid-way)")
    zoom = f"{args.out}_zoom_photos.webp"
    subprocess.run([str(Path(sys.executable).with_name("inrgan-export")), "render", "demo:photos", "--latent-bank", "2",
                    "--animate", "zoom", "--frames", str(args.zoom_frames), "--size", str(args.size), "--fps", "12", "-o", zoom,
                    "--force"], check=True)
    result["zoom"] = {"file": Path(zoom).name, "frames": args.zoom_frames, "command": f"render demo:photos --latent-bank 2 "
                      f"--animate zoom --frames {args.zoom_frames} --size {args.size} --fps 12"}
    write_json(result, Path(f"{args.out}.json"))
    print(f"wrote {args.out}_*.png, {zoom}, {args.out}.json")


if __name__ == "__main__":
    main()
