import pytest

from specreg_cli.errors import SpecregError
from specreg_cli.parsing import parse_names, parse_pixel_value, parse_pixel_values, parse_severities


def test_pixel_values():
    assert parse_pixel_value("8/255") == 8 / 255
    assert parse_pixel_value("0.5") == 0.5
    assert parse_pixel_value("0") == 0.0
    assert parse_pixel_values(["0,2/255", "8/255"]) == [0.0, 2 / 255, 8 / 255]


@pytest.mark.parametrize("bad", ["eight", "8/0", "-1", "1/-255", "nan"])
def test_bad_pixel_values(bad):
    with pytest.raises(SpecregError):
        parse_pixel_value(bad)


def test_severities():
    assert parse_severities("1-5") == [1, 2, 3, 4, 5]
    assert parse_severities("5,1,3") == [1, 3, 5]
    assert parse_severities("1-2,5") == [1, 2, 5]
    for bad in ("0", "6", "1-6", "a", ""):
        with pytest.raises(SpecregError, match="severit"):
            parse_severities(bad)


def test_names():
    valid = ("fog", "contrast", "impulse_noise")
    assert parse_names("fog,contrast,fog", valid) == ["fog", "contrast"]
    assert parse_names("all", valid) == list(valid)
    with pytest.raises(SpecregError) as info:
        parse_names("fgo", valid, "corruption")
    assert "fog" in info.value.hint
