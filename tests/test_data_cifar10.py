"""The CIFAR-10 reader on a small folder written in the official python pickle format."""

import pickle

import numpy as np
import pytest

from specreg_cli.data import load_dataset
from specreg_cli.data.cifar10 import FOLDER, TEST_FILES, TRAIN_FILES
from specreg_cli.errors import SpecregError


def write_batch(path, images_nhwc, labels):
    data = images_nhwc.transpose(0, 3, 1, 2).reshape(len(images_nhwc), 3072)  # official: rows of CHW bytes
    with open(path, "wb") as fh:
        pickle.dump(
            {
                b"batch_label": b"test",
                b"labels": list(map(int, labels)),
                b"data": data,
                b"filenames": [b"x.png"] * len(labels),
            },
            fh,
        )


@pytest.fixture
def cifar_root(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / FOLDER
    folder.mkdir()
    written = {}
    for name in TRAIN_FILES + TEST_FILES:
        images = rng.integers(0, 256, (7, 32, 32, 3), dtype=np.uint8)
        labels = rng.integers(0, 10, 7)
        write_batch(folder / name, images, labels)
        written[name] = (images, labels)
    return tmp_path, written


def test_reads_official_layout(cifar_root):
    root, written = cifar_root
    train = load_dataset("cifar10", "train", data_dir=root)
    test = load_dataset("cifar10", "test", data_dir=root)
    assert train.images.shape == (35, 32, 32, 3) and train.images.dtype == np.uint8
    np.testing.assert_array_equal(train.images[7:14], written["data_batch_2"][0])  # HWC restored exactly
    np.testing.assert_array_equal(test.labels, written["test_batch"][1])
    assert test.labels.dtype == np.int64
    assert (
        test.identity["name"] == "cifar10" and test.identity["n"] == 7 and len(test.identity["sha256"]) == 16
    )


def test_missing_folder_names_folder_and_flag(tmp_path):
    with pytest.raises(SpecregError) as info:
        load_dataset("cifar10", "test", data_dir=tmp_path)
    assert str(tmp_path / FOLDER) in info.value.message
    assert "--download" in info.value.hint


def test_corrupt_batch_is_a_clear_error(cifar_root):
    root, _ = cifar_root
    (root / FOLDER / "test_batch").write_bytes(b"not a pickle")
    with pytest.raises(SpecregError, match="not a CIFAR-10 python batch"):
        load_dataset("cifar10", "test", data_dir=root)


def test_dataset_spec_errors():
    with pytest.raises(SpecregError, match="unknown dataset"):
        load_dataset("mnist", "test")
    with pytest.raises(SpecregError, match="bad synthetic dataset option"):
        load_dataset("synthetic:trian=5", "test")


def test_synthetic_spec_sizes_and_subset():
    test = load_dataset("synthetic:train=64,test=40,seed=3", "test")
    assert len(test) == 40 and test.identity["seed"] == 3
    small = test.subset(10)
    assert len(small) == 10 and small.identity["n"] == 10


class _TouchOnUnpickle:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import pathlib

        return (pathlib.Path.touch, (self.marker,))


def test_a_crafted_batch_runs_no_code(cifar_root, tmp_path):
    root, _ = cifar_root
    marker = tmp_path / "code-ran"
    with open(root / FOLDER / "test_batch", "wb") as fh:
        pickle.dump({b"data": _TouchOnUnpickle(marker), b"labels": [0]}, fh)
    with open(root / FOLDER / "test_batch", "rb") as fh:  # the trap is live under plain pickle
        pickle.load(fh)
    assert marker.exists()
    marker.unlink()
    with pytest.raises(SpecregError, match="not a CIFAR-10 python batch"):
        load_dataset("cifar10", "test", data_dir=root)
    assert not marker.exists()


def test_labels_outside_the_classes_are_refused(cifar_root):
    root, written = cifar_root
    images, labels = written["test_batch"]
    write_batch(root / FOLDER / "test_batch", images, [12] * len(labels))
    with pytest.raises(SpecregError, match="labels outside 0..9"):
        load_dataset("cifar10", "test", data_dir=root)
