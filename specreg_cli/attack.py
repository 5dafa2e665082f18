"""Adversarial robustness with torchattacks: a thin adapter, robust accuracy over an eps sweep, sanity checks.

The attacks themselves are torchattacks' (never re-implemented here) and are named in one place, the
registry :data:`specreg_cli.attacks.ATTACKS`: each entry gives its threat model (``norm``), default
radius, whether it is iterative and how its torchattacks object is built. ``pgd`` (Linf) and ``pgdl2``
(L2) take ``steps`` steps of ``alpha``; a non-iterative entry (``fgsm``: one signed step of ``eps``) has
no alpha, steps or random start, and is recorded as ``alpha=eps, steps=1, random_start=False``.

Correct by construction:

- Models take [0, 1] (B, 3, 32, 32) float32 input and normalise inside, so torchattacks works in pixel
  space; its ``set_normalization_used`` is never called. The model is put in eval mode for the whole
  evaluation (and its mode restored afterwards).
- eps is in pixel units of the [0, 1] scale (8/255 for Linf; an L2 radius for ``pgdl2``).
- eps = 0 is never sent to torchattacks (``PGDL2`` divides 0 by 0 there when the gradient vanishes):
  the "adversarial" batch is the clean batch itself, so eps 0 gives exactly the clean accuracy unless
  the model is not deterministic.
- torchattacks draws its random start from torch's global RNG: each batch runs inside
  ``torch.random.fork_rng`` seeded from (seed, batch index), so results are reproducible for a given
  seed and batch size, and the caller's RNG state is untouched.

Sanity checks (:func:`sanity_checks`, pure, over the measured accuracies): eps 0 equals clean; robust
accuracy does not rise with eps; the attack is at least as strong as uniform random noise in the same
ball. A failing check is the classic sign of gradient masking.

Example::

    specs = sweep_specs("pgd", [0, 4 / 255, 8 / 255])      # alpha = 2.5 * eps / steps, 10 steps, random start
    result = robust_accuracy(model, test.images, test.labels, specs, batch_size=256, device="cpu", seed=0)
    result.robust[8 / 255], [c for c in result.checks() if not c.passed]
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from corruptions.normal import QUANTILE_DOMAIN, normal_quantile
from specreg_cli import adversarial_io
from specreg_cli.adversarial_io import to_uint8_in_ball
from specreg_cli.attacks import BuildArgs, get_attack
from specreg_cli.checkpoint import Checkpoint
from specreg_cli.data.loader import images_to_tensor, to_float
from specreg_cli.errors import SpecregError
from specreg_cli.parsing import format_pixel_value
from specreg_cli.results import CORRECT, Record, encode_correct

ALPHA_PER_EPS_STEP = 2.5  # default alpha = 2.5 * eps / steps (Madry et al.): 2/255 for eps 8/255, 10 steps
NOISE = "noise"  # condition name of the random-noise baseline
KEEP_CHOICES = (None, "uint8", "float32")


@dataclass(frozen=True)
class AttackSpec:
    """One attack at one radius. ``eps``, ``alpha``: [0, 1] pixel units; ``steps``: gradient steps.

    A knob the attack does not take (its entry's ``takes``) is None: APGD has no alpha, Square no steps.
    ``options`` are the entry's own knobs (Square's n_queries, CW's c, kappa, lr), all of them, sorted.
    """

    name: str  # a name of the registry, specreg_cli.attacks.ATTACKS
    eps: float
    alpha: float | None
    steps: int | None
    random_start: bool | None
    options: tuple[tuple[str, float], ...] = ()

    @property
    def norm(self) -> str:
        """The threat model, ``"Linf"`` or ``"L2"``: the registry entry's."""
        return get_attack(self.name).norm

    def params(self) -> dict:
        """The record ``params`` of this attack: eps, norm, the knobs it takes, its options."""
        knobs = {"alpha": self.alpha, "steps": self.steps, "random_start": self.random_start}
        taken = {k: v for k, v in knobs.items() if v is not None}
        return {"eps": self.eps, **taken, "norm": self.norm, **dict(self.options)}


def sweep_specs(
    name: str,
    eps_values: Sequence[float] | None = None,
    alpha: float | None = None,
    steps: int = 10,
    random_start: bool = True,
    options: Mapping[str, float] | None = None,
) -> list[AttackSpec]:
    """One :class:`AttackSpec` per eps, sorted by eps, duplicates dropped.

    Only the knobs the entry takes are kept (the others are None; FGSM records its one step of eps);
    ``options`` (the entry's own, e.g. ``{"n_queries": 1000}`` for Square) go over its defaults.

    ``eps_values=None`` gives the registry entry's default radius (8/255 for Linf, 0.5 for L2).
    ``alpha=None`` gives ``2.5 * eps / steps`` for each eps (2/255 at eps 8/255, 10 steps); a number is
    used for every eps. Raises :class:`SpecregError` on an unknown attack or an impossible value.

    >>> [s.alpha * 255 for s in sweep_specs("pgd", [8 / 255])]
    [2.0]
    """
    entry = get_attack(name)  # SpecregError naming the valid choices
    values = sorted({float(e) for e in (eps_values if eps_values is not None else [entry.default_eps])})
    if not values:
        raise SpecregError("no eps given", hint="e.g. --eps 8/255 or --eps 0,2/255,8/255")
    if any(e < 0 or not math.isfinite(e) for e in values):
        raise SpecregError(f"eps must be finite and >= 0, got {values}")
    if entry.norm == "Linf" and values[-1] > 1:
        raise SpecregError(
            f"Linf eps {values[-1]:g} is larger than the whole [0, 1] pixel range",
            hint="Linf radii are pixel values, e.g. 8/255",
        )
    if steps < 1:
        raise SpecregError(f"--steps must be at least 1, got {steps}")
    if alpha is not None and not (alpha > 0 and math.isfinite(alpha)):
        raise SpecregError(f"--alpha must be > 0, got {alpha}", hint="e.g. --alpha 2/255, or leave it out")
    chosen = entry.resolve_options(options)  # SpecregError on an unknown or bad option
    if entry.one_step:  # one step of size eps, no random start: record what the attack actually does
        return [AttackSpec(name, e, e, 1, False, chosen) for e in values]

    def spec(e: float) -> AttackSpec:
        step = alpha if alpha is not None else ALPHA_PER_EPS_STEP * e / steps
        return AttackSpec(
            name,
            e,
            step if "alpha" in entry.takes else None,
            steps if "steps" in entry.takes else None,
            random_start if "random_start" in entry.takes else None,
            chosen,
        )

    return [spec(e) for e in values]


def make_attack(
    model: nn.Module,
    name: str,
    eps: float,
    alpha: float | None,
    steps: int | None,
    random_start: bool | None,
    seed: int = 0,
    n_classes: int = 10,
    options: Sequence[tuple[str, float]] = (),
):
    """The torchattacks object of registry entry ``name``. ``eps`` must be > 0 (eps 0 is handled by
    :func:`perturb`); ``seed`` goes to the attacks that take one, ``n_classes`` to the targeted ones;
    ``options`` over the entry's defaults.

    Example: ``make_attack(model, "pgd", 8/255, 2/255, 10, True)(images, labels)`` -> float (B, 3, H, W).
    """
    entry = get_attack(name)
    if not eps > 0:
        raise ValueError(f"eps must be > 0 to build an attack, got {eps}")
    chosen = entry.resolve_options(dict(options))
    return entry.build(model, BuildArgs(eps, alpha, steps, random_start, seed, n_classes, chosen))


def batch_seed(seed: int, batch_index: int, stream: int = 0) -> int:
    """A 63-bit seed that depends only on (seed, batch index, stream); streams: 0 attack, 1 noise."""
    state = np.random.SeedSequence([seed, batch_index, stream]).generate_state(2, dtype=np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


def perturb(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, spec: AttackSpec, seed: int, n_classes: int = 10
) -> torch.Tensor:
    """Adversarial version of ``x`` (float32 (B, 3, H, W) in [0, 1]) for labels ``y`` (B,) under ``spec``.

    The attack's random start is drawn from torch's global RNG of ``x``'s device, seeded with ``seed``
    inside ``fork_rng``, so the caller's RNG state is untouched; attacks with a seed argument get ``seed``
    too. ``n_classes``: the model's number of outputs (targeted attacks). eps 0 returns a copy of ``x``.
    """
    if spec.eps == 0:
        return x.clone()
    attack = make_attack(
        model, spec.name, spec.eps, spec.alpha, spec.steps, spec.random_start, seed, n_classes, spec.options
    )
    cuda = x.device.type == "cuda"
    index = (x.device.index if x.device.index is not None else torch.cuda.current_device()) if cuda else None
    with torch.random.fork_rng(devices=[index] if cuda else []):
        torch.default_generator.manual_seed(seed)
        if cuda:
            with torch.cuda.device(index):
                torch.cuda.manual_seed(seed)
        adv = attack(x, y)  # (B, 3, H, W)
    _check_adversarial(adv, x, spec)
    return adv.detach()


def _check_adversarial(adv: torch.Tensor, x: torch.Tensor, spec: AttackSpec) -> None:
    """Guard against a changed torchattacks: float32, same shape, inside [0, 1] and inside the eps ball."""
    if adv.dtype != torch.float32 or adv.shape != x.shape:
        raise RuntimeError(
            f"{spec.name} returned {adv.dtype} {tuple(adv.shape)}, expected float32 {tuple(x.shape)}"
        )
    delta = (adv - x).flatten(1)  # (B, C*H*W)
    size = delta.abs().amax(1) if spec.norm == "Linf" else delta.norm(dim=1)  # (B,)
    if size.max().item() > spec.eps * (1 + 1e-5) + 1e-6 or adv.min().item() < 0 or adv.max().item() > 1:
        raise RuntimeError(f"{spec.name} left the eps={spec.eps:g} {spec.norm} ball or [0, 1]")


def uniform_noise(x: torch.Tensor, eps: float, norm: str, generator: torch.Generator) -> torch.Tensor:
    """Random noise in the same ball as the attack, clipped to [0, 1]: x (B, C, H, W) float32.

    Linf: ``x + U(-eps, eps)`` per pixel. L2: a uniformly random direction of length eps (the sphere,
    the strongest random noise in the ball). Drawn on the CPU from ``generator`` and moved, so CPU and
    GPU runs see the same noise.

    Example: ``uniform_noise(x, 8 / 255, "Linf", torch.Generator().manual_seed(0))``.
    """
    return noise_in_ball(x, noise_draw(x.shape, norm, generator), eps, norm)


def noise_draw(shape: torch.Size, norm: str, generator: torch.Generator) -> torch.Tensor:
    """The random part of :func:`uniform_noise`, not yet scaled to an eps: float32 ``shape`` on the CPU.

    Linf: U[0, 1) per pixel; L2: N(0, 1) per pixel (its direction is uniform on the sphere).
    Example: ``draw = noise_draw(x.shape, "Linf", generator)``, then ``noise_in_ball(x, draw, eps, "Linf")``.
    """
    if norm == "Linf":
        return torch.rand(shape, generator=generator)
    # not torch.randn: its vectorised Box-Muller differs in the last bits between ATen's kernel paths.
    # The uniform draw is integer bits scaled (the same everywhere) and the quantile IEEE-exact operations
    uniform = torch.rand(shape, generator=generator, dtype=torch.float64)
    return normal_quantile(uniform.clamp_(QUANTILE_DOMAIN, 1 - QUANTILE_DOMAIN)).float()


def noise_in_ball(x: torch.Tensor, draw: torch.Tensor, eps: float, norm: str) -> torch.Tensor:
    """``x`` (B, C, H, W) plus ``draw`` (:func:`noise_draw`) scaled into the eps ball, clipped to [0, 1].

    ``draw`` is left unchanged, so one draw serves every eps of a sweep, with the very numbers that a
    fresh draw from the same seed for each eps would give (the scaling is deterministic).
    """
    if norm == "Linf":
        delta = draw.mul(2 * eps).sub_(eps)  # (B, C, H, W) in [-eps, eps)
    else:
        length = draw.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)  # (B, 1, 1, 1)
        delta = draw * (eps / length)  # (B, C, H, W), each image's perturbation of length eps
    return (x + delta.to(x.device)).clamp_(0, 1)


@dataclass
class AttackResult:
    """Accuracies (fractions in [0, 1]) of one model under one attack sweep, all on the same ``n`` images."""

    name: str
    specs: list[AttackSpec]  # the requested sweep, sorted by eps
    n: int
    clean: float
    robust: dict[float, float]  # eps -> accuracy on adversarial examples; always holds eps 0
    noise: dict[float, float]  # eps (> 0) -> accuracy under random noise in the same ball
    stored: dict[float, float] = field(default_factory=dict)  # eps -> accuracy on the kept uint8 examples
    adversarial: dict[float, np.ndarray | torch.Tensor] = field(default_factory=dict)  # eps -> kept examples
    labels: np.ndarray | None = None  # (n,) int64, the labels of the kept examples
    seconds: float = 0.0  # wall time of the whole sweep
    # per image, whether the model was right: "clean" and each eps -> bool (n,), in the images' order
    # (the report's worst case over attacks takes, image by image, the AND over every attack)
    correct: dict[str | float, np.ndarray] = field(default_factory=dict)

    def checks(self, tolerance: float | None = None) -> list[SanityCheck]:
        return sanity_checks(self.clean, self.robust, self.noise, self.n, tolerance)


def robust_accuracy(
    model: nn.Module,
    images: np.ndarray,
    labels: np.ndarray,
    specs: Sequence[AttackSpec],
    batch_size: int = 256,
    device: torch.device | str = "cpu",
    seed: int = 0,
    keep: str | None = None,
    on_batch: Callable[[int, int, dict[float, float]], None] | None = None,
) -> AttackResult:
    """Clean, adversarial and random-noise accuracy of ``model`` for every spec of one attack sweep.

    images: uint8 (N, 32, 32, 3); labels: int64 (N,). eps 0 is always evaluated (one extra forward per
    batch) for the eps-0 sanity check. ``keep="uint8"`` keeps each eps's adversarial examples as uint8
    (N, 32, 32, 3) re-projected into the eps ball (and measures the model's accuracy on them in
    ``stored``); ``keep="float32"`` keeps float32 (N, 3, 32, 32) CPU tensors. ``on_batch(done, total,
    running)`` is called after each batch with the running robust accuracy per eps.
    """
    if keep not in KEEP_CHOICES:
        raise ValueError(f"keep must be one of {KEEP_CHOICES}, got {keep!r}")
    specs = sorted(specs, key=lambda s: s.eps)
    if len({s.name for s in specs}) != 1 or len({s.eps for s in specs}) != len(specs):
        raise ValueError("specs must be one attack at distinct eps values")
    labels_t = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
    n, total = len(labels_t), -(-len(labels_t) // batch_size)
    if n == 0:
        raise ValueError("no images to attack")
    evaluated = specs if specs[0].eps == 0 else [_eps_zero(specs[0]), *specs]
    hits = {"clean": 0}  # "clean", ("adv" | "noise" | "stored", eps) -> correctly classified images so far
    correct: dict[str | float, list[np.ndarray]] = {"clean": [], **{s.eps: [] for s in evaluated}}
    kept: dict[float, list] = {s.eps: [] for s in specs} if keep else {}
    was_training = model.training
    model.eval()
    start_time = time.perf_counter()
    try:
        for index, start in enumerate(range(0, n, batch_size)):
            clean_u8 = images_to_tensor(images[start : start + batch_size], device)  # (B, 3, H, W) uint8
            y = labels_t[start : start + batch_size].to(device)  # (B,)
            _attack_batch(model, clean_u8, y, evaluated, seed, index, hits, kept, keep, correct)
            if on_batch is not None:
                seen = min(start + batch_size, n)
                on_batch(index + 1, total, {s.eps: hits[("adv", s.eps)] / seen for s in specs})
    finally:
        model.train(was_training)
    return AttackResult(
        name=specs[0].name,
        specs=list(specs),
        n=n,
        clean=hits["clean"] / n,
        robust={s.eps: hits[("adv", s.eps)] / n for s in evaluated},
        noise={s.eps: hits[(NOISE, s.eps)] / n for s in specs if s.eps},
        stored={e: hits[("stored", e)] / n for e in kept if ("stored", e) in hits},
        adversarial={e: _concat(parts) for e, parts in kept.items()},
        labels=labels_t.numpy() if keep else None,
        seconds=time.perf_counter() - start_time,
        correct={key: np.concatenate(parts) for key, parts in correct.items()},
    )


def _attack_batch(
    model: nn.Module,
    clean_u8: torch.Tensor,
    y: torch.Tensor,
    specs: Sequence[AttackSpec],
    seed: int,
    index: int,
    hits: dict,
    kept: dict[float, list],
    keep: str | None,
    correct: dict[str | float, list[np.ndarray]],
) -> None:
    """Count the hits of one batch (clean_u8 uint8 (B, 3, H, W), y (B,)) for every spec into ``hits``,
    and append each image's right / wrong to ``correct``.

    ``specs`` are one attack (one norm) at several eps.
    """
    x = to_float(clean_u8)  # (B, 3, H, W) float32 in [0, 1]
    logits = _logits(model, x)  # (B, n_classes): the targeted attacks try every other class
    right = logits.argmax(1) == y  # (B,)
    hits["clean"] += int(right.sum().item())
    correct["clean"].append(right.cpu().numpy())
    # one noise draw per batch, scaled to each eps: a smoother sweep (its own generator: the attack's
    # random starts, drawn from torch's global RNG, are not moved by it)
    draw = noise_draw(x.shape, specs[0].norm, torch.Generator().manual_seed(batch_seed(seed, index, 1)))
    for spec in specs:
        adv = perturb(model, x, y, spec, batch_seed(seed, index, 0), logits.shape[1])
        right = _logits(model, adv).argmax(1) == y  # (B,)
        _add(hits, ("adv", spec.eps), int(right.sum().item()))
        correct[spec.eps].append(right.cpu().numpy())
        if spec.eps > 0:
            noisy = noise_in_ball(x, draw, spec.eps, spec.norm)  # (B, 3, H, W)
            _add(hits, (NOISE, spec.eps), _n_correct(model, noisy, y))
        if spec.eps in kept:
            kept[spec.eps].append(_keep(model, adv, clean_u8, y, spec, keep, hits))


def _add(hits: dict, key, count: int) -> None:
    hits[key] = hits.get(key, 0) + count


def _eps_zero(spec: AttackSpec) -> AttackSpec:
    return replace(spec, eps=0.0, alpha=None if spec.alpha is None else 0.0)


@torch.no_grad()
def _logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return model(x)


def _n_correct(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
    return (_logits(model, x).argmax(1) == y).sum().item()


def _keep(
    model: nn.Module,
    adv: torch.Tensor,
    clean_u8: torch.Tensor,
    y: torch.Tensor,
    spec: AttackSpec,
    keep: str,
    hits: dict,
) -> np.ndarray | torch.Tensor:
    """The batch as it will be stored; for uint8, also count the model's hits on the stored pixels."""
    if keep == "float32":
        return adv.cpu()
    stored = to_uint8_in_ball(adv, clean_u8, spec.eps, spec.norm)  # (B, 3, H, W) uint8
    _add(hits, ("stored", spec.eps), _n_correct(model, to_float(stored), y))
    return stored.permute(0, 2, 3, 1).cpu().numpy()  # (B, H, W, 3) uint8: the on-disk layout


def _concat(parts: list) -> np.ndarray | torch.Tensor:
    return np.concatenate(parts) if isinstance(parts[0], np.ndarray) else torch.cat(parts)


def attack_models(
    models: Iterable[tuple[nn.Module, Checkpoint]],
    images: np.ndarray,
    labels: np.ndarray,
    specs: Sequence[AttackSpec],
    batch_size: int = 256,
    device: torch.device | str = "cpu",
    seed: int = 0,
    keep: str | None = None,
    progress: Callable[[str, int, int, dict[float, float]], None] | None = None,
) -> list[AttackResult]:
    """:func:`robust_accuracy` of every (model, checkpoint) (e.g. a :class:`~specreg_cli.model_set.ModelSet`),
    in order, on the same images. ``progress(run, done, total, running)`` is called once with ``done=0``
    before a model's first batch, then after each of its batches."""
    results = []
    total = -(-len(labels) // batch_size)
    for model, checkpoint in models:
        run = checkpoint.run_name
        if progress is not None:
            progress(run, 0, total, {})

        def on_batch(done: int, total: int, running: dict[float, float], run: str = run) -> None:
            if progress is not None:
                progress(run, done, total, running)

        results.append(
            robust_accuracy(
                model, images, labels, specs, batch_size, device, seed, keep=keep, on_batch=on_batch
            )
        )
    return results


# --- sanity checks -------------------------------------------------------------------------------

CHECK_NAMES = ("eps0_clean", "monotone", "beats_noise")  # within one sweep (sanity_checks)
# across attacks at one radius (masking_checks / run_masking_checks)
MASKING_CHECK_NAMES = ("white_beats_black", "large_radius", "more_steps")
LARGE_RADIUS = {"Linf": 0.5, "L2": 30.0}  # ~ the whole pixel range: any image can be made gray there
LARGE_RADIUS_ACCURACY = 0.02  # "about 0": what an attack may leave at LARGE_RADIUS
MORE_STEPS = 5  # the more-steps check runs steps x 5 at the same alpha


@dataclass(frozen=True)
class SanityCheck:
    """One gradient-masking check. ``eps`` is the radius it concerns (None: the whole sweep)."""

    name: str  # one of CHECK_NAMES
    passed: bool
    message: str
    eps: float | None = None
    tolerance: float = 0.0  # the accuracy rise (fraction) the check allowed


def default_tolerance(n: int) -> float:
    """How much accuracy may rise before a check fails: one example or 0.5 percentage points, the larger
    (the attack's random start and the noise draw move a few borderline examples either way)."""
    return max(1 / max(n, 1), 0.005)


def sanity_checks(
    clean: float,
    robust: Mapping[float, float],
    noise: Mapping[float, float],
    n: int,
    tolerance: float | None = None,
) -> list[SanityCheck]:
    """Checks over measured accuracies (fractions); pure.

    - ``eps0_clean`` (when eps 0 was measured): accuracy at eps 0 equals the clean accuracy exactly;
      otherwise the model is not deterministic at test time (dropout, stochastic masks, a train-mode layer).
    - ``monotone`` (when some eps > 0): accuracy never rises by more than ``tolerance`` above its value
      at any smaller eps, clean accuracy counting as eps 0.
    - ``beats_noise`` (one per eps > 0 with a noise accuracy): attack accuracy <= noise accuracy + tolerance.

    >>> [c.passed for c in sanity_checks(0.9, {0.0: 0.9, 0.03: 0.1}, {0.03: 0.85}, n=1000)]
    [True, True, True]
    """
    tol = default_tolerance(n) if tolerance is None else tolerance
    checks = []
    if 0.0 in robust:
        same = robust[0.0] == clean
        checks.append(
            SanityCheck(
                "eps0_clean",
                same,
                "eps 0 gives the clean accuracy"
                if same
                else f"eps 0 gives {robust[0.0]:.2%} but clean is {clean:.2%}: the model is not "
                "deterministic at test time",
                0.0,
            )
        )
    positive = sorted(e for e in robust if e > 0)
    if positive:
        checks.append(_monotone(clean, robust, positive, tol))
    for eps in positive:
        if eps in noise:
            ok = robust[eps] <= noise[eps] + tol
            checks.append(
                SanityCheck(
                    "beats_noise",
                    ok,
                    f"at eps {format_pixel_value(eps)} the attack leaves "
                    f"{robust[eps]:.2%}, random noise {noise[eps]:.2%}"
                    + ("" if ok else ": the attack is weaker than noise (gradient masking?)"),
                    eps,
                    tol,
                )
            )
    return checks


def _monotone(clean: float, robust: Mapping[float, float], positive: list[float], tol: float) -> SanityCheck:
    lowest, lowest_eps = clean, 0.0  # the smallest accuracy at any smaller eps
    for eps in positive:
        if robust[eps] > lowest + tol:
            return SanityCheck(
                "monotone",
                False,
                f"accuracy rises from {lowest:.2%} at eps {format_pixel_value(lowest_eps)}"
                f" to {robust[eps]:.2%} at eps {format_pixel_value(eps)} (gradient masking?)",
                eps,
                tol,
            )
        if robust[eps] < lowest:
            lowest, lowest_eps = robust[eps], eps
    return SanityCheck("monotone", True, "accuracy does not rise with eps", None, tol)


# --- gradient masking across attacks -------------------------------------------------------------


def masking_checks(
    white: float,
    eps: float,
    n: int,
    black: float | None = None,
    large: float | None = None,
    large_eps: float | None = None,
    more: float | None = None,
    steps: tuple[int, int] | None = None,
    tolerance: float | None = None,
) -> list[SanityCheck]:
    """Gradient-masking checks over accuracies (fractions) of one model on the same ``n`` images; pure.

    ``white``: a white-box attack (PGD) at ``eps``. Each check runs when its accuracy is given:

    - ``white_beats_black``: a black-box attack (Square) at the same eps, which sees no gradient, must not
      leave clearly less: ``black >= white - tolerance``. When it does, the gradient misleads PGD.
    - ``large_radius``: at ``large_eps`` (about the whole pixel range) the white-box attack must leave
      about nothing: ``large <= max(LARGE_RADIUS_ACCURACY, tolerance)``.
    - ``more_steps``: the white-box attack with more steps (``steps`` = (fewer, more), the same alpha)
      must not be weaker: ``more <= white + tolerance``.

    >>> [c.passed for c in masking_checks(0.40, 8 / 255, 1000, black=0.20, large=0.0, large_eps=0.5)]
    [False, True]
    """
    tol = default_tolerance(n) if tolerance is None else tolerance
    radius = format_pixel_value(eps)
    checks = []
    if black is not None:
        ok = black >= white - tol
        checks.append(
            SanityCheck(
                "white_beats_black",
                ok,
                f"at eps {radius} the black-box attack leaves {black:.2%}, the white-box one {white:.2%}"
                + ("" if ok else ": gradients mislead the white-box attack (gradient masking?)"),
                eps,
                tol,
            )
        )
    if large is not None:
        ok = large <= max(LARGE_RADIUS_ACCURACY, tol)
        checks.append(
            SanityCheck(
                "large_radius",
                ok,
                f"at eps {format_pixel_value(large_eps) if large_eps is not None else '?'} the attack "
                f"leaves {large:.2%}" + ("" if ok else ", not about 0 (gradient masking?)"),
                large_eps,
                tol,
            )
        )
    if more is not None:
        ok = more <= white + tol
        fewer, many = steps if steps is not None else ("?", "?")
        checks.append(
            SanityCheck(
                "more_steps",
                ok,
                f"at eps {radius} {many} steps leave {more:.2%}, {fewer} steps {white:.2%}"
                + ("" if ok else ": more steps are weaker (gradient masking?)"),
                eps,
                tol,
            )
        )
    return checks


@dataclass
class MaskingResult:
    """The attacks :func:`run_masking_checks` ran (name -> result, all on the same images) and the checks."""

    results: dict[str, AttackResult]
    checks: list[SanityCheck]


def run_masking_checks(
    model: nn.Module,
    images: np.ndarray,
    labels: np.ndarray,
    spec: AttackSpec,
    batch_size: int = 256,
    device: torch.device | str = "cpu",
    seed: int = 0,
    black_box_options: Mapping[str, float] | None = None,
) -> MaskingResult:
    """Run the attacks behind :func:`masking_checks` around the white-box ``spec`` (e.g. PGD-10 at 8/255).

    The black-box attack is the registry's black-box entry of the same norm (Square for Linf; none for
    L2, so no such check), ``black_box_options`` over its defaults (e.g. ``{"n_queries": 1000}``); the
    large radius is :data:`LARGE_RADIUS` of the norm with the alpha scaled by ``large / eps``; more steps
    are ``MORE_STEPS`` times ``spec.steps`` at the same alpha (attacks without steps: no such check).

    Example: ``run_masking_checks(model, test.images[:500], test.labels[:500], sweep_specs("pgd")[0]).checks``
    """
    from specreg_cli.attacks import ATTACKS

    if not spec.eps > 0:
        raise ValueError("the masking checks need a radius > 0")

    def run(one: AttackSpec) -> AttackResult:
        return robust_accuracy(model, images, labels, [one], batch_size, device, seed)

    results = {"white": run(spec)}
    black = [a for a in ATTACKS.values() if a.black_box and a.norm == spec.norm]
    if black:
        black_spec = sweep_specs(black[0].name, [spec.eps], options=black_box_options)[0]
        results["black"] = run(black_spec)
    large_eps = LARGE_RADIUS[spec.norm]
    scaled = None if spec.alpha is None else spec.alpha * large_eps / spec.eps
    results["large"] = run(replace(spec, eps=large_eps, alpha=scaled))
    if spec.steps is not None and not get_attack(spec.name).one_step:
        results["more"] = run(replace(spec, steps=spec.steps * MORE_STEPS))
    acc = {key: r.robust[r.specs[0].eps] for key, r in results.items()}
    checks = masking_checks(
        acc["white"],
        spec.eps,
        results["white"].n,
        black=acc.get("black"),
        large=acc["large"],
        large_eps=large_eps,
        more=acc.get("more"),
        steps=(spec.steps, spec.steps * MORE_STEPS) if "more" in acc else None,
    )
    return MaskingResult(results, checks)


# --- records -------------------------------------------------------------------------------------


def attack_records(
    result: AttackResult,
    run: str,
    method: str,
    arch: str,
    dataset: str,
    checks: Sequence[SanityCheck] | None = None,
) -> list[Record]:
    """Tidy records: the clean accuracy; per requested eps the attack accuracy (condition = attack name) and
    the noise accuracy (condition ``noise``); one ``sanity_<check>`` record per check (1.0 pass, 0.0 fail).
    Clean and attack records carry the per-image right / wrong bits (``params["correct"]``).
    """

    def record(condition: str, metric: str, value: float, params: dict) -> Record:
        return Record(run, method, arch, dataset, condition, None, metric, value, result.n, params)

    def bits(key: str | float) -> dict:  # per-image right / wrong, for the report's worst case over attacks
        return {CORRECT: encode_correct(result.correct[key])} if key in result.correct else {}

    records = [record("clean", "accuracy", result.clean, bits("clean"))]
    for spec in result.specs:
        params = spec.params() | bits(spec.eps)
        records.append(record(result.name, "accuracy", result.robust[spec.eps], params))
        if spec.eps > 0:
            records.append(
                record(NOISE, "accuracy", result.noise[spec.eps], {"eps": spec.eps, "norm": spec.norm})
            )
    chosen = result.checks() if checks is None else checks
    sweep = [s.eps for s in result.specs]
    return records + check_records(chosen, run, method, arch, dataset, result.n, result.name, sweep)


def check_records(
    checks: Sequence[SanityCheck],
    run: str,
    method: str,
    arch: str,
    dataset: str,
    n: int,
    attack: str,
    eps_values: Sequence[float] = (),
) -> list[Record]:
    """One ``sanity_<check>`` record per check (1.0 pass, 0.0 fail) of ``attack`` on ``run``'s ``n``
    images: the sweep's own checks and the gradient-masking ones (:func:`run_masking_checks`) alike."""
    records = []
    for check in checks:
        params = {"detail": check.message, "tolerance": check.tolerance}
        if check.name == "monotone":
            params["eps_values"] = list(eps_values)
        elif check.eps is not None:
            params["eps"] = check.eps
        records.append(
            Record(
                run,
                method,
                arch,
                dataset,
                attack,
                None,
                f"sanity_{check.name}",
                float(check.passed),
                n,
                params,
            )
        )
    return records


def sweep_records(
    checkpoints: Sequence[Checkpoint], results: Sequence[AttackResult], dataset: str
) -> tuple[list[Record], dict[str, list[SanityCheck]]]:
    """:func:`attack_records` of every checkpoint's result, and each run's sanity checks (computed once)."""
    records, checks = [], {}
    for checkpoint, result in zip(checkpoints, results, strict=True):
        checks[checkpoint.run_name] = result.checks()
        records += attack_records(
            result,
            checkpoint.run_name,
            checkpoint.meta.get("method", "?"),
            checkpoint.meta["model"]["arch"],
            dataset,
            checks[checkpoint.run_name],
        )
    return records, checks


# --- saved examples ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SavedExamples:
    """One examples file written by :func:`save_examples` and the source model's accuracies on it."""

    path: Path
    run: str
    eps: float
    accuracy: float  # on the float adversarial examples
    stored_accuracy: float | None  # on the stored uint8 pixels (None for float32 files)


def save_examples(
    base: str | Path, checkpoints: Sequence[Checkpoint], results: Sequence[AttackResult], source: dict
) -> list[SavedExamples]:
    """Write the examples each result kept (``keep=``), one file per (run, eps)
    (:func:`~specreg_cli.adversarial_io.sweep_paths`), with :func:`~specreg_cli.adversarial_io.example_meta`
    metadata; ``source`` is :func:`~specreg_cli.adversarial_io.source_meta`'s dict."""
    runs = [checkpoint.run_name for checkpoint in checkpoints]
    paths = adversarial_io.sweep_paths(base, runs, [s.eps for s in results[0].specs])
    saved = []
    for checkpoint, result in zip(checkpoints, results, strict=True):
        for spec in result.specs:
            path = paths[(checkpoint.run_name, spec.eps)]
            stored = result.stored.get(spec.eps)  # rounding to uint8 may undo a few successes
            meta = adversarial_io.example_meta(
                spec.name, spec.params(), source, checkpoint, result.robust[spec.eps], stored
            )
            adversarial_io.save_adversarial(path, result.adversarial[spec.eps], result.labels, meta)
            saved.append(SavedExamples(path, checkpoint.run_name, spec.eps, result.robust[spec.eps], stored))
    return saved
