"""The streamed PNG writer's row filters: pixels read back exactly (Pillow decodes them), the
filters are really used, and the file is within 10 % of Pillow's own on demo renders."""
from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from inrgan_export.core.display import DisplayMapping
from inrgan_export.core.imageio import to_uint8, write_png_streamed
from inrgan_export.core.latents import latents_from_seeds


def _filter_types(path) -> set[int]:
    data, pos, idat = path.read_bytes(), 8, b""
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + n]
        pos += 12 + n
    w, _ = struct.unpack(">II", data[16:24])  # IHDR: width, height
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(-1, 1 + 3 * w)
    return set(raw[:, 0].tolist())


@pytest.mark.parametrize("preset", ["demo:photos", "demo:tiny"])
def test_streamed_png_is_exact_and_near_pillows_size(preset, tmp_path):
    from inrgan_export import open_checkpoint

    g = open_checkpoint(preset)
    image = g.generate(latents_from_seeds([3], g.interface.z_dim), (256, 192))[0]
    display = DisplayMapping()
    rgb = to_uint8(image[None], display)[0]
    path = tmp_path / "s.png"
    write_png_streamed(path, image, display, rows_per_band=7)  # bands that do not divide the height
    with Image.open(path) as im:
        assert np.array_equal(np.asarray(im), rgb)
    assert len(_filter_types(path) - {0}) >= 2  # Sub/Up/Average/Paeth chosen per row
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    assert path.stat().st_size <= 1.10 * len(buf.getvalue()), (path.stat().st_size, len(buf.getvalue()))


def test_every_filter_round_trips_on_noise(tmp_path):
    """Random pixels: each filter's arithmetic (wrap-around, Paeth ties) is checked by the decoder."""
    rng = np.random.default_rng(0)
    image = rng.uniform(-1.2, 1.2, size=(3, 33, 17)).astype(np.float32)
    write_png_streamed(tmp_path / "n.png", image, DisplayMapping(), rows_per_band=4)
    with Image.open(tmp_path / "n.png") as im:
        assert np.array_equal(np.asarray(im), to_uint8(image[None], DisplayMapping())[0])
