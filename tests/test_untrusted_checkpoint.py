"""A checkpoint is untrusted input: loading one must never run code that it carries."""

import pathlib

import pytest
import torch

from specreg_cli.checkpoint import load_checkpoint, load_model
from specreg_cli.errors import SpecregError


class _TouchOnUnpickle:
    """Unpickling this object creates a file: the observable effect of code run from a data file."""

    def __init__(self, marker: pathlib.Path):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def _booby_trapped_checkpoint(tmp_path) -> tuple[pathlib.Path, pathlib.Path]:
    marker = tmp_path / "code-ran"
    path = tmp_path / "run" / "model.pt"
    path.parent.mkdir()
    payload = {"format": "specreg-checkpoint", "format_version": 1, "state_dict": {}, "meta": {}}
    payload["meta"]["trap"] = _TouchOnUnpickle(marker)
    torch.save(payload, path)
    return path, marker


def test_the_trap_is_live(tmp_path):
    # the payload really runs code when fully unpickled, so the tests below can fail
    path, marker = _booby_trapped_checkpoint(tmp_path)
    torch.load(path, weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("load", [load_checkpoint, load_model], ids=["load_checkpoint", "load_model"])
def test_loading_refuses_a_checkpoint_that_needs_unpickling(tmp_path, load):
    path, marker = _booby_trapped_checkpoint(tmp_path)
    with pytest.raises(SpecregError, match="unpickling|not a specreg"):
        load(path.parent)
    assert not marker.exists(), "loading a checkpoint ran code from it"
