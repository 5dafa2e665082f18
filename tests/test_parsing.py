import pytest

from specreg_cli.errors import SpecregError
from specreg_cli.parsing import (
    format_pixel_value,
    parse_names,
    parse_pixel_value,
    parse_pixel_values,
    parse_severities,
)


def test_pixel_values():
    assert parse_pixel_value("8/255") == 8 / 255
    assert parse_pixel_value("0.5") == 0.5
    assert parse_pixel_value("0") == 0.0
    assert parse_pixel_values(["0,2/255", "8/255"]) == [0.0, 2 / 255, 8 / 255]


@pytest.mark.parametrize(
    "value, shown, in_a_name",
    [
        (8 / 255, "8/255", "8-255"),  # whole 8-bit levels: the names files already on disk have
        (2 / 255, "2/255", "2-255"),
        (0.2, "51/255", "51-255"),  # 0.2 is exactly 51 levels, and its files have always been named so
        (0.5 / 255, "0.5/255", "0.5-255"),  # half a level: alpha = 2.5 * (2/255) / 10
        (0.25 / 255, "0.25/255", "0.25-255"),
        (0.03, "0.03", "0.03"),  # an exact short decimal stays as typed, not 7.65/255
        (0.5, "0.5", "0.5"),  # an L2 radius, not 127.5/255
        (1.0, "1", "1"),  # a whole pixel range or more (an L2 radius): a number, not 255/255
        (2.0, "2", "2"),
        (0.0, "0", "0"),
        (1e-9, "1e-09", "1e-09"),  # tiny but not zero: never 0/255
    ],
)
def test_format_pixel_value_round_trips(value, shown, in_a_name):
    assert format_pixel_value(value) == shown
    assert format_pixel_value(value, sep="-") == in_a_name
    assert parse_pixel_value(shown) == value


def test_format_pixel_value_falls_back_to_g():
    assert format_pixel_value(0.0261438) == "0.0261438"
    assert format_pixel_value(1 / 3 / 255) == "0.00130719"  # a third of a level: neither form is exact
    assert format_pixel_value(float("inf")) == "inf"


def test_decimal_numerators_parse_exactly():
    assert parse_pixel_value("0.5/255") == 0.5 / 255
    assert parse_pixel_value(" 8 / 255 ") == 8 / 255


@pytest.mark.parametrize("bad", ["eight", "8/0", "-1", "1/-255", "nan", "1/2/3", "/255", "0.5/"])
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
