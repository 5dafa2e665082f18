"""What the figures were measured on: CPU model, threads, torch version, device, load average."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch


def cpu_model() -> str:
    """The ``model name`` of /proc/cpuinfo (Linux), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def load_average() -> list[float] | None:
    """1, 5 and 15-minute load averages (None where the OS has none): how busy the machine was."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def busy_warning(machine: dict) -> str | None:
    """A warning when other processes already keep the CPUs busy (1-minute load average >= half the usable
    CPUs), else None. Measured here: with 2 torch threads on 2 loaded cores, OpenMP threads wait on each
    other and some kernels ran 10-100x slower than with 1 thread."""
    load, cpus = machine["load_average_start"], machine["usable_cpus"] or 1
    if load is None or load[0] < cpus / 2:
        return None
    return (
        f"the machine is busy (load average {load[0]:.1f} on {cpus} CPUs): figures will be noisy; "
        "measure on an idle machine, or with --threads 1"
    )


def machine_info(device: str) -> dict:
    """JSON-ready description of the machine and the torch setup the benchmark ran with."""
    cuda = device == "cuda" and torch.cuda.is_available()
    return {
        "cpu_model": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "device": "cuda" if cuda else "cpu",
        "device_name": torch.cuda.get_device_name() if cuda else cpu_model(),
        "load_average_start": load_average(),
    }
