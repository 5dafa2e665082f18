"""How big each benchmark is: the full sizes of the spec, and the reduced ``--quick`` ones."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    """Every size knob of the suite, with its unit. The defaults are the full benchmark.

    Example: ``dataclasses.replace(QUICK, train_steps=1)`` for an even smaller run.
    """

    label: str = "full"  # "full" | "quick" (shown in the names of figures whose size is cut)
    repeats: int = 3  # default repeats per figure (--repeats overrides)
    train_batch: int = 128  # images per SGD step (the paper's batch)
    train_steps: int = 8  # timed SGD steps per variant per repeat
    warmup_steps: int = 2  # untimed steps first (allocator, MKL and cuDNN plans)
    pipeline_dataset: str = "synthetic"  # 5,000-image synthetic train split: one epoch per repeat
    eval_dataset: str = "synthetic"  # 2,000-image synthetic test split
    eval_batch: int = 256  # images per evaluation forward pass
    eval_corruptions: tuple[str, ...] = ("impulse_noise", "fog", "contrast")
    eval_severities: tuple[int, ...] = (1, 2, 3, 4, 5)
    corruption_images: int = 10_000  # images per corrupt() call
    corruption_severity: int = 3
    corrupt_jobs_images: int = 2_000  # test images of the --jobs benchmark (x every corruption x 5)
    pgd_batch: int = 256  # images attacked at once
    pgd_steps: int = 10  # PGD-10
    memory_images: int = 10_000  # test images of the eval-corruptions child process
    memory_baseline_images: int = 256  # --n-examples of the baseline child (same dataset, fewer images)
    gpu_train_images: int = 50_000  # CIFAR-sized synthetic train split for the CUDA epoch
    gpu_batch: int = 128

    @property
    def quick(self) -> bool:
        return self.label != "full"


FULL = Sizes()
QUICK = Sizes(
    label="quick",
    repeats=2,
    train_steps=3,
    warmup_steps=1,
    pipeline_dataset="synthetic:train=1280,test=1",
    eval_dataset="synthetic:train=1,test=256",
    corruption_images=1_000,
    corrupt_jobs_images=100,
    pgd_batch=64,
    memory_images=1_000,
    memory_baseline_images=100,
    gpu_train_images=10_000,
)
