"""The frost photographs that CIFAR-10-C's frost blends in: from a folder the user gives, validated, scaled.

The reference (hendrycks/robustness ``ImageNet-C/create_c``) comes with six photographs of frost on
glass; they cannot be shipped with this project, so frost reads them from a folder: the
``frost_dir`` option of :func:`corruptions.corrupt`, else the ``SPECREG_FROST_DIR`` environment
variable. Every file is untrusted: only PNG or JPEG as its name says, at most
:data:`MAX_PIXELS` pixels, big enough for a 32x32 crop after the reference's 0.2 scaling.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import torch

ENV_VAR = "SPECREG_FROST_DIR"
# The reference's list; it draws np.random.randint(5), so only the first five are ever used.
FILES = ("frost1.png", "frost2.png", "frost3.png", "frost4.jpg", "frost5.jpg", "frost6.jpg")
USED = FILES[:5]
SCALE = 0.2  # cv2.resize(frost, (0, 0), fx=0.2, fy=0.2)
SCALE_STEP = 5  # 1 / SCALE: output pixel i samples input pixel 5 i + 2 (see scale_like_opencv)
MAX_PIXELS = 50_000_000  # the reference's photographs are under 1.5 megapixels; refuse bombs
_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}


def frost_folder(frost_dir=None) -> Path:
    """The folder holding the frost photographs: ``frost_dir``, else ``$SPECREG_FROST_DIR``.

    Raises:
        ValueError: neither is set, or the folder lacks one of frost1.png .. frost5.jpg (one line,
            saying where to get them and how to pass them).
    """
    chosen = frost_dir if frost_dir is not None else os.environ.get(ENV_VAR) or None
    how = (
        f"frost needs the CIFAR-10-C frost photographs ({', '.join(USED)}; from hendrycks/robustness "
        f"ImageNet-C/create_c, not shippable here): set {ENV_VAR} to their folder, or pass frost_dir="
    )
    if chosen is None:
        raise ValueError(how)
    folder = Path(chosen).expanduser()
    missing = [name for name in USED if not (folder / name).is_file()]
    if missing:
        raise ValueError(f"{how}; {folder} lacks {', '.join(missing)}")
    return folder.resolve()


def load_scaled_photos(folder: Path, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The five used photographs, each scaled as the reference scales it, stacked.

    Returns:
        ``(photos, sizes)``: photos (5, Hmax, Wmax, 3) uint8 RGB (each zero-padded to the largest),
        sizes (5, 2) int64 (height, width) of each scaled photograph; both on ``device``.
    Raises:
        ValueError: a file unreadable, not the format its name says, too large, or too small.
    """
    stamps = tuple(_stamp(folder / name) for name in USED)  # reload when a file changes
    photos, sizes = _load_cached(str(folder), stamps)
    return photos.to(device), sizes.to(device)


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


@functools.lru_cache(maxsize=2)
def _load_cached(folder: str, stamps: tuple) -> tuple[torch.Tensor, torch.Tensor]:
    scaled = [scale_like_opencv(read_rgb(Path(folder) / name)) for name in USED]
    height = max(p.shape[0] for p in scaled)
    width = max(p.shape[1] for p in scaled)
    stacked = np.zeros((len(scaled), height, width, 3), dtype=np.uint8)
    for k, photo in enumerate(scaled):
        stacked[k, : photo.shape[0], : photo.shape[1]] = photo
    sizes = torch.tensor([p.shape[:2] for p in scaled], dtype=torch.int64)
    return torch.from_numpy(stacked), sizes


def read_rgb(path: Path) -> np.ndarray:
    """An 8-bit RGB photograph, as ``cv2.imread(path)[..., ::-1]`` reads it (alpha dropped, grey to RGB).

    Raises:
        ValueError: not the format its extension names, over :data:`MAX_PIXELS`, or undecodable.
    """
    from PIL import Image

    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"frost photograph {path} must be a .png or .jpg file")
    try:
        with Image.open(path, formats=[fmt]) as image:
            if image.width * image.height > MAX_PIXELS:
                raise ValueError(
                    f"frost photograph {path} is {image.width}x{image.height}, over {MAX_PIXELS} px"
                )
            return np.array(image.convert("RGB"))
    except (OSError, Image.DecompressionBombError, SyntaxError) as err:
        raise ValueError(f"frost photograph {path} is not a readable {fmt} file: {err}") from None


def scale_like_opencv(photo: np.ndarray) -> np.ndarray:
    """``cv2.resize(photo, (0, 0), fx=0.2, fy=0.2)`` (bilinear), exactly, without OpenCV.

    OpenCV makes the output ``cvRound(H * 0.2)`` by ``cvRound(W * 0.2)`` and samples output pixel i
    at source position ``(i + 0.5) / 0.2 - 0.5 = 5 i + 2``, an integer: the bilinear weights are
    (1, 0), so every output pixel is the source pixel (5 i + 2, 5 j + 2) (tested against OpenCV).

    Raises:
        ValueError: the scaled photograph has fewer than 33 rows or columns (the reference's crop
            offset is ``randint(0, size - 32)``, which needs at least one position).
    """
    height, width = (int(round(side * SCALE)) for side in photo.shape[:2])  # cvRound: half to even
    if min(height, width) < 33:
        raise ValueError(
            f"frost photographs must be at least 163x163 pixels (33x33 after the 0.2 scaling); "
            f"got {photo.shape[0]}x{photo.shape[1]}"
        )
    start = SCALE_STEP // 2
    return np.ascontiguousarray(photo[start::SCALE_STEP, start::SCALE_STEP][:height, :width])
