from __future__ import annotations

import pytest

from eventstudy import exceptions as ex


def test_config_error_is_one_line_naming_file_field_value_and_fix():
    err = ex.ConfigError(
        field="events[0].announced",
        value="2025-12-03 14:30",
        expected="a time zone\n offset",
        file="k.yaml",
    )
    assert str(err) == (
        "k.yaml: events[0].announced: got '2025-12-03 14:30'; expected a time zone offset"
    )
    assert err.exit_code == 2
    assert err.field == "events[0].announced"


@pytest.mark.parametrize(
    ("err", "code"),
    [
        (ex.DataError(symbol="7203.T", detail="no rows"), 3),
        (ex.UnknownSymbol(symbol="XXXX"), 3),
        (ex.NetworkError(detail="DNS"), 4),
        (ex.RateLimited(symbol="7203.T", attempts=4), 4),
        (ex.CacheError(path="/x", detail="locked"), 3),
    ],
)
def test_exit_codes_and_single_line(err, code):
    assert err.exit_code == code
    assert "\n" not in str(err)


def test_rate_limited_is_a_network_error():
    err = ex.RateLimited(symbol="7203.T", attempts=4)
    assert isinstance(err, ex.NetworkError)
    assert "4 attempts" in str(err) and "7203.T" in str(err)


def test_warning_template():
    w = ex.format_warning(ex.SuspectedSplitWarning, symbol="7203.T", ratio=0.2, date="2021-09-29")
    assert isinstance(w, ex.DataWarning)
    assert "0.2" in str(w) and "2021-09-29" in str(w)
