import numpy as np
import torch

from specreg_cli.data.loader import BatchLoader, random_crop_flip


def make_data(n=50):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, n)


def batches(loader, epoch):
    loader.set_epoch(epoch)
    return [(x.clone(), y.clone()) for x, y in loader]


def test_train_batches_depend_only_on_seed_and_epoch():
    images, labels = make_data()
    a = batches(BatchLoader(images, labels, 16, train=True, seed=3), 2)
    b = batches(BatchLoader(images, labels, 16, train=True, seed=3), 2)
    c = batches(BatchLoader(images, labels, 16, train=True, seed=3), 1)
    d = batches(BatchLoader(images, labels, 16, train=True, seed=4), 2)
    assert len(a) == 3  # 50 // 16, partial batch dropped
    assert all(torch.equal(x1, x2) and torch.equal(y1, y2) for (x1, y1), (x2, y2) in zip(a, b, strict=False))
    assert not torch.equal(a[0][0], c[0][0]) and not torch.equal(a[0][0], d[0][0])


def test_eval_batches_keep_order_and_values():
    images, labels = make_data(21)
    out = list(BatchLoader(images, labels, 8))
    assert [len(y) for _, y in out] == [8, 8, 5]
    x = torch.cat([b for b, _ in out])
    np.testing.assert_allclose(x.permute(0, 2, 3, 1).numpy() * 255, images, atol=1e-4)


def test_crop_flip_is_a_shifted_possibly_flipped_window():
    images = (
        torch.arange(2 * 3 * 32 * 32, dtype=torch.int64).remainder(251).to(torch.uint8).view(2, 3, 32, 32) + 1
    )
    out = random_crop_flip(images, torch.Generator().manual_seed(0))
    padded = torch.nn.functional.pad(images, (4, 4, 4, 4))
    for i in range(2):
        found = any(
            torch.equal(out[i], window) or torch.equal(out[i], window.flip(-1))
            for dy in range(9)
            for dx in range(9)
            for window in [padded[i, :, dy : dy + 32, dx : dx + 32]]
        )
        assert found
