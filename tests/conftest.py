"""Shared test settings: CPU only, one torch thread.

Tests check values and bytes, never speed. One thread keeps them fast everywhere: on a busy 2-core
machine extra OpenMP threads spin against each other (measured 10-50x slower for small batches), and
the results do not depend on the thread count.
"""

import os

import pytest
import torch

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
torch.set_num_threads(1)


@pytest.fixture(scope="session", autouse=True)
def fake_frost_photos(tmp_path_factory):
    """Frost photographs for every test (the real ones cannot be shipped): small fakes in the reference's
    layout, found through SPECREG_FROST_DIR like a user's folder, so registry-wide tests include frost."""
    from corruptions.frost_photos import ENV_VAR
    from tests.frost_fakes import write_fake_frost_photos

    folder = write_fake_frost_photos(tmp_path_factory.mktemp("frost"))
    previous = os.environ.get(ENV_VAR)
    os.environ[ENV_VAR] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop(ENV_VAR, None)
    else:
        os.environ[ENV_VAR] = previous
