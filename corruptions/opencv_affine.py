"""OpenCV's ``getAffineTransform`` and ``warpAffine`` (bilinear, reflect-101), batched in torch, bit for bit.

CIFAR-10-C's elastic_transform warps a float32 image with ``cv2.warpAffine(image, M, (32, 32),
borderMode=cv2.BORDER_REFLECT_101)``. What OpenCV computes (3.x and 4.x up to 4.10, the versions of the
reference's era; 4.11 rewrote this path to interpolate at unquantised float coordinates):

* ``M = getAffineTransform(src, dst)``: a 6x6 linear system solved by OpenCV's LU with partial pivoting
  in double (``hal::LU64f``); the system matrix holds only the fixed source points, so its elimination
  is done once in Python doubles and replayed on the right-hand sides of the whole batch.
* ``warpAffine`` inverts ``M`` in double, then maps output pixel (x, y) to source coordinates in
  fixed point: ``X = (round((M1 y + M2) 1024) + 16 + round(M0 x 1024)) >> 5`` (likewise Y), i.e. 1/32
  of a pixel (``INTER_BITS = 5``); the integer part picks the 2x2 neighbourhood and the fraction one of
  32 x 32 tabulated float32 weight sets ``(1 - i/32, i/32) x (1 - j/32, j/32)``; the value is the
  float32 sum ``((v00 w00 + v01 w01) + v10 w10) + v11 w11``, neighbours outside the image reflected
  without repeating the edge (``BORDER_REFLECT_101``).

Every operation is an elementwise IEEE operation or an integer one, so the bytes are the same on every
CPU kernel path and device. Tested against ``cv2.getAffineTransform`` / ``cv2.warpAffine`` of
opencv-python-headless 4.10.
"""

from __future__ import annotations

import functools

import torch

AB_BITS = 10  # OpenCV's fixed-point bits of the affine coordinates (AB_SCALE = 1024)
INTER_BITS = 5  # bits of the interpolation fraction: 1/32 of a pixel
_TAB = 1 << INTER_BITS


@functools.lru_cache(maxsize=8)
def _lu_program(src: tuple) -> tuple:
    """OpenCV's LUImpl on getAffineTransform's 6x6 matrix for the source points ``src`` (3 (x, y) pairs).

    Returns ``(swaps, eliminations, back)``: row swaps and ``b[j] += alpha * b[i]`` steps in order,
    then the back substitution rows ``(i, pivot, ((k, a_ik), ...))``: the operations on b.
    """
    a = [[0.0] * 6 for _ in range(6)]
    for i, (x, y) in enumerate(src):
        a[2 * i][0:3] = [float(x), float(y), 1.0]
        a[2 * i + 1][3:6] = [float(x), float(y), 1.0]
    steps = []
    for i in range(6):
        k = max(range(i, 6), key=lambda r: (abs(a[r][i]), -r))  # first row with the largest |pivot|
        if k != i:
            a[i][i:], a[k][i:] = a[k][i:], a[i][i:]
            steps.append(("swap", i, k))
        d = -1.0 / a[i][i]
        for j in range(i + 1, 6):
            alpha = a[j][i] * d
            for col in range(i + 1, 6):
                a[j][col] += alpha * a[i][col]
            steps.append(("axpy", j, i, alpha))
    back = tuple((i, a[i][i], tuple((k, a[i][k]) for k in range(i + 1, 6))) for i in range(5, -1, -1))
    return tuple(steps), back


def get_affine_transform(src: tuple, dst: torch.Tensor) -> torch.Tensor:
    """``cv2.getAffineTransform(src, dst[i])`` for every i: (N, 2, 3) float64.

    Args:
        src: three source points ``((x, y), ...)``, the same for the whole batch (float32 values).
        dst: (N, 3, 2) float32 or float64 destination points.
    Returns:
        (N, 2, 3) float64 affine matrices, as OpenCV's LU solve gives them.
    """
    steps, back = _lu_program(tuple(tuple(float(v) for v in p) for p in src))
    b = list(dst.to(torch.float64).reshape(-1, 6).unbind(1))  # b[2i] = x'_i, b[2i + 1] = y'_i
    for step in steps:
        if step[0] == "swap":
            _, i, k = step
            b[i], b[k] = b[k], b[i]
        else:
            _, j, i, alpha = step
            b[j] = b[j] + alpha * b[i]  # OpenCV: b[j] += alpha * b[i], two roundings (no FMA)
    for i, pivot, row in back:
        s = b[i]
        for k, a_ik in row:
            s = s - a_ik * b[k]
        b[i] = s / pivot
    return torch.stack(b, dim=1).view(-1, 2, 3)


def warp_affine_reflect101(image: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """``cv2.warpAffine(image[i], m[i], (W, H), flags=INTER_LINEAR, borderMode=BORDER_REFLECT_101)``.

    Args:
        image: (N, H, W, C) float32 tensor.
        m: (N, 2, 3) float64 forward affine matrices (destination = m @ source), as OpenCV takes them.
    Returns:
        (N, H, W, C) float32 tensor.
    """
    n, height, width, _ = image.shape
    inv = _invert(m.to(torch.float64).reshape(n, 6))  # (n, 6): source = inv @ destination
    dev = image.device
    xs = torch.arange(width, dtype=torch.float64, device=dev)
    ys = torch.arange(height, dtype=torch.float64, device=dev)
    scale = float(1 << AB_BITS)
    half = (1 << AB_BITS) // _TAB // 2  # OpenCV's round_delta: half of 1/32 in 1/1024 units

    def fixed(v: torch.Tensor) -> torch.Tensor:  # saturate_cast<int>: round half to even
        return torch.round(v).to(torch.int64)

    adelta = fixed(inv[:, 0:1] * xs * scale)  # (n, W): round(M0 x 1024), (M0 x) first, as in C
    bdelta = fixed(inv[:, 3:4] * xs * scale)
    x0 = fixed((inv[:, 1:2] * ys + inv[:, 2:3]) * scale) + half  # (n, H)
    y0 = fixed((inv[:, 4:5] * ys + inv[:, 5:6]) * scale) + half
    big_x = (x0[:, :, None] + adelta[:, None, :]) >> (AB_BITS - INTER_BITS)  # (n, H, W) in 1/32 px
    big_y = (y0[:, :, None] + bdelta[:, None, :]) >> (AB_BITS - INTER_BITS)
    sx, sy = big_x >> INTER_BITS, big_y >> INTER_BITS
    fx = (big_x & (_TAB - 1)).to(torch.float32) * (1.0 / _TAB)  # exact: i / 32
    fy = (big_y & (_TAB - 1)).to(torch.float32) * (1.0 / _TAB)
    wx = (1 - fx, fx)  # float32, as OpenCV's BilinearTab_f
    wy = (1 - fy, fy)
    cols = (_reflect101(sx, width), _reflect101(sx + 1, width))
    rows = (_reflect101(sy, height), _reflect101(sy + 1, height))
    flat = image.reshape(n * height * width, -1)  # (n*H*W, C): one row per pixel, for index_select
    base = (torch.arange(n, device=dev) * height)[:, None, None]
    out = None
    for r in (0, 1):
        line = (base + rows[r]) * width
        for c in (0, 1):
            weight = (wy[r] * wx[c]).view(-1, 1)  # (n*H*W, 1) float32 table entry
            term = flat.index_select(0, (line + cols[c]).view(-1)).mul_(weight)
            out = term if out is None else out.add_(term)
    return out.view(image.shape)


def _invert(m: torch.Tensor) -> torch.Tensor:
    """warpAffine's inversion of the 2x3 matrices (unless WARP_INVERSE_MAP), in its order of operations."""
    m0, m1, m2, m3, m4, m5 = m.unbind(1)
    d = m0 * m4 - m1 * m3
    d = torch.where(d != 0, 1.0 / d, 0.0)
    a11, a22 = m4 * d, m0 * d
    n1, n3 = m1 * -d, m3 * -d
    b1 = -a11 * m2 - n1 * m5
    b2 = -n3 * m2 - a22 * m5
    return torch.stack((a11, n1, b1, n3, a22, b2), dim=1)


def _reflect101(i: torch.Tensor, size: int) -> torch.Tensor:
    """OpenCV's borderInterpolate for BORDER_REFLECT_101 (gfedcb|abcdefgh|gfedcba), any distance out."""
    period = 2 * size - 2
    i = torch.remainder(i, period)
    return torch.where(i >= size, period - i, i)
