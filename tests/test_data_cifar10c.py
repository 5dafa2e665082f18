"""The CIFAR-10-C folder reader on small files in the released layout."""

import numpy as np
import pytest

from specreg_cli.data.cifar10c import Cifar10CFolder
from specreg_cli.errors import SpecregError

N = 6  # test images per severity block (10,000 in the official files)


@pytest.fixture
def c_folder(tmp_path):
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 10, N)
    np.save(tmp_path / "labels.npy", np.tile(labels, 5).astype(np.uint8))  # the generator writes uint8
    fog = rng.integers(0, 256, (5 * N, 32, 32, 3), dtype=np.uint8)
    np.save(tmp_path / "fog.npy", fog)
    return tmp_path, labels, fog


def test_block_selects_severity(c_folder):
    path, labels, fog = c_folder
    folder = Cifar10CFolder(path)
    assert folder.n == N and folder.available() == ["fog"]
    for severity in (1, 3, 5):
        images, got_labels = folder.block("fog", severity)
        np.testing.assert_array_equal(images, fog[(severity - 1) * N : severity * N])
        np.testing.assert_array_equal(got_labels, labels)
    assert isinstance(folder.array("fog"), np.memmap)  # never loaded whole


@pytest.mark.parametrize(
    "problem, message",
    [
        ("missing_file", "is missing"),
        ("bad_name", "unknown CIFAR-10-C corruption"),
        ("bad_shape", "expected uint8"),
        ("bad_dtype", "expected uint8"),
        ("truncated", "not a readable .npy"),
        ("bad_severity", "severity 6"),
    ],
)
def test_malformed(c_folder, problem, message):
    path, _, fog = c_folder
    name, severity = "fog", 1
    if problem == "missing_file":
        name = "contrast"
    elif problem == "bad_name":
        name = "fogg"
    elif problem == "bad_shape":
        np.save(path / "fog.npy", fog[:-1])
    elif problem == "bad_dtype":
        np.save(path / "fog.npy", fog.astype(np.float32))
    elif problem == "truncated":
        data = (path / "fog.npy").read_bytes()
        (path / "fog.npy").write_bytes(data[: len(data) // 2])
    elif problem == "bad_severity":
        severity = 6
    with pytest.raises(SpecregError, match=message):
        Cifar10CFolder(path).block(name, severity)


def test_bad_labels(tmp_path):
    with pytest.raises(SpecregError, match="labels.npy is missing"):
        Cifar10CFolder(tmp_path)
    np.save(tmp_path / "labels.npy", np.arange(7))
    with pytest.raises(SpecregError, match="5 x N labels"):
        Cifar10CFolder(tmp_path)
    np.save(
        tmp_path / "labels.npy", np.concatenate([np.zeros(3), np.ones(3)]).astype(np.int64).repeat(5)[:30]
    )
    with pytest.raises(SpecregError, match="tiled 5 times"):
        Cifar10CFolder(tmp_path)
    with pytest.raises(SpecregError, match="does not exist"):
        Cifar10CFolder(tmp_path / "nope")
