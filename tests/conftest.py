"""Shared test settings: CPU only, one torch thread.

Tests check values and bytes, never speed. One thread keeps them fast everywhere: on a busy 2-core
machine extra OpenMP threads spin against each other (measured 10-50x slower for small batches), and
the results do not depend on the thread count.
"""

import os

import torch

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
torch.set_num_threads(1)
