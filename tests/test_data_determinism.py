"""Generated data is the same bytes on every CPU kernel path and thread count (design.md, Evidence).

The synthetic dataset, the corruptions, the training batches (order, crop, flip) and the attack's
noise draws are hashed in subprocesses under each of ATen's CPU kernel paths this CPU can run
(``ATEN_CPU_CAPABILITY`` default / avx2 / avx512), with numpy's dispatchable SIMD targets, glibc's
FMA/AVX2 libm variants and libjpeg-turbo's SIMD code switched off, and with 1 and 2 threads; every
hash must equal the one computed in this process. The default synthetic splits are pinned, so a
change of bytes is noticed (and must be a deliberate change of these constants). Most of the time
goes on importing torch in the subprocesses (they run at once).

Run as a script (``python tests/test_data_determinism.py THREADS``) it prints the probe's hashes as
JSON: that is what the subprocesses run.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
if __name__ == "__main__":
    sys.path.insert(0, str(REPO))  # run as a script from the subprocesses

from specreg_cli.data import synthetic  # noqa: E402
from specreg_cli.data.datasets import content_hash, load_dataset  # noqa: E402

# load_dataset("synthetic", split).identity["sha256"]: 5,000 train / 2,000 test images, seed 0
PINNED_DEFAULT_SPLITS = {"train": "1288de2362b04d19", "test": "ef04479a723f9ff8"}

PROBE_SIZES = {"train": 300, "test": 200}  # small draws for the subprocess matrix (both splits, seed 0)
PROBE_BATCH = 24  # images corrupted per (corruption, severity): 19 corruptions x 5 severities in each probe
# glibc (2.33+ spells the features AVX2 / FMA, older versions AVX2_Usable / FMA_Usable; unknown names
# are ignored): without them its libm (exp, log, sin, cos...) takes the non-FMA code, whose last bits differ
GLIBC_NO_FMA = "glibc.cpu.hwcaps=-AVX2_Usable,-FMA_Usable,-AVX2,-FMA"
AVX512_FLAGS = {"avx512f", "avx512bw", "avx512vl", "avx512dq"}  # what ATen's avx512 kernels need


def probe(threads: int) -> dict:
    """Hashes of small synthetic draws, every corruption x severity and the other seeded data, plus what
    ran them (ATen capability, threads, numpy SIMD targets)."""
    import torch

    import corruptions

    torch.set_num_threads(threads)
    out = {"capability": torch.backends.cpu.get_cpu_capability(), "threads": torch.get_num_threads()}
    out["numpy simd"] = _numpy_dispatch_targets()
    for split, n in PROBE_SIZES.items():
        out[f"synthetic {split}"] = content_hash(*synthetic.make_synthetic(n, seed=0, split=split))
    images, labels = synthetic.make_synthetic(PROBE_BATCH, seed=1, split="test")
    _ensure_frost_photos()
    for name in corruptions.CORRUPTIONS:
        for severity in corruptions.SEVERITIES:
            corrupted = corruptions.corrupt(images, name, severity, seed=3, start_index=10)
            out[f"{name} {severity}"] = content_hash(corrupted, labels)
    out.update(_other_generators(images, labels))
    return out


def _ensure_frost_photos() -> None:
    """frost reads photographs from $SPECREG_FROST_DIR (conftest sets it to fakes; the subprocesses inherit
    it); run as a plain script, write the same fakes to a temporary folder."""
    import tempfile

    from corruptions.frost_photos import ENV_VAR
    from tests.frost_fakes import write_fake_frost_photos

    if not os.environ.get(ENV_VAR):
        os.environ[ENV_VAR] = str(write_fake_frost_photos(Path(tempfile.mkdtemp(prefix="specreg-frost-"))))


def _other_generators(images: np.ndarray, labels: np.ndarray) -> dict[str, str]:
    """Hashes of the other seeded data: training batches (order, crop, flip) and the attack's noise draws."""
    import torch

    from specreg_cli.attack import noise_draw
    from specreg_cli.data.loader import BatchLoader

    loader = BatchLoader(images, labels, batch_size=16, train=True, seed=4)
    loader.set_epoch(2)
    batches = [(x.numpy(), y.numpy()) for x, y in loader]
    out = {"loader batches": _digest(*(array for batch in batches for array in batch))}
    for norm in ("Linf", "L2"):
        draw = noise_draw(torch.Size((PROBE_BATCH, 3, 32, 32)), norm, torch.Generator().manual_seed(5))
        out[f"attack noise {norm}"] = _digest(draw.numpy())
    return out


def _digest(*arrays: np.ndarray) -> str:
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array).data)
    return digest.hexdigest()[:16]


def _numpy_dispatch_targets() -> list[str]:
    """numpy's dispatchable SIMD targets that this CPU has and that are switched on."""
    try:
        from numpy._core import _multiarray_umath as umath  # numpy 2
    except ImportError:  # numpy 1
        from numpy.core import _multiarray_umath as umath
    return [name for name in umath.__cpu_dispatch__ if umath.__cpu_features__.get(name)]


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    return {flag for line in text.splitlines() if line.startswith("flags") for flag in line.split()[2:]}


def _variants(native: str) -> dict[str, tuple[dict[str, str], int]]:
    """label -> (environment overrides, threads), for the kernel paths other than this process's."""
    flags = _cpu_flags()
    capabilities = ["default"]
    if "avx2" in flags and "fma" in flags:
        capabilities.append("avx2")
    if AVX512_FLAGS.issubset(flags):  # never ask for avx512 where the CPU lacks it: ATen would obey and crash
        capabilities.append("avx512")
    variants = {
        f"aten {cap}, 2 threads": ({"ATEN_CPU_CAPABILITY": cap, "OMP_NUM_THREADS": "2"}, 2)
        for cap in capabilities
        if cap.upper() != native
    }
    simd_off = {
        "NPY_DISABLE_CPU_FEATURES": " ".join(_numpy_dispatch_targets()),
        "GLIBC_TUNABLES": GLIBC_NO_FMA,
        "JSIMD_FORCENONE": "1",  # libjpeg-turbo (Pillow's JPEG codec) without its SIMD code
        "OMP_NUM_THREADS": "2",
    }
    variants["numpy baseline SIMD, glibc libm without FMA, 2 threads"] = (simd_off, 2)
    return variants


@pytest.fixture(scope="module")
def hashes() -> dict[str, dict]:
    """The probe in this process (1 thread, this CPU's native paths) and in every variant's subprocess."""
    import torch

    native = torch.backends.cpu.get_cpu_capability()
    variants = _variants(native)
    env = {
        k: v for k, v in os.environ.items() if k not in ("ATEN_CPU_CAPABILITY", "NPY_DISABLE_CPU_FEATURES")
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    procs = {  # all at once: each spends most of its time importing torch
        label: subprocess.Popen(
            [sys.executable, __file__, str(threads)],
            env={**env, **overrides},
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for label, (overrides, threads) in variants.items()
    }
    results = {f"this process ({native}, 1 thread)": probe(1)}
    torch.set_num_threads(1)  # conftest's setting, whatever the probe did
    for label, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=600)  # a loaded 2-core machine runs 3 or 4 probes at once
        assert proc.returncode == 0, f"{label}: exit {proc.returncode}\n{stderr}"
        results[label] = json.loads(stdout.strip().splitlines()[-1])
    return results


def _differences(hashes: dict[str, dict], prefix: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """key -> {variant: hash} for every probed key starting with ``prefix`` whose hashes disagree."""
    keys = [key for key in next(iter(hashes.values())) if key.startswith(prefix)]
    assert keys, prefix
    table = {key: {label: result[key] for label, result in hashes.items()} for key in keys}
    return {key: by_variant for key, by_variant in table.items() if len(set(by_variant.values())) > 1}


def test_variants_really_ran_the_kernel_paths_they_name(hashes):
    for label, result in hashes.items():
        if label.startswith("aten "):
            assert result["capability"] == label.split()[1].rstrip(",").upper(), label
        if label.startswith("numpy baseline"):
            assert result["numpy simd"] == [], label  # every dispatchable target switched off
        expected_threads = 1 if label.startswith("this process") else 2
        assert result["threads"] == expected_threads, label
    assert any(result["capability"] == "DEFAULT" for result in hashes.values())


def test_synthetic_same_bytes_on_every_kernel_path_and_thread_count(hashes):
    assert _differences(hashes, ("synthetic",)) == {}


def test_corruptions_same_bytes_on_every_kernel_path_and_thread_count(hashes):
    import corruptions

    assert _differences(hashes, tuple(f"{name} " for name in corruptions.CORRUPTIONS)) == {}


def test_training_batches_same_bytes_on_every_kernel_path_and_thread_count(hashes):
    """Epoch order (randperm), crop offsets (randint) and flips (rand): integer and uniform draws."""
    assert _differences(hashes, ("loader batches",)) == {}


def test_attack_uniform_noise_same_bytes_on_every_kernel_path_and_thread_count(hashes):
    assert _differences(hashes, ("attack noise Linf",)) == {}  # torch.rand: integer bits, scaled


def test_attack_gaussian_noise_same_bytes_on_every_kernel_path(hashes):
    if len({result["capability"] for result in hashes.values()}) < 2:
        pytest.skip("one ATen kernel path on this CPU: nothing to compare")
    assert _differences(hashes, ("attack noise L2",)) == {}


@pytest.mark.parametrize("split", sorted(PINNED_DEFAULT_SPLITS))
def test_default_splits_are_pinned(split):
    """A change here changes every result's dataset identity: update the constant only on purpose."""
    assert load_dataset("synthetic", split).identity["sha256"] == PINNED_DEFAULT_SPLITS[split]


def test_bytes_do_not_depend_on_the_rendering_chunk(monkeypatch):
    expected = content_hash(*synthetic.make_synthetic(300, seed=2, split="train"))
    for chunk in (1, 7, 1000):
        monkeypatch.setattr(synthetic, "CHUNK", chunk)
        assert content_hash(*synthetic.make_synthetic(300, seed=2, split="train")) == expected, chunk


def test_image_parameters_do_not_depend_on_n():
    """Image i's parameters are row i of the block of uniforms, whatever n (only the label order moves)."""
    seq = np.random.SeedSequence([0, 0]).spawn(3)[1]
    small = synthetic._draw_parameters(10, np.random.Generator(np.random.PCG64(seq)))
    large = synthetic._draw_parameters(1000, np.random.Generator(np.random.PCG64(seq)))
    assert all(np.array_equal(small[name], large[name][:10]) for name in synthetic.PARAMETERS)


def test_cos_turns_matches_numpy_cos():
    t = np.random.default_rng(0).random(100_000) * 40 - 20  # turns, the range the textures use
    reduced = t - np.round(t)  # |reduced| <= 1/2 turn: np.cos of it is accurate to an ulp or so
    assert np.abs(synthetic.cos_turns(t) - np.cos(2 * np.pi * reduced)).max() < 2e-15
    exact = np.array([0.0, 0.25, 0.5, 0.75, 1.0, -0.5, 3.0])
    assert np.abs(synthetic.cos_turns(exact) - [1, 0, -1, 0, 1, -1, 1]).max() < 1e-15


if __name__ == "__main__":
    print(json.dumps(probe(int(sys.argv[1]))))
