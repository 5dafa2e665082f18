"""Smoke test of ``python -m benchmarks``: every figure is measured and written. It asserts no speed: speed
goals live in the benchmark's table, never in timed tests."""

import dataclasses
import io
import json
import math
import sys
from pathlib import Path

from rich.console import Console

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # benchmarks/ is not an installed package; plain `pytest` doesn't add the root
    sys.path.insert(0, str(ROOT))

import corruptions  # noqa: E402
from benchmarks import gpu_epoch  # noqa: E402 (after the sys.path insert)
from benchmarks.__main__ import run_benchmarks  # noqa: E402
from benchmarks.corruption_speed import REFERENCE_MS  # noqa: E402
from benchmarks.sizes import QUICK  # noqa: E402

# every figure the spec asks for on the CPU (issue 7, item 1)
CPU_FIGURES = {
    "train.natural.images_per_s",
    "train.masked_auto.images_per_s",
    "train.masked_fft.images_per_s",
    "train.masked_dft.images_per_s",
    "pipeline.share",
    "eval.images_per_s",
    "eval.generate_share",
    "attack.pgd.image_steps_per_s",
    "attack.autoattack.images_per_s",
    "memory.eval_corruptions.peak_rss_mib",
    "corruption.all.images_per_s",
    "corrupt.jobs.images_per_s",
} | {f"corruption.{name}.images_per_s" for name in corruptions.CORRUPTIONS}  # frost: conftest's fake photos
# the corruptions whose reference time the spec gives, and the all-corruptions figure (vs ~20 ms/image)
REFERENCE_TIMED = {f"corruption.{name}.images_per_s" for name in REFERENCE_MS} | {
    "corruption.all.images_per_s"
}
WITH_BASELINE = REFERENCE_TIMED | {
    "corrupt.jobs.images_per_s",
    "train.masked_auto.images_per_s",
    "train.masked_fft.images_per_s",
    "train.masked_dft.images_per_s",
    "attack.pgd.image_steps_per_s",
    "attack.autoattack.images_per_s",
    "memory.eval_corruptions.peak_rss_mib",
}
WITH_GOAL = REFERENCE_TIMED | {
    "corrupt.jobs.images_per_s",
    "train.masked_auto.images_per_s",
    "train.masked_fft.images_per_s",
    "train.masked_dft.images_per_s",
    "pipeline.share",
    "eval.generate_share",
}
# the quick sizes, cut further so the whole suite (two child processes included) runs in seconds
TINY = dataclasses.replace(
    QUICK,
    label="smoke",
    train_batch=8,
    train_steps=1,
    warmup_steps=1,
    pipeline_dataset="synthetic:train=24,test=1",
    eval_dataset="synthetic:train=1,test=8",
    eval_batch=4,
    eval_severities=(1, 5),
    corruption_images=8,
    corrupt_jobs_images=4,
    pgd_batch=4,
    pgd_steps=2,
    memory_images=8,
    memory_baseline_images=2,
    gpu_train_images=16,
    gpu_batch=8,
)


def positive(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


def test_every_benchmark_figure_is_measured_and_written(tmp_path):
    out = tmp_path / "results.json"
    text = io.StringIO()
    run_benchmarks(
        device="cpu",
        threads=1,
        repeats=2,
        out=out,
        sizes=TINY,
        console=Console(file=text, width=200),
        show_progress=False,
    )

    document = json.loads(out.read_text())
    figures = document["figures"]
    assert set(figures) == CPU_FIGURES
    for key, figure in figures.items():
        assert positive(figure["value"]), key
        assert len(figure["runs"]) == (1 if key.startswith("memory.") else 2), key
        assert all(positive(run) for run in figure["runs"]), key
        assert (figure["baseline"] is not None) == (key in WITH_BASELINE), key
        assert positive(figure["ratio"]) if key in WITH_BASELINE else figure["ratio"] is None, key
        assert figure["verdict"] in ({"met", "missed"} if key in WITH_GOAL else {None}), key
        assert figure["name"] in text.getvalue(), key  # one table row per figure
    assert "headline:" in text.getvalue()
    assert 0 < figures["pipeline.share"]["value"] < 100
    assert 0 < figures["eval.generate_share"]["value"] < 100
    machine = document["machine"]
    assert machine["cpu_model"] and machine["torch_version"] and machine["device_name"]
    assert machine["torch_threads"] == 1 and document["settings"]["threads"] == 1
    assert "GPU epoch" in document["skipped"]  # --device cpu: the CUDA group is skipped, not failed

    # the CUDA group's code, run on the CPU (CI has no GPU): its figures are measured too
    gpu = {f.key: f for f in gpu_epoch.measure(TINY, repeats=1, device="cpu")}
    assert set(gpu) == {"gpu.natural.epoch_s", "gpu.masked.epoch_s", "gpu.paper_projection_h"}
    assert all(positive(f.value) for f in gpu.values())
    assert positive(gpu["gpu.masked.epoch_s"].ratio)
