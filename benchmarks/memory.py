"""Peak memory of ``specreg eval-corruptions`` (clean + 3 corruptions x 5 severities) in a child process.

The child's peak resident set size is ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` read in a small launcher
process whose only child is the command (see :func:`peak_rss_mib` for why not in this process).
The baseline is the same command on the same dataset with ``--n-examples`` small: a ratio near 1 means
memory does not grow with the number of images evaluated (corruption_eval streams batches).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from benchmarks.figure import Figure
from benchmarks.models import RESNET20, resnet20
from benchmarks.sizes import Sizes
from specreg_cli.checkpoint import make_meta, save_checkpoint

LOG_TAIL = 2000  # characters of the child's output shown when it fails
# argv: result file, command...; runs the command, writes its ru_maxrss, exits with its exit code
LAUNCHER = (
    "import resource, subprocess, sys; code = subprocess.call(sys.argv[2:]); "
    "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)); "
    "sys.exit(code)"
)


def measure(sizes: Sizes, repeats: int) -> list[Figure]:
    """Figure ``memory.eval_corruptions.peak_rss_mib``: one run (memory is not timing noise), whatever
    ``repeats`` says."""
    dataset = f"synthetic:train=1,test={sizes.memory_images}"
    with tempfile.TemporaryDirectory(prefix="specreg-bench-") as tmp:
        run_dir = Path(tmp) / "untrained-resnet20"
        meta = make_meta(RESNET20, "natural", {"name": "synthetic"}, 0, 0, {"dataset": dataset})
        save_checkpoint(run_dir / "model.pt", resnet20(), meta)
        command = [
            sys.executable,
            "-m",
            "specreg_cli",
            "eval-corruptions",
            str(run_dir),
            "--dataset",
            dataset,
            "--corruptions",
            ",".join(sizes.eval_corruptions),
            "--severities",
            "1-5",
            "--device",
            "cpu",
            "--out",
            str(Path(tmp) / "corruptions.json"),
        ]
        peak = peak_rss_mib(command)
        base = peak_rss_mib(command + ["--n-examples", str(sizes.memory_baseline_images)])
    quick = " (quick)" if sizes.quick else ""
    setup = (
        f"peak RSS of a child `specreg eval-corruptions` over {sizes.memory_images:,} synthetic test "
        f"images x {len(sizes.eval_corruptions)} corruptions x 5 severities, untrained ResNet-20, CPU, "
        f"one run; baseline: the same command with --n-examples {sizes.memory_baseline_images}"
    )
    return [
        Figure(
            "memory.eval_corruptions.peak_rss_mib",
            f"eval-corruptions peak RSS, {sizes.memory_images:,} images{quick}",
            "MiB",
            [peak],
            baseline=f"{sizes.memory_baseline_images} images: {base:,.0f} MiB",
            ratio_runs=[peak / base],
            setup=setup,
            extra={"baseline_mib": base, "command": command[1:]},
        )
    ]


def peak_rss_mib(command: list[str]) -> float:
    """Run ``command`` to completion; its peak resident set size in MiB. RuntimeError with the output's tail
    if it fails.

    Linux starts a child's peak RSS at the high-water mark of the process it was forked from, so a child
    of this (large) process would report at least this process's size. A small launcher process runs the
    command instead and reports ``getrusage(RUSAGE_CHILDREN).ru_maxrss``: its only child, the command.
    """
    env = {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())}  # the same threads as this process
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryFile() as log:
        result = Path(tmp) / "maxrss"
        code = subprocess.call(
            [sys.executable, "-c", LAUNCHER, str(result), *command],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        if code != 0:
            log.seek(0)
            tail = log.read().decode(errors="replace")[-LOG_TAIL:]
            raise RuntimeError(f"{' '.join(command[1:4])} exited with {code}:\n{tail}")
        maxrss = int(result.read_text())
    return maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)  # bytes on macOS, KiB on Linux
