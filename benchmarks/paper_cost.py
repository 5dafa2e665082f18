"""What ``specreg reproduce --preset paper`` costs, from measured per-step times and counted FLOPs.

No GPU was available where this was written, so it gives no GPU time. Per paper-preset arm:

- FLOPs per training epoch, counted by ``torch.utils.flop_counter.FlopCounterMode`` on one forward +
  backward of a batch (convolutions and matmuls; the masked layers' FFTs are not counted, the
  circulant/matmul form on maps of at most 8x8 is), x the 50,000 CIFAR-10 training images, x (k + 1) for
  PGD-k adversarial training (k attack forward+backward passes plus the training step), plus the
  per-epoch clean-train-subset and test evaluations (forward only, 1/3 of a forward+backward);
- the measured CPU seconds of a training step here (after a warm-up step), per image, and the CPU
  projection that follows from it (training only).

Example::

    OMP_NUM_THREADS=1 python -m benchmarks.paper_cost --batch 16 --steps 2
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from specreg_cli.checkpoint import build_model
from specreg_cli.methods import get_method
from specreg_cli.reproduce.presets import PRESETS
from specreg_cli.train import CLEAN_TRAIN_IMAGES, model_config
from specreg_cli.train_config import TrainConfig

CIFAR10_TRAIN, CIFAR10_TEST = 50_000, 10_000  # images the paper preset trains and tests on


def arm_configs() -> list[tuple[str, TrainConfig]]:
    """(arm, its TrainConfig) for every arm of the paper preset, options as the plan passes them."""
    preset = PRESETS["paper"]
    configs = []
    for arm in preset.arm_list():
        options = {**preset.train, **arm.train}
        fields = {k: v for k, v in options.items() if k in TrainConfig.__dataclass_fields__}
        configs.append((arm.name, TrainConfig(method=arm.method, **fields, init_from=arm.init_from)))
    return configs


def step_cost(config: TrainConfig, batch: int, steps: int) -> tuple[float, float]:
    """(FLOPs of one forward+backward per image, measured CPU seconds of a training step per image)."""
    torch.manual_seed(0)
    model = build_model(model_config(config)).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = torch.rand(batch, 3, 32, 32), torch.randint(0, 10, (batch,))

    def step():
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        optimizer.step()

    with FlopCounterMode(display=False) as counter:
        step()
    seconds = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        seconds.append(time.perf_counter() - start)
    return counter.get_total_flops() / batch, min(seconds) / batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16, help="images per measured step")
    parser.add_argument("--steps", type=int, default=2, help="timed steps after the counted one (min taken)")
    args = parser.parse_args()
    cache: dict[tuple, tuple[float, float]] = {}
    total_flops = total_cpu_s = 0.0
    print(f"threads {torch.get_num_threads()}, batch {args.batch}, min of {args.steps} timed steps")
    print(
        "arm | arch | method | epochs | train passes | GFLOP per image (fwd+bwd) | TFLOP per epoch | "
        "PFLOP total | CPU s per epoch"
    )
    for name, config in arm_configs():
        masked = get_method(config.method).masked
        key = (config.arch, masked)
        if key not in cache:
            cache[key] = step_cost(config, args.batch, args.steps)
        flops, cpu_s = cache[key]
        # a method that attacks its batches (its options include adv_steps) costs k attack passes more
        attacks = "adv_steps" in get_method(config.method).options.values()
        passes = config.adv_steps + 1 if attacks else 1
        evaluation = (CLEAN_TRAIN_IMAGES + CIFAR10_TEST) * flops / 3  # forward only
        epoch_flops = passes * CIFAR10_TRAIN * flops + evaluation
        epoch_cpu = passes * CIFAR10_TRAIN * cpu_s
        total_flops += config.epochs * epoch_flops
        total_cpu_s += config.epochs * epoch_cpu
        print(
            f"{name} | {config.arch} | {config.method} | {config.epochs} | {passes} | {flops / 1e9:.3f} | "
            f"{epoch_flops / 1e12:.1f} | {config.epochs * epoch_flops / 1e15:.2f} | {epoch_cpu:.0f}"
        )
    print(f"total: {total_flops / 1e15:.1f} PFLOP; CPU projection {total_cpu_s / 3600:.0f} h (training only)")


if __name__ == "__main__":
    main()
