import json
from pathlib import Path

import pandas as pd
import pytest

from specreg_cli.errors import SpecregError
from specreg_cli.results import Record, provenance, read_documents, read_results, write_results


def records():
    return [
        Record("nat", "natural", "resnet20", "synthetic", "clean", None, "accuracy", 0.9, 200),
        Record("nat", "natural", "resnet20", "synthetic", "fog", 3, "accuracy", 0.625, 200),
        Record(
            "nat",
            "natural",
            "resnet20",
            "synthetic",
            "pgd",
            None,
            "accuracy",
            0.125,
            100,
            {"eps": 8 / 255, "steps": 10},
        ),
    ]


def test_round_trip(tmp_path):
    prov = provenance(
        "eval-corruptions",
        {"out": tmp_path / "r.json"},
        seed=4,
        dataset={"name": "synthetic", "sha256": "cafe"},
        checkpoints={"nat": {"path": "/x/model.pt", "sha256": "beef"}},
    )
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


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("value", float("nan"), "finite number"),
        ("value", "0.5", "finite number"),
        ("n", -1, "non-negative integer"),
        ("severity", 6, "null or 1..5"),
    ],
)
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


def test_read_documents_skips_other_json_in_folders_and_reads_each_file_once(tmp_path, monkeypatch):
    path = write_results(tmp_path / "r.json", records(), provenance("attack", {}, seed=1))
    (tmp_path / "list.json").write_text("[1, 2]")  # JSON, but not a results file: skipped in a folder
    (tmp_path / "broken.json").write_text("{broken")
    reads = []
    read_text = Path.read_text

    def counting(self, *args, **kwargs):
        reads.append(self.name)
        return read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", counting)
    documents = read_documents([tmp_path, path])
    assert [p for p, _ in documents] == [path, path]  # named twice, listed twice (as read_results always did)
    assert documents[0][1]["provenance"]["seed"] == 1 and len(documents[0][1]["records"]) == 3
    assert sorted(reads) == ["broken.json", "list.json", "r.json"]  # but read once
    with pytest.raises(SpecregError, match="not a specreg results file"):
        read_documents([tmp_path / "list.json"])  # given explicitly, it is an error
    newer = json.loads(path.read_text()) | {"version": 99}
    (tmp_path / "r.json").write_text(json.dumps(newer))
    with pytest.raises(SpecregError, match="newer specreg"):
        read_documents([tmp_path])


@pytest.mark.parametrize("version", ["1", None, 1.5, True])
def test_a_results_file_with_a_non_integer_version_is_one_error(tmp_path, version):
    path = write_results(tmp_path / "r.json", records(), provenance("test", {}, seed=0))
    path.write_text(json.dumps(json.loads(path.read_text()) | {"version": version}))
    with pytest.raises(SpecregError, match="is not an integer"):
        read_results(path)
