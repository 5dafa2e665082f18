"""The CIFAR-10-C benchmark's metrics (Hendrycks & Dietterich, ICLR 2019, section 3), from one run's errors
and a baseline run's.

With ``E[s, c]`` the top-1 error (a fraction) on corruption ``c`` at severity ``s`` and ``E_clean`` the
clean error:

- corruption error ``CE_c = sum_s E[s, c] / sum_s E_base[s, c]``;
- relative corruption error ``rCE_c = sum_s (E[s, c] - E_clean) / sum_s (E_base[s, c] - E_base_clean)``:
  how much *more* error the corruption causes than the baseline's, whatever the clean error;
- ``mCE`` and relative ``mCE``: the means of ``CE_c`` and ``rCE_c`` over the 15 benchmark corruptions
  (:data:`corruptions.registry.BENCHMARK_CORRUPTIONS`); the 4 extra ones get a CE of their own but are
  never in a mean;
- the mean error over the 15 (mean over corruptions of the mean over severities).

The paper's baseline is AlexNet; here it is a run the caller chooses (by default the natural run of the
same report). Only what was evaluated counts: a mean over the 15 exists only when all 15 were evaluated
(for mCE: also by the baseline, on the same severities); otherwise it is None and :attr:`Scores.missing`
says which corruptions are lacking. A CE whose baseline sum is 0 (or, for rCE, not positive: the baseline
not hurt by the corruption) is undefined and left out with a note, never infinite.

Pure Python, no torch or pandas: ``eval-corruptions`` and ``report`` both use it.

Example::

    run = RunErrors.from_accuracies(0.9, {"fog": {1: 0.8, 2: 0.7}})
    base = RunErrors.from_accuracies(0.8, {"fog": {1: 0.6, 2: 0.5}})
    scores = score(run, base)
    scores.ce["fog"]            # (0.2 + 0.3) / (0.4 + 0.5) = 0.556
    scores.relative_ce["fog"]   # (0.1 + 0.2) / (0.2 + 0.3) = 0.6
    scores.mce, scores.missing  # None, the 14 benchmark corruptions other than fog
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


def benchmark_split() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(benchmark, extra) corruption names: the registry's split, imported on first use (the corruptions
    package loads torch, which ``specreg --help`` must not)."""
    from corruptions.registry import BENCHMARK_CORRUPTIONS, EXTRA_CORRUPTIONS

    return BENCHMARK_CORRUPTIONS, EXTRA_CORRUPTIONS


@dataclass(frozen=True)
class RunErrors:
    """One run's top-1 errors (fractions): clean (None when not measured) and per corruption and severity."""

    clean: float | None
    errors: Mapping[str, Mapping[int, float]]  # corruption -> severity -> error

    @classmethod
    def from_accuracies(cls, clean: float | None, accuracies: Mapping[str, Mapping[int, float]]) -> RunErrors:
        """From accuracies (fractions): error = 1 - accuracy."""
        errors = {c: {s: 1.0 - a for s, a in row.items()} for c, row in accuracies.items()}
        return cls(None if clean is None else 1.0 - clean, errors)

    @classmethod
    def from_records(cls, records: Iterable, run: str) -> RunErrors:
        """One run's errors from its accuracy records (:class:`specreg_cli.results.Record` objects)."""
        clean, grid = None, {}
        for r in records:
            if r.run != run or r.metric != "accuracy":
                continue
            if r.condition == "clean":
                clean = r.value
            elif r.severity is not None:
                grid.setdefault(r.condition, {})[r.severity] = r.value
        return cls.from_accuracies(clean, grid)

    def mean_error(self, name: str) -> float:
        """One corruption's error averaged over its evaluated severities."""
        row = self.errors[name]
        return math.fsum(row.values()) / len(row)


@dataclass(frozen=True)
class Scores:
    """One run's benchmark metrics against one baseline (fractions and ratios; 1.0 = the baseline)."""

    ce: dict[str, float] = field(default_factory=dict)  # every evaluated corruption with a usable baseline
    relative_ce: dict[str, float] = field(default_factory=dict)
    mean_error: float | None = None  # over the 15 benchmark corruptions, only when all were evaluated
    mce: float | None = None  # over the 15, only when every one has a CE
    relative_mce: float | None = None
    missing: tuple[str, ...] = ()  # benchmark corruptions this run was not evaluated on
    notes: tuple[str, ...] = ()  # why a CE, the mCE or the relative mCE is left out


def corruption_error(run: RunErrors, base: RunErrors, name: str) -> tuple[float | None, str | None]:
    """(CE of ``name``, None) or (None, why not): the baseline lacks it, on other severities, or sums to 0."""
    why = _comparable(run, base, name)
    if why:
        return None, why
    denominator = math.fsum(base.errors[name].values())
    if denominator <= 0:
        return None, f"{name}: the baseline makes no error on it, so its CE is undefined"
    return math.fsum(run.errors[name].values()) / denominator, None


def relative_corruption_error(run: RunErrors, base: RunErrors, name: str) -> tuple[float | None, str | None]:
    """(relative CE of ``name``, None) or (None, why not); needs both clean errors and a baseline that the
    corruption hurts (a positive denominator)."""
    why = _comparable(run, base, name)
    if why:
        return None, why
    if run.clean is None or base.clean is None:
        return None, "relative CE needs the clean error of the run and of the baseline"
    levels = run.errors[name]
    numerator = math.fsum(e - run.clean for e in levels.values())
    denominator = math.fsum(base.errors[name][s] - base.clean for s in levels)
    if denominator <= 0:
        return (
            None,
            f"{name}: the baseline's error is not above its clean error, so its relative CE is undefined",
        )
    return numerator / denominator, None


def _comparable(run: RunErrors, base: RunErrors, name: str) -> str | None:
    if name not in run.errors:
        return f"{name} was not evaluated"
    if name not in base.errors:
        return f"{name}: the baseline was not evaluated on it"
    if set(run.errors[name]) != set(base.errors[name]):
        return f"{name}: the baseline was evaluated on other severities"
    return None


def score(run: RunErrors, base: RunErrors | None) -> Scores:
    """Every metric of ``run`` against ``base`` (None: no baseline, so only the mean error)."""
    benchmark, extra = benchmark_split()
    evaluated = [n for n in (*benchmark, *extra) if n in run.errors]
    missing = tuple(n for n in benchmark if n not in run.errors)
    notes: list[str] = []
    ce, relative = {}, {}
    for name in evaluated if base is not None else ():
        value, why = corruption_error(run, base, name)
        if value is not None:
            ce[name] = value
        rel, why_rel = relative_corruption_error(run, base, name)
        if rel is not None:
            relative[name] = rel
        notes += [w for w in dict.fromkeys((why, why_rel)) if w]
    complete = not missing
    return Scores(
        ce,
        relative,
        _mean([run.mean_error(n) for n in benchmark]) if complete else None,
        _mean([ce[n] for n in benchmark]) if complete and all(n in ce for n in benchmark) else None,
        _mean([relative[n] for n in benchmark])
        if complete and all(n in relative for n in benchmark)
        else None,
        missing,
        tuple(dict.fromkeys(notes)),
    )


def _mean(values: list[float]) -> float:
    return math.fsum(values) / len(values)


def missing_note(missing: tuple[str, ...] | list[str]) -> str:
    """The one line that says why no mean over the 15 is shown."""
    benchmark, _ = benchmark_split()
    return (
        f"mean error, mCE and relative mCE are over all {len(benchmark)} benchmark corruptions; "
        f"{len(missing)} not evaluated: {', '.join(missing)}"
    )


def pick_baseline(methods: Mapping[str, str], name: str) -> tuple[str | None, str | None]:
    """(the run to normalise by, None) or (None, why there is none): the run called ``name``, else the one
    run whose method is ``name``. ``methods`` maps run names to their training method."""
    if name in methods:
        return name, None
    matches = [run for run, method in methods.items() if method == name]
    if len(matches) == 1:
        return matches[0], None
    if matches:
        return None, f"several {name} runs ({', '.join(matches)}): name one with --baseline RUN for mCE"
    return None, f"no {name} run among these models: CE and mCE need one (--baseline RUN or METHOD)"
