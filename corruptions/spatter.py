"""CIFAR-10-C spatter (an extra): water splashes (severities 1-3) or mud (4-5), seeded per image."""

from __future__ import annotations

import torch

from corruptions._common import check_images, chunks, resolve_indices, severity_parameter
from corruptions.gaussian_filter import correlate_symmetric, gaussian_filter, gaussian_weights
from corruptions.normal import normals
from corruptions.opencv_canny import canny
from corruptions.opencv_distance import chamfer_distance
from corruptions.opencv_filters import box_blur_float, box_blur_uint8, equalize_hist, filter2d_uint8
from corruptions.seeding import stream_key

# (loc, scale, sigma, threshold, intensity, mud) per severity 1..5, the reference's CIFAR table
PARAMETERS = (
    (0.62, 0.1, 0.7, 0.7, 0.5, 0),
    (0.65, 0.1, 0.8, 0.7, 0.5, 0),
    (0.65, 0.3, 1.0, 0.69, 0.5, 0),
    (0.65, 0.1, 0.7, 0.69, 0.6, 1),
    (0.65, 0.1, 0.5, 0.68, 0.6, 1),
)
WATER = (175, 238, 238)  # / 255, added to channels 0, 1, 2 (the reference's "pale turquoise" in BGR order)
MUD = (63, 42, 20)  # / 255, mud brown
EMBOSS = ((-2, -1, 0), (-1, 1, 1), (0, 1, 2))  # the reference's filter2D kernel for the liquid's relief

_CPU_CHUNK = 512  # images per pass: the distance transform's in-row steps are small ops, so amortise them


def spatter(
    images: torch.Tensor, severity: int, seed: int = 0, indices: torch.Tensor | None = None
) -> torch.Tensor:
    """Spatter, (loc, scale, sigma, thr, intensity, mud) from PARAMETERS, severity 1..5: water 1-3, mud 4-5.

    Per severity: (.62, .1, .7, .7, .5, 0), (.65, .1, .8, .7, .5, 0), (.65, .3, 1, .69, .5, 0),
    (.65, .1, .7, .69, .6, 1), (.65, .1, .5, .68, .6, 1).

    The reference (``make_cifar_c.py``), step by step, with the routine each step mirrors; ``u`` is
    ``float32(x) / 255`` and every float32 step is done in float32, as there:

    1. liquid = ``loc + scale * N(0, 1)`` on 32x32 (float64), blurred by ``skimage.filters.gaussian``
       (scipy gaussian_filter, 'nearest', 4 sigma: :func:`corruptions.gaussian_filter.gaussian_filter`,
       bit for bit), values below ``thr`` set to 0.
    2. Water (severities 1-3):
       a. ``l = uint8(liquid * 255)`` (numpy's cast: truncation; a value past 255 wraps mod 256, as
          the C cast does on x86);
       b. ``cv2.Canny(l, 50, 150)`` (:mod:`corruptions.opencv_canny`, bit for bit);
       c. ``cv2.distanceTransform(255 - edges, DIST_L2, 5)``, truncated at 20 by ``cv2.threshold``
          (:mod:`corruptions.opencv_distance`: OpenCV's float32 5x5 chamfer passes, bit for bit);
       d. ``cv2.blur`` 3x3 (float), ``astype(uint8)``, ``cv2.equalizeHist``, ``cv2.filter2D`` with the
          emboss kernel (8-bit, saturated), ``cv2.blur`` 3x3 (8-bit) (:mod:`corruptions.opencv_filters`,
          each bit for bit);
       e. ``m = l * dist`` (float32), divided by its maximum, times ``intensity``; the result is
          ``uint8(clip(u + m * (175, 238, 238) / 255, 0, 1) * 255)``. If the maximum is 0 (no liquid
          left after step 1, or none where the relief is nonzero) the reference divides 0 by 0 and its
          NaNs cast to 0 on x86: the image comes out black, and so it does here.
    3. Mud (severities 4, 5): ``m = gaussian(float32(liquid > thr), sigma=intensity)`` (float32 in,
       so scipy rounds to float32 after each axis, reproduced), ``m[m < 0.8] = 0``; the result is
       ``uint8(clip(u * (1 - m) + m * (63, 42, 20) / 255, 0, 1) * 255)``.

    Given the normals the output is the reference's bit for bit, with OpenCV 4.10 and scikit-image /
    scipy as the libraries (tested); the reference's 2018 OpenCV used the same integer Canny and
    chamfer weights.

    Randomness: image ``indices[i]`` uses 1,024 normals of :func:`corruptions.normal.normals` for the
    stream ``(seed, "spatter", severity)``, row-major, in place of ``np.random.normal``.

    Args:
        images: (N, 32, 32, 3) uint8 tensor, NHWC RGB, any device.
        severity: 1..5.
        seed: integer in ``[0, 2**64)``.
        indices: (N,) integer tensor, the dataset index of each image (default ``0..N-1``).
    Returns:
        (N, 32, 32, 3) uint8 tensor on the same device.

    Example:
        >>> x = torch.full((4, 32, 32, 3), 40, dtype=torch.uint8)
        >>> bool((spatter(x, severity=2, seed=0)[..., 1] > 40).any())    # water brightens some pixels
        True
    """
    params = severity_parameter(PARAMETERS, severity)
    check_images(images)
    indices = resolve_indices(indices, images.shape[0], images.device)
    key = stream_key(seed, "spatter", severity)
    out = torch.empty_like(images, memory_format=torch.contiguous_format)
    for part in chunks(images.shape[0], images.device, _CPU_CHUNK):
        n = indices[part].shape[0]
        loc, scale, sigma, threshold = params[:4]
        liquid = normals(key, indices[part], 32 * 32).view(n, 32, 32).mul_(scale).add_(loc)  # loc + scale z
        liquid = gaussian_filter(liquid, sigma)  # skimage's default: 'nearest', truncate 4
        liquid = liquid.masked_fill_(liquid < threshold, 0.0)
        u = images[part].to(torch.float32) / 255  # (n, 32, 32, 3) float32
        blend = _mud(u, liquid, params) if params[5] else _water(u, liquid, params)
        out[part] = torch.nan_to_num_(blend.clamp_(0, 1).mul_(255), nan=0.0).to(torch.uint8)
    return out


def _f32(value: float, device) -> torch.Tensor:
    """A float32 scalar, as numpy rounds a Python float that meets a float32 array."""
    return torch.tensor(value, dtype=torch.float32, device=device)


def _water(u: torch.Tensor, liquid: torch.Tensor, params: tuple) -> torch.Tensor:
    level = (liquid * 255).to(torch.int64).bitwise_and_(255).to(torch.uint8)  # numpy's astype(uint8)
    edges = canny(level, 50, 150)
    dist = chamfer_distance(255 - edges).clamp_(max=20.0)  # cv2.threshold(..., 20, 20, THRESH_TRUNC)
    relief = box_blur_float(dist).to(torch.uint8)  # astype(uint8): truncation
    relief = box_blur_uint8(filter2d_uint8(equalize_hist(relief), EMBOSS)).to(torch.float32)
    m = level.to(torch.float32) * relief  # (n, 32, 32) float32, exact: integer products < 2**24
    m = m / m.amax(dim=(1, 2), keepdim=True)  # 0 / 0 = NaN where the maximum is 0, as the reference
    m = (m * _f32(params[4], u.device))[..., None]  # (n, 32, 32, 1)
    color = torch.stack([_f32(c / 255, u.device) for c in WATER])  # (3,) float32
    return u + m * color


def _mud(u: torch.Tensor, liquid: torch.Tensor, params: tuple) -> torch.Tensor:
    mask = (liquid > params[3]).to(torch.float64)  # the float32 0/1 mask, exactly
    weights = gaussian_weights(float(params[4]), 4.0)
    for dim in (1, 2):  # scipy filters a float32 image axis by axis, storing float32 after each
        mask = correlate_symmetric(mask, weights, dim, "nearest").to(torch.float32).to(torch.float64)
    m = mask.to(torch.float32)
    m = m.masked_fill_(m < _f32(0.8, u.device), 0.0)[..., None]  # (n, 32, 32, 1)
    color = torch.stack([_f32(c / 255, u.device) for c in MUD]) * m  # color *= m, float32
    return u * (1 - m) + color
