"""Parsers for the option values that several commands share: pixel-scale numbers, severities, name lists.

Each raises :class:`SpecregError` with the valid choices, so a typo gets one clear line.
:func:`format_pixel_value` is the inverse of :func:`parse_pixel_value`, for tables, messages and file names.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from fractions import Fraction

from specreg_cli.errors import SpecregError

LEVELS = 255  # 8-bit levels per unit of the [0, 1] pixel scale
LEVEL_SLACK = 1e-6  # eps * 255 this close to k (or k.kk) is written k/255 (k.kk/255): float error, not intent


def parse_pixel_value(text: str, option: str = "value") -> float:
    """Parse a pixel-scale number: ``"8/255"``, ``"0.5/255"``, ``"0.03"`` or ``"0"`` -> float in [0, 1] units.

    >>> parse_pixel_value("8/255") == 8 / 255
    True
    """
    raw = str(text).strip()
    try:
        value = float(_fraction(raw)) if "/" in raw else float(raw)
    except (ValueError, ZeroDivisionError):
        raise SpecregError(
            f"{option} must be a number or a fraction like 8/255, got {text!r}",
            hint=f"e.g. {option if option.startswith('--') else '--eps'} 8/255",
        ) from None
    if value < 0 or math.isnan(value):
        raise SpecregError(f"{option} must be >= 0, got {text!r}")
    return value


def _fraction(text: str) -> Fraction:
    """``"8/255"`` or ``"0.5/255"`` (a decimal numerator: :func:`format_pixel_value`) -> the exact ratio."""
    numerator, denominator = text.split("/")  # more than one "/" is a ValueError
    return Fraction(numerator.strip()) / Fraction(denominator.strip())


def format_pixel_value(value: float, sep: str = "/") -> str:
    """A pixel-scale number as the user would type it; :func:`parse_pixel_value` reads it back.

    In order: a whole number of 8-bit levels is ``8/255``; a short decimal that is exact stays as typed
    (``0.03``, ``0.5``: an L2 radius reads better than ``127.5/255``); levels with two decimals are
    ``0.5/255`` (alpha = 2.5 * eps / steps at small eps); anything else is ``%g``. ``sep="-"`` gives the
    file-name form (``8-255``).

    >>> [format_pixel_value(v) for v in (8 / 255, 0.5 / 255, 0.03, 0.0)]
    ['8/255', '0.5/255', '0.03', '0']
    >>> format_pixel_value(8 / 255, sep="-")
    '8-255'
    """
    if not math.isfinite(value):  # only from a hand-edited results file; round() would raise
        return f"{value:g}"
    levels = value * LEVELS
    whole = round(levels)
    # 1..254 levels: a tiny eps must not print as 0/255, and 1.0 or more (an L2 radius) reads as a number
    if 1 <= whole < LEVELS and abs(levels - whole) < LEVEL_SLACK:
        return f"{whole}{sep}{LEVELS}"
    short = f"{value:g}"
    if float(short) == value:
        return short
    hundredths = round(levels, 2)
    if hundredths > 0 and abs(levels - hundredths) < LEVEL_SLACK:
        return f"{hundredths:g}{sep}{LEVELS}"
    return short


def parse_pixel_values(texts: Iterable[str], option: str = "value") -> list[float]:
    """Parse several pixel-scale numbers; each item may itself be comma-separated:
    ``["0,2/255", "8/255"]``."""
    return [
        parse_pixel_value(part, option) for text in texts for part in str(text).split(",") if part.strip()
    ]


def parse_int_list(text: str, option: str = "value", example: str = "1-5 or 1,3,5") -> list[int]:
    """Parse ``"1-5"``, ``"3"``, ``"1,3,5"`` or ``"1-2,5"`` (non-negative integers) into a sorted list of
    unique values; a :class:`SpecregError` naming ``option`` otherwise.

    >>> parse_int_list("0-2,7", "--seeds")
    [0, 1, 2, 7]
    """
    chosen: set[int] = set()
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part:
                lo, hi = (int(p) for p in part.split("-", 1))
                if hi < lo:
                    raise ValueError
                chosen.update(range(lo, hi + 1))
            else:
                chosen.add(int(part))
        except ValueError:
            raise SpecregError(f"{option} must look like {example}, got {text!r}") from None
    if not chosen:
        raise SpecregError(f"{option} is empty", hint=f"e.g. {option} {example.split(' or ')[0]}")
    return sorted(chosen)


def parse_severities(text: str, valid: Sequence[int] = (1, 2, 3, 4, 5)) -> list[int]:
    """Parse ``"1-5"``, ``"3"``, ``"1,3,5"`` or ``"1-2,5"`` into a sorted list of unique severities.

    >>> parse_severities("1-3,5")
    [1, 2, 3, 5]
    """
    hint = f"valid severities: {', '.join(map(str, valid))} (ranges like 1-5 work)"
    try:
        chosen = parse_int_list(text, "severities")
    except SpecregError as error:
        raise SpecregError(error.message, hint=hint) from None
    bad = [s for s in chosen if s not in valid]
    if bad:
        raise SpecregError(f"severity {bad[0]} is not valid", hint=hint)
    return chosen


def parse_names(text: str | Sequence[str], valid: Sequence[str], what: str = "name") -> list[str]:
    """Parse a comma-separated list (or a list of such strings) of names, each checked against ``valid``.

    Order is kept and duplicates are dropped. ``"all"`` selects every valid name.
    """
    items = [text] if isinstance(text, str) else list(text)
    names: list[str] = []
    for item in items:
        for name in str(item).split(","):
            name = name.strip()
            if not name:
                continue
            if name == "all":
                names.extend(n for n in valid if n not in names)
                continue
            if name not in valid:
                raise SpecregError(f"unknown {what} {name!r}", hint=f"valid choices: {', '.join(valid)}")
            if name not in names:
                names.append(name)
    if not names:
        raise SpecregError(f"no {what} given", hint=f"valid choices: {', '.join(valid)}")
    return names
