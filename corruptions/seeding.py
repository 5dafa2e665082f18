"""Counter-based random numbers: the same bits on every device, for every batch size and order.

A random corruption must give image ``i`` the same bytes whether it is corrupted alone, in a batch of
10,000, in a permuted batch, on the CPU or on a GPU. A sequential generator (numpy, torch.Generator)
can't promise that, so every random value here is a pure function of integers instead:

    key     (k0, k1)  = absorb(seed_lo, seed_hi, crc32(name), severity)     two 32-bit words, Python ints
    image   (a, b)    = absorb(k0 or k1, index_lo, index_hi)                  two 32-bit words per image
    word    w[e]      = H(H(e ^ a) ^ b)                                       one 32-bit word per counter e

``H`` is ``lowbias32`` from Chris Wellons' hash-prospector, a bijection on 32-bit words with a very
low avalanche bias::

    x ^= x >> 16;  x *= 0x7feb352d;  x ^= x >> 15;  x *= 0x846ca68b;  x ^= x >> 16   (mod 2**32)

``absorb(h, w1, w2, ...)`` is the chain ``h = H(h ^ w)`` over the words. ``k0`` and ``k1`` start from
different constants, so an image's stream is keyed by 64 bits: two images (or two seeds) share a
stream only if both 32-bit chains collide. ``e`` counts the values an image needs, in a fixed order
that each corruption documents (impulse noise: the H*W*3 values in HWC order).

Integer exactness (the same bits on every device): all words live in ``int64`` tensors holding values
in ``[0, 2**32)``. A product ``x * C`` with ``|C| < 2**31`` is below ``2**63`` in magnitude, so it is
exact and never overflows; ``0x846ca68b`` is used as its signed equivalent ``0x846ca68b - 2**32``, and
``& 0xFFFFFFFF`` of the (possibly negative, two's complement) product is the product mod ``2**32``.
No step relies on overflow. The same code runs on Python ints (which gives the per-stream keys).

Uniform doubles take two words, like numpy's ``random_sample``:
``((w[2k] >> 5) * 2**26 + (w[2k+1] >> 6)) / 2**53``, i.e. 53 random bits in ``[0, 1)``.

Example:
    >>> key = stream_key(seed=0, name="fog", severity=3)
    >>> u = uniforms(key, torch.arange(5), count=1023)      # (5, 1023) float64 in [0, 1)
    >>> torch.equal(u[3], uniforms(key, torch.tensor([3]), count=1023)[0])
    True
"""

from __future__ import annotations

import operator
import zlib

import torch

MASK32 = 0xFFFFFFFF
MAX_SEED = 2**64 - 1  # seeds are unsigned 64-bit integers
MAX_INDEX = 2**62 - 1  # dataset indices: split into two 32-bit words, with room to spare
MAX_COUNT = 2**16  # words per image: the fused hash below needs the counter e < 2**16

_M1 = 0x7FEB352D  # lowbias32's first multiplier (< 2**31: the product is exact in int64)
_M2 = 0x846CA68B - 2**32  # its second multiplier as a signed value (|_M2| < 2**31), same product mod 2**32
_IV0 = 0x9E3779B9  # chain start for k0 (golden ratio); any two different constants would do
_IV1 = 0x85EBCA6B  # chain start for k1 (murmur3's constant)
_IV_IMAGE = 0x27D4EB2F  # mixed into both image words, so an image's (a, b) differ from the stream key


def hash32(x):
    """lowbias32 of 32-bit words; works on Python ints and on int64 tensors (returns a new value).

    Args:
        x: int in ``[0, 2**32)``, or an int64 tensor of any shape with values in that range.
    Returns:
        Same type and shape, values in ``[0, 2**32)``.

    Example:
        >>> hash32(0), hash32(1)
        (0, 1753845952)
    """
    x = x ^ (x >> 16)
    x = (x * _M1) & MASK32
    x = x ^ (x >> 15)
    x = (x * _M2) & MASK32  # negative product: & gives its value mod 2**32 (two's complement)
    return x ^ (x >> 16)


def _absorb(h: int, *words: int) -> int:
    """Chain ``h = hash32(h ^ w)`` over 32-bit words (Python ints)."""
    for w in words:
        h = hash32(h ^ w)
    return h


def stream_key(seed: int, name: str, severity: int) -> tuple[int, int]:
    """The 64-bit key of one (seed, corruption, severity) stream, as two 32-bit words.

    Args:
        seed: integer in ``[0, 2**64)``; different seeds give independent streams.
        name: corruption name (its CRC-32 is hashed in, so ids need no table).
        severity: 1..5 (any int is accepted here; the corruption checks the range).
    Returns:
        ``(k0, k1)``, Python ints in ``[0, 2**32)``.
    Raises:
        ValueError: seed not an integer in range.

    Example:
        >>> stream_key(0, "fog", 1) != stream_key(1, "fog", 1)
        True
    """
    seed = check_seed(seed)
    words = (seed & MASK32, seed >> 32, zlib.crc32(name.encode()), operator.index(severity) & MASK32)
    return _absorb(_IV0, *words), _absorb(_IV1, *words)


def check_seed(seed) -> int:
    """Return ``seed`` as a Python int, or raise ValueError (bool, float or out of ``[0, 2**64)``)."""
    if isinstance(seed, bool):
        raise ValueError(f"seed must be an integer in [0, 2**64), got {seed!r}")
    try:
        seed = operator.index(seed)
    except TypeError:
        raise ValueError(f"seed must be an integer in [0, 2**64), got {seed!r}") from None
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be an integer in [0, 2**64), got {seed}")
    return seed


def image_keys(key: tuple[int, int], indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image stream words ``(a, b)`` from a stream key and dataset indices.

    Args:
        key: ``(k0, k1)`` from :func:`stream_key`.
        indices: (N,) integer tensor of dataset indices in ``[0, 2**62)``, any device.
    Returns:
        ``(a, b)``: two (N,) int64 tensors with values in ``[0, 2**32)``, on ``indices.device``.
    Raises:
        ValueError: indices not a 1-D integer tensor, or out of range.
    """
    if not isinstance(indices, torch.Tensor) or indices.ndim != 1 or indices.is_floating_point():
        raise ValueError("indices must be a 1-D integer tensor of dataset indices")
    idx = indices.to(torch.int64)
    if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) > MAX_INDEX):
        raise ValueError(f"indices must lie in [0, 2**62), got range [{int(idx.min())}, {int(idx.max())}]")
    lo, hi = idx & MASK32, idx >> 32  # (N,) each, in [0, 2**32)
    a = hash32(hash32(hash32(key[0] ^ _IV_IMAGE ^ lo) ^ hi))
    b = hash32(hash32(hash32(key[1] ^ _IV_IMAGE ^ lo) ^ hi))
    return a, b


def random_words(key: tuple[int, int], indices: torch.Tensor, count: int) -> torch.Tensor:
    """``count`` random 32-bit words per image: ``w[i, e] = H(H(e ^ a_i) ^ b_i)``.

    Args:
        key: ``(k0, k1)`` from :func:`stream_key`.
        indices: (N,) integer tensor of dataset indices; the result is computed on its device.
        count: words per image, ``1 <= count <= 2**16``.
    Returns:
        (N, count) int64 tensor, values uniform in ``[0, 2**32)``. Row ``i`` depends only on
        ``(key, indices[i])``.

    Example:
        >>> w = random_words(stream_key(0, "impulse_noise", 1), torch.arange(3), 3072)   # (3, 3072)
    """
    if not 1 <= count <= MAX_COUNT:
        raise ValueError(f"count must be in 1..{MAX_COUNT}, got {count}")
    a, b = image_keys(key, indices)
    # Fused form of H(H(e ^ a) ^ b), which saves 6 of 22 tensor passes (this is the hot loop):
    # - e < 2**16, so the first xorshift of H(e ^ a) equals e ^ a', with a' = a ^ (a >> 16);
    # - the last xorshift of the inner H and the first xorshift of the outer H, with ^ b between
    #   them, collapse to ^ b', with b' = b ^ (b >> 16).
    # tests/test_corruptions_seeding.py checks the fused form against the plain definition.
    a = (a ^ (a >> 16))[:, None]  # (N, 1)
    b = (b ^ (b >> 16))[:, None]  # (N, 1)
    e = torch.arange(count, dtype=torch.int64, device=indices.device)  # (count,)
    x = e ^ a  # (N, count)
    tmp = torch.empty_like(x)
    _mix_(x, tmp)
    x ^= b
    _mix_(x, tmp)
    torch.bitwise_right_shift(x, 16, out=tmp)
    x ^= tmp
    return x


def _mix_(x: torch.Tensor, tmp: torch.Tensor) -> None:
    """In place: the middle of lowbias32 (multiply, xorshift 15, multiply), without its xorshift-16s."""
    x.mul_(_M1).bitwise_and_(MASK32)
    torch.bitwise_right_shift(x, 15, out=tmp)
    x ^= tmp
    x.mul_(_M2).bitwise_and_(MASK32)


def uniforms(key: tuple[int, int], indices: torch.Tensor, count: int) -> torch.Tensor:
    """``count`` uniform doubles in ``[0, 1)`` per image, 53 random bits each (two words per value).

    Args:
        key: ``(k0, k1)`` from :func:`stream_key`.
        indices: (N,) integer tensor of dataset indices; the result is on its device.
        count: values per image, ``1 <= count <= 2**15``.
    Returns:
        (N, count) float64 tensor; value ``k`` uses words ``2k`` (high 27 bits) and ``2k + 1``
        (high 26 bits), as numpy's ``random_sample`` does.

    Example:
        >>> u = uniforms(stream_key(0, "fog", 2), torch.arange(4), 1023)   # (4, 1023) float64
    """
    w = random_words(key, indices, 2 * count).view(-1, count, 2)  # (N, count, 2)
    bits53 = ((w[..., 0] >> 5) << 26) | (w[..., 1] >> 6)  # (N, count) in [0, 2**53)
    return bits53.to(torch.float64) * 2.0**-53  # exact: integers below 2**53 are doubles
