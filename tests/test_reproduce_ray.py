"""`specreg reproduce --engine ray` on a real local Ray cluster (no mocks): a worker killed mid-training is
retried and its training resumes, and the table equals an undisturbed run of the local engine; a node that
can't see --out is refused; resource requests; the CLI's options.

Ray starts once for the module (seconds). The plan is the tiny preset cut to what the comparison needs:
one arm (natural, 8 epochs so that the kill lands between checkpoints), one corruption at one severity,
no attack, the CSV report only (the Markdown report renders the same numbers, plus plots). The undisturbed
local run goes on in a thread while the Ray run is disturbed: two trainings, one per core.
"""

import dataclasses
import json
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import ray
from typer.testing import CliRunner

from specreg_cli import reproduce as lib
from specreg_cli.cli import app
from specreg_cli.errors import SpecregError
from specreg_cli.reproduce import ray_engine

EPOCHS = 8  # the kill must land after epoch 1's checkpoint and before the last epoch ends
SMALL = dataclasses.replace(
    lib.PRESETS["tiny"],
    train={**lib.PRESETS["tiny"].train, "epochs": EPOCHS},
    arms=(lib.Arm("natural", "natural"),),
    corruptions="contrast",
    severities="1",
    attacks=(),
)
COMPARED = ("table.csv", "table.training.csv")  # Table 2 and the runs' recipes and final accuracies


def small_plan(out: Path) -> list[lib.Step]:
    return [s for s in lib.plan(SMALL, out, device="cpu") if s.name != "report md"]


@pytest.fixture(scope="module")
def cluster():
    """One local Ray instance for the module; the engine uses it as it finds it (and leaves it up)."""
    quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": "warning"}
    ray.init(address="local", num_cpus=2, **quiet)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def undisturbed(tmp_path_factory):
    """The small plan on the local engine, one thread per step (as the Ray tasks), in a background thread:
    a future of its output folder."""
    out = tmp_path_factory.mktemp("local") / "out"
    pool = ThreadPoolExecutor(max_workers=1)
    runner = lib.subprocess_runner(jobs=1, threads=1)
    future = pool.submit(lambda: (lib.run_plan(small_plan(out), out, runner=runner), out)[1])
    yield future
    pool.shutdown(wait=True)


def processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every process (Linux /proc)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            found[int(entry.name)] = (ppid, cmdline)
    return found


def kill_worker_mid_training(run: Path, report: dict, deadline_s: float = 240) -> None:
    """Poll for the training child of ``run`` and for its first checkpoint of an unfinished run, then
    SIGKILL the Ray worker that started it (the child's parent). ``report`` says what happened."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        children = [
            (pid, ppid)
            for pid, (ppid, cmdline) in processes().items()
            if "specreg_cli train" in cmdline and f"--out {run}" in cmdline
        ]
        try:
            state = json.loads((run / "config.json").read_text())
        except (OSError, ValueError):
            state = {}
        if children and state.get("status") == "running" and state.get("epochs_done", 0) >= 1:
            (child, worker), *_ = children
            report.update(child=child, worker=worker, worker_cmdline=processes()[worker][1], epochs=state)
            os.kill(worker, signal.SIGKILL)
            return
        time.sleep(0.02)
    report["timeout"] = True


def gone(pid: int, within_s: float = 30) -> bool:
    end = time.monotonic() + within_s
    while time.monotonic() < end:
        if pid not in processes():
            return True
        time.sleep(0.05)
    return False


def same_weights(run: Path, other: Path) -> bool:
    """The two runs' final weights are equal bit for bit (the checkpoint files are not: their metadata
    holds each epoch's seconds)."""
    import torch

    ours, theirs = (torch.load(r / "model.pt", weights_only=True)["state_dict"] for r in (run, other))
    return ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)


def test_FAULT_a_killed_ray_worker_is_retried_its_training_resumes_and_the_table_is_undisturbed(
    cluster, undisturbed, tmp_path
):
    """FAULT INJECTION on a real local Ray cluster: SIGKILL of the worker running `train` mid-training."""
    out = tmp_path / "ray"
    report: dict = {}
    killer = threading.Thread(target=kill_worker_mid_training, args=(out / "runs" / "natural", report))
    killer.start()
    timings = ray_engine.run_plan_ray(small_plan(out), out, lib.EngineSettings(device="cpu", threads=1))
    killer.join()
    assert "child" in report, f"no training child was caught between checkpoints: {report}"
    assert "ray" in report["worker_cmdline"], report  # the parent killed was a Ray worker
    assert gone(report["child"]), "the training child outlived its killed worker"
    by_step = {t.step: t.status for t in timings}
    assert by_step == {"train natural": "resumed", "eval-corruptions natural": "ran", "report csv": "ran"}
    assert "--resume" in (out / "timings.csv").read_text()  # the retry continued from the checkpoint
    local = undisturbed.result(timeout=300)
    for name in COMPARED:
        assert (out / name).read_text() == (local / name).read_text(), name
    assert same_weights(out / "runs" / "natural", local / "runs" / "natural")  # tiny accuracies say little
    assert not list(out.glob(".ray-*"))  # the shared-file-system marker is gone


def test_a_node_that_cannot_see_out_is_refused(cluster, tmp_path):
    # as on a node where --out is a local folder of the same path: the driver's marker isn't there
    blind = ray_engine.Marker(tmp_path / ".ray-elsewhere", "0123")
    with pytest.raises(SpecregError, match=f"--out {tmp_path} is not visible on the Ray node") as refused:
        ray_engine.check_nodes_see(ray, blind, tmp_path)
    assert "shared file system" in refused.value.hint
    seen = ray_engine.Marker(tmp_path / ".ray-here", "4567")
    seen.path.write_text(seen.token)
    ray_engine.check_nodes_see(ray, seen, tmp_path)  # every node sees it: no error
    step = small_plan(tmp_path / "out")[0]
    task = ray.remote(ray_engine._step_task)  # a step task on such a node runs nothing
    outcome = ray.get(task.remote(step, tmp_path, blind, None, 1, str(tmp_path)))
    assert outcome.timing is None and "is not visible on the Ray node" in outcome.error
    assert not (tmp_path / "out").exists()


def test_resource_requests_and_gpu_choice(tmp_path):
    steps = {s.kind: s for s in lib.plan(SMALL, tmp_path, device="cuda")}
    cpu, gpu = lib.EngineSettings(), lib.EngineSettings(threads=3)
    assert ray_engine.resources(steps["train"], cpu, gpu=False) == {"num_cpus": 1, "num_gpus": 0}
    assert ray_engine.resources(steps["train"], gpu, gpu=True) == {"num_cpus": 3, "num_gpus": 1}
    assert ray_engine.resources(steps["evaluate"], gpu, gpu=True)["num_gpus"] == 1
    assert ray_engine.resources(steps["report"], gpu, gpu=True)["num_gpus"] == 0
    assert ray_engine.wants_gpu("auto", 2) and not ray_engine.wants_gpu("auto", 0)
    assert not ray_engine.wants_gpu("cpu", 8)
    with pytest.raises(SpecregError, match="has no GPU"):
        ray_engine.wants_gpu("cuda", 0)
    assert ray_engine.local_cpus(lib.EngineSettings(jobs=2, threads=2)) == 4


def test_cli_engine_options(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(ray_engine, "run_plan_ray", lambda steps, out, s, on_end: calls.append(s) or [])
    args = ["reproduce", "--preset", "tiny", "--out", str(tmp_path), "--device", "cpu", "--threads", "2"]
    result = CliRunner().invoke(app, [*args, "--engine", "ray", "--ray-address", "10.0.0.7:6379"])
    assert result.exit_code == 0, result.output
    assert calls == [lib.EngineSettings(threads=2, device="cpu", address="10.0.0.7:6379")]
    assert "on the Ray cluster at 10.0.0.7:6379" in result.output
    local = CliRunner().invoke(app, [*args, "--ray-address", "auto"])
    assert "--ray-address is for --engine ray" in str(local.exception)
    unknown = CliRunner().invoke(app, [*args, "--engine", "spark"])
    assert "unknown engine 'spark'" in str(unknown.exception) and "local, ray" in unknown.exception.hint
    assert not any(tmp_path.iterdir())
    shown = CliRunner().invoke(app, ["reproduce", "--help"], terminal_width=200).output
    assert "--engine" in shown and "--ray-address" in shown
    assert "shared file system" in lib.ENGINES["ray"].help  # the --engine help, wrapped by Rich above
