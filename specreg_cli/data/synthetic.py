"""Built-in synthetic dataset: 10 classes of textured shapes, shaped like CIFAR-10 (uint8 (N, 32, 32, 3)).

specreg's offline default: the demo and the tests train on it, because CIFAR-10 may not be downloadable.
It is a real learning problem whose labels need BOTH ends of the spectrum, so corruptions that act on
either end (impulse noise on fine detail; fog and contrast on the coarse layout and the dynamic range)
cost accuracy, as they do on CIFAR-10-C.

Generative design: class = shape family x texture family (5 x 2, see ``SYNTHETIC_CLASSES``).

- Shape (low spatial frequencies): disk, horizontal bar, upward triangle, ring, plus-shaped cross, drawn
  anti-aliased from signed distance functions. Every shape is mirror symmetric about the vertical axis,
  so labels survive the training augmentation (horizontal flip; a 4 px crop shift moves at most a
  few pixels of the shape's rim out of the frame).
- Texture (high spatial frequencies), painted inside the shape only: "striped" is a 1-D cosine grating
  (horizontal or vertical at random, both flip-invariant), "checkered" is the 2-D product of two
  gratings. The period is 3-5 px, near CIFAR's Nyquist limit, and the amplitude is small (0.12-0.25).
- Nuisance variables, drawn independently per image: centre (+-5 px), size (radius 9-12 px), texture
  period, phase, orientation and amplitude, background colour plus a linear gradient in a random
  direction, foreground colour (brightness at least 0.2 away from the background, so the silhouette
  never vanishes, with zero-mean +-0.2 per-channel hue jitter), and Gaussian pixel noise (sigma 0.03,
  about 8/255).

Determinism: the same (n, seed, split) gives the same bytes on every CPU kernel path (ATen's
``ATEN_CPU_CAPABILITY`` default / avx2 / avx512, numpy's SIMD targets, glibc's FMA/AVX2 libm variants)
and thread count; tests/test_data_determinism.py runs that matrix and pins the default splits' hashes.
Vectorised transcendental functions are where CPU paths disagree (by an ulp, which rounding to uint8
turns into a flipped pixel), so the rendering uses none:

- Randomness is numpy's (``SeedSequence([seed, split_index])`` spawns three PCG64 streams: label
  order, per-image parameters, pixel noise). Uniforms are integer bits scaled by 2**-53, the
  permutation is integer arithmetic, and ``standard_normal`` is numpy's scalar C ziggurat (no SIMD
  dispatch; it calls libm's exp/log only on the ~1% of draws outside the ziggurat's rectangles, where a
  1-ulp difference would need to land within an ulp of a decision boundary). numpy keeps its bit
  generators' streams fixed but may change a Generator method's (NEP 19): the pinned hashes notice.
- Rendering is float64 numpy with only IEEE-exact operations (+ - * /, sqrt, floor, min/max, clip):
  the same bits on any IEEE-754 machine, whichever SIMD width computes them. Cosines come from
  :func:`cos_turns`, a range reduction plus a Taylor polynomial in those operations, instead of
  ``np.cos`` (glibc's cos has an FMA variant that differs in the last bit). The foreground's
  reference colour is the background colour itself (the gradient averages to exactly zero over the
  pixel grid), so no reduction, whose order could vary, is needed.

Each image's parameters are row ``i`` of one (n, 17) block of uniforms, and its noise is values
``i * 3072 .. (i + 1) * 3072`` of the noise stream, so the bytes don't depend on the rendering chunk
size; only the label order depends on n. Rendering is vectorised over chunks of 256 images (the
float64 temporaries, about 6 MB each, stay in cache). Labels are exactly balanced (n // 10 or
n // 10 + 1 per class), shuffled.

Measured (ResNet-20, natural training, the default 5,000 train / 2,000 test images (seed 0); SGD momentum
0.9, no nesterov, weight decay 1e-4, batch 128, random crop (zero-pad 4) + horizontal flip; AMD EPYC,
CPU, 2 threads; ``specreg train --epochs 3 --lr 0.05 --schedule cosine --seed S --threads 2`` then
``specreg eval-corruptions RUN --severities 1,3,5``). Two seeds: an indication, not an interval:

    test accuracy after epoch          1      2      3
    lr 0.05 cosine to 0, seed 0      51.9%  83.3%  95.8%
    lr 0.05 cosine to 0, seed 1      55.7%  70.9%  87.6%

Corrupted test accuracy of the two 3-epoch models (seed 0 / seed 1) at severities 1, 3, 5, CIFAR-10-C
parameters (the ``corruptions`` package):

    impulse noise (1, 3, 7% of values to 0/255)      65.5 / 54.2   23.2 / 22.5   17.2 / 17.0
    fog (t, d) = (.2, 3), (.75, 2.5), (1.5, 1.75)    92.3 / 79.7   71.5 / 59.4   45.1 / 46.2
    contrast c = .75, .4, .15                        88.8 / 73.4   49.4 / 51.8    9.8 / 10.2

Generating 10,000 images takes about 0.9 s on one CPU thread (numpy only; no torch import), half of
it in ``standard_normal``.

Example::

    images, labels = make_synthetic(5000, seed=0, split="train")  # (5000, 32, 32, 3) uint8, (5000,) int64
    SYNTHETIC_CLASSES[labels[0]]                                   # e.g. "checkered ring"
"""

from __future__ import annotations

import math

import numpy as np

SHAPES = ("disk", "bar", "triangle", "ring", "cross")  # coarse layout: label // 2
TEXTURES = ("striped", "checkered")  # fine detail: label % 2
SYNTHETIC_CLASSES: tuple[str, ...] = tuple(f"{t} {s}" for s in SHAPES for t in TEXTURES)
SPLITS = ("train", "test")

SIZE = 32  # image side, pixels (CIFAR-10)
CHUNK = 256  # images rendered at once: the float64 (B, H, W, 3) temporaries (6 MB) stay in cache
CENTRE_RANGE = (11.0, 21.0)  # shape centre, pixels from the top/left edge (the image centre is 16)
RADIUS_RANGE = (9.0, 12.0)  # shape size, pixels; every shape fits within +-1 radius of its centre
PERIOD_RANGE = (3.0, 5.0)  # texture period, pixels: fine detail, just above the 2 px Nyquist limit
AMPLITUDE_RANGE = (0.12, 0.25)  # texture amplitude, in [0, 1] intensity units
MIN_BRIGHTNESS_GAP = 0.2  # foreground vs background mean, [0, 1] units: the silhouette stays visible
NOISE_SIGMA = 0.03  # Gaussian pixel noise, [0, 1] units (about 8/255)

# The per-image uniforms, columns of one (n, 17) block, in this order; each a (low, high) range.
# Angles are in turns (1 turn = 2 pi): uniform on [0, 1) turns is uniform on [0, 2 pi) radians.
PARAMETERS: dict[str, tuple[tuple[float, float], int]] = {  # name -> (range, columns)
    "centre_y": (CENTRE_RANGE, 1),
    "centre_x": (CENTRE_RANGE, 1),
    "radius": (RADIUS_RANGE, 1),
    "period": (PERIOD_RANGE, 1),
    "phase_y": ((0.0, 1.0), 1),  # turns
    "phase_x": ((0.0, 1.0), 1),  # turns
    "vertical": ((0.0, 1.0), 1),  # stripes vertical when < 0.5
    "background": ((0.1, 0.9), 3),  # RGB
    "gradient_angle": ((0.0, 1.0), 1),  # turns
    "gradient_strength": ((-0.25, 0.25), 3),  # per channel: the hue drifts too
    "gap": ((MIN_BRIGHTNESS_GAP, 2 * MIN_BRIGHTNESS_GAP), 1),
    "hue": ((-0.2, 0.2), 3),  # RGB, made zero-mean
    "amplitude": (AMPLITUDE_RANGE, 1),
}
N_UNIFORMS = sum(columns for _, columns in PARAMETERS.values())  # 17 per image

# Taylor coefficients of cos(x) in x**2, highest first: (-1)**k / (2k)!, k = 10 .. 0. On |x| <= pi / 2
# the first omitted term is below 2e-17, so the error is a few ulps of rounding.
_COS_COEFFICIENTS = tuple((-1) ** k / math.factorial(2 * k) for k in range(10, -1, -1))


def make_synthetic(n: int, seed: int = 0, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` labelled images of the synthetic dataset.

    Args:
        n: number of images, >= 1.
        seed: non-negative integer; the same (n, seed, split) always gives the same bytes, on every
            CPU kernel path and thread count.
        split: "train" or "test"; the two splits of one seed are independent draws.

    Returns:
        images: uint8 (n, 32, 32, 3), NHWC, values 0-255.
        labels: int64 (n,), values 0-9 indexing ``SYNTHETIC_CLASSES``, balanced to within one.

    Raises:
        ValueError: n < 1, a negative or non-integer seed, or an unknown split.

    Example::

        x, y = make_synthetic(2000, seed=0, split="test")
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    n = int(n)
    # SeedSequence hashes the pair, so no (seed, split) collides with another one (unlike
    # seed * 2 + split, where seed 0 "test" would equal seed 1 "train")
    order_seq, parameter_seq, noise_seq = np.random.SeedSequence([int(seed), SPLITS.index(split)]).spawn(3)
    labels = _balanced_labels(n, np.random.Generator(np.random.PCG64(order_seq)))  # (n,) int64
    params = _draw_parameters(n, np.random.Generator(np.random.PCG64(parameter_seq)))  # name -> (n, k)
    noise = np.random.Generator(np.random.PCG64(noise_seq))
    images = np.empty((n, SIZE, SIZE, 3), dtype=np.uint8)
    for lo in range(0, n, CHUNK):
        part = slice(lo, min(lo + CHUNK, n))
        images[part] = _render(labels[part], {name: p[part] for name, p in params.items()}, noise)
    return images, labels


def cos_turns(t: np.ndarray) -> np.ndarray:
    """cos(2 pi t) for float64 ``t`` in turns, from IEEE-exact operations only (the same bits everywhere).

    Reduces ``t`` to ``a`` in [0, 1/4] turn by symmetry (``cos`` is even, 1-periodic in turns, and
    ``cos(2 pi a) = -cos(2 pi (1/2 - a))``), then evaluates the Taylor polynomial of cos at
    ``2 pi a`` (at most pi / 2) by Horner's rule, one numpy ufunc per step (no fused multiply-add).
    Within 1e-15 of ``np.cos(2 * np.pi * (t - np.round(t)))`` (measured on a million values).

    Example::

        cos_turns(np.array([0.0, 0.25, 0.5]))   # [1.0, ~0, -1.0]
    """
    f = np.abs(t - np.floor(t + 0.5))  # [0, 1/2] turn from the nearest whole turn
    flip = f > 0.25
    a = np.where(flip, 0.5 - f, f)  # [0, 1/4] turn
    x = (2 * math.pi) * a
    x2 = x * x
    poly = np.full_like(x2, _COS_COEFFICIENTS[0])
    for c in _COS_COEFFICIENTS[1:]:
        poly *= x2
        poly += c
    return np.where(flip, -poly, poly)


def _balanced_labels(n: int, rng: np.random.Generator) -> np.ndarray:
    """Each class n // 10 or n // 10 + 1 times, in random order: (n,) int64."""
    return rng.permutation(np.arange(n, dtype=np.int64) % len(SYNTHETIC_CLASSES))


def _draw_parameters(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Every image's nuisance variables: name -> float64 (n, columns), uniform on the name's range.

    Row i of one (n, 17) block of ``rng.random`` (53-bit uniforms, exact integer scaling) belongs to
    image i, so image i's parameters don't depend on n or on the chunking.
    """
    u = rng.random((n, N_UNIFORMS))  # (n, 17) float64 in [0, 1)
    params, column = {}, 0
    for name, ((low, high), columns) in PARAMETERS.items():
        params[name] = low + (high - low) * u[:, column : column + columns]  # (n, columns)
        column += columns
    return params


def _render(labels: np.ndarray, p: dict[str, np.ndarray], noise: np.random.Generator) -> np.ndarray:
    """labels (B,) int64 and parameters (name -> (B, k)) -> images uint8 (B, 32, 32, 3).

    The noise-free image is built channel-first, (B, 3, H, W), so numpy's inner loops run over whole
    rows rather than over 3 channels (3x faster), then copied once to NHWC for the noise and rounding.
    """
    b = len(labels)
    coords = np.arange(SIZE, dtype=np.float64) + 0.5  # pixel centres
    ys, xs = coords[None, :, None], coords[None, None, :]  # (1, H, 1), (1, 1, W)
    cy, cx = p["centre_y"].reshape(b, 1, 1), p["centre_x"].reshape(b, 1, 1)
    radius = p["radius"].reshape(b, 1, 1)
    mask = _shape_mask(labels // len(TEXTURES), (ys - cy) / radius, (xs - cx) / radius, radius)  # (B, H, W)
    texture = _texture(labels % len(TEXTURES), ys, xs, p)  # (B, H, W) in [-1, 1]

    background = _background(ys, xs, p)  # (B, 3, H, W)
    colour = _foreground_colour(p)  # (B, 3, 1, 1)
    amplitude = p["amplitude"].reshape(b, 1, 1, 1)
    image = colour + amplitude * texture[:, None]  # (B, 3, H, W) foreground
    image -= background
    image *= mask[:, None]
    image += background  # background + mask * (foreground - background)
    image = np.ascontiguousarray(image.transpose(0, 2, 3, 1))  # (B, H, W, 3)
    pixel_noise = noise.standard_normal(image.shape)  # the stream's next B * 3072 values, HWC order
    pixel_noise *= NOISE_SIGMA
    image += pixel_noise
    image *= 255
    np.clip(image, 0, 255, out=image)  # the same as clipping to [0, 1] first: x * 255 is monotone
    return np.rint(image, out=image).astype(np.uint8)  # round half to even


def _shape_mask(shape_id: np.ndarray, dy: np.ndarray, dx: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Coverage (B, H, W) in [0, 1] of shape ``shape_id`` (B,), from offsets dy (B, H, 1), dx (B, 1, W) in
    radius units and radius (B, 1, 1) in pixels.

    Each shape is a signed distance in radius units (negative inside); multiplying by the radius gives
    pixels, and clipping 0.5 - distance to [0, 1] anti-aliases the edge over one pixel. Each image's
    distance is computed for its own shape only.
    """
    signed = np.empty((len(shape_id), SIZE, SIZE))  # (B, H, W)
    for s, shape in enumerate(SHAPES):
        rows = np.flatnonzero(shape_id == s)
        if rows.size:
            signed[rows] = _signed_distance(shape, dy[rows], dx[rows])
    return np.clip(0.5 - signed * radius, 0, 1)


def _signed_distance(shape: str, dy: np.ndarray, dx: np.ndarray) -> np.ndarray:
    """Signed distance (k, H, W) to ``shape`` in radius units, from dy (k, H, 1) and dx (k, 1, W)."""
    if shape == "disk":
        return np.sqrt(dy * dy + dx * dx) - 1.0
    if shape == "bar":  # horizontal, so a flip leaves it a bar
        return np.maximum(np.abs(dy) - 0.4, np.abs(dx) - 1.0)
    if shape == "triangle":
        # apex up at dy = -0.9, base at dy = +0.6 (y grows downwards); slanted edges have slope 2
        return np.maximum(dy - 0.6, (2.0 * np.abs(dx) - (dy + 0.9)) / math.sqrt(5.0))
    if shape == "ring":
        return np.abs(np.sqrt(dy * dy + dx * dx) - 0.75) - 0.25
    if shape == "cross":
        vertical_arm = np.maximum(np.abs(dx) - 0.3, np.abs(dy) - 1.0)
        horizontal_arm = np.maximum(np.abs(dy) - 0.3, np.abs(dx) - 1.0)
        return np.minimum(vertical_arm, horizontal_arm)
    raise AssertionError(shape)  # SHAPES and this function list the same shapes


def _texture(texture_id: np.ndarray, ys: np.ndarray, xs: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    """Fine texture (B, H, W) in [-1, 1] for ``texture_id`` (B,): 0 stripes (1-D), 1 checker (2-D)."""
    b = len(texture_id)
    period = p["period"].reshape(b, 1, 1)
    wave_y = cos_turns(ys / period + p["phase_y"].reshape(b, 1, 1))  # (B, H, 1): horizontal stripes
    wave_x = cos_turns(xs / period + p["phase_x"].reshape(b, 1, 1))  # (B, 1, W): vertical stripes
    vertical = p["vertical"].reshape(b, 1, 1) < 0.5
    stripes = np.where(vertical, wave_x, wave_y)  # (B, H, W)
    # a product of cosines is mostly far from +-1; doubling and clipping gives it the stripes' contrast
    checker = np.clip(2.0 * wave_y * wave_x, -1, 1)  # (B, H, W)
    return np.where(texture_id[:, None, None] == 0, stripes, checker)


def _background(ys: np.ndarray, xs: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    """Smooth backgrounds (B, 3, H, W): a random colour plus a linear gradient in a random direction."""
    b = len(p["background"])
    angle = p["gradient_angle"].reshape(b, 1, 1)  # turns
    x, y = xs - SIZE / 2, ys - SIZE / 2  # (1, 1, W), (1, H, 1) from the centre
    # sin(2 pi a) = cos(2 pi (a - 1/4)); ramp (B, H, W), about [-0.7, 0.7], mean exactly 0
    ramp = (cos_turns(angle) * x + cos_turns(angle - 0.25) * y) / SIZE
    strength = p["gradient_strength"].reshape(b, 3, 1, 1)
    return p["background"].reshape(b, 3, 1, 1) + strength * ramp[:, None]


def _foreground_colour(p: dict[str, np.ndarray]) -> np.ndarray:
    """Shape colour (B, 3, 1, 1) from the background's mean colour, which is its base colour exactly
    (the gradient is zero-mean over the symmetric pixel grid).

    Brightness moves at least MIN_BRIGHTNESS_GAP away from the background, towards whichever side has
    room, so the silhouette (half of the label) is always visible; per-channel jitter varies the hue.
    Channel means are written out as (c0 + c1 + c2) / 3, a fixed order of additions.
    """
    bg, gap, hue = p["background"], p["gap"], p["hue"]  # (B, 3), (B, 1), (B, 3)
    direction = np.where((bg[:, 0:1] + bg[:, 1:2] + bg[:, 2:3]) / 3 > 0.5, -1.0, 1.0)  # (B, 1)
    hue = hue - (hue[:, 0:1] + hue[:, 1:2] + hue[:, 2:3]) / 3  # zero-mean: keeps the brightness gap
    return np.clip(bg + direction * gap + hue, 0.05, 0.95)[:, :, None, None]
