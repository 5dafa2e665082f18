"""The report's attack side (issue 15): AutoAttack is the headline, the per-image worst case over attacks
at one radius, and the per-image bits (params.correct) that it needs, validated on read. Records are written
in the real results format with results.write_results."""

from __future__ import annotations

import json

import numpy as np
import pytest

from specreg_cli import report as rep
from specreg_cli.errors import SpecregError
from specreg_cli.report.worst_case import worst_case_rows
from specreg_cli.results import (
    Record,
    decode_correct,
    encode_correct,
    provenance,
    read_results,
    write_results,
)

SHA = "b2" * 32
EPS8 = 8 / 255
N = 10
# per image right / wrong of run "nat": clean, PGD-10 and AutoAttack at 8/255 on the same 10 images
CLEAN = np.array([1, 1, 1, 1, 1, 1, 1, 0, 0, 0], dtype=bool)
PGD = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0], dtype=bool)  # 40%
AA = np.array([0, 1, 1, 0, 1, 0, 0, 0, 0, 0], dtype=bool)  # 30%: AutoAttack finds others, misses image 4
WORST = CLEAN & PGD & AA  # images 1, 2: 20%


def _records(condition: str, bits: np.ndarray, params: dict, clean: bool = True) -> list[Record]:
    rows = []
    if clean:
        rows.append(
            Record(
                "nat",
                "natural",
                "resnet20",
                "synthetic",
                "clean",
                None,
                "accuracy",
                CLEAN.mean(),
                N,
                {"correct": encode_correct(CLEAN)},
            )
        )
    rows.append(
        Record(
            "nat",
            "natural",
            "resnet20",
            "synthetic",
            condition,
            None,
            "accuracy",
            bits.mean(),
            N,
            {**params, "eps": EPS8, "norm": "Linf", "correct": encode_correct(bits)},
        )
    )
    return rows


def _write(path, records):
    dataset = {"name": "synthetic", "split": "test", "n": N, "sha256": SHA}
    checkpoints = {"nat": {"path": "/runs/nat/model.pt", "sha256": "nat-sha"}}
    return write_results(path, records, provenance("attack", {}, 0, dataset, checkpoints))


@pytest.fixture
def files(tmp_path):
    _write(tmp_path / "pgd.json", _records("pgd", PGD, {"alpha": 2 / 255, "steps": 10, "random_start": True}))
    _write(tmp_path / "aa.json", _records("autoattack", AA, {"n_queries": 5000}))
    return tmp_path


def test_bits_round_trip_and_their_padding():
    for n in (1, 7, 8, 9, 100):
        bits = np.random.default_rng(n).random(n) < 0.5
        assert (decode_correct(encode_correct(bits), n) == bits).all()
    with pytest.raises(ValueError):
        decode_correct("ff", 7)  # a padding bit set


def test_worst_case_is_the_per_image_and_over_attacks(files):
    rows = worst_case_rows(read_results(files))
    assert len(rows) == 1
    row = rows.iloc[0]
    assert row["value"] == WORST.mean() == 0.2 and row["param_attacks"] == "autoattack, pgd"
    assert row["param_eps"] == EPS8 and row["n"] == N


def test_attacks_on_different_prefixes_meet_on_the_shorter_one(tmp_path):
    # PGD on all 10 images, AutoAttack on the first 6 (its own default is a prefix of the split): the
    # worst case covers images 0-5, where image 4 falls to PGD and images 0, 3 to AutoAttack
    _write(tmp_path / "pgd.json", _records("pgd", PGD, {"steps": 10}))
    short = [
        Record(
            r.run,
            r.method,
            r.arch,
            r.dataset,
            r.condition,
            r.severity,
            r.metric,
            bits[:6].mean(),
            6,
            {**r.params, "correct": encode_correct(bits[:6])},
        )
        for r, bits in zip(_records("autoattack", AA, {}), (CLEAN, AA), strict=True)
    ]
    _write(tmp_path / "aa.json", short)
    rows = worst_case_rows(read_results(tmp_path))
    assert len(rows) == 1
    row = rows.iloc[0]
    assert row["n"] == 6 and row["value"] == (CLEAN & PGD & AA)[:6].mean() == 2 / 6


def test_autoattack_is_the_headline_and_the_worst_case_a_column(files):
    report = rep.build_report(rep.load_inputs([files]))
    attack_labels = [c.label for c in report.columns if c.kind == "attack"]
    assert attack_labels == ["AutoAttack 8/255", "PGD-10 8/255", "worst case Linf 8/255"]
    assert [c.label for c in report.headline] == ["AutoAttack 8/255"]
    text = rep.to_markdown(report)
    section = text.split("## Headline", 1)[1].split("\n## ", 1)[0]
    assert "| natural  |   70.00 |              30.00 |                   20.00 |" in section
    assert "attack worst case Linf 8/255: eps 8/255, norm Linf, attacks autoattack, pgd" in text


def test_no_worst_case_without_two_attacks_or_without_bits(tmp_path):
    _write(tmp_path / "pgd.json", _records("pgd", PGD, {"steps": 10}))
    old = _records("autoattack", AA, {}, clean=False)
    old[0].params.pop("correct")  # a file written before per-image bits: loads, takes no part
    _write(tmp_path / "old.json", old)
    report = rep.build_report(rep.load_inputs([tmp_path]))
    assert "worst case" not in " ".join(c.label for c in report.columns)
    assert "## Headline" in rep.to_markdown(report)  # AutoAttack is still the headline
    only_pgd = rep.build_report(rep.load_inputs([tmp_path / "pgd.json"]))
    assert "## Headline" not in rep.to_markdown(only_pgd)


@pytest.mark.parametrize(
    "bits, message",
    [("ff", "per-image bits"), ("zz" * 2, "per-image bits"), (encode_correct(~PGD), "counts 6 of 10")],
)
def test_bad_bits_are_refused_on_read(files, bits, message):
    path = files / "pgd.json"
    document = json.loads(path.read_text())
    document["records"][1]["params"]["correct"] = bits
    path.write_text(json.dumps(document))
    with pytest.raises(SpecregError, match=message):
        read_results(path)
