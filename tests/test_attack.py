"""``specreg attack``: the torchattacks adapter, gradient-masking checks, saved examples, transfer, the CLI.

A LeNet trained for 64 steps on a small synthetic set (~70% test accuracy) is the honest model; two
toy models that memorise the test images prove the checks fire: one hides its gradient (PGD without
random start cannot move, random noise destroys it), one answers differently on every other call.
"""

from __future__ import annotations

import json
import math
import shutil
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from typer.testing import CliRunner

from corruptions.normal import QUANTILE_DOMAIN, normal_quantile
from specreg_cli.attack import (
    MASKING_CHECK_NAMES,
    AttackSpec,
    attack_records,
    make_attack,
    masking_checks,
    noise_draw,
    noise_in_ball,
    robust_accuracy,
    run_masking_checks,
    sanity_checks,
    sweep_specs,
    uniform_noise,
)
from specreg_cli.attacks import ATTACK_NAMES, ATTACKS, BuildArgs
from specreg_cli.checkpoint import CHECKPOINT_NAME, build_model, make_meta, save_checkpoint
from specreg_cli.cli import app
from specreg_cli.data import BatchLoader, images_to_tensor, load_dataset, to_float
from specreg_cli.errors import SpecregError
from specreg_cli.results import decode_correct, read_results

SPEC = "synthetic:train=512,test=128"
LENET = {"arch": "lenet", "num_classes": 10, "spectral": None}
EPS8 = 8 / 255


@pytest.fixture(scope="module")
def test_set():
    return load_dataset(SPEC, "test")


@pytest.fixture(scope="module")
def trained():
    """LeNet after 64 Adam steps (batch 64) on 512 synthetic images: ~70% clean test accuracy."""
    torch.manual_seed(0)  # the init; fixture-only, the code under test never touches the global RNG
    train = load_dataset(SPEC, "train")
    model = build_model(LENET)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    loader = BatchLoader(train.images, train.labels, 64, "cpu", train=False)
    for _ in range(8):
        for x, y in loader:
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.eval(), train.identity


@pytest.fixture(scope="module")
def runs(trained, tmp_path_factory):
    """Two run directories: the trained LeNet ("natural") and an untrained one ("scratch")."""
    root = tmp_path_factory.mktemp("runs")
    model, identity = trained
    save_checkpoint(
        root / "natural" / CHECKPOINT_NAME,
        model,
        make_meta(LENET, "natural", identity, 8, 8, {"dataset": SPEC}),
    )
    torch.manual_seed(1)
    save_checkpoint(
        root / "scratch" / CHECKPOINT_NAME,
        build_model(LENET),
        make_meta(LENET, "natural", identity, 0, 8, {"dataset": SPEC}),
    )
    return root


class Memoriser(nn.Module):
    """Right on the exact test images in eval mode, wrong (label + 1) anywhere else; gradient zero everywhere.

    ``flaky=True`` also answers wrong on every second call: a model that is not deterministic at test time.
    """

    def __init__(self, images_u8: np.ndarray, labels: np.ndarray, flaky: bool = False):
        super().__init__()
        self.register_buffer(
            "images", torch.from_numpy(images_u8).permute(0, 3, 1, 2).float().div(255).flatten(1)
        )
        self.register_buffer("labels", torch.as_tensor(labels))
        self.anchor = nn.Parameter(torch.zeros(()))  # torchattacks finds the device through a parameter
        self.flaky, self.calls = flaky, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        distance, index = torch.cdist(
            x.detach().flatten(1), self.images, compute_mode="donot_use_mm_for_euclid_dist"
        ).min(1)  # (B,), (B,) exact
        exact = (distance < 1e-4) & (not self.training) & (not self.flaky or self.calls % 2 == 1)
        answer = torch.where(exact, self.labels[index], (self.labels[index] + 1) % 10)
        return F.one_hot(answer, 10).float() * 10 + 0 * x.sum() + self.anchor  # (B, 10); d/dx = 0


def _by_check(checks):
    return {(c.name, c.eps): c.passed for c in checks}


# --- specs and the pure checks -------------------------------------------------------------------


def test_sweep_specs_defaults_and_validation():
    specs = sweep_specs("pgd", [EPS8, 0.0, 2 / 255, EPS8])
    assert [s.eps for s in specs] == [0.0, 2 / 255, EPS8]  # sorted, deduplicated
    assert specs[-1].alpha == pytest.approx(2 / 255) and specs[-1].steps == 10 and specs[-1].random_start
    assert sweep_specs("pgd", [EPS8], alpha=1 / 255)[0].alpha == 1 / 255
    fgsm = sweep_specs("fgsm", [EPS8])[0]
    assert (fgsm.alpha, fgsm.steps, fgsm.random_start, fgsm.norm) == (EPS8, 1, False, "Linf")
    assert sweep_specs("pgdl2", [0.5])[0].params()["norm"] == "L2"
    for bad in (
        lambda: sweep_specs("cw", [EPS8]),
        lambda: sweep_specs("pgd", [2.0]),
        lambda: sweep_specs("pgd", [EPS8], alpha=0.0),
    ):
        with pytest.raises(SpecregError):
            bad()


@pytest.mark.parametrize(
    "robust, noise, failing",
    [
        ({0.0: 0.80, 0.01: 0.40, 0.03: 0.10}, {0.01: 0.79, 0.03: 0.75}, set()),  # a healthy sweep
        (
            {0.0: 0.80, 0.01: 0.40, 0.03: 0.41},
            {0.01: 0.79, 0.03: 0.75},
            set(),
        ),  # a rise of one example: noise
        ({0.0: 0.79, 0.01: 0.40}, {0.01: 0.79}, {("eps0_clean", 0.0)}),  # eps 0 differs from clean
        ({0.0: 0.80, 0.01: 0.40, 0.03: 0.60}, {0.01: 0.79, 0.03: 0.75}, {("monotone", 0.03)}),
        ({0.0: 0.80, 0.01: 0.85}, {0.01: 0.90}, {("monotone", 0.01)}),  # above clean
        ({0.0: 0.80, 0.01: 0.70}, {0.01: 0.50}, {("beats_noise", 0.01)}),  # weaker than noise
    ],
)
def test_sanity_checks(robust, noise, failing):
    checks = sanity_checks(0.80, robust, noise, n=100)
    assert {(c.name, c.eps) for c in checks if not c.passed} == failing
    assert {c.name for c in checks} == {"eps0_clean", "monotone", "beats_noise"}
    assert all(c.message for c in checks)


@pytest.mark.parametrize("norm", ["Linf", "L2"])
def test_one_noise_draw_per_batch_gives_the_numbers_of_a_fresh_draw_per_eps(norm):
    x = torch.rand(4, 3, 8, 8, generator=torch.Generator().manual_seed(0))  # (B, C, H, W)
    draw = noise_draw(x.shape, norm, torch.Generator().manual_seed(7))
    kept = draw.clone()
    for eps in (0.5 / 255, EPS8, 0.5):
        rng = torch.Generator().manual_seed(7)  # a fresh draw per eps, written out independently
        if norm == "Linf":
            delta = torch.rand(x.shape, generator=rng) * (2 * eps) - eps
            assert delta.abs().max() <= eps
        else:
            uniform = torch.rand(x.shape, generator=rng, dtype=torch.float64)  # integer bits, scaled
            delta = normal_quantile(uniform.clamp(QUANTILE_DOMAIN, 1 - QUANTILE_DOMAIN)).float()
            delta *= eps / delta.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
            assert torch.allclose(delta.flatten(1).norm(dim=1), torch.full((4,), eps))
        expected = (x + delta).clamp(0, 1)
        assert torch.equal(noise_in_ball(x, draw, eps, norm), expected)  # bit for bit
        assert torch.equal(uniform_noise(x, eps, norm, torch.Generator().manual_seed(7)), expected)
    assert torch.equal(draw, kept)  # scaling never changes the shared draw


def test_the_l2_noise_draw_is_standard_normal():
    # the platform-stable draw (uniform bits through the inverse normal CDF) must still be N(0, 1):
    # 196,608 values, so the mean's standard error is 0.0023 and the std's 0.0016; bounds at 5 of them
    draw = noise_draw(torch.Size((64, 3, 32, 32)), "L2", torch.Generator().manual_seed(3)).double()
    assert abs(draw.mean().item()) < 0.0113 and abs(draw.std().item() - 1) < 0.008
    # the tails: P(|z| > 2) = 4.55%, P(|z| > 3) = 0.270% (standard errors 0.047 and 0.012 points)
    assert abs((draw.abs() > 2).double().mean().item() - 0.0455) < 0.0024
    assert abs((draw.abs() > 3).double().mean().item() - 0.0027) < 0.0006


# --- the adapter on real models ------------------------------------------------------------------


def test_pgd_breaks_a_natural_model_and_the_checks_pass(trained, test_set):
    model, _ = trained
    result = robust_accuracy(
        model,
        test_set.images,
        test_set.labels,
        sweep_specs("pgd", [0, 2 / 255, EPS8], steps=5),
        batch_size=64,
        seed=0,
    )
    assert result.clean > 0.4  # the fixture really learned something
    assert result.robust[0.0] == result.clean
    assert result.robust[EPS8] < result.clean / 2
    assert result.robust[EPS8] < result.noise[EPS8]
    assert all(c.passed for c in result.checks()), result.checks()
    assert not model.training


def test_eps_zero_never_reaches_torchattacks(trained, test_set, monkeypatch):
    import torchattacks

    def refuse(*args, **kwargs):
        raise AssertionError("eps 0 was sent to torchattacks")

    monkeypatch.setattr(torchattacks, "PGDL2", refuse)
    result = robust_accuracy(
        trained[0], test_set.images, test_set.labels, sweep_specs("pgdl2", [0.0]), batch_size=50
    )
    assert result.robust == {0.0: result.clean} and result.noise == {}


def test_seeded_reproducible_and_caller_rng_untouched(trained, test_set):
    model, _ = trained
    specs = sweep_specs("pgd", [4 / 255], steps=2)
    torch.manual_seed(123)
    before = torch.get_rng_state()
    first = robust_accuracy(
        model, test_set.images[:64], test_set.labels[:64], specs, 32, seed=7, keep="float32"
    )
    assert torch.equal(torch.get_rng_state(), before)
    second = robust_accuracy(
        model, test_set.images[:64], test_set.labels[:64], specs, 32, seed=7, keep="float32"
    )
    assert torch.equal(first.adversarial[4 / 255], second.adversarial[4 / 255])
    assert first.adversarial[4 / 255].dtype == torch.float32
    other = robust_accuracy(
        model, test_set.images[:64], test_set.labels[:64], specs, 32, seed=8, keep="float32"
    )
    assert not torch.equal(first.adversarial[4 / 255], other.adversarial[4 / 255])  # the seed is really used


def test_gradient_masking_is_caught(test_set):
    masked = Memoriser(test_set.images, test_set.labels).train()  # evaluation must switch to eval mode
    specs = sweep_specs("pgd", [0, EPS8], steps=3, random_start=False)
    result = robust_accuracy(masked, test_set.images, test_set.labels, specs, batch_size=64)
    assert masked.training  # and restore the caller's mode
    assert (result.clean, result.robust[EPS8], result.noise[EPS8]) == (1.0, 1.0, 0.0)
    assert _by_check(result.checks()) == {
        ("eps0_clean", 0.0): True,
        ("monotone", None): True,
        ("beats_noise", EPS8): False,
    }


def test_nondeterministic_model_is_caught(test_set):
    flaky = Memoriser(test_set.images, test_set.labels, flaky=True)
    result = robust_accuracy(
        flaky, test_set.images, test_set.labels, sweep_specs("pgd", [EPS8]), batch_size=128
    )
    assert result.clean == 1.0 and result.robust[0.0] == 0.0  # eps 0 is checked even when not asked for
    assert _by_check(result.checks())[("eps0_clean", 0.0)] is False


def test_records_carry_params_and_checks(trained, test_set):
    specs = sweep_specs("pgd", [0.0, EPS8], steps=1)
    result = robust_accuracy(trained[0], test_set.images[:32], test_set.labels[:32], specs, 32)
    records = attack_records(result, "natural", "natural", "lenet", "synthetic")
    by = {(r.condition, r.metric, r.params.get("eps")): r for r in records}
    assert by[("clean", "accuracy", None)].value == result.clean
    pgd = by[("pgd", "accuracy", EPS8)]
    bits = pgd.params.pop("correct")  # per-image right / wrong, in the images' order
    assert pgd.params == {"eps": EPS8, "alpha": 2.5 * EPS8, "steps": 1, "random_start": True, "norm": "Linf"}
    assert (decode_correct(bits, 32) == result.correct[EPS8]).all() and result.correct[
        EPS8
    ].mean() == pgd.value
    clean_bits = decode_correct(by[("clean", "accuracy", None)].params["correct"], 32)
    assert clean_bits.mean() == result.clean and (clean_bits >= result.correct[0.0]).all()
    assert by[("noise", "accuracy", EPS8)].value == result.noise[EPS8]
    assert {r.metric for r in records if r.metric.startswith("sanity_")} == {
        "sanity_eps0_clean",
        "sanity_monotone",
        "sanity_beats_noise",
    }
    assert all(r.n == 32 and r.severity is None for r in records)


# --- the CLI -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_run(runs, tmp_path_factory):
    """One end-to-end attack with --out and --save-adv, shared by the CLI tests below."""
    out = tmp_path_factory.mktemp("out")
    result = CliRunner().invoke(
        app,
        [
            "attack",
            str(runs / "natural"),
            "--eps",
            "0",
            "--eps",
            "2/255,8/255",
            "--steps",
            "3",
            "--n-examples",
            "96",
            "--batch-size",
            "48",
            "--device",
            "cpu",
            "--out",
            str(out / "pgd.json"),
            "--save-adv",
            str(out / "adv.npy"),
        ],
    )
    return result, out


def test_cli_end_to_end(cli_run, test_set):
    result, out = cli_run
    assert result.exit_code == 0, result.output
    assert "8/255" in result.output and "ok" in result.output and "Traceback" not in result.output
    frame = read_results(out / "pgd.json")
    accuracy = frame[frame.metric == "accuracy"]
    assert set(accuracy.condition) == {"clean", "pgd", "noise"}
    assert (accuracy.n == 96).all() and accuracy.value.between(0, 1).all()
    clean = accuracy[accuracy.condition == "clean"].value.item()
    pgd = accuracy[accuracy.condition == "pgd"].set_index("param_eps").value
    assert pgd[0.0] == clean and pgd[EPS8] < clean / 2
    assert (frame[frame.metric.str.startswith("sanity_")].value == 1.0).all()
    assert frame.checkpoint_sha256.notna().all()
    # one uint8 file per eps, inside the ball of the clean test images
    adv = np.load(out / "adv-eps8-255.npy")
    assert adv.dtype == np.uint8 and adv.shape == (96, 32, 32, 3)
    gap = np.abs(adv.astype(int) - test_set.images[:96].astype(int))
    assert gap.max() == 8
    assert np.array_equal(np.load(out / "adv-eps8-255_labels.npy"), test_set.labels[:96])
    meta = json.loads((out / "adv-eps8-255_meta.json").read_text())
    assert meta["source_run"] == "natural" and meta["eps"] == EPS8 and meta["steps"] == 3
    assert abs(meta["source_accuracy_stored"] - pgd[EPS8]) <= 0.05  # rounding barely changes the fooling rate


def test_cli_transfer(cli_run, runs):
    _, out = cli_run
    result = CliRunner().invoke(
        app,
        [
            "attack",
            str(runs / "natural"),
            str(runs / "scratch"),
            "--adv-from",
            str(out / "adv-eps8-255.npy"),
            "--device",
            "cpu",
            "--out",
            str(out / "transfer.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    frame = read_results(out / "transfer.json")
    transfer = frame[frame.condition == "transfer"].set_index("run")
    assert set(transfer.index) == {"natural", "scratch"}
    assert (transfer.param_source_run == "natural").all() and (transfer.param_source_attack == "pgd").all()
    meta = json.loads((out / "adv-eps8-255_meta.json").read_text())
    assert transfer.value["natural"] == meta["source_accuracy_stored"]  # same model, same stored pixels
    clean = frame[frame.condition == "clean"].set_index("run").value  # the clean images were found again
    original = read_results(out / "pgd.json")
    assert clean["natural"] == original[original.condition == "clean"].value.item()


def test_cli_float_pt_round_trip_gives_the_same_accuracy(runs, tmp_path):
    common = ["--device", "cpu", "--n-examples", "40", "--batch-size", "20"]
    saved = CliRunner().invoke(
        app,
        [
            "attack",
            str(runs / "natural"),
            "--eps",
            "4/255",
            "--steps",
            "2",
            "--save-adv",
            str(tmp_path / "adv.pt"),
            "--out",
            str(tmp_path / "a.json"),
            *common,
        ],
    )
    assert saved.exit_code == 0, saved.output
    again = CliRunner().invoke(
        app,
        [
            "attack",
            str(runs / "natural"),
            "--adv-from",
            str(tmp_path / "adv.pt"),
            "--out",
            str(tmp_path / "t.json"),
            *common,
        ],
    )
    assert again.exit_code == 0, again.output
    attacked = read_results(tmp_path / "a.json")
    transfer = read_results(tmp_path / "t.json")
    pgd = attacked[(attacked.condition == "pgd") & (attacked.metric == "accuracy")].value.item()
    assert transfer[transfer.condition == "transfer"].value.item() == pgd  # float32 examples kept exactly
    assert (transfer.param_storage.dropna() == "float32").all()


@pytest.mark.parametrize(
    "extra, named",
    [
        (["--eps", "4/255"], ["--eps"]),
        (["--steps", "10"], ["--steps"]),  # the default value, but given: the user expects it to matter
        (["--no-random-start"], ["--no-random-start"]),
        (["--attack", "fgsm", "--alpha", "1/255"], ["--attack", "--alpha"]),
    ],
)
def test_cli_attack_options_with_adv_from_are_refused(cli_run, runs, tmp_path, extra, named):
    _, out = cli_run
    args = ["attack", str(runs / "natural"), "--adv-from", str(out / "adv-eps8-255.npy"), "--device", "cpu"]
    result = CliRunner().invoke(app, [*args, *extra, "--out", str(tmp_path / "t.json")])
    assert result.exit_code == 1 and isinstance(result.exception, SpecregError)
    message = result.exception.message
    assert all(option in message for option in named) and "--adv-from" in message
    assert "metadata" in result.exception.hint
    assert not list(tmp_path.iterdir())


def test_cli_adv_from_takes_the_options_of_the_evaluation(cli_run, runs, tmp_path):
    _, out = cli_run
    result = CliRunner().invoke(
        app,
        [
            "attack",
            str(runs / "natural"),
            "--adv-from",
            str(out / "adv-eps8-255.npy"),
            *["--n-examples", "32", "--batch-size", "16", "--seed", "5", "--dataset", SPEC],
            *["--device", "cpu"],
            "--out",
            str(tmp_path / "t.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    frame = read_results(tmp_path / "t.json")
    assert set(frame.condition) == {"transfer", "clean"} and (frame.n == 32).all()
    transfer = frame[frame.condition == "transfer"]
    assert (transfer.param_steps == 3).all()  # the attack settings are the file's, not --steps' default 10


@pytest.mark.parametrize("eps", ["8/0", "abc", "-1"])
def test_cli_bad_eps_is_one_error_and_writes_nothing(runs, tmp_path, eps):
    result = CliRunner().invoke(
        app,
        [
            "attack",
            str(runs / "natural"),
            "--eps",
            eps,
            "--out",
            str(tmp_path / "r.json"),
            "--save-adv",
            str(tmp_path / "a.npy"),
        ],
    )
    assert result.exit_code == 1
    assert isinstance(result.exception, SpecregError) and "--eps" in result.exception.message
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "extra",
    [
        ["--save-adv", "adv.png"],
        ["--save-adv", "a.npy", "--adv-from", "b.npy"],
        ["--attack", "cw"],
        ["--out", "r.csv"],
    ],
)
def test_cli_bad_options_write_nothing(runs, tmp_path, monkeypatch, extra):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["attack", str(runs / "natural"), "--device", "cpu", *extra])
    assert result.exit_code == 1 and isinstance(result.exception, SpecregError)
    assert not list(tmp_path.iterdir())


def test_missing_checkpoint_prints_one_red_line(tmp_path, monkeypatch, capsys):
    from specreg_cli.cli import main

    monkeypatch.setattr(
        sys, "argv", ["specreg", "attack", str(tmp_path / "nope"), "--out", str(tmp_path / "r.json")]
    )
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "not found" in err and "Traceback" not in err
    assert not list(tmp_path.iterdir())


def test_attack_spec_is_hashable_and_exposes_norm():
    spec = AttackSpec("pgdl2", 0.5, 0.125, 10, True)
    assert spec.norm == "L2" and {spec: 1}[spec] == 1


# --- every registered attack ---------------------------------------------------------------------


def _ball_size(adv: torch.Tensor, clean: torch.Tensor, norm: str) -> torch.Tensor:
    """(B,) size of each perturbation in the attack's norm."""
    delta = (adv - clean).flatten(1)  # (B, C*H*W)
    return delta.abs().amax(1) if norm == "Linf" else delta.norm(dim=1)


def _cheap(entry) -> dict:
    """Options that keep an entry fast in tests: Square (alone or in AutoAttack) at 100 queries, not 5000."""
    return {"n_queries": 100} if "n_queries" in entry.option_defaults() else {}


@pytest.mark.parametrize("entry", list(ATTACKS.values()), ids=ATTACK_NAMES)
def test_every_registered_attack_lowers_accuracy_inside_its_ball(entry, trained, test_set):
    """Each entry runs through robust_accuracy at its default radius: accuracy drops, examples stay in the
    eps ball of the entry's norm and in [0, 1], and its specs follow the entry (norm, one step or many)."""
    n = 16 if entry.headline else 64  # AutoAttack runs four attacks, two of them against every class
    images, labels = test_set.images[:n], test_set.labels[:n]
    specs = sweep_specs(entry.name, None, steps=3, options=_cheap(entry))
    eps = entry.default_eps
    assert [s.eps for s in specs] == [eps] and specs[0].norm == entry.norm
    if entry.one_step:
        assert (specs[0].alpha, specs[0].steps, specs[0].random_start) == (eps, 1, False)
    else:  # only the knobs the attack takes are set (and recorded)
        knobs = {"alpha": specs[0].alpha, "steps": specs[0].steps, "random_start": specs[0].random_start}
        assert {k for k, v in knobs.items() if v is not None} == set(entry.takes)
    result = robust_accuracy(trained[0], images, labels, specs, batch_size=32, seed=0, keep="float32")
    assert result.robust[eps] <= result.clean
    assert result.robust[eps] < result.clean  # the attack really ran: a natural model loses examples
    adv = result.adversarial[eps]  # (N, 3, 32, 32) float32
    clean = to_float(images_to_tensor(images))  # (N, 3, 32, 32) float32, what the attack started from
    size = _ball_size(adv, clean, entry.norm)
    assert size.max().item() <= eps * (1 + 1e-5) + 1e-6
    # the examples moved (a clean copy would pass the ball check); minimum-norm attacks move less
    assert size.max().item() > (0.0 if entry.minimum_norm else 0.5 * eps)
    assert adv.min().item() >= 0 and adv.max().item() <= 1


@pytest.mark.parametrize("entry", list(ATTACKS.values()), ids=ATTACK_NAMES)
def test_make_attack_builds_the_registry_entry(entry, trained):
    attack = make_attack(trained[0], entry.name, entry.default_eps, entry.default_eps / 4, 2, True, seed=3)
    args = BuildArgs(entry.default_eps, entry.default_eps / 4, 2, True, 3, 10, entry.resolve_options())
    built = entry.build(trained[0], args)
    assert type(attack) is type(built)
    if hasattr(built, "seed"):  # torchattacks' own seed argument is the one given, never time.time()
        assert attack.seed == 3
    with pytest.raises(ValueError):
        make_attack(trained[0], entry.name, 0.0, 0.0, 1, False)  # eps 0 never reaches torchattacks


@pytest.mark.parametrize("entry", list(ATTACKS.values()), ids=ATTACK_NAMES)
def test_cli_runs_every_registered_attack_at_its_default_radius(entry, runs, tmp_path):
    out = tmp_path / "r.json"
    n = 16 if entry.headline else 32
    args = ["attack", str(runs / "natural"), "--attack", entry.name, "--steps", "2", "--n-examples", str(n)]
    args += [f"--attack-option={k}={v}" for k, v in _cheap(entry).items()]
    result = CliRunner().invoke(app, [*args, "--device", "cpu", "--out", str(out)])
    assert result.exit_code == 0, result.output
    frame = read_results(out)
    rows = frame[(frame.condition == entry.name) & (frame.metric == "accuracy")]
    assert list(rows.param_eps) == [entry.default_eps] and (rows.param_norm == entry.norm).all()
    for name, value in _cheap(entry).items():  # the attack's own options are recorded with it
        assert (rows[f"param_{name}"] == value).all()
    steps = ", 2 steps" if entry.iterative else ""
    assert f"({entry.norm}{steps}, n={n})" in result.output


def test_attack_help_is_the_registry():
    import typer.main

    command = typer.main.get_command(app).commands["attack"]
    helps = {p.name: p.help for p in command.params}
    for entry in ATTACKS.values():
        assert f"{entry.name}: {entry.summary}" in helps["attack"]
    assert "Example:" in command.help


def test_unknown_attack_names_the_registry():
    with pytest.raises(SpecregError) as info:
        sweep_specs("cw", [EPS8])
    assert all(name in info.value.hint for name in ATTACK_NAMES)


# --- provenance ----------------------------------------------------------------------------------


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_cli_threads_is_applied_during_the_attack_and_recorded(runs, tmp_path, monkeypatch, restore_threads):
    import specreg_cli.attack as lib

    seen, real = [], lib.robust_accuracy

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(lib, "robust_accuracy", spy)
    target = 2 if torch.get_num_threads() != 2 else 1
    args = ["attack", str(runs / "natural"), "--eps", "2/255", "--steps", "1", "--n-examples", "16"]
    result = CliRunner().invoke(app, [*args, "--threads", str(target), "--out", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    assert seen == [target]
    document = json.loads((tmp_path / "r.json").read_text())
    assert document["provenance"]["arguments"]["threads"] == target


def test_cli_paths_in_provenance_are_absolute(runs, tmp_path, monkeypatch):
    """Relative paths on the command line are stored resolved: the results file still says where
    everything was after the working folder changes."""
    shutil.copytree(runs / "natural", tmp_path / "natural")
    monkeypatch.chdir(tmp_path)
    common = ["--device", "cpu", "--n-examples", "16", "--data-dir", "data"]
    attacked = CliRunner().invoke(
        app,
        ["attack", "natural", "--eps", "2/255", "--steps", "1", "--out", "pgd.json", "--save-adv", "adv.npy"]
        + common,
    )
    assert attacked.exit_code == 0, attacked.output
    arguments = json.loads((tmp_path / "pgd.json").read_text())["provenance"]["arguments"]
    assert arguments["checkpoints"] == [str(tmp_path / "natural")]
    assert arguments["data_dir"] == str(tmp_path / "data")
    assert arguments["out"] == str(tmp_path / "pgd.json")
    assert arguments["save_adv"] == str(tmp_path / "adv.npy")
    transferred = CliRunner().invoke(
        app, ["attack", "natural", "--adv-from", "adv.npy", "--out", "transfer.json"] + common
    )
    assert transferred.exit_code == 0, transferred.output
    arguments = json.loads((tmp_path / "transfer.json").read_text())["provenance"]["arguments"]
    assert arguments["adv_from"] == str(tmp_path / "adv.npy")
    assert arguments["checkpoints"] == [str(tmp_path / "natural")]


# --- gradient masking across attacks -------------------------------------------------------------


class Quantised(nn.Module):
    """A model behind input quantisation to ``levels`` grey levels: torch.round has zero gradient, so
    PGD only ever sees its random start (noise), while Square, which needs no gradient, still searches."""

    def __init__(self, model: nn.Module, levels: int):
        super().__init__()
        self.model, self.levels = model, levels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(torch.round(x * self.levels) / self.levels)


class Decoy(nn.Module):
    """Memorises the test images; its gradient always pushes along one fixed +-1 pattern ``d``. Wrong while
    the walk along ``d`` (t = mean((x - x0) * d) / eps, in [-1, 1]) is in (0.3, 0.7), right again past it:
    a short PGD walk fools it, a long one (more steps, same alpha) walks through and does not."""

    def __init__(self, images_u8: np.ndarray, labels: np.ndarray, eps: float):
        super().__init__()
        self.register_buffer("images", torch.from_numpy(images_u8).permute(0, 3, 1, 2).float().div(255))
        self.register_buffer("labels", torch.as_tensor(labels))
        pattern = torch.Generator().manual_seed(0)
        self.register_buffer("d", torch.randint(0, 2, self.images.shape[1:], generator=pattern) * 2.0 - 1)
        self.anchor, self.eps = nn.Parameter(torch.zeros(())), eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        index = torch.cdist(x.detach().flatten(1), self.images.flatten(1)).argmin(1)  # (B,) nearest image
        t = ((x - self.images[index]) * self.d).flatten(1).mean(1) / self.eps  # (B,)
        label = self.labels[index]
        wrong = ((t > 0.3) & (t < 0.7)).detach()
        answer = torch.where(wrong, (label + 1) % 10, label)
        # the only gradient: the label's logit falls as t grows, so every attack step raises t
        return F.one_hot(answer, 10).float() * 10 - F.one_hot(label, 10).float() * t[:, None] + self.anchor


def test_masking_checks_pure():
    checks = masking_checks(
        0.40, EPS8, 1000, black=0.397, large=0.01, large_eps=0.5, more=0.404, steps=(10, 50)
    )
    assert [c.name for c in checks] == list(MASKING_CHECK_NAMES) and all(c.passed for c in checks)
    failing = masking_checks(
        0.40, EPS8, 1000, black=0.30, large=0.20, large_eps=0.5, more=0.50, steps=(10, 50)
    )
    assert not any(c.passed for c in failing)
    assert "50 steps leave 50.00%, 10 steps 40.00%" in failing[2].message


def test_masking_checks_pass_on_an_honest_model(trained, test_set):
    spec = sweep_specs("pgd", [EPS8], steps=2)[0]
    result = run_masking_checks(
        trained[0], test_set.images[:32], test_set.labels[:32], spec, 32, black_box_options={"n_queries": 50}
    )
    assert set(result.results) == {"white", "black", "large", "more"}
    assert all(c.passed for c in result.checks), [c.message for c in result.checks]
    assert result.results["large"].specs[0].alpha == pytest.approx(spec.alpha * 0.5 / EPS8)


def test_square_beating_pgd_is_flagged_on_a_quantised_model(trained, test_set):
    model = Quantised(trained[0], levels=8).eval()
    spec = sweep_specs("pgd", [EPS8], steps=2)[0]
    images, labels = test_set.images[:48], test_set.labels[:48]
    result = run_masking_checks(model, images, labels, spec, 48, black_box_options={"n_queries": 200})
    checks = {c.name: c for c in result.checks}
    assert not checks["white_beats_black"].passed, checks["white_beats_black"].message
    # the checks within one sweep cannot see it: PGD with a zero gradient ends at its random start, so it
    # is noise, as the beats_noise baseline is (another draw). The two agree within their sampling error
    # (which way a few borderline images fall depends on the trained weights, so on the CPU kernel path)
    white = result.results["white"]
    attack, noise = white.robust[EPS8], white.noise[EPS8]
    spread = math.sqrt(2 * noise * (1 - noise) / white.n)  # std of the difference of two independent draws
    assert abs(attack - noise) <= 3 * spread, (attack, noise)


def test_large_radius_and_more_steps_are_flagged_on_toy_models(test_set):
    images, labels = test_set.images[:16], test_set.labels[:16]
    frozen = sweep_specs("pgd", [EPS8], steps=2, random_start=False)[0]  # no random start: PGD cannot move
    checks = {
        c.name: c
        for c in run_masking_checks(
            Memoriser(images, labels), images, labels, frozen, 16, black_box_options={"n_queries": 20}
        ).checks
    }
    assert not checks["large_radius"].passed and "not about 0" in checks["large_radius"].message
    walk = sweep_specs("pgd", [EPS8], alpha=EPS8 / 4, steps=2)[0]  # 2 steps end at t = 0.5, 10 at t = 1
    result = run_masking_checks(
        Decoy(images, labels, EPS8), images, labels, walk, 16, black_box_options={"n_queries": 20}
    )
    checks = {c.name: c for c in result.checks}
    assert result.results["white"].robust[EPS8] == 0.0 and result.results["more"].robust[EPS8] == 1.0
    assert not checks["more_steps"].passed and "more steps are weaker" in checks["more_steps"].message


def test_autoattack_is_at_least_as_strong_as_pgd10_on_the_same_images(trained, test_set):
    """Issue 15's bar: AutoAttack accuracy <= PGD-10 accuracy, on the same images, at a radius where PGD-10
    leaves something; AutoAttack only counts images that were right when clean."""
    images, labels = test_set.images[:32], test_set.labels[:32]
    eps = 2 / 255
    pgd = robust_accuracy(trained[0], images, labels, sweep_specs("pgd", [eps], steps=10), 32)
    aa = robust_accuracy(
        trained[0], images, labels, sweep_specs("autoattack", [eps], options={"n_queries": 100}), 32
    )
    assert 0 < pgd.robust[eps] < pgd.clean  # a radius where PGD-10 breaks some images, not all
    assert aa.robust[eps] <= pgd.robust[eps]
    assert not (aa.correct[eps] & ~aa.correct["clean"]).any()  # AutoAttack never fixes a mistake


def test_cli_costly_attack_has_its_own_n_examples_default(runs, tmp_path, monkeypatch):
    import dataclasses

    import specreg_cli.attacks as registry

    assert ATTACKS["autoattack"].default_n_examples == registry.AUTOATTACK_N_EXAMPLES
    assert ATTACKS["pgd"].default_n_examples is None  # the whole split
    cut = dataclasses.replace(ATTACKS["autoattack"], default_n_examples=8)  # below this test split's 128
    monkeypatch.setitem(registry.ATTACKS, "autoattack", cut)
    out = tmp_path / "aa.json"
    args = ["attack", str(runs / "natural"), "--attack", "autoattack", "--attack-option", "n_queries=10"]
    result = CliRunner().invoke(app, [*args, "--device", "cpu", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "n=8)" in result.output
    assert json.loads(out.read_text())["provenance"]["arguments"]["n_examples"] == 8
    given = CliRunner().invoke(app, [*args, "--n-examples", "4", "--device", "cpu"])
    assert given.exit_code == 0 and "n=4)" in given.output  # --n-examples wins


def test_cli_masking_checks_are_recorded_and_reported_like_the_sweeps(runs, tmp_path):
    # the checks' logic is tested above on toy models built to mask gradients; here, the wiring
    out = tmp_path / "pgd.json"
    args = ["attack", str(runs / "natural"), "--eps", "0,8/255", "--steps", "2", "--n-examples", "32"]
    result = CliRunner().invoke(app, [*args, "--masking-checks", "--device", "cpu", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "gradient-masking checks at eps 8/255" in result.output
    frame = read_results(out)
    sanity = frame[frame.metric.str.startswith("sanity_")].set_index("metric")
    masking = [f"sanity_{name}" for name in MASKING_CHECK_NAMES]
    assert (
        set(masking) <= set(sanity.index) and (sanity.loc[masking, "value"] == 1.0).all()
    )  # an honest LeNet
    assert (sanity.loc[masking, "param_eps"].dropna() > 0).all()
    assert json.loads(out.read_text())["provenance"]["arguments"]["masking_checks"] is True
    # refused before any work: a black-box attack, or no radius to check at
    for extra, message in ((["--attack", "square"], "is black-box"), (["--eps", "0"], "needs an eps > 0")):
        bad = CliRunner().invoke(app, ["attack", str(runs / "natural"), "--masking-checks", *extra])
        assert bad.exit_code != 0 and message in str(bad.exception)
