"""corruptions.seeding: the counter-based generator (exact integer hash, fused form, uniforms)."""

import numpy as np
import pytest
import torch

from corruptions.seeding import (
    MAX_INDEX,
    MAX_SEED,
    hash32,
    image_keys,
    random_words,
    stream_key,
    uniforms,
)


def lowbias32_numpy(x: np.ndarray) -> np.ndarray:
    """Independent lowbias32 on numpy uint32 (unsigned arithmetic wraps mod 2**32 by definition)."""
    x = x.astype(np.uint32)
    x ^= x >> np.uint32(16)
    x *= np.uint32(0x7FEB352D)
    x ^= x >> np.uint32(15)
    x *= np.uint32(0x846CA68B)
    x ^= x >> np.uint32(16)
    return x


def test_hash32_is_lowbias32_on_tensors_and_ints():
    words = np.concatenate(
        [
            np.array([0, 1, 2, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF], dtype=np.uint32),
            np.random.default_rng(0).integers(0, 2**32, 20000, dtype=np.uint64).astype(np.uint32),
        ]
    )
    expected = lowbias32_numpy(words).astype(np.int64)
    got = hash32(torch.from_numpy(words.astype(np.int64)))
    assert torch.equal(got, torch.from_numpy(expected))
    assert [hash32(int(w)) for w in words[:50]] == expected[:50].tolist()


def test_random_words_fused_form_equals_the_definition():
    key = stream_key(123, "impulse_noise", 4)
    indices = torch.tensor([0, 1, 5, 49999, 2**40 + 3, MAX_INDEX])
    count = 3072
    a, b = image_keys(key, indices)
    e = torch.arange(count, dtype=torch.int64)
    expected = hash32(hash32(e[None, :] ^ a[:, None]) ^ b[:, None])  # (N, count)
    assert torch.equal(random_words(key, indices, count), expected)


def test_words_depend_only_on_key_and_index():
    key = stream_key(5, "fog", 2)
    idx = torch.tensor([9, 3, 7, 3])
    w = random_words(key, idx, 64)
    assert torch.equal(w[1], w[3])  # same index, same words, whatever the position in the batch
    assert torch.equal(w[0], random_words(key, torch.tensor([9]), 64)[0])
    assert not torch.equal(w[0], w[1])


def test_streams_differ_by_seed_name_severity():
    keys = {
        stream_key(s, n, v)
        for s in (0, 1, 2**32, MAX_SEED)
        for n in ("fog", "impulse_noise")
        for v in (1, 2, 3, 4, 5)
    }
    assert len(keys) == 4 * 2 * 5
    idx = torch.arange(8)
    assert not torch.equal(
        random_words(stream_key(0, "fog", 1), idx, 32), random_words(stream_key(1, "fog", 1), idx, 32)
    )


def test_image_keys_have_no_collisions_over_a_dataset():
    a, b = image_keys(stream_key(0, "impulse_noise", 1), torch.arange(200_000))
    # (a, b) as one exact number: a * 2**32 + b may exceed int64, so count distinct pairs in numpy
    pairs = np.stack([a.numpy(), b.numpy()], axis=1).astype(np.uint64)
    assert np.unique(pairs[:, 0] << np.uint64(32) | pairs[:, 1]).size == 200_000
    # each word alone behaves like 32 random bits: ~4.7 repeats expected among 200,000 (birthday)
    for word in (a, b):
        assert 200_000 - torch.unique(word).numel() < 30


def test_word_bits_are_balanced():
    w = random_words(stream_key(0, "impulse_noise", 3), torch.arange(64), 3072).flatten()  # 196,608 words
    bits = ((w[:, None] >> torch.arange(32)) & 1).double().mean(dim=0)  # (32,) fraction of ones per bit
    sigma = (0.25 / w.numel()) ** 0.5
    assert torch.all((bits - 0.5).abs() < 6 * sigma), bits


def test_uniforms_use_53_bits_from_two_words():
    key = stream_key(11, "fog", 5)
    idx = torch.arange(3)
    u = uniforms(key, idx, 100)
    w = random_words(key, idx, 200).view(3, 100, 2)
    expected = ((w[..., 0] >> 5) * 2**26 + (w[..., 1] >> 6)).double() / 2**53
    assert torch.equal(u, expected)
    big = uniforms(key, torch.arange(200), 1023)
    assert float(big.min()) >= 0.0 and float(big.max()) < 1.0
    assert abs(float(big.mean()) - 0.5) < 6 * (1 / 12 / big.numel()) ** 0.5


@pytest.mark.parametrize("seed", [-1, 2**64, 1.5, True, "0"])
def test_bad_seeds_are_refused(seed):
    with pytest.raises(ValueError, match="seed"):
        stream_key(seed, "fog", 1)


def test_out_of_range_indices_are_refused():
    key = stream_key(0, "fog", 1)
    for bad in (torch.tensor([-1]), torch.tensor([MAX_INDEX + 1]), torch.tensor([0.5])):
        with pytest.raises(ValueError, match="indices"):
            image_keys(key, bad)
