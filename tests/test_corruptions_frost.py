"""frost against the reference (make_cifar_c.py), on small fake frost photographs written by the tests.

Given the photograph and crop the seeded uniforms choose, the output is compared bit for bit with the
reference's own steps (cv2.imread, cv2.resize(fx=0.2), crop, float64 blend, uint8 truncation); the
choices themselves are tested uniform with chi-square tests.
"""

import math

import numpy as np
import pytest
import torch

from corruptions import corrupt
from corruptions.frost import WEIGHTS
from corruptions.frost_photos import ENV_VAR, USED, read_rgb, scale_like_opencv
from corruptions.seeding import stream_key, uniforms
from tests.frost_fakes import FAKE_PHOTOS, write_fake_frost_photos

SEVERITIES = (1, 2, 3, 4, 5)


def reference_photo(path) -> np.ndarray:
    """make_cifar_c.py's photograph: cv2.imread, cv2.resize by 0.2, BGR -> RGB."""
    cv2 = pytest.importorskip("cv2")
    photo = cv2.imread(str(path))
    photo = cv2.resize(photo, (0, 0), fx=0.2, fy=0.2)
    return photo[..., [2, 1, 0]]


def choices(seed: int, severity: int, indices: torch.Tensor, sizes: list) -> np.ndarray:
    """(photograph, row, column) per image from the documented uniforms."""
    u = uniforms(stream_key(seed, "frost", severity), indices, 3).numpy()
    k = np.floor(u[:, 0] * 5).astype(int)
    spans = np.array([sizes[i] for i in k]) - 32  # (n, 2)
    return np.stack([k, *np.floor(u[:, 1:] * spans).astype(int).T], axis=1)


@pytest.mark.parametrize("severity", SEVERITIES)
def test_frost_is_bit_identical_to_the_reference_given_its_choices(severity, fake_frost_photos):
    photos = [reference_photo(fake_frost_photos / name) for name in USED]
    rng = np.random.default_rng(severity)
    images = rng.integers(0, 256, (120, 32, 32, 3), dtype=np.uint8)
    images[:10] = 255  # saturated: the clip at 255 matters
    idx = torch.arange(500, 620)
    got = corrupt(images, "frost", severity, seed=6, start_index=500)
    a, b = WEIGHTS[severity - 1]
    for img, out, (k, r, c) in zip(
        images, got, choices(6, severity, idx, [p.shape[:2] for p in photos]), strict=True
    ):
        crop = photos[k][r : r + 32, c : c + 32]
        assert np.array_equal(out, np.uint8(np.clip(a * np.array(img) + b * crop, 0, 255)))


def test_photographs_are_read_and_scaled_as_opencv_does(fake_frost_photos):
    cv2 = pytest.importorskip("cv2")
    for name in FAKE_PHOTOS:
        path = fake_frost_photos / name
        assert np.array_equal(read_rgb(path), cv2.imread(str(path))[..., ::-1]), name  # RGBA and grey too
        assert np.array_equal(scale_like_opencv(read_rgb(path)), reference_photo(path)), name
    rng = np.random.default_rng(0)
    for height, width in [(163, 163), (164, 167), (168, 169), (250, 333), (401, 999)]:
        photo = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        assert np.array_equal(scale_like_opencv(photo), cv2.resize(photo, (0, 0), fx=0.2, fy=0.2))


def test_choices_are_uniform_and_keep_the_reference_ranges(fake_frost_photos):
    n = 6000
    idx = torch.arange(n)
    sizes = [scale_like_opencv(read_rgb(fake_frost_photos / name)).shape[:2] for name in USED]
    picks = choices(1, 3, idx, sizes)
    counts = np.bincount(picks[:, 0], minlength=6)
    assert counts[5] == 0  # frost6.jpg is never drawn (the reference's randint(5))
    # chi-square, 4 degrees of freedom: 30 is beyond the 0.99999 quantile (25.7)
    assert ((counts[:5] - n / 5) ** 2 / (n / 5)).sum() < 30
    for k, (height, width) in enumerate(sizes):
        rows, cols = picks[picks[:, 0] == k, 1], picks[picks[:, 0] == k, 2]
        assert rows.min() == 0 and rows.max() == height - 33 and cols.min() == 0 and cols.max() == width - 33
        # row offsets uniform over their height - 32 values: chi-square within 6 sigma of its mean
        dof = height - 33
        hist = np.bincount(rows, minlength=height - 32)
        expected = rows.size / (height - 32)
        assert ((hist - expected) ** 2 / expected).sum() <= dof + 6 * math.sqrt(2 * dof)  # dof 0: one row
    # the output really follows the choices: an image of zeros is the scaled crop itself, times 0.45
    out = corrupt(np.zeros((3, 32, 32, 3), dtype=np.uint8), "frost", 5, seed=1, start_index=0)
    photos = [scale_like_opencv(read_rgb(fake_frost_photos / name)) for name in USED]
    for o, (k, r, c) in zip(out, choices(1, 5, torch.arange(3), sizes), strict=True):
        assert np.array_equal(o, np.uint8(0.45 * photos[k][r : r + 32, c : c + 32]))


def test_frost_dir_option_overrides_the_environment(tmp_path, monkeypatch, fake_frost_photos):
    images = np.random.default_rng(2).integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)
    expected = corrupt(images, "frost", 2, seed=3)
    other = write_fake_frost_photos(tmp_path / "copy")
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "nowhere"))
    assert np.array_equal(corrupt(images, "frost", 2, seed=3, frost_dir=other), expected)
    assert np.array_equal(corrupt(images, "frost", 2, seed=3, frost_dir=str(fake_frost_photos)), expected)


def test_missing_photographs_are_one_clear_line(tmp_path, monkeypatch):
    images = np.zeros((2, 32, 32, 3), dtype=np.uint8)
    monkeypatch.delenv(ENV_VAR, raising=False)
    with pytest.raises(
        ValueError,
        match=r"frost needs the CIFAR-10-C frost photographs .* set SPECREG_FROST_DIR to their folder",
    ) as err:
        corrupt(images, "frost", 1)
    assert "\n" not in str(err.value) and ENV_VAR in str(err.value)
    folder = write_fake_frost_photos(tmp_path / "partial")
    (folder / "frost3.png").unlink()
    with pytest.raises(ValueError, match=r"lacks frost3\.png$"):
        corrupt(images, "frost", 1, frost_dir=folder)


def test_bad_photographs_are_refused(tmp_path):
    from PIL import Image

    images = np.zeros((1, 32, 32, 3), dtype=np.uint8)
    folder = write_fake_frost_photos(tmp_path / "small")
    Image.new("RGB", (200, 150)).save(folder / "frost2.png")  # 30 rows after scaling: no 32-row crop
    with pytest.raises(ValueError, match=r"at least 163x163 pixels .* got 150x200"):
        corrupt(images, "frost", 1, frost_dir=folder)
    folder = write_fake_frost_photos(tmp_path / "fake")
    (folder / "frost4.jpg").write_bytes((folder / "frost1.png").read_bytes())  # a PNG named .jpg
    with pytest.raises(ValueError, match=r"frost4\.jpg is not a readable JPEG file"):
        corrupt(images, "frost", 1, frost_dir=folder)
    (folder / "frost4.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    with pytest.raises(ValueError, match=r"not a readable JPEG file"):
        corrupt(images, "frost", 1, frost_dir=folder)


def _run_cli(monkeypatch, capsys, *args):
    import sys

    from specreg_cli.cli import main

    monkeypatch.setattr(sys, "argv", ["specreg", *map(str, args)])
    try:
        main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code or 0
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_corrupt_command_takes_frost_dir_and_refuses_without_one(
    tmp_path, monkeypatch, capsys, fake_frost_photos
):
    spec = "synthetic:train=8,test=6,seed=1"
    monkeypatch.delenv(ENV_VAR, raising=False)
    out = tmp_path / "c10c"
    code, text = _run_cli(
        monkeypatch, capsys, "corrupt", "--dataset", spec, "--out", out, "--corruptions", "fog,frost"
    )
    assert code == 1 and "frost needs the CIFAR-10-C frost photographs" in text and "Traceback" not in text
    assert not out.exists() or not any(out.iterdir())  # refused before anything was written
    args = (
        "corrupt",
        "--dataset",
        spec,
        "--out",
        out,
        "--corruptions",
        "frost",
        "--frost-dir",
        fake_frost_photos,
    )
    code, text = _run_cli(monkeypatch, capsys, *args)
    assert code == 0, text
    written = np.load(out / "frost.npy")
    from specreg_cli.data import load_dataset

    test = load_dataset(spec, "test")
    for severity in SEVERITIES:
        block = written[(severity - 1) * 6 : severity * 6]
        assert np.array_equal(
            block, corrupt(test.images, "frost", severity, seed=0, frost_dir=fake_frost_photos)
        )
