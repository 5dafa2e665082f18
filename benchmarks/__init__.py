"""Measured speed and memory of every hot path of specreg, run by one command and printed as one table.

    python -m benchmarks            # full sizes, about 10 minutes on an idle 2-core CPU
    python -m benchmarks --quick    # reduced sizes, under 2 minutes (the smoke test's path)

Each group lives in its own module and returns :class:`~benchmarks.figure.Figure` objects: the median of
R repeats, the individual runs, and, where a baseline exists in the same run, the ratio to it (paired per
repeat, with the two sides alternated inside each repeat so that load drifts hit both equally):

- :mod:`benchmarks.train_step` - ResNet-20 training images/s, natural vs masked (auto, fft, dft backends);
- :mod:`benchmarks.pipeline` - share of an epoch spent in the BatchLoader;
- :mod:`benchmarks.eval_corruptions` - evaluation images/s and the corruption-generation share;
- :mod:`benchmarks.corruption_speed` - corruption images/s next to the spec's reference speed;
- :mod:`benchmarks.corrupt_jobs` - `specreg corrupt --jobs` (worker processes) against one process;
- :mod:`benchmarks.attack_speed` - PGD attacked images x steps per second; AutoAttack images/s vs PGD-10;
- :mod:`benchmarks.memory` - peak RSS of ``specreg eval-corruptions`` in a child process;
- :mod:`benchmarks.gpu_epoch` - CUDA epoch times and the projected ``reproduce --preset paper`` time.

Speed goals live here, never in the tests: ``tests/test_benchmarks.py`` only checks that every figure is
measured (finite and positive).
"""
