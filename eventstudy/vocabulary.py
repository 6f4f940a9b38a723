"""The names every layer shares: models, conventions and the tests of the battery.

A leaf module like :mod:`eventstudy.exceptions` (no heavy imports; any module may import it).
The test names are the statistics' vocabulary (their formulas and papers are in
:mod:`eventstudy.stats` and ``docs/statistics.md``); they live here so that the study
configuration can validate a list of tests without importing numpy or reaching down the chain.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, get_args

from eventstudy.exceptions import ConfigError

__all__ = [
    "CLUSTER_ROBUST_TESTS",
    "CONVENTIONS",
    "FACTOR_HOME_EXCHANGE",
    "FACTOR_PRESET_NAMES",
    "INDEPENDENCE_TESTS",
    "MODEL_NAMES",
    "TEST_NAMES",
    "Convention",
    "FactorPreset",
    "ModelName",
    "TestName",
    "Window",
    "check_tests",
    "check_window",
]

ModelName = Literal["market", "constant_mean", "market_adjusted", "factor"]
#: Expected-return models (:mod:`eventstudy.models`).
MODEL_NAMES: tuple[str, ...] = get_args(ModelName)

FactorPreset = Literal["ff3", "ff5", "carhart"]
#: Factor models on published Fama-French factors (``eventstudy.models.FACTOR_PRESETS``):
#: the ``factor`` model on excess returns over the library's risk-free rate.
FACTOR_PRESET_NAMES: tuple[str, ...] = get_args(FactorPreset)
#: The exchange whose trading days date each region's published factors (the default
#: region of an exchange is the one it is home to).
FACTOR_HOME_EXCHANGE: dict[str, str] = {"us": "XNYS", "japan": "XTKS"}

Convention = Literal["textbook", "estudy2"]
#: ``"textbook"`` follows the papers; ``"estudy2"`` reproduces R estudy2 0.10.
CONVENTIONS: tuple[str, ...] = get_args(Convention)

TestName = Literal[
    "portfolio",
    "sur_wald",
    "sur_wald_mean",
    "adjusted_patell",
    "kolari_pynnonen",
    "grank",
    "t_test",
    "brown_warner_1980",
    "brown_warner_1985",
    "lamb",
    "patell",
    "bmp",
    "sign",
    "generalized_sign",
    "corrado_sign",
    "corrado_rank",
    "modified_rank",
    "wilcoxon",
]
#: Every test of the battery, in display order (the clustering-robust ones first).
TEST_NAMES: tuple[str, ...] = get_args(TestName)

#: Tests whose variance allows for cross-correlation of securities sharing an event date
#: (named, not taken by position in :data:`TEST_NAMES`). Whether they keep their size on a
#: given study's data is measured by the placebo lab (:func:`eventstudy.simulate.simulate`).
CLUSTER_ROBUST_TESTS: tuple[str, ...] = (
    "portfolio",
    "sur_wald",
    "sur_wald_mean",
    "adjusted_patell",
    "kolari_pynnonen",
    "grank",
)

#: Tests that assume independent firm-events: they over-reject on a shared event date.
INDEPENDENCE_TESTS: tuple[str, ...] = (
    "t_test",
    "brown_warner_1980",
    "patell",
    "bmp",
    "sign",
    "generalized_sign",
    "corrado_sign",
    "corrado_rank",
    "modified_rank",
    "wilcoxon",
)


#: A window of relative trading days ``(start, end)``, both inclusive.
Window = tuple[int, int]


def check_window(value: object, inside: Window, field: str) -> Window:
    """``value`` read as a window ``(start, end)`` with ``start <= end`` inside ``inside``.

    Raises
    ------
    ConfigError
        Naming ``field`` and the value: not a pair of whole numbers, or not inside.
    """
    try:
        if not isinstance(value, Iterable) or isinstance(value, str | bytes):
            raise TypeError
        a, b = (int(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(
            field=field, value=value, expected="a pair of relative days (start, end)"
        ) from None
    if not inside[0] <= a <= b <= inside[1]:
        raise ConfigError(
            field=field,
            value=value,
            expected=f"start <= end inside the computed window {tuple(inside)}",
        )
    return a, b


def check_tests(tests: Iterable[str], field: str = "tests") -> tuple[str, ...]:
    """Known test names, in :data:`TEST_NAMES` order (duplicates dropped).

    Raises
    ------
    ConfigError
        Naming ``field`` and the unknown names.
    """
    if isinstance(tests, str):
        tests = [tests]
    wanted = set(tests)
    unknown = sorted(str(t) for t in wanted - set(TEST_NAMES))
    if unknown or not wanted:
        raise ConfigError(
            field=field, value=unknown or list(tests), expected=f"some of {', '.join(TEST_NAMES)}"
        )
    return tuple(t for t in TEST_NAMES if t in wanted)
