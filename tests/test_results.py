import json

import pandas as pd
import pytest

from specreg_cli.errors import SpecregError
from specreg_cli.results import Record, provenance, read_results, write_results


def records():
    return [
        Record("nat", "natural", "resnet20", "synthetic", "clean", None, "accuracy", 0.9, 200),
        Record("nat", "natural", "resnet20", "synthetic", "fog", 3, "accuracy", 0.625, 200),
        Record("nat", "natural", "resnet20", "synthetic", "pgd", None, "accuracy", 0.125, 100,
               {"eps": 8 / 255, "steps": 10}),
    ]


def test_round_trip(tmp_path):
    prov = provenance("eval-corruptions", {"out": tmp_path / "r.json"}, seed=4,
                      dataset={"name": "synthetic", "sha256": "cafe"},
                      checkpoints={"nat": {"path": "/x/model.pt", "sha256": "beef"}})
    path = write_results(tmp_path / "sub" / "r.json", records(), prov)
    document = json.loads(path.read_text())
    assert document["records"][1]["severity"] == 3 and isinstance(document["records"][1]["value"], float)
    assert document["provenance"]["packages"]["torch"]
    frame = read_results([tmp_path])  # folders are searched
    assert len(frame) == 3
    assert frame.loc[1, "value"] == 0.625 and frame.loc[1, "severity"] == 3
    assert pd.isna(frame.loc[0, "severity"])
    assert frame.loc[2, "param_eps"] == pytest.approx(8 / 255) and frame.loc[2, "param_steps"] == 10
    assert set(frame["checkpoint_sha256"]) == {"beef"} and set(frame["dataset_sha256"]) == {"cafe"}
    assert frame.loc[0, "seed"] == 4 and frame.loc[0, "source"] == str(path)


@pytest.mark.parametrize("field, value, message", [
    ("value", float("nan"), "finite number"),
    ("value", "0.5", "finite number"),
    ("n", -1, "non-negative integer"),
    ("severity", 6, "null or 1..5"),
])
def test_invalid_records_are_refused(tmp_path, field, value, message):
    bad = records()
    setattr(bad[0], field, value)
    with pytest.raises(SpecregError, match=message):
        write_results(tmp_path / "r.json", bad, {})
    assert not (tmp_path / "r.json").exists()


def test_reader_errors(tmp_path):
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(SpecregError, match="not a specreg results file"):
        read_results(tmp_path / "x.json")
    with pytest.raises(SpecregError, match="does not exist"):
        read_results(tmp_path / "missing.json")
    (tmp_path / "y.json").write_text("{broken")
    with pytest.raises(SpecregError, match="not a readable JSON"):
        read_results(tmp_path / "y.json")
