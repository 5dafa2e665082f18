"""Small fake frost photographs in the reference's file layout (the real ones cannot be shipped here).

Sizes are just above the minimum (163 px: 33 after the 0.2 scaling) and all different, so every
photograph has its own crop range; the files are real PNG (RGB, RGBA, grey) and baseline JPEG.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# (height, width, Pillow mode) per file; scaled by 0.2: 36x40, 34x48, 40x34, 33x60, 38x38, 35x35
FAKE_PHOTOS = {
    "frost1.png": (180, 200, "RGB"),
    "frost2.png": (171, 241, "RGBA"),
    "frost3.png": (199, 169, "L"),
    "frost4.jpg": (164, 298, "RGB"),
    "frost5.jpg": (191, 189, "RGB"),
    "frost6.jpg": (175, 175, "RGB"),
}


def write_fake_frost_photos(folder: Path) -> Path:
    """Write the six fake photographs into ``folder`` (created) and return it. Deterministic bytes."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for k, (name, (height, width, mode)) in enumerate(FAKE_PHOTOS.items()):
        rng = np.random.default_rng(k)
        yy, xx = np.mgrid[0:height, 0:width]
        # smooth icy streaks plus noise, so that crops differ everywhere and JPEG has work to do
        base = 128 + 90 * np.sin(xx / (7 + k) + yy / (11 + k))[..., None] * np.array([0.8, 0.9, 1.0])
        pixels = np.clip(base + rng.normal(0, 25, (height, width, 3)), 0, 255).astype(np.uint8)
        image = Image.fromarray(pixels, "RGB")
        if mode == "RGBA":
            image.putalpha(Image.fromarray(rng.integers(0, 256, (height, width), dtype=np.uint8)))
        elif mode == "L":
            image = image.convert("L")
        image.save(folder / name, quality=90) if name.endswith(".jpg") else image.save(folder / name)
    return folder
