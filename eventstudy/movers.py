"""Which securities a figure or a table shows when a study has too many to show them all.

A chart of 2,000 CAR lines or a table of 2,000 rows answers nothing and makes a page of
hundreds of megabytes. Up to :data:`MAX_SECURITIES_SHOWN` securities (or firm-events) are
shown, every one; beyond it, the :data:`MOVERS_SHOWN` largest and the
:data:`MOVERS_SHOWN` smallest by CAR, labelled as such ("the 10 largest and 10 smallest
CAR(0,+1) of 2,000 securities"), and the report adds the distribution of every CAR. The
full tables are always in ``tables/*.csv``.

A leaf module (pandas only): the figures, the report and the terminal summary choose the
same securities with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = ["MAX_SECURITIES_SHOWN", "MOVERS_SHOWN", "Movers", "top_and_bottom"]

#: Most securities (or firm-events) a per-security figure or table shows, every one of them;
#: above it, only the movers (:data:`MOVERS_SHOWN` largest and smallest CARs).
MAX_SECURITIES_SHOWN = 30

#: How many of the largest and of the smallest CARs are shown above the cap.
MOVERS_SHOWN = 10


@dataclass(frozen=True)
class Movers:
    """The keys shown and why.

    Attributes
    ----------
    keys : list
        The keys shown (securities, or firm-event keys); above the cap, largest CAR first.
    total : int
        How many there were.
    capped : bool
        True when only the movers are shown.
    label : str
        What is shown, for a subtitle or a table note: "" when every key is shown, else e.g.
        "the 10 largest and 10 smallest CAR(0,+1) of 2,000 securities".
    """

    keys: list
    total: int
    capped: bool
    label: str

    def __contains__(self, key: object) -> bool:
        return key in set(self.keys)


def top_and_bottom(
    values: pd.Series,
    *,
    measure: str,
    noun: str = "securities",
    cap: int | None = MAX_SECURITIES_SHOWN,
    n: int = MOVERS_SHOWN,
) -> Movers:
    """Every key of ``values`` up to ``cap`` of them; beyond, the ``n`` largest and ``n``
    smallest values.

    Parameters
    ----------
    values : Series
        One value (a CAR) per key (the index: securities or firm-event keys), keys unique.
    measure : str
        What the values are, for the label (e.g. ``"CAR(0,+1)"``).
    noun : str
        What the keys are, for the label (``"securities"``, ``"firm-events"``).
    cap : int or None
        Most keys shown in full (None: no cap).
    n : int
        Movers on each side above the cap.

    Returns
    -------
    Movers
        Above the cap, the keys sorted by value, largest first (ties by key, so the choice
        does not depend on the input's order); missing values are never movers. Up to the
        cap, the keys in their input order.
    """
    keys = list(values.index)
    total = len(keys)
    if cap is None or total <= cap:
        return Movers(keys=keys, total=total, capped=False, label="")
    ranked = (
        pd.DataFrame({"key": [str(k) for k in keys], "value": values.to_numpy(dtype=float)})
        .assign(orig=keys)
        .dropna(subset=["value"])
        .sort_values(["value", "key"], ascending=[False, True], kind="stable")
    )
    k = min(n, len(ranked) // 2) if len(ranked) < 2 * n else n
    top = list(ranked["orig"].iloc[:k])
    bottom = [x for x in ranked["orig"].iloc[len(ranked) - k :] if x not in set(top)]
    label = f"the {k} largest and {k} smallest {measure} of {total:,} {noun}"
    return Movers(keys=[*top, *bottom], total=total, capped=True, label=label)
