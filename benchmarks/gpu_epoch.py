"""CUDA training epochs (ResNet-20 natural and masked, data on the GPU, mixed precision, channels_last) and
the projected training time of the Table 2 part of ``specreg reproduce --preset paper``.

Projection: the preset's epochs x (natural + gauss + masked + adversarial) epoch times on a CIFAR-sized
(50,000-image) split, with gauss costing one natural epoch and PGD-k adversarial training (k+1) natural
epochs (k attack forward+backward passes plus the training step). Per-epoch test evaluation and the final
evaluations are not included, nor are the preset's ResNet-18 (Figure 2) and LeNet (Table 1) arms, which
no GPU here could time: ``benchmarks.paper_cost`` counts the FLOPs of every arm.
"""

from __future__ import annotations

import itertools

from benchmarks.figure import Figure, rotated
from benchmarks.sizes import Sizes
from benchmarks.training import train_parts
from specreg_cli.data import BatchLoader, load_dataset
from specreg_cli.train_config import TrainConfig

CIFAR10_TRAIN = 50_000  # images in the CIFAR-10 train split, which the paper preset trains on
VARIANTS = {"natural": None, "masked": "auto"}  # name -> spectral backend (auto: the default)


def paper_plan() -> tuple[int, int]:
    """(epochs, PGD steps of adversarial training) of the paper preset."""
    from specreg_cli.reproduce import PRESETS

    preset = PRESETS["paper"]
    adversarial = preset.method_train.get("adversarial", {})
    return int(preset.train["epochs"]), int(adversarial.get("adv_steps", TrainConfig.adv_steps))


def measure(sizes: Sizes, repeats: int, device: str = "cuda") -> list[Figure]:
    """Figures ``gpu.<variant>.epoch_s`` and ``gpu.paper_projection_h``. ``device`` is meant to be CUDA; the
    smoke test runs the same code on the CPU."""
    train = load_dataset(f"synthetic:train={sizes.gpu_train_images},test=1", "train")
    loader = BatchLoader(train.images, train.labels, sizes.gpu_batch, device, train=True, seed=0)
    parts = {
        name: train_parts(backend, sizes.gpu_batch, device, amp=True, channels_last=True)
        for name, backend in VARIANTS.items()
    }
    for p in parts.values():  # warm-up: cuDNN autotuning, cuFFT plans, the allocator
        p.epoch(list(itertools.islice(loader, max(sizes.warmup_steps, 1))))
    epoch_s: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for r in range(repeats):
        loader.set_epoch(r)
        for name in rotated(list(VARIANTS), r):
            epoch_s[name].append(parts[name].epoch(loader)["seconds"])  # ends with .item(): GPU work is done
    epochs, adv_steps = paper_plan()
    scale = CIFAR10_TRAIN / len(train)  # epoch time per CIFAR-10-sized epoch
    hours = [
        epochs * scale * ((2 + adv_steps + 1) * n + m) / 3600
        for n, m in zip(epoch_s["natural"], epoch_s["masked"], strict=False)
    ]
    setup = (
        f"ResNet-20 training epoch of {len(train):,} synthetic images on {device}, data on the device, "
        f"batch {sizes.gpu_batch}, amp, channels_last; projection: {epochs} epochs x (natural + gauss + "
        f"masked + adversarial PGD-{adv_steps} = {adv_steps + 1}x natural) on 50,000 images, "
        "training only"
    )
    ratios = [m / n for m, n in zip(epoch_s["masked"], epoch_s["natural"], strict=False)]
    return [
        Figure("gpu.natural.epoch_s", "GPU epoch, natural", "s", epoch_s["natural"], setup=setup),
        Figure(
            "gpu.masked.epoch_s",
            "GPU epoch, masked",
            "s",
            epoch_s["masked"],
            baseline="natural",
            ratio_runs=ratios,
            setup=setup,
        ),
        Figure(
            "gpu.paper_projection_h",
            "reproduce --preset paper, Table 2's 4 ResNet-20 arms (projected)",
            "h",
            hours,
            setup=setup,
            extra={"epochs": epochs, "adv_steps": adv_steps, "scaled_to_images": CIFAR10_TRAIN},
        ),
    ]
