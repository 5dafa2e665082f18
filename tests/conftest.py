"""Shared test settings: CPU only, few threads (CI has 2 cores), no GPU ever."""

import os

import torch

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
torch.set_num_threads(min(2, torch.get_num_threads()))
