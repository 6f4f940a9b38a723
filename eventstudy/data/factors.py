"""Published Fama-French factors from Kenneth French's data library.

The library (https://mba.tuck.dartmouth.edu/pages/faculty/ken.french/data_library.html)
publishes each dataset as ``<name>_CSV.zip``: one CSV file with a few lines of notes, a blank
line, a header whose first cell is empty (``,Mkt-RF,SMB,HML,RF``), one row per day dated
``YYYYMMDD`` with returns **in percent**, and a copyright line. Missing values are written
``-99.99`` or ``-999``. :func:`read_french_table` reads that format (zipped or not) into
decimal returns; :class:`FrenchLibrary` finds a dataset in a local folder, else in the cache,
else fetches it (when online) and caches it like prices: atomic write, per-file lock, a
SHA-256 checked on every read, a corrupt file discarded with a warning and fetched again.

Datasets (daily): US ``F-F_Research_Data_Factors_daily`` (3 factors),
``F-F_Research_Data_5_Factors_2x3_daily`` (5), ``F-F_Momentum_Factor_daily``; Japan
``Japan_3_Factors_Daily``, ``Japan_5_Factors_Daily``, ``Japan_Mom_Factor_Daily``. Columns are
normalised to ``Mkt-RF``, ``SMB``, ``HML``, ``RMW``, ``CMA``, ``MOM`` (the library's ``Mom``,
``WML`` or ``UMD``) and ``RF``.

Calendars and look-ahead (:func:`align_factors`)
-------------------------------------------------
A factor file has its own calendar: the US files are dated by New York trading days; the
Japan files by the days of their Japanese return data, computed in US dollars (the library's
international factors are dollar returns and their ``RF`` is the US one-month T-bill), so a
row can fall on a Tokyo holiday and a Tokyo session can lack a row. Rows are matched to an
exchange's sessions by calendar date, never forward-filled:

- ``"same_date"`` (the factors' home market closes no later than the exchange, e.g. Japan
  factors for Tokyo, or Japan factors for New York): session ``s_k`` gets the rows dated in
  ``(s_{k-1}, s_k]``; a row dated on a non-session (a holiday) is compounded into the next
  session, so nothing is lost and nothing from after the session's close is used;
- ``"next_session"`` (the factors' home market closes after the exchange on the same date,
  e.g. US factors for Tokyo): session ``s_k`` gets the rows dated in ``[s_{k-1}, s_k)``: the
  row dated ``d`` is known only after New York closes on ``d``, which is after Tokyo's close
  on ``d``, so it belongs to the next Tokyo session.

Several rows in one session's span are compounded: ``prod(1 + f) - 1`` for ``RF`` and the
long-short factors, and ``Mkt-RF`` as the compounded total market return minus the
compounded ``RF``. A session without any row in its span is ``NaN`` (no observation).
:func:`eventstudy.calendar.factor_rule` picks the rule from the exchanges' closing times.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import warnings
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, get_args

import numpy as np
import pandas as pd

from eventstudy.exceptions import (
    CacheWarning,
    DataError,
    DataWarning,
    NetworkError,
    NotCached,
    format_warning,
)
from eventstudy.vocabulary import FACTOR_HOME_EXCHANGE

__all__ = [
    "FACTOR_COLUMNS",
    "FRENCH_URL",
    "HOME_EXCHANGE",
    "MKT_RF",
    "MOM",
    "PRESET_DATASETS",
    "REGIONS",
    "RF",
    "AlignRule",
    "FactorKind",
    "FrenchLibrary",
    "Region",
    "align_factors",
    "coverage_warning",
    "dataset_name",
    "preset_columns",
    "read_french_table",
]

Region = Literal["us", "japan"]
#: Regions whose daily factors the package knows.
REGIONS: tuple[str, ...] = get_args(Region)
FactorKind = Literal["ff3", "ff5", "momentum"]
AlignRule = Literal["same_date", "next_session"]

MKT_RF = "Mkt-RF"
RF = "RF"
MOM = "MOM"
#: Every normalised column a factor table can carry.
FACTOR_COLUMNS: tuple[str, ...] = (MKT_RF, "SMB", "HML", "RMW", "CMA", MOM, RF)

#: The library's dataset names (daily files).
_DATASETS: dict[tuple[str, str], str] = {
    ("us", "ff3"): "F-F_Research_Data_Factors_daily",
    ("us", "ff5"): "F-F_Research_Data_5_Factors_2x3_daily",
    ("us", "momentum"): "F-F_Momentum_Factor_daily",
    ("japan", "ff3"): "Japan_3_Factors_Daily",
    ("japan", "ff5"): "Japan_5_Factors_Daily",
    ("japan", "momentum"): "Japan_Mom_Factor_Daily",
}

#: The datasets each model preset reads (joined on their dates).
PRESET_DATASETS: dict[str, tuple[FactorKind, ...]] = {
    "ff3": ("ff3",),
    "ff5": ("ff5",),
    "carhart": ("ff3", "momentum"),
}

#: The exchange whose trading days date each region's factors.
HOME_EXCHANGE: dict[str, str] = FACTOR_HOME_EXCHANGE

#: Where the library serves ``<name>_CSV.zip``.
FRENCH_URL = "https://mba.tuck.dartmouth.edu/pages/faculty/ken.french/ftp/"
_SOURCE = "Kenneth French data library"

#: Library column names -> ours (matched ignoring case and spaces).
_ALIASES: dict[str, str] = {
    "mkt-rf": MKT_RF,
    "smb": "SMB",
    "hml": "HML",
    "rmw": "RMW",
    "cma": "CMA",
    "rf": RF,
    "mom": MOM,
    "wml": MOM,
    "umd": MOM,
}
#: The library's codes for a missing value.
_MISSING = (-99.99, -999.0)
_DAY_RE = re.compile(r"^\d{8}$")
_MONTH_RE = re.compile(r"^\d{6}$")


def dataset_name(region: str, kind: str) -> str:
    """The library's name of the daily ``kind`` factors of ``region``.

    >>> dataset_name("japan", "ff3")
    'Japan_3_Factors_Daily'
    """
    try:
        return _DATASETS[(region, kind)]
    except KeyError:
        raise DataError(
            symbol="fama_french",
            detail=f"no daily {kind} factors for region {region!r}",
            fix=f"use a region among {', '.join(REGIONS)}",
        ) from None


# ----------------------------------------------------------------------------- the format


def _text_of(data: bytes, where: str) -> str:
    """The CSV text of a library file: the one CSV member of a zip, or the bytes as text."""
    if data[:2] == b"PK":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                members = [n for n in zf.namelist() if n.lower().endswith((".csv", ".txt"))]
                if len(members) != 1:
                    raise DataError(
                        symbol=where,
                        detail=f"the zip holds {len(members)} CSV files ({', '.join(members)})",
                        fix="give the library's <name>_CSV.zip, which holds one CSV file",
                    )
                data = zf.read(members[0])
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise DataError(
                symbol=where,
                detail=f"not a readable zip file ({exc})",
                fix="download the file again from the library",
            ) from None
    if b"\x00" in data[:4096]:
        raise DataError(
            symbol=where, detail="binary content, not a CSV file", fix="give the library's file"
        )
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")  # pragma: no cover - cp1252 leaves few bytes undecodable


def read_french_table(
    data: bytes | str | os.PathLike[str], *, where: str | None = None
) -> pd.DataFrame:
    """Read a daily table of Kenneth French's library into decimal returns.

    Parameters
    ----------
    data : bytes, str or path
        The ``<name>_CSV.zip`` file (or its CSV), as a path or as its bytes.
    where : str, optional
        Name used in messages (default: the path, or ``"factors"``).

    Returns
    -------
    DataFrame
        Indexed by date (``DatetimeIndex`` named ``date``, sorted, unique), one float column
        per factor under the normalised names (``Mkt-RF``, ``SMB``, ``HML``, ``RMW``, ``CMA``,
        ``MOM``, ``RF``), in **decimals** (the file's percent divided by 100); the library's
        missing-value codes (``-99.99``, ``-999``) are ``NaN``. ``attrs["notes"]`` holds the
        file's header lines.

    Raises
    ------
    DataError
        One line naming the file, the line, the column and the value: no header, a monthly
        file, a cell that is not a number, a row of the wrong width, a date that does not
        exist or comes twice.

    Notes
    -----
    The first table of the file is read: the header is the first line whose first cell is
    empty; its rows are the following lines dated ``YYYYMMDD``, up to the first blank or
    undated line (daily files hold one table; the copyright line ends it).
    """
    if isinstance(data, bytes):
        raw, name = data, where or "factors"
    else:
        path = Path(data)
        name = where or str(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise DataError(
                symbol=name,
                detail=f"cannot read the file ({exc.strerror or exc})",
                fix="give an existing file downloaded from the library",
            ) from None
    lines = _text_of(raw, name).splitlines()
    head = next(
        (i for i, ln in enumerate(lines) if ln.strip().startswith(",") and ln.count(",") >= 1),
        None,
    )
    if head is None:
        raise DataError(
            symbol=name,
            detail="no table header (a line starting with a comma, e.g. ',Mkt-RF,SMB,HML,RF')",
            fix="give a daily factor file of Kenneth French's data library",
        )
    header = [c.strip() for c in lines[head].split(",")][1:]
    columns = []
    for j, col in enumerate(header):
        norm = _ALIASES.get(col.lower().replace(" ", ""))
        if norm is None:
            raise DataError(
                symbol=name,
                detail=f"line {head + 1}: unknown factor column {col!r}",
                fix="give a factor file (columns such as Mkt-RF, SMB, HML, RMW, CMA, Mom, RF)",
            )
        if norm in columns:
            raise DataError(
                symbol=name,
                detail=f"line {head + 1}: column {header[j]!r} twice",
                fix="give the library's file unchanged",
            )
        columns.append(norm)
    # the table: the dated lines under the header, up to the first blank or undated one
    first_cells = [ln.split(",", 1)[0].strip() for ln in lines[head + 1 :]]
    n_rows = 0
    for first in first_cells:
        if not _DAY_RE.match(first):
            break
        n_rows += 1
    if n_rows == 0 and first_cells and _MONTH_RE.match(first_cells[0]):
        raise DataError(
            symbol=name,
            detail=f"line {head + 2}: a monthly table (date {first_cells[0]}), not a daily one",
            fix="give the daily file (its name ends in _daily or _Daily)",
        )
    if not n_rows:
        raise DataError(
            symbol=name,
            detail=f"no dated rows under the header on line {head + 1}",
            fix="give a daily factor file (rows dated YYYYMMDD)",
        )
    block = lines[head + 1 : head + 1 + n_rows]
    widths = np.array([ln.count(",") for ln in block])
    if (widths != len(columns)).any():
        k = int(np.flatnonzero(widths != len(columns))[0])
        raise DataError(
            symbol=name,
            detail=f"line {head + 2 + k}: {widths[k]} values for {len(columns)} columns",
            fix="give the library's file unchanged",
        )
    cells = pd.read_csv(
        io.StringIO("\n".join(block)),
        header=None,
        dtype=str,
        keep_default_na=False,
        skipinitialspace=True,
    )
    dates = [str(d).strip() for d in cells.iloc[:, 0]]
    values = np.empty((n_rows, len(columns)))
    for j, col in enumerate(columns):
        text = cells.iloc[:, j + 1].str.strip()
        nums = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(nums)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            what = (
                "a finite number" if text.iloc[k].lower() in ("nan", "inf", "-inf") else "a number"
            )
            raise DataError(
                symbol=name,
                detail=f"line {head + 2 + k}, column {col}: {text.iloc[k]!r} is not {what}",
                fix="give the library's file unchanged (returns in percent)",
            )
        missing = np.zeros(n_rows, dtype=bool)
        for m in _MISSING:
            missing |= np.abs(nums - m) < 1e-9
        values[:, j] = np.where(missing, np.nan, nums / 100.0)
    index = pd.to_datetime(pd.Series(dates), format="%Y%m%d", errors="coerce")
    if index.isna().any():
        k = int(np.flatnonzero(index.isna().to_numpy())[0])
        raise DataError(
            symbol=name,
            detail=f"line {head + 2 + k}: {dates[k]} is not a calendar date",
            fix="give the library's file unchanged",
        )
    idx = pd.DatetimeIndex(index, name="date")
    if idx.has_duplicates:
        k = int(np.flatnonzero(idx.duplicated())[0])
        raise DataError(
            symbol=name,
            detail=f"line {head + 2 + k}: date {dates[k]} appears twice",
            fix="keep one row per date",
        )
    out = pd.DataFrame(values, index=idx, columns=columns).sort_index()
    out.columns.name = None
    out.attrs = {"notes": [ln.strip() for ln in lines[:head] if ln.strip()], "source": name}
    return out


# ----------------------------------------------------------------------------- alignment


def align_factors(
    factors: pd.DataFrame, sessions: Sequence[pd.Timestamp] | pd.DatetimeIndex, rule: AlignRule
) -> pd.DataFrame:
    """Factor returns on an exchange's sessions, by the calendar-date ``rule``.

    Parameters
    ----------
    factors : DataFrame
        Decimal factor returns by date (:func:`read_french_table` or :meth:`FrenchLibrary.load`).
    sessions : DatetimeIndex
        The exchange's sessions (sorted).
    rule : {"same_date", "next_session"}
        See the module notes: rows dated in ``(s_{k-1}, s_k]`` or in ``[s_{k-1}, s_k)`` go
        to session ``s_k``.

    Returns
    -------
    DataFrame
        Indexed by ``sessions``, the same columns; several rows in one span compounded
        (``Mkt-RF`` via the total market return), a span without a row ``NaN``. The first
        session takes only a row dated on it (``same_date``) or none (``next_session``):
        its span is not known. ``attrs["unmatched_share"]`` is the share of rows inside the
        sessions' range that fall on non-sessions (compounded into the next one).
    """
    sess = pd.DatetimeIndex(sessions).normalize()
    if rule not in get_args(AlignRule):
        raise ValueError(f"unknown alignment rule {rule!r}")
    frame = factors.sort_index()
    dates = pd.DatetimeIndex(frame.index).normalize().to_numpy()
    s = sess.to_numpy()
    side: Literal["left", "right"] = "left" if rule == "same_date" else "right"
    # position k of the session whose span holds each row
    k = np.searchsorted(s, dates, side=side)
    inside = k < len(s)
    if rule == "same_date":
        # a row before the first session has no span; one on the first session does
        first_ok = (k > 0) | (dates == s[0]) if len(s) else np.zeros(len(dates), dtype=bool)
        inside &= first_ok
    else:
        inside &= k > 0
    rows = np.flatnonzero(inside)
    target = k[rows]
    values = frame.to_numpy(dtype=float)[rows]
    cols = list(frame.columns)
    total = values.copy()
    if MKT_RF in cols and RF in cols:  # compound the total market return, then subtract RF
        total[:, cols.index(MKT_RF)] = values[:, cols.index(MKT_RF)] + values[:, cols.index(RF)]
    out = np.full((len(s), len(cols)), np.nan)
    if len(rows):
        log1p = np.log1p(total)
        sums = np.zeros((len(s), len(cols)))
        seen = np.zeros((len(s), len(cols)), dtype=bool)
        ok = np.isfinite(log1p)
        np.add.at(sums, target, np.where(ok, log1p, 0.0))
        bad = np.zeros((len(s), len(cols)), dtype=bool)
        np.logical_or.at(seen, target, ok)
        np.logical_or.at(bad, target, ~ok)
        comp = np.expm1(sums)
        comp[~seen | bad] = np.nan  # a missing value inside a span leaves the span missing
        if MKT_RF in cols and RF in cols:
            comp[:, cols.index(MKT_RF)] = comp[:, cols.index(MKT_RF)] - comp[:, cols.index(RF)]
        out = comp
    result = pd.DataFrame(out, index=pd.DatetimeIndex(sess, name="date"), columns=cols)
    lo, hi = (s[0], s[-1]) if len(s) else (None, None)
    in_range = (dates >= lo) & (dates <= hi) if lo is not None else np.zeros(0, dtype=bool)
    off = ~np.isin(dates[in_range], s) if len(s) else np.zeros(0, dtype=bool)
    result.attrs = {
        "rule": rule,
        "unmatched_share": float(off.mean()) if off.size else 0.0,
        "first": str(pd.Timestamp(dates[0]).date()) if len(dates) else None,
        "last": str(pd.Timestamp(dates[-1]).date()) if len(dates) else None,
    }
    return result


# ----------------------------------------------------------------------------- the library


@dataclass(frozen=True)
class _Cached:
    frame: pd.DataFrame
    meta: dict[str, str]


class FrenchLibrary:
    """Daily Fama-French factors: a local folder first, then the cache, then the library.

    Parameters
    ----------
    folder : path, optional
        A folder holding library files under their names (``Japan_3_Factors_Daily_CSV.zip``,
        or the unzipped ``Japan_3_Factors_Daily.csv``). Files there are read in place and
        never cached or fetched.
    offline : bool
        Never touch the network: a dataset not in ``folder`` must be in the cache.
    refresh : bool
        Fetch again even when the cache holds the dataset.
    cache_root : path, optional
        Cache folder (default: the price cache's, ``EVENTSTUDY_CACHE``); datasets go under
        ``<root>/french/``.
    base_url : str
        Where ``<name>_CSV.zip`` is served (the library; tests use a local server).
    timeout : float
        Seconds to wait for the library.

    Notes
    -----
    The library adds new months with a lag of one to two months. A cached dataset is fetched
    again (online) when it ends before the date a study needs (``needed_until`` of
    :meth:`load`) and was not fetched today; offline, the cached copy is used as it is and
    the study says which dates it lacks.
    """

    def __init__(
        self,
        folder: str | os.PathLike[str] | None = None,
        *,
        offline: bool = False,
        refresh: bool = False,
        cache_root: str | os.PathLike[str] | None = None,
        base_url: str = FRENCH_URL,
        timeout: float = 60.0,
    ) -> None:
        from eventstudy.data.cache import default_cache_dir

        self.folder = Path(folder).expanduser() if folder is not None else None
        if self.folder is not None and not self.folder.is_dir():
            raise DataError(
                symbol="fama_french.dir",
                detail=f"{self.folder} is not a folder",
                fix="name a folder holding the library's <name>_CSV.zip files",
            )
        self.offline = offline
        self.refresh = refresh
        self.root = (
            Path(cache_root).expanduser() if cache_root is not None else default_cache_dir()
        ) / "french"
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.timeout = float(timeout)

    def __repr__(self) -> str:
        return f"FrenchLibrary(folder={self.folder!s}, cache={self.root!s})"

    # ------------------------------------------------------------------ public
    def load(
        self,
        region: str,
        kinds: Iterable[str],
        *,
        needed_until: pd.Timestamp | None = None,
    ) -> pd.DataFrame:
        """The daily factors ``kinds`` (``ff3``, ``ff5``, ``momentum``) of ``region``, joined.

        Returns
        -------
        DataFrame
            Decimal returns by date; the union of the datasets' dates (a date missing from
            one dataset is ``NaN`` there). ``attrs["provenance"]`` lists each dataset's file
            or URL, where it was read from (``folder``, ``cache``, ``fetched``) and its dates.
        """
        frames = []
        prov = []
        for kind in dict.fromkeys(kinds):
            name = dataset_name(region, kind)
            frame, origin = self.dataset(name, needed_until=needed_until)
            prov.append(
                {
                    "dataset": name,
                    "origin": origin,
                    "first": str(frame.index[0].date()),
                    "last": str(frame.index[-1].date()),
                }
            )
            frames.append(frame)
        out = frames[0]
        for other in frames[1:]:
            out = out.join(other[[c for c in other.columns if c not in out.columns]], how="outer")
        out.attrs = {"provenance": prov, "region": region}
        return out

    def dataset(
        self, name: str, *, needed_until: pd.Timestamp | None = None
    ) -> tuple[pd.DataFrame, str]:
        """One dataset by its library name, and where it came from (a path or URL)."""
        local = self._local(name)
        if local is not None:
            return read_french_table(local), str(local)
        from eventstudy.data.cache import PriceCache

        store = PriceCache(self.root.parent)
        path = self.root / f"{name}_CSV.zip"
        with store.lock(path):
            for tmp in path.parent.glob(f".{path.name}.*.tmp"):
                with contextlib.suppress(OSError):
                    tmp.unlink()
            cached = self._cached(path)
            if cached is not None and not self.refresh:
                frame = cached.frame
                stale = (
                    needed_until is not None
                    and frame.index[-1] < needed_until
                    and cached.meta.get("fetched_on") != str(datetime.now(UTC).date())
                )
                if self.offline or not stale:
                    return frame, f"{path} (cache)"
            if self.offline:
                raise NotCached(
                    symbol=name,
                    detail=f"not in the cache ({path}) and offline",
                    fix=f"run once without --offline, or download {self.url(name)} into the "
                    "folder named by fama_french.dir",
                )
            data = self._fetch(name)
            frame = read_french_table(data, where=self.url(name))  # never cache a bad file
            self._write(path, data, name)
        return frame, self.url(name)

    def url(self, name: str) -> str:
        """The library URL of dataset ``name``."""
        return f"{self.base_url}{name}_CSV.zip"

    def clear(self) -> int:
        """Delete the cached datasets (the files this class wrote, each under its lock);
        return how many. Lock files stay, as the price cache's do."""
        from eventstudy.data.cache import PriceCache

        removed = 0
        if not self.root.is_dir():
            return 0
        store = PriceCache(self.root.parent)
        for meta in sorted(self.root.glob("*_CSV.zip.json")):
            data = meta.with_suffix("")
            with store.lock(data):
                with contextlib.suppress(FileNotFoundError):
                    data.unlink()
                    removed += 1
                with contextlib.suppress(FileNotFoundError):
                    meta.unlink()
        return removed

    # ------------------------------------------------------------------ internals
    def _local(self, name: str) -> Path | None:
        if self.folder is None:
            return None
        wanted = {f"{name}_csv.zip", f"{name}.csv", f"{name}_csv.csv"}
        wanted = {w.lower() for w in wanted}
        for f in sorted(self.folder.iterdir()):
            if f.name.lower() in wanted and f.is_file():
                return f
        return None

    def _cached(self, path: Path) -> _Cached | None:
        """The verified cached copy, or ``None`` (a corrupt copy is reported and deleted)."""
        meta_path = Path(f"{path}.json")
        if not path.exists() and not meta_path.exists():
            return None
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            data = path.read_bytes()
            if not isinstance(meta, dict) or meta.get("sha256") != hashlib.sha256(data).hexdigest():
                raise ValueError("checksum mismatch")
            frame = read_french_table(data, where=str(path))
        except (OSError, ValueError, DataError) as exc:
            detail = exc.detail if isinstance(exc, DataError) else str(exc)
            warnings.warn(
                format_warning(CacheWarning, path=str(path), detail=str(detail)[:160]),
                stacklevel=4,
            )
            for f in (path, meta_path):
                with contextlib.suppress(OSError):
                    f.unlink()
            return None
        return _Cached(frame, {str(k): str(v) for k, v in meta.items()})

    def _fetch(self, name: str) -> bytes:
        import urllib.error
        import urllib.request

        url = self.url(name)
        req = urllib.request.Request(url, headers={"User-Agent": "eventstudy (research)"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return bytes(resp.read())
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                raise DataError(
                    symbol=name,
                    detail=f"{url} does not exist (HTTP 404)",
                    fix="check the dataset name on the data library's page",
                ) from None
            raise NetworkError(source=_SOURCE, detail=f"HTTP {exc.code} for {url}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise NetworkError(source=_SOURCE, detail=f"{url}: {reason}") from None

    def _write(self, path: Path, data: bytes, name: str) -> None:
        meta = {
            "dataset": name,
            "url": self.url(name),
            "sha256": hashlib.sha256(data).hexdigest(),
            "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "fetched_on": str(datetime.now(UTC).date()),
        }
        for target, payload in ((path, data), (Path(f"{path}.json"), json.dumps(meta).encode())):
            _atomic_write(target, payload)


def _atomic_write(path: Path, payload: bytes) -> None:
    """Write ``payload`` whole or not at all (:func:`~eventstudy.data.cache.write_atomic`)."""
    from eventstudy.data.cache import write_atomic

    write_atomic(path, lambda fh: fh.write(payload))


def coverage_warning(aligned: pd.DataFrame, name: str, exchange: str) -> None:
    """Warn when many factor rows fall on non-sessions: the file may be on another calendar."""
    share = float(aligned.attrs.get("unmatched_share", 0.0))
    if share > 0.02:
        warnings.warn(
            DataWarning(
                f"{name}: {share:.1%} of its dates are not {exchange} sessions; their returns "
                "are compounded into the next session (check the file's calendar)"
            ),
            stacklevel=3,
        )


def preset_columns(kinds: Iterable[str]) -> list[str]:
    """The normalised columns the datasets ``kinds`` provide (for messages)."""
    cols = {"ff3": [MKT_RF, "SMB", "HML", RF], "ff5": [MKT_RF, "SMB", "HML", "RMW", "CMA", RF]}
    out: list[str] = []
    for kind in kinds:
        for c in cols.get(kind, [MOM]):
            if c not in out:
                out.append(c)
    return out
