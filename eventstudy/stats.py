"""The test formulas: one function per test, each returning a :class:`TestResult`.

Conventions shared by every function:

- inputs are arrays with the firm-events on axis 0 and, optionally, the days of the tested
  window on axis 1; ``NaN`` marks a missing observation and is left out of that day;
- ``blocks`` (a :class:`Blocks`) splits the firm-events into independent batches (events,
  placebo draws, specifications): the statistic and p-value then carry a leading batch axis,
  one value per block (and per day). Without ``blocks`` every firm-event is one block and the
  batch axis is dropped (a scalar, or one value per day);
- p-values are two-sided;
- ``estudy2_sums=True`` reproduces R estudy2 0.10, which forms a sum over securities as
  ``rowMeans(x, na.rm = TRUE) * ncol(x)``: equal to the sum when no security is missing
  that day, inflated by ``N / N_t`` when some are (``N`` the block's firm-events).

Tests that assume cross-sectional independence (:data:`INDEPENDENCE_TESTS`) over-reject when
the securities share an event date; :data:`CLUSTER_ROBUST_TESTS` carry the cross-correlation
in their variance. Which of them keeps its size on a study's own data is measured by
:func:`eventstudy.simulate.simulate`. This module holds the formulas only; the battery that
feeds them (:mod:`eventstudy.battery`) runs them on every block at once. The formulas, papers
and estudy2 differences are collected in ``docs/statistics.md``.

p-values use ``scipy.special`` (``ndtr``, ``stdtr``, ``fdtrc``, ``chdtrc``): the same
functions ``scipy.stats`` calls, without its import cost on the command line.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from scipy import special as _sp

from eventstudy.vocabulary import CLUSTER_ROBUST_TESTS, INDEPENDENCE_TESTS, TEST_NAMES

__all__ = [
    "CLUSTER_ROBUST_TESTS",
    "INDEPENDENCE_TESTS",
    "KP_MIN_DESIGN_EFFECT",
    "RANK_MIN_SD",
    "TEST_NAMES",
    "Blocks",
    "RankDays",
    "TestResult",
    "aar_sd",
    "adjusted_patell",
    "bmp",
    "brown_warner_1980",
    "brown_warner_1985",
    "corrado_rank",
    "corrado_rank_days",
    "corrado_rank_from_sums",
    "corrado_sign",
    "corrado_sign_days",
    "corrado_sign_from_sums",
    "cumulate",
    "generalized_sign",
    "grank",
    "grank_from_means",
    "hotelling_f",
    "is_singular",
    "kolari_pynnonen",
    "kp_factor",
    "lamb",
    "modified_rank",
    "modified_rank_days",
    "modified_rank_from_sums",
    "p_chi2",
    "p_f",
    "p_normal",
    "p_t",
    "patell",
    "portfolio",
    "rank_rows",
    "row_medians",
    "segment_matrix",
    "sign",
    "sq_test",
    "sur_wald",
    "sur_wald_mean",
    "t_test",
    "wilcoxon",
    "z_result",
]


@dataclass(frozen=True)
class TestResult:
    """A test statistic as a value object.

    Attributes
    ----------
    name : str
        Test name (one of :data:`TEST_NAMES`).
    statistic : float or ndarray
        The statistic (a leading batch axis when run on several blocks, a day axis when run
        on a window's days).
    p_value : float or ndarray
        Two-sided p-value.
    df : float, ndarray or None
        Degrees of freedom of the reference distribution (``None`` for the normal); the
        numerator degrees of freedom of an F.
    null : str
        The null hypothesis, in words.
    df2 : float, ndarray or None
        Denominator degrees of freedom of an F reference (``sur_wald``, ``sur_wald_mean``).
    min_p : float, ndarray or None
        The smallest p-value the test can give on this sample (sign and signed-rank tests
        are discrete: with few firm-events some levels cannot be reached at all); ``None``
        for the continuous tests.
    """

    __test__ = False  # not a pytest class

    name: str
    statistic: Any
    p_value: Any
    df: Any
    null: str
    df2: Any = None
    min_p: Any = None

    def as_row(self) -> dict[str, Any]:
        """``{"test", "statistic", "p_value", "df", "df2", "min_p", "null"}`` for a row."""
        return {
            "test": self.name,
            "statistic": _scalar(self.statistic),
            "p_value": _scalar(self.p_value),
            "df": _scalar(self.df) if self.df is not None else np.nan,
            "df2": _scalar(self.df2) if self.df2 is not None else np.nan,
            "min_p": _scalar(self.min_p) if self.min_p is not None else np.nan,
            "null": self.null,
        }

    def __str__(self) -> str:
        stat, p = _scalar(self.statistic), _scalar(self.p_value)
        if np.ndim(stat) == 0:
            return f"{self.name}: statistic {stat:.4f}, p-value {p:.4g} (H0: {self.null})"
        return f"{self.name}: statistics {np.round(stat, 4)} (H0: {self.null})"


def _scalar(x: Any) -> Any:
    a = np.asarray(x, dtype=float)
    return float(a) if a.ndim == 0 else a


# ----------------------------------------------------------------------------- blocks


@dataclass(frozen=True, eq=False)
class Blocks:
    """A partition of the firm-events (rows, axis 0) into contiguous, non-empty blocks.

    Attributes
    ----------
    starts : ndarray of int, shape (B,)
        First row of each block (increasing, starting at 0).
    n_rows : int
        Number of rows partitioned.
    """

    starts: np.ndarray
    n_rows: int

    @classmethod
    def one(cls, n_rows: int) -> Blocks:
        """Every row in one block."""
        return cls(np.zeros(1, dtype=np.intp), int(n_rows))

    @classmethod
    def from_codes(cls, codes: np.ndarray) -> Blocks:
        """Blocks of equal consecutive codes (``codes`` sorted, non-decreasing)."""
        codes = np.asarray(codes)
        if len(codes) == 0:
            raise ValueError("no rows to partition")
        change = np.flatnonzero(codes[1:] != codes[:-1]) + 1
        return cls(np.concatenate([[0], change]).astype(np.intp), len(codes))

    @classmethod
    def from_sizes(cls, sizes: Any) -> Blocks:
        """Blocks of the given (positive) sizes, in order."""
        sizes = np.asarray(sizes, dtype=np.intp)
        if len(sizes) == 0 or (sizes < 1).any():
            raise ValueError("block sizes must be positive")
        return cls(np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp), int(sizes.sum()))

    def __len__(self) -> int:
        return len(self.starts)

    @cached_property
    def sizes(self) -> np.ndarray:
        """Rows per block, shape (B,)."""
        return np.diff(np.append(self.starts, self.n_rows))

    @cached_property
    def index(self) -> np.ndarray:
        """Block of each row, shape (K,)."""
        return np.repeat(np.arange(len(self.starts)), self.sizes)

    @cached_property
    def _indicator(self) -> Any:
        """Sparse ``(B, K)`` 0/1 matrix of block membership (a sum is one sparse product)."""
        return segment_matrix(self.index, len(self.starts))

    @cached_property
    def _common_size(self) -> int | None:
        """The size every block has, when they all have one (``None`` otherwise)."""
        size = int(self.sizes[0])
        return size if bool((self.sizes == size).all()) else None

    def total(self, x: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """Sums of the rows of each block (``x`` already free of ``NaN``), optionally of
        ``weights[k] * x[k]``.

        Rows are added in order within each block, whatever the route: one block sums its
        rows, blocks of one size (the events of a placebo study) with several columns are
        read as one ``(B, n, ...)`` array, others go through a sparse indicator product.
        """
        x = np.asarray(x, dtype=float)
        B = len(self.starts)
        if B == 1 and weights is None:
            return x.sum(axis=0)[None]
        n = self._common_size
        if n is not None and weights is None and x[:1].size > 1 and x.flags.c_contiguous:
            # rows laid out one after another with several columns: numpy adds the rows in
            # order (a single column, or a column-major array, would be summed pairwise)
            return x.reshape(B, n, *x.shape[1:]).sum(axis=1)
        S = self._indicator if weights is None else segment_matrix(self.index, B, weights)
        return np.asarray(S @ x.reshape(len(x), -1)).reshape((B, *x.shape[1:]))

    def count(self, x: np.ndarray) -> np.ndarray:
        """Finite entries of ``x`` per block (and per column)."""
        return self.count_mask(np.isfinite(x))

    def count_mask(self, ok: np.ndarray) -> np.ndarray:
        """``True`` entries of the mask ``ok`` per block (and per column), float: the block
        sizes themselves when every entry is ``True`` (the same integers, without summing
        a float copy of the mask)."""
        if ok.all():
            sizes = self.sizes.astype(float).reshape((-1,) + (1,) * (ok.ndim - 1))
            return np.broadcast_to(sizes, (len(self.starts), *ok.shape[1:])).copy()
        return self.total(ok.astype(float))

    def sum(self, x: np.ndarray) -> np.ndarray:
        """``NaN``-ignoring sums per block; ``NaN`` where a block has no finite entry."""
        ok = np.isfinite(x)
        s = self.total(zero_masked(x, ok))
        return np.where(self.count_mask(ok) > 0, s, np.nan)

    def mean(self, x: np.ndarray) -> np.ndarray:
        """``NaN``-ignoring means per block."""
        ok = np.isfinite(x)
        n = self.count_mask(ok)
        return mean_from_sums(self.total(x if ok.all() else np.where(ok, x, 0.0)), n)

    def sd(self, x: np.ndarray) -> np.ndarray:
        """Sample standard deviations (ddof 1) per block, ``NaN`` below two observations."""
        return Moments.of(x, self).sd()

    def expand(self, v: np.ndarray) -> np.ndarray:
        """Per-block values repeated for each row of the block."""
        v = np.asarray(v)
        return (
            v[self.index]
            if len(self.starts) > 1
            else np.broadcast_to(v, (self.n_rows, *v.shape[1:]))
        )


def zero_masked(x: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """``x`` with its entries outside the mask ``ok`` set to 0: ``x`` itself when ``ok`` is all
    ``True`` and ``x`` is C-contiguous (as the copy would be: :meth:`Blocks.total` adds it
    the same way)."""
    if x.flags.c_contiguous and ok.all():
        return x
    return np.where(ok, x, 0.0)


def mean_from_sums(total: Any, n: Any) -> np.ndarray:
    """``total / n`` where ``n > 0``, ``NaN`` elsewhere: a mean from its additive pieces."""
    total = np.asarray(total, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, total / np.maximum(n, 1), np.nan)


@dataclass(frozen=True, eq=False)
class Moments:
    """Count, sum and sum of squared deviations about the mean, per block (and column).

    The sufficient statistics of a sample mean and standard deviation. Chunks of the same
    blocks merge exactly in exact arithmetic (Chan, Golub & LeVeque 1983):
    ``M2 = sum_c [M2_c + n_c (mean_c - mean)^2]``, so a pooled standard deviation never
    needs every row in one place, nor the cancellation-prone ``sum x^2 - n mean^2``.

    Attributes
    ----------
    n : ndarray
        Finite entries.
    total : ndarray
        Their sum.
    m2 : ndarray
        Sum of squared deviations about the block mean (two-pass within a chunk).
    """

    n: np.ndarray
    total: np.ndarray
    m2: np.ndarray

    @classmethod
    def of(cls, x: np.ndarray, blocks: Blocks) -> Moments:
        """The moments of ``x`` (``NaN`` ignored) per block of ``blocks``."""
        x = np.asarray(x, dtype=float)
        ok = np.isfinite(x)
        n = blocks.count_mask(ok)
        total = blocks.total(zero_masked(x, ok))
        dev = zero_masked(x - blocks.expand(mean_from_sums(total, n)), ok)
        return cls(n, total, blocks.total(dev * dev))

    @property
    def mean(self) -> np.ndarray:
        """Means (``NaN`` for an empty block)."""
        return mean_from_sums(self.total, self.n)

    def sd(self) -> np.ndarray:
        """Sample standard deviations (ddof 1), ``NaN`` below two observations."""
        n = self.n
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 1, np.sqrt(self.m2 / np.maximum(n - 1, 1)), np.nan)

    @classmethod
    def merge(cls, parts: Sequence[Moments]) -> Moments:
        """The moments of the union of ``parts`` (disjoint rows of the same blocks)."""
        if len(parts) == 1:
            return parts[0]
        n = functools.reduce(np.add, (p.n for p in parts))
        total = functools.reduce(np.add, (p.total for p in parts))
        mean = mean_from_sums(total, n)
        m2 = np.zeros_like(mean)
        for p in parts:
            with np.errstate(invalid="ignore"):
                shift = np.where(p.n > 0, p.n * (p.mean - mean) ** 2, 0.0)
            m2 = m2 + p.m2 + shift
        return cls(n, total, m2)


def segment_matrix(codes: np.ndarray, n_blocks: int, weights: np.ndarray | None = None) -> Any:
    """Sparse ``(n_blocks, n)`` matrix with ``weights[k]`` (default 1) at ``(codes[k], k)``.

    ``segment_matrix(codes, B) @ X`` sums the rows of ``X`` by block in one pass, in row
    order (the same additions as a loop); much faster than ``numpy.add.reduceat`` for many
    small blocks, and than a dense product.
    """
    from scipy import sparse

    n = len(codes)
    data = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    codes = np.asarray(codes, dtype=np.intp)
    if n and bool((codes[1:] >= codes[:-1]).all()) and codes[0] >= 0 and codes[-1] < n_blocks:
        # sorted codes (every block partition): the compressed rows directly, the matrix the
        # coordinate route builds (same entries, same order) without its sort, about 4x faster
        indptr = np.zeros(n_blocks + 1, dtype=np.int32 if n < 2**31 else np.intp)
        np.cumsum(np.bincount(codes, minlength=n_blocks), out=indptr[1:])
        indices = np.arange(n, dtype=indptr.dtype)
        return sparse.csr_matrix((data, indices, indptr), shape=(n_blocks, n))
    return sparse.csr_matrix((data, (codes, np.arange(n))), shape=(n_blocks, n))


def _blocks(x: np.ndarray, blocks: Blocks | None) -> tuple[Blocks, bool]:
    """The blocks to use, and whether the batch axis is to be dropped in the output."""
    if blocks is None:
        return Blocks.one(np.shape(x)[0]), True
    if blocks.n_rows != np.shape(x)[0]:
        raise ValueError(f"blocks partition {blocks.n_rows} rows, the data has {np.shape(x)[0]}")
    return blocks, False


def _per_block(value: Any, n_blocks: int, squeeze: bool, trailing: int = 0) -> np.ndarray:
    """A per-block argument as an array with a leading batch axis (a scalar is broadcast)."""
    a = np.asarray(value, dtype=float)
    if squeeze or a.ndim == trailing:
        a = a[None]
    return np.broadcast_to(a, (n_blocks, *a.shape[1:]))


def _out(x: Any, squeeze: bool) -> Any:
    if x is None:
        return None
    a = np.asarray(x, dtype=float)
    return _scalar(a[0]) if squeeze else a


def _result(
    name: str,
    stat: Any,
    p: Any,
    df: Any,
    null: str,
    squeeze: bool,
    df2: Any = None,
    min_p: Any = None,
) -> TestResult:
    return TestResult(
        name,
        _out(stat, squeeze),
        _out(p, squeeze),
        _out(df, squeeze),
        null,
        _out(df2, squeeze),
        _out(min_p, squeeze),
    )


def _col(v: np.ndarray, ndim: int) -> np.ndarray:
    """Per-block ``(B,)`` values shaped to broadcast against ``(B, D...)`` statistics."""
    return np.asarray(v, dtype=float).reshape((-1,) + (1,) * (ndim - 1))


# ----------------------------------------------------------------------------- p-values


def p_normal(z: Any) -> np.ndarray:
    """Two-sided p-value of a standard-normal statistic: ``2 Phi(-|z|)``."""
    return 2.0 * _sp.ndtr(-np.abs(np.asarray(z, dtype=float)))


def p_t(t: Any, df: Any) -> np.ndarray:
    """Two-sided p-value of a Student t statistic with ``df`` degrees of freedom
    (``NaN`` when ``df <= 0``)."""
    t = np.asarray(t, dtype=float)
    df = np.asarray(df, dtype=float)
    ok = df > 0
    with np.errstate(invalid="ignore"):
        return np.where(ok, 2.0 * _sp.stdtr(np.where(ok, df, 1.0), -np.abs(t)), np.nan)


def p_f(f: Any, dfn: Any, dfd: Any) -> np.ndarray:
    """Upper-tail p-value of an F(dfn, dfd) statistic (``NaN`` for non-positive df)."""
    dfn = np.asarray(dfn, dtype=float)
    dfd = np.asarray(dfd, dtype=float)
    ok = (dfn > 0) & (dfd > 0)
    with np.errstate(invalid="ignore"):
        return np.where(
            ok,
            _sp.fdtrc(np.where(ok, dfn, 1.0), np.where(ok, dfd, 1.0), np.asarray(f, float)),
            np.nan,
        )


def p_chi2(w: Any, df: Any) -> np.ndarray:
    """Upper-tail p-value of a chi-squared(df) statistic."""
    df = np.asarray(df, dtype=float)
    ok = df > 0
    with np.errstate(invalid="ignore"):
        return np.where(ok, _sp.chdtrc(np.where(ok, df, 1.0), np.asarray(w, float)), np.nan)


def _div(a: Any, b: Any) -> Any:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(a, dtype=float) / np.asarray(b, dtype=float)


def cumulate(z: Any) -> Any:
    """Window statistic from daily standard-normal statistics: ``sum_t z_t / sqrt(D)``
    over the last axis (``D`` the days with a statistic; ``NaN`` when there is none)."""
    z = np.asarray(z, dtype=float)
    ok = np.isfinite(z)
    k = ok.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(k > 0, np.where(ok, z, 0.0).sum(axis=-1) / np.sqrt(k), np.nan)
    return _scalar(out)


def z_result(name: str, z: Any, null: str) -> TestResult:
    """A :class:`TestResult` for a standard-normal statistic (two-sided p-value)."""
    return TestResult(name, _scalar(z), _scalar(p_normal(z)), None, null)


# ----------------------------------------------------------------------------- ranks


#: Rows ranked per chunk by :func:`rank_rows` (bounds the sort temporaries).
RANK_CHUNK_ROWS = 4096


def rank_rows(a: np.ndarray, return_sorted: bool = False) -> Any:
    """Ranks ``1..n_i`` within each row, ties averaged, ``NaN`` kept (R ``rank``, ``na.last="keep"``).

    Vectorised (one sort per chunk of :data:`RANK_CHUNK_ROWS` rows, see :func:`_sort_order`):
    ``scipy.stats.rankdata`` along an axis is several times slower on a 10,000 x 270
    matrix. With ``return_sorted`` also returns the rows sorted ascending (``NaN`` last),
    from which medians are read.
    """
    a = np.asarray(a, dtype=float)
    if a.ndim == 1:
        r = rank_rows(a[None, :], return_sorted)
        return (r[0][0], r[1][0]) if return_sorted else r[0]
    N, T = a.shape
    ranks = np.empty((N, T))
    srt = np.empty((N, T)) if return_sorted else None
    if N == 0 or T == 0:
        return (ranks, srt) if return_sorted else ranks
    for lo in range(0, N, RANK_CHUNK_ROWS):
        hi = min(lo + RANK_CHUNK_ROWS, N)
        order = _rank_chunk(a[lo:hi], ranks[lo:hi])
        if srt is not None:
            srt[lo:hi] = np.take_along_axis(a[lo:hi], order, axis=1)
    return (ranks, srt) if return_sorted else ranks


@functools.lru_cache(maxsize=8)
def _positions(K: int, T: int) -> np.ndarray:
    """``1..T`` repeated for ``K`` rows, flat (read-only; cached per chunk shape)."""
    out = np.tile(np.arange(1.0, T + 1.0), K)
    out.flags.writeable = False
    return out


def _avg_positions(s: np.ndarray) -> np.ndarray:
    """Average rank (1-based position, ties averaged) of each entry of rows sorted ascending,
    flat (row after row)."""
    K, T = s.shape
    tie = s[:, 1:] == s[:, :-1]  # NaN never equals NaN
    if not tie.any():
        return _positions(K, T)  # the cached array itself: callers test for it with ``is``
    pos = _positions(K, T).reshape(K, T)
    # a run of equal values gets the mean of its first and last position
    new = np.ones(s.shape, dtype=bool)
    new[:, 1:] = ~tie
    first = np.maximum.accumulate(np.where(new, pos, 0.0), axis=1)
    end = np.ones(s.shape, dtype=bool)
    end[:, :-1] = ~tie
    last = np.minimum.accumulate(np.where(end, pos, np.inf)[:, ::-1], axis=1)[:, ::-1]
    return ((first + last) / 2.0).ravel()


def _rank_chunk(a: np.ndarray, out: np.ndarray, head: np.ndarray | None = None) -> np.ndarray:
    """Ranks of the rows of ``a`` written into ``out`` (C-contiguous, float64 or float32);
    returns the sort order (column indices sorting each row, ``NaN`` last; see
    :func:`_sort_order`).

    With ``head`` (shape ``(K, h)``), also the ranks of the first ``h`` columns among
    themselves, read from the same sort (every row has exactly ``h`` of them).
    """
    K, T = a.shape
    # written through flat views: a non-contiguous output would be silently left unwritten
    assert out.flags.c_contiguous and (head is None or head.flags.c_contiguous)
    order, redo = _sort_order(a)
    flat = (order + _row_offsets(K, T)).ravel()  # flat beats *_along_axis
    positions = _positions(K, T)
    s = None
    if len(redo):  # only the rows sorted again can hold ties
        s = a.ravel()[flat].reshape(K, T)
        positions = _avg_positions(s)
    out.reshape(-1)[flat] = positions
    last = a[np.arange(K), order[:, -1]] if T else np.zeros(K)
    nan = np.isnan(last)  # NaN sorts last: a row has one iff its last sorted value is
    if nan.any():
        out[nan] = np.where(np.isnan(a[nan]), np.nan, out[nan])
    if head is not None:
        h = head.shape[1]
        mask = order < h
        if positions is _positions(K, T):
            # no ties: a head value's rank among the head values is the count of head
            # values up to its place in the sorted row
            ranks = np.empty(K * T)
            ranks[flat] = np.cumsum(mask, axis=1, dtype=np.int32).ravel()  # int32: 4x faster
            head[...] = ranks.reshape(K, T)[:, :h]
        else:
            assert s is not None
            hs = s[mask].reshape(K, h)
            hflat = order[mask] + _row_offsets(K, h).ravel()
            head.reshape(-1)[hflat] = _avg_positions(hs)
        if nan.any():
            head[nan] = np.where(np.isnan(a[nan, :h]), np.nan, head[nan])
    return order


#: Most low bits :func:`_sort_order` gives to the column index (rows of up to 2**20 values);
#: longer rows are sorted with ``argsort``.
_PACK_MAX_BITS = 20
#: The integer key of ``NaN`` in :func:`_sort_order` (every ``NaN`` is made this one).
_NAN_KEY = 0x7FF8_0000_0000_0000


def _sort_order(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column indices sorting each row of ``a`` ascending (``NaN`` last), an ``argsort``
    along the rows by a faster route; and the rows sorted by ``argsort`` itself (the only
    rows that can hold ties).

    Notes
    -----
    Each value is mapped to an integer of the same order (its IEEE 754 bit pattern with
    the low 63 bits flipped when the sign bit is set; ``-0.0`` taken as ``0.0`` and every
    ``NaN`` as one ``NaN``), its lowest ``b = ceil(log2 T)`` bits replaced by its column
    index, and the rows sorted as integers, which numpy does with SIMD code several times
    faster than ``argsort`` on floats; the column index is read back from the low bits.
    Clearing low bits is monotone, so values whose kept bits differ come out in their
    order. A row in which two values share their kept bits (a tie, or two values within
    about ``2**(b - 52)`` of each other relative to their size) is sorted again by
    ``argsort``. The order within a tie, which no rank or median depends on, may differ
    from ``argsort``'s.
    """
    K, T = a.shape
    bits = max(1, (T - 1).bit_length())
    if bits > _PACK_MAX_BITS or K == 0:
        return np.argsort(a, axis=1), np.arange(K)
    low = np.int64((1 << bits) - 1)
    key = np.add(a, 0.0, dtype=np.float64)  # a fresh array; -0.0 + 0.0 is 0.0
    nan = np.isnan(key)
    any_nan = bool(nan.any())
    if any_nan:
        key[nan] = np.nan  # one NaN: payload and sign bit dropped
    b = key.view(np.int64)
    b ^= (b >> 63) & np.int64(0x7FFF_FFFF_FFFF_FFFF)  # the floats' order, as integers
    b &= ~low
    b |= np.arange(T, dtype=np.int64)
    b.sort(axis=1)
    order = b & low
    b >>= bits
    same = b[:, 1:] == b[:, :-1]
    if any_nan:  # the NaNs, alike and last, need no order among themselves
        same &= b[:, 1:] != (_NAN_KEY >> bits)
    redo = np.flatnonzero(same.any(axis=1))
    if len(redo):
        order[redo] = np.argsort(a[redo], axis=1)
    return order, redo


def order_medians(a: np.ndarray, order: np.ndarray) -> np.ndarray:
    """:func:`row_medians` of ``a`` from its sort order (:func:`_rank_chunk`), without
    sorting the values: the same two order statistics, read in place."""
    n = np.count_nonzero(np.isfinite(a), axis=1)
    lo = np.clip((n - 1) // 2, 0, None)
    hi = np.clip(n // 2, 0, None)
    rows = np.arange(len(a))
    x = a[rows, order[rows, lo]] if a.shape[1] else np.full(len(a), np.nan)
    y = a[rows, order[rows, hi]] if a.shape[1] else np.full(len(a), np.nan)
    return np.where(n > 0, (x + y) / 2.0, np.nan)


@functools.lru_cache(maxsize=4)
def _row_offsets(K: int, T: int) -> np.ndarray:
    """``T * i`` on every entry of row ``i`` of a ``(K, T)`` array (read-only; cached per
    chunk shape): the flat index of ``[i, j]`` is ``j`` plus this."""
    dtype = np.int32 if K * T < 2**31 else np.intp  # half the memory; sums promote to intp
    out = np.repeat(np.arange(0, K * T, T, dtype=dtype), T).reshape(K, T)
    out.flags.writeable = False
    return out


def merge_ranks(a: np.ndarray, head_ranks: np.ndarray, c: int) -> np.ndarray:
    r"""Ranks within each row of ``a = [head | tail]`` (``tail`` its last ``c`` columns),
    given the ranks of ``head`` within each row, without sorting again.

    Ties averaged and ``NaN`` kept, exactly as :func:`rank_rows` on ``a``.

    Notes
    -----
    With ``r_h`` the rank of a head value ``v`` among the head values and ``r_t`` the
    rank of a tail value ``x`` among the tail values,

    .. math::

        \operatorname{rank}(v) = r_h(v) + \#\{x < v\} + \tfrac12 \#\{x = v\}, \qquad
        \operatorname{rank}(x) = r_t(x) + \#\{v < x\} + \tfrac12 \#\{v = x\},

    counts over the other part's finite values. One comparison pass over the head per tail
    column: cheaper than a new sort while ``c`` is small (see
    :data:`eventstudy.battery.MERGE_RANK_MAX_COLS`). Every term is an integer or a half, so
    the ranks are the sort's to the last bit.
    """
    k, n = a.shape
    L = n - c
    head, tail = a[:, :L], a[:, L:]
    out = np.empty(a.shape)
    rh = out[:, :L]
    rh[...] = head_ranks
    rt = np.empty((k, c))
    _rank_chunk(tail, rt)
    for j in range(c):
        x = tail[:, j : j + 1]
        rt[:, j] += np.count_nonzero(head < x, axis=1)
        rh += head > x
        eq = head == x  # NaN never equals
        if eq.any():
            rt[:, j] += 0.5 * np.count_nonzero(eq, axis=1)
            rh += 0.5 * eq
    out[:, L:] = rt
    return out


def merge_medians(head_sorted: np.ndarray, tail: np.ndarray) -> np.ndarray:
    """Medians of the rows of ``[head | tail]`` from ``head`` sorted ascending and a few
    ``tail`` columns, without sorting the rows again (``NaN`` for a row with a
    non-finite value: take those from :func:`row_medians`).

    Notes
    -----
    With ``L`` head and ``c`` tail values (``n = L + c``), the order statistic ``k`` of the
    union is the order statistic ``k - a`` of the head's sorted values ``a .. b - 1``
    (``a = max(0, k - c)``, ``b = min(L, k + 1)``) joined with the tail: at least
    ``k + 1 - c`` of the ``k + 1`` smallest values come from the head, so the ``a``
    smallest head values lie at or below it and the head values from ``b`` on at or above
    it. The median is the mean of the order statistics ``(n - 1) // 2`` and ``n // 2``;
    each is read from a sort of at most ``2c + 1`` values per row.
    """
    L = head_sorted.shape[1]
    c = tail.shape[1]
    n = L + c
    picks = []
    for k in ((n - 1) // 2, n // 2):
        a, b = max(0, k - c), min(L, k + 1)
        m = np.concatenate([head_sorted[:, a:b], tail], axis=1)
        m.sort(axis=1)
        picks.append(m[:, k - a])
    full = np.isfinite(head_sorted).all(axis=1) & np.isfinite(tail).all(axis=1)
    return np.where(full, (picks[0] + picks[1]) / 2.0, np.nan)


def row_medians(sorted_rows: np.ndarray) -> np.ndarray:
    """Medians of rows already sorted ascending with ``NaN`` last (see :func:`rank_rows`)."""
    n = np.isfinite(sorted_rows).sum(axis=1)
    lo = np.clip((n - 1) // 2, 0, None)
    hi = np.clip(n // 2, 0, None)
    a = np.take_along_axis(sorted_rows, lo[:, None], axis=1)[:, 0]
    b = np.take_along_axis(sorted_rows, hi[:, None], axis=1)[:, 0]
    return np.where(n > 0, (a + b) / 2.0, np.nan)


# ----------------------------------------------------------------------------- clustering

#: The Kolari-Pynnonen adjustments are undefined (``NaN``) when the design effect
#: ``1 + (n - 1) rbar`` is at most this, i.e. ``rbar <= -1/(n - 1)`` (see :func:`kp_factor`).
KP_MIN_DESIGN_EFFECT = 1e-8


def _design_effect(rbar: Any, n: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(1 + (n - 1) rbar, defined)`` with ``rbar`` above 1 (rounding) taken as 1."""
    rbar = np.minimum(np.asarray(rbar, dtype=float), 1.0)
    deff = 1.0 + (np.asarray(n, dtype=float) - 1.0) * rbar
    return deff, deff > KP_MIN_DESIGN_EFFECT


def kp_factor(rbar: Any, n: Any) -> Any:
    """Kolari-Pynnonen (2010) factor ``sqrt((1 - rbar) / (1 + (n - 1) rbar))`` of the BMP test.

    ``NaN`` (no warning) when the design effect ``1 + (n - 1) rbar`` is at most
    :data:`KP_MIN_DESIGN_EFFECT`, i.e. ``rbar <= -1/(n - 1)``. A correlation matrix of
    complete series cannot go below that bound (its sum is ``>= 0``); a pairwise-complete
    ``rbar``, or series that offset exactly (``rbar = -1/(n - 1)``), can. Kolari & Pynnonen
    treat ``rbar >= 0`` as the typical case; the package does not clamp ``rbar`` there: the
    factor would be arbitrary, so the adjusted tests are ``NaN`` and ``test_notes`` says why.
    An ``rbar`` above 1 (rounding of identical series) is taken as 1 (factor 0).
    """
    deff, ok = _design_effect(rbar, n)
    rbar = np.minimum(np.asarray(rbar, dtype=float), 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return _scalar(np.where(ok, np.sqrt((1.0 - rbar) / np.where(ok, deff, 1.0)), np.nan))


# ----------------------------------------------------------------------------- parametric


def t_test(x: np.ndarray, blocks: Blocks | None = None) -> TestResult:
    """Cross-sectional t-test of the mean abnormal return (or mean CAR).

    Parameters
    ----------
    x : ndarray, shape (N,) or (N, D)
        Abnormal returns of the N firm-events (on D days), or their CARs.
    blocks : Blocks, optional
        Independent batches of firm-events (one statistic each).

    Returns
    -------
    TestResult
        ``t`` with ``N - 1`` degrees of freedom.

    Notes
    -----
    ``t = xbar / (s / sqrt(N))`` with ``s`` the cross-sectional standard deviation (ddof 1).
    Boehmer, Musumeci & Poulsen (1991) call it the cross-sectional test. It is robust to
    event-induced variance but assumes independent firm-events; on a shared event date it
    over-rejects. Identical in the textbook and estudy2 conventions.
    """
    x = np.asarray(x, dtype=float)
    b, sq = _blocks(x, blocks)
    return t_test_from_moments(Moments.of(x, b), sq)


def t_test_from_moments(m: Moments, squeeze: bool = False) -> TestResult:
    """:func:`t_test` from the per-block :class:`Moments` of the values (batch form)."""
    n = m.n
    sd = m.sd()
    t = np.where(sd > 0, _div(m.mean, _div(sd, np.sqrt(n))), np.nan)  # sd 0: identical
    return _result("t_test", t, p_t(t, n - 1), n - 1, "mean AR = 0", squeeze)


def brown_warner_1980(
    x: np.ndarray,
    sigma: np.ndarray,
    n_days: int = 1,
    df: Any = None,
    estudy2_sums: bool = False,
    blocks: Blocks | None = None,
) -> TestResult:
    """Brown & Warner (1980) test with the average of the firms' own variances.

    Parameters
    ----------
    x : ndarray, shape (N,) or (N, D)
        Abnormal returns (daily) or CARs over ``n_days`` days.
    sigma : ndarray, shape (N,)
        Each firm-event's estimation-window standard deviation of abnormal returns.
    n_days : int
        Days cumulated in ``x`` (the variance of a CAR is ``n_days * sigma^2``).
    df : float or ndarray (per block), optional
        Degrees of freedom of the t reference (the mean estimation length - 1); the normal
        when omitted.
    estudy2_sums : bool
        estudy2 divides ``sqrt(sum_i s_i^2)`` over *all* firm-events by their number, also
        on a day when some are missing.
    blocks : Blocks, optional

    Notes
    -----
    ``t = AAR / (sqrt(sum_i sigma_i^2) / N)`` (Brown & Warner 1980, "crude"
    independence). The sum runs over the firm-events observed that day. estudy2 computes
    ``sigma_i`` as ``sd`` of the estimation abnormal returns (ddof 1); the textbook
    convention passes ``sqrt(SSR / (L - k))``.
    """
    x = np.asarray(x, dtype=float)
    b, sq = _blocks(x, blocks)
    ok = np.isfinite(x)
    sig2_total, sig2_n = brown_warner_1980_sums(x, sigma, estudy2_sums, b)
    x_total = b.total(zero_masked(x, ok))
    return brown_warner_1980_from_sums(
        x_total, b.count_mask(ok), sig2_total, sig2_n, n_days, df, sq
    )


def brown_warner_1980_sums(
    x: np.ndarray, sigma: np.ndarray, estudy2_sums: bool, blocks: Blocks
) -> tuple[np.ndarray, np.ndarray]:
    """The additive variance pieces of :func:`brown_warner_1980`: ``sum_i sigma_i^2`` and
    the firm-events summed, per block (and day)."""
    b = blocks
    sig2 = (np.asarray(sigma, dtype=float) ** 2).reshape((-1,) + (1,) * (x.ndim - 1))
    if estudy2_sums:
        total = b.total(np.broadcast_to(sig2, x.shape))
        return total, np.broadcast_to(_col(b.sizes, x.ndim), total.shape).astype(float)
    ok = np.isfinite(x)
    return b.total(zero_masked(sig2, ok)), b.count_mask(ok)


def brown_warner_1980_from_sums(
    x_total: np.ndarray,
    x_n: np.ndarray,
    sig2_total: np.ndarray,
    sig2_n: np.ndarray,
    n_days: int = 1,
    df: Any = None,
    squeeze: bool = False,
) -> TestResult:
    """:func:`brown_warner_1980` from per-block sums: of the values and their count, of
    ``sigma_i^2`` and its count (:func:`brown_warner_1980_sums`)."""
    sd = _div(np.sqrt(sig2_total * n_days), sig2_n)
    z = _div(mean_from_sums(x_total, x_n), sd)
    if df is None:
        return _result("brown_warner_1980", z, p_normal(z), None, "mean AR = 0", squeeze)
    d = _per_block(df, z.shape[0], squeeze)
    return _result("brown_warner_1980", z, p_t(z, _col(d, z.ndim)), d, "mean AR = 0", squeeze)


def _aar_sd(aar_est: Any, n_blocks: int, squeeze: bool) -> tuple[np.ndarray, np.ndarray]:
    """Time-series sd (ddof 1) of each block's estimation AARs and the days they cover."""
    a = _per_block(aar_est, n_blocks, squeeze, trailing=1)
    ok = np.isfinite(a)
    L = ok.sum(axis=1).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        m = np.where(ok, a, 0.0).sum(axis=1) / L
        ss = np.where(ok, (a - m[:, None]) ** 2, 0.0).sum(axis=1)
        return np.where(L > 1, np.sqrt(ss / np.maximum(L - 1, 1)), np.nan), L


def aar_sd(aar_est: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Time-series sd (ddof 1) of each row of estimation-window AARs ``(B, L)``, and the
    days each covers: ``S(AAR)`` of :func:`brown_warner_1985` and :func:`lamb`."""
    a = np.atleast_2d(np.asarray(aar_est, dtype=float))
    return _aar_sd(a, a.shape[0], False)


def brown_warner_1985(
    x: np.ndarray, aar_est: np.ndarray, n_days: int = 1, blocks: Blocks | None = None
) -> TestResult:
    """Brown & Warner (1985) test with the crude dependence adjustment.

    Parameters
    ----------
    x : ndarray, shape (N,) or (N, D)
        Abnormal returns (daily) or CARs over ``n_days`` days.
    aar_est : ndarray, shape (L,), or (B, L) with ``blocks``
        The average abnormal return of the same firm-events on each estimation day (in
        event time), ``NaN`` where no firm-event is observed.
    n_days : int
        Days cumulated in ``x``.
    blocks : Blocks, optional

    Notes
    -----
    ``t = AAR_t / S(AAR)`` with ``S(AAR)`` the time-series standard deviation (ddof 1) of
    the estimation-window AARs, so cross-sectional correlation on the estimation days is
    carried into the variance (Brown & Warner 1985, p. 7). For a window of ``n_days``:
    ``CAAR / (sqrt(n_days) S(AAR))``, which equals estudy2's ``car_brown_warner_1985``
    (the sum of the daily statistics over ``sqrt(n_days)``). Reference distribution: t with
    ``L - 1`` degrees of freedom.
    """
    x = np.asarray(x, dtype=float)
    b, sq = _blocks(x, blocks)
    ok = np.isfinite(x)
    x_total = b.total(zero_masked(x, ok))
    return brown_warner_1985_from_sums(x_total, b.count_mask(ok), aar_est, n_days, sq)


def brown_warner_1985_from_sums(
    x_total: np.ndarray,
    x_n: np.ndarray,
    aar_est: np.ndarray,
    n_days: int = 1,
    squeeze: bool = False,
    sd: tuple[np.ndarray, np.ndarray] | None = None,
) -> TestResult:
    """:func:`brown_warner_1985` from the per-block sums of the values and their count and
    the blocks' estimation-window AARs ``(B, L)`` (``sd``: their :func:`aar_sd` when already
    computed)."""
    s, L = _aar_sd(aar_est, x_total.shape[0], squeeze) if sd is None else sd
    m = mean_from_sums(x_total, x_n)
    t = _div(m, _col(s * np.sqrt(n_days), m.ndim))
    return _result(
        "brown_warner_1985", t, p_t(t, _col(L - 1, t.ndim)), L - 1, "mean AR = 0", squeeze
    )


def lamb(
    ar: np.ndarray,
    aar_est: np.ndarray,
    correction: np.ndarray,
    cumulative: bool = False,
    blocks: Blocks | None = None,
) -> TestResult:
    """Lamb (1995) test: Brown-Warner 1985 with the prediction-error correction.

    Parameters
    ----------
    ar : ndarray, shape (N, D)
        Abnormal returns on the D tested days.
    aar_est : ndarray, shape (L,), or (B, L) with ``blocks``
        Estimation-window average abnormal returns (event time).
    correction : ndarray, shape (D,), or (B, D) with ``blocks``
        ``1 + 1/Lbar + (M_t - Mbar)^2 / Sxx`` for each tested day (the mean over the
        firm-events of their market terms, ``Lbar`` the mean estimation length; estudy2 reads
        the market of the first security).
    cumulative : bool
        Return the window statistic ``sum_t z_t / sqrt(D)`` (estudy2 ``car_lamb``).
    blocks : Blocks, optional

    Notes
    -----
    ``z_t = AAR_t / (S(AAR) sqrt(correction_t))``, standard normal (Lamb 1995, as
    implemented in estudy2; the paper cites Brown & Warner 1985 and Henderson 1990).
    """
    ar = np.asarray(ar, dtype=float)
    if ar.ndim == 1:
        ar = ar[:, None]
    b, sq = _blocks(ar, blocks)
    ok = np.isfinite(ar)
    ar_total = b.total(zero_masked(ar, ok))
    return lamb_from_sums(ar_total, b.count_mask(ok), aar_est, correction, cumulative, sq)


def lamb_from_sums(
    ar_total: np.ndarray,
    ar_n: np.ndarray,
    aar_est: np.ndarray,
    correction: np.ndarray,
    cumulative: bool = False,
    squeeze: bool = False,
    sd: tuple[np.ndarray, np.ndarray] | None = None,
) -> TestResult:
    """:func:`lamb` from the per-block daily sums of the ARs and their count ``(B, D)``,
    the estimation-window AARs and the correction of each tested day (``sd``: the AARs'
    :func:`aar_sd` when already computed)."""
    B = ar_total.shape[0]
    s, _ = _aar_sd(aar_est, B, squeeze) if sd is None else sd
    corr = _per_block(correction, B, squeeze, trailing=1)
    z = _div(mean_from_sums(ar_total, ar_n), s[:, None] * np.sqrt(corr))
    if cumulative:
        z = np.asarray(cumulate(z), dtype=float).reshape(B)
    return _result("lamb", z, p_normal(z), None, "mean AR = 0", squeeze)


def patell(
    sar: np.ndarray, df_resid: np.ndarray, estudy2_sums: bool = False, blocks: Blocks | None = None
) -> TestResult:
    """Patell (1976) standardized-residual test.

    Parameters
    ----------
    sar : ndarray, shape (N,) or (N, D)
        Standardized abnormal returns ``AR_it / (s_i sqrt(1 + x_t'(X'X)^{-1} x_t))`` or
        standardized CARs ``CAR_i / se(CAR_i)``.
    df_resid : ndarray, shape (N,)
        Degrees of freedom of each ``s_i`` (``L_i - 2`` for the market model); the
        variance of a t-distributed SAR is ``df / (df - 2)``.
    estudy2_sums : bool
        Sum as estudy2 does (see the module notes).
    blocks : Blocks, optional

    Notes
    -----
    ``Z = sum_i SAR_i / sqrt(sum_i (L_i - 2)/(L_i - 4))``, standard normal under
    independence and no event-induced variance. The textbook convention standardizes by
    ``s_i^2 = SSR/(L_i - 2)``; estudy2 by ``sd`` (ddof 1), takes ``Mbar`` and ``Sxx``
    over every market day of the estimation window and divides over all securities.
    """
    sar = np.asarray(sar, dtype=float)
    b, sq = _blocks(sar, blocks)
    total, n, var = patell_sums(sar, df_resid, estudy2_sums, b)
    return patell_from_sums(total, n, var, b.sizes, estudy2_sums, sq)


def patell_sums(
    sar: np.ndarray, df_resid: np.ndarray, estudy2_sums: bool, blocks: Blocks
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The additive pieces of :func:`patell` per block (and day): the sum of the SARs, their
    count and the sum of their variances ``df/(df - 2)`` (estudy2: over every firm-event)."""
    b = blocks
    dfr = np.asarray(df_resid, dtype=float).reshape((-1,) + (1,) * (sar.ndim - 1))
    with np.errstate(divide="ignore", invalid="ignore"):  # df 2: infinite variance
        v = dfr / (dfr - 2.0)
    ok = np.isfinite(sar)
    if estudy2_sums:
        var = b.total(np.broadcast_to(v, sar.shape))
    else:
        var = b.total(zero_masked(v, ok))
    return b.total(zero_masked(sar, ok)), b.count_mask(ok), var


def patell_from_sums(
    sar_total: np.ndarray,
    sar_n: np.ndarray,
    var: np.ndarray,
    sizes: np.ndarray,
    estudy2_sums: bool = False,
    squeeze: bool = False,
) -> TestResult:
    """:func:`patell` from :func:`patell_sums` and the firm-events per block ``sizes``."""
    z = _patell_z(sar_total, sar_n, var, sizes, estudy2_sums)
    return _result("patell", z, p_normal(z), None, "mean SAR = 0", squeeze)


def _patell_z(
    sar_total: np.ndarray,
    sar_n: np.ndarray,
    var: np.ndarray,
    sizes: np.ndarray,
    estudy2_sums: bool,
) -> np.ndarray:
    if estudy2_sums:  # estudy2's rowMeans(x, na.rm = TRUE) * ncol(x)
        total = mean_from_sums(sar_total, sar_n) * _col(sizes, sar_total.ndim)
    else:
        total = np.where(sar_n > 0, sar_total, np.nan)
    return _div(total, np.sqrt(var))


def adjusted_patell(
    sar: np.ndarray, df_resid: np.ndarray, rbar: Any, blocks: Blocks | None = None
) -> TestResult:
    """Patell's test with the Kolari & Pynnonen (2010) cross-correlation adjustment.

    Parameters
    ----------
    sar, df_resid : ndarray
        As in :func:`patell`.
    rbar : float or ndarray (per block)
        Mean pairwise correlation of the firm-events' estimation residuals (pairs in
        different events count as 0; see ``docs/statistics.md``).
    blocks : Blocks, optional

    Notes
    -----
    ``Z_adj = Z_patell / sqrt(1 + (N - 1) rbar)`` (Kolari & Pynnonen 2010, RFS 23, eq. 13):
    the variance of a sum of ``N`` standardized residuals with mean pairwise correlation
    ``rbar`` is ``N (1 + (N - 1) rbar)`` times the independent one. Patell's denominator is a
    known variance, so only the design effect enters; the extra ``sqrt(1 - rbar)`` of
    Kolari & Pynnonen's eq. 10 belongs to the BMP statistic, whose variance is estimated
    from the cross-section (:func:`kolari_pynnonen`). Stata's ``estudy`` and the EventStudy R
    package use the same form. ``N`` is the number of firm-events observed that day; ``NaN``
    when ``1 + (N - 1) rbar <= 0`` (see :func:`kp_factor`).
    """
    sar = np.asarray(sar, dtype=float)
    b, sq = _blocks(sar, blocks)
    total, n, var = patell_sums(sar, df_resid, False, b)
    return adjusted_patell_from_sums(total, n, var, rbar, sq)


def adjusted_patell_from_sums(
    sar_total: np.ndarray, sar_n: np.ndarray, var: np.ndarray, rbar: Any, squeeze: bool = False
) -> TestResult:
    """:func:`adjusted_patell` from the textbook :func:`patell_sums` and ``rbar`` per block."""
    z = _patell_z(sar_total, sar_n, var, np.ones(sar_total.shape[0]), False)
    n = sar_n
    r = _col(_per_block(rbar, sar_total.shape[0], squeeze), n.ndim)
    deff, ok = _design_effect(r, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(ok, z / np.sqrt(np.where(ok, deff, 1.0)), np.nan)
    return _result(
        "adjusted_patell", z, p_normal(z), None, "mean SAR = 0 (cross-correlated)", squeeze
    )


def bmp(sar: np.ndarray, blocks: Blocks | None = None) -> TestResult:
    """Boehmer, Musumeci & Poulsen (1991) standardized cross-sectional test.

    Parameters
    ----------
    sar : ndarray, shape (N,) or (N, D)
        Standardized abnormal returns, or standardized CARs.
    blocks : Blocks, optional

    Notes
    -----
    ``t = mean(SAR) / (sd(SAR) / sqrt(N))`` (sd with ddof 1), t with ``N - 1`` degrees of
    freedom. Robust to event-induced variance, not to cross-correlation. estudy2
    (``boehmer``) forms the SARs as for :func:`patell`.
    """
    sar = np.asarray(sar, dtype=float)
    b, sq = _blocks(sar, blocks)
    return bmp_from_moments(Moments.of(sar, b), sq)


def bmp_from_moments(m: Moments, squeeze: bool = False) -> TestResult:
    """:func:`bmp` from the per-block :class:`Moments` of the SARs (batch form)."""
    t, n = _bmp_t(m)
    return _result("bmp", t, p_t(t, n - 1), n - 1, "mean SAR = 0", squeeze)


def _bmp_t(m: Moments) -> tuple[np.ndarray, np.ndarray]:
    n = m.n
    sd = m.sd()
    t = np.where(sd > 0, _div(m.mean, _div(sd, np.sqrt(n))), np.nan)  # sd 0: identical
    return t, n


def kolari_pynnonen(sar: np.ndarray, rbar: Any, blocks: Blocks | None = None) -> TestResult:
    """BMP test with the Kolari & Pynnonen (2010) adjustment for cross-correlation.

    Notes
    -----
    ``t_KP = t_BMP * sqrt((1 - rbar) / (1 + (N - 1) rbar))`` with ``rbar`` the mean
    pairwise correlation of estimation-window residuals (Kolari & Pynnonen 2010, RFS 23,
    eq. 10). t with ``N - 1`` degrees of freedom. ``rbar`` is a scalar, or one value per block.
    """
    sar = np.asarray(sar, dtype=float)
    b, sq = _blocks(sar, blocks)
    return kolari_pynnonen_from_moments(Moments.of(sar, b), rbar, sq)


def kolari_pynnonen_from_moments(m: Moments, rbar: Any, squeeze: bool = False) -> TestResult:
    """:func:`kolari_pynnonen` from the per-block :class:`Moments` of the SARs and ``rbar``."""
    t, n = _bmp_t(m)
    r = _col(_per_block(rbar, t.shape[0], squeeze), n.ndim)
    t = t * np.asarray(kp_factor(r, n), dtype=float)
    return _result(
        "kolari_pynnonen", t, p_t(t, n - 1), n - 1, "mean SAR = 0 (cross-correlated)", squeeze
    )


# ----------------------------------------------------------------------------- sign tests


def sign(x: np.ndarray, estudy2_sums: bool = False, blocks: Blocks | None = None) -> TestResult:
    """Binomial sign test against one half.

    Notes
    -----
    ``Z = (N+ - N/2) / sqrt(N/4)`` with ``N+`` the number of positive abnormal returns
    (or CARs). Standard normal. Assumes independence and a median of zero
    (Boehmer, Musumeci & Poulsen 1991; estudy2 ``sign_test``).
    """
    x = np.asarray(x, dtype=float)
    b, sq = _blocks(x, blocks)
    pos_total, n = sign_sums(x, b)
    return sign_from_sums(pos_total, n, b.sizes, 0.5, estudy2_sums, sq)


def sign_sums(x: np.ndarray, blocks: Blocks) -> tuple[np.ndarray, np.ndarray]:
    """The additive pieces of :func:`sign` and :func:`generalized_sign` per block (and day):
    the number of positive values and of values."""
    ok = np.isfinite(x)
    return blocks.total(((x > 0) & ok).astype(float)), blocks.count_mask(ok)


def sign_from_sums(
    pos_total: np.ndarray,
    n: np.ndarray,
    sizes: np.ndarray,
    p_hat: Any = 0.5,
    estudy2_sums: bool = False,
    squeeze: bool = False,
    name: str = "sign",
) -> TestResult:
    """:func:`sign` (``p_hat = 1/2``) or :func:`generalized_sign` (``name``) from
    :func:`sign_sums` and the firm-events per block ``sizes``."""
    z, zmax = _sign_z(pos_total, n, sizes, p_hat, estudy2_sums, squeeze)
    null = "P(AR > 0) = 1/2" if name == "sign" else "P(AR > 0) = p_hat"
    return _result(name, z, p_normal(z), None, null, squeeze, min_p=p_normal(zmax))


def generalized_sign(
    x: np.ndarray, p_hat: Any, estudy2_sums: bool = False, blocks: Blocks | None = None
) -> TestResult:
    """Cowan (1992) generalized sign test.

    Parameters
    ----------
    x : ndarray, shape (N,) or (N, D)
        Abnormal returns or CARs.
    p_hat : float, or ndarray (per block)
        Expected share of positive abnormal returns under the null, from the estimation
        window: textbook = mean over firm-events of each one's share of positive
        estimation ARs; estudy2 = the share pooled over all firm-event-days.
    estudy2_sums : bool
    blocks : Blocks, optional

    Notes
    -----
    ``Z = (N+ - N p_hat) / sqrt(N p_hat (1 - p_hat))``, standard normal
    (Cowan 1992, Rev. Quant. Fin. Acc. 2; McConnell & Muscarella 1985).
    """
    x = np.asarray(x, dtype=float)
    b, sq = _blocks(x, blocks)
    pos_total, n = sign_sums(x, b)
    return sign_from_sums(pos_total, n, b.sizes, p_hat, estudy2_sums, sq, "generalized_sign")


def _sign_z(
    pos_total: np.ndarray,
    n: np.ndarray,
    sizes: np.ndarray,
    p_hat: Any,
    estudy2_sums: bool,
    squeeze: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """The sign statistic and the largest ``|Z|`` the sample allows (every value positive,
    or none): the smallest p-value is ``2 Phi(-max |Z|)``."""
    if estudy2_sums:  # estudy2's rowMeans(x, na.rm = TRUE) * ncol(x)
        total = mean_from_sums(pos_total, n) * _col(sizes, n.ndim)
        top = np.where(n > 0, _col(sizes, n.ndim), 0.0)
    else:
        total = np.where(n > 0, pos_total, np.nan)
        top = n
    p = _col(_per_block(p_hat, n.shape[0], squeeze), n.ndim)
    sd = np.sqrt(n * p * (1 - p))
    zmax = np.maximum(np.abs(_div(top - n * p, sd)), np.abs(_div(-n * p, sd)))
    return _div(total - n * p, sd), zmax


#: The daily mean signs and ranks of the sign/rank tests are bounded (a sign is +-1, a
#: centred uniform rank lies in [-1/2, 1/2]); a genuine variation of them is at least about
#: ``1 / (T N)``. Their time-series sd at or below this is rounding of values that offset
#: exactly (e.g. two securities with opposite returns): the test is ``NaN``, not noise / noise.
RANK_MIN_SD = 1e-10


def _day_scale(per_day: np.ndarray, divisor: Any) -> np.ndarray:
    """``sqrt(sum_t per_day_t^2 / divisor)`` per block (``NaN`` at or below
    :data:`RANK_MIN_SD`); ``divisor`` defaults (``None``) to the days with a value."""
    if divisor is None:
        divisor = np.isfinite(per_day).sum(axis=1).astype(float)
    d = np.broadcast_to(np.asarray(divisor, dtype=float), (per_day.shape[0],))
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.sqrt(np.nansum(per_day**2, axis=1) / d)
        return np.where(s > RANK_MIN_SD, s, np.nan)  # offsetting signs/ranks: no test


def _standardize_days(per_day: np.ndarray, tested: Any, divisor: Any) -> np.ndarray:
    """``per_day[:, tested] / sqrt(sum_t per_day_t^2 / divisor)`` per block (Corrado form).

    ``divisor`` defaults (``None``) to the number of days with a value in the block.
    """
    return RankDays(per_day, _day_scale(per_day, divisor)).z(tested)


@dataclass(frozen=True, eq=False)
class RankDays:
    """The daily statistics of a sign or rank test before the window is chosen (batch
    form): what :func:`corrado_sign_from_sums`, :func:`corrado_rank_from_sums` and
    :func:`modified_rank_from_sums` compute from their sums whatever days are tested, so
    that a caller testing several windows of the same sums computes them once.

    Attributes
    ----------
    per_day : ndarray, shape (B, T)
        The daily statistic (mean sign or rank term over ``sqrt(n_t)``), ``NaN`` on a day
        without observations.
    scale : ndarray, shape (B,)
        Its time-series scale ``sqrt(sum_t per_day_t^2 / divisor)`` (``NaN`` at or below
        :data:`RANK_MIN_SD`).
    top : ndarray, shape (B, T), optional
        The sign test's most extreme daily value (every firm-event on one side of its
        median): the bound behind its ``min_p``.
    divisor : ndarray or None
        The divisor the scale used (``None``: the days with a value).
    """

    per_day: np.ndarray
    scale: np.ndarray
    top: np.ndarray | None = None
    divisor: Any = None

    def z(self, tested: Any) -> np.ndarray:
        """The standardized statistics of the ``tested`` days, (B, len(tested))."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.per_day[:, np.asarray(tested)] / self.scale[:, None]

    def rank_test(self, name: str, tested: Any, cumulative: bool) -> TestResult:
        """The rank test ``name`` on the ``tested`` days: their standardized statistics
        (cumulated over the window when ``cumulative``) with normal p-values."""
        z = self.z(tested)
        if cumulative:
            z = np.asarray(cumulate(z), dtype=float).reshape(len(z))
        return TestResult(name, z, p_normal(z), None, "median AR = 0")


def corrado_sign_from_sums(
    sign_sums: np.ndarray,
    n_t: np.ndarray,
    n_rows: Any,
    tested: Any,
    divisor: Any = None,
    cumulative: bool = False,
    estudy2_sums: bool = False,
    days: RankDays | None = None,
) -> TestResult:
    """:func:`corrado_sign` from the per-block daily sums of the signs (batch form).

    Parameters
    ----------
    sign_sums, n_t : ndarray, shape (B, T)
        ``sum_i G_it`` over the block's firm-events observed on day ``t``, and their number.
    n_rows : ndarray, shape (B,)
        Firm-events per block (estudy2 sums).
    tested : ndarray of int
        Tested columns.
    divisor : ndarray (B,), optional
        ``T`` of the variance (default: the days with any observation).
    days : RankDays, optional
        :func:`corrado_sign_days` of the same sums and divisor, when already computed.
    """
    if days is None:
        days = corrado_sign_days(sign_sums, n_t, n_rows, divisor, estudy2_sums)
    assert days.top is not None
    tested_ = np.asarray(tested)
    # every firm-event on the same side of its median on the tested days
    extreme = days.per_day.copy()
    extreme[:, tested_] = days.top[:, tested_]
    z = days.z(tested)
    zmax = _standardize_days(extreme, tested, days.divisor)
    if cumulative:
        z = np.asarray(cumulate(z), dtype=float).reshape(len(z))
        zmax = np.asarray(cumulate(zmax), dtype=float).reshape(len(zmax))
    return TestResult("corrado_sign", z, p_normal(z), None, "median AR = 0", min_p=p_normal(zmax))


def corrado_sign_days(
    sign_sums: np.ndarray,
    n_t: np.ndarray,
    n_rows: Any,
    divisor: Any = None,
    estudy2_sums: bool = False,
) -> RankDays:
    """The daily part of :func:`corrado_sign_from_sums` (every day, before a window is
    chosen), with the most extreme daily value."""
    sums = np.asarray(sign_sums, dtype=float)
    n_t = np.asarray(n_t, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = _col(n_rows, 2) / n_t if estudy2_sums else np.ones_like(n_t)
        per_day = np.where(n_t > 0, sums * scale / np.sqrt(n_t), np.nan)
        top = np.where(n_t > 0, np.sqrt(n_t) * scale, np.nan)
    return RankDays(per_day, _day_scale(per_day, divisor), top, divisor)


def corrado_sign(
    ar_full: np.ndarray,
    tested: np.ndarray,
    divisor: float | None = None,
    cumulative: bool = False,
    estudy2_sums: bool = False,
    medians: np.ndarray | None = None,
) -> TestResult:
    """Corrado & Zivney (1992) sign test.

    Parameters
    ----------
    ar_full : ndarray, shape (N, T)
        Abnormal returns over the estimation window plus the event days used for the
        medians and the standard deviation (textbook: the whole computed window;
        estudy2: the tested window only).
    tested : ndarray of int
        Columns of ``ar_full`` that are tested.
    divisor : float, optional
        ``T`` of the variance (default: the number of columns with any observation;
        estudy2: the mean number of observations per security).
    cumulative : bool
        Return the window statistic ``sum_t z_t / sqrt(D)``.
    medians : ndarray, optional
        Row medians of ``ar_full`` when already known (saves a sort).

    Notes
    -----
    ``G_it = sign(AR_it - median_i)``, medians over the full window;
    ``z_t = N_t^{-1/2} sum_i G_it / S(G)``,
    ``S(G) = sqrt(1/T sum_t (N_t^{-1/2} sum_i G_it)^2)``. Standard normal.
    """
    a = np.asarray(ar_full, dtype=float)
    med = row_medians(rank_rows(a, return_sorted=True)[1]) if medians is None else medians
    g = np.sign(a - np.asarray(med)[:, None])
    ok = np.isfinite(g)
    r = corrado_sign_from_sums(
        np.where(ok, g, 0.0).sum(axis=0)[None],
        ok.sum(axis=0)[None],
        np.array([a.shape[0]]),
        tested,
        None if divisor is None else np.array([divisor]),
        cumulative,
        estudy2_sums,
    )
    return _squeezed(r)


def _squeezed(r: TestResult) -> TestResult:
    """A one-block batch result without its batch axis."""
    return TestResult(
        r.name,
        _out(r.statistic, True),
        _out(r.p_value, True),
        _out(r.df, True),
        r.null,
        _out(r.df2, True),
        _out(r.min_p, True),
    )


def corrado_rank_from_sums(
    rank_sums: np.ndarray,
    n_t: np.ndarray,
    kbar_sums: np.ndarray,
    dev_sums: np.ndarray,
    n_rows: Any,
    tested: Any,
    divisor: Any = None,
    cumulative: bool = False,
    estudy2: bool = False,
    days: RankDays | None = None,
) -> TestResult:
    """:func:`corrado_rank` from per-block sums (batch form).

    Parameters
    ----------
    rank_sums, n_t : ndarray, shape (B, T)
        ``sum_i K_it`` over the firm-events observed on day ``t``, and their number.
    kbar_sums : ndarray, shape (B,)
        ``sum_i Kbar_i`` (mean rank of each firm-event) over the block.
    dev_sums : ndarray, shape (B, T)
        ``sum_i (K_it - Kbar_i)`` over the firm-events observed on day ``t``.
    n_rows : ndarray, shape (B,)
        Firm-events per block.
    days : RankDays, optional
        :func:`corrado_rank_days` of the same sums and divisor, when already computed (not
        read by the estudy2 window form).
    """
    n_t = np.asarray(n_t, dtype=float)
    n_rows = np.asarray(n_rows, dtype=float)
    tested = np.asarray(tested)
    if cumulative and estudy2:
        # Cowan (1992) window form, estudy2 car_rank_test
        mean_rank = np.asarray(kbar_sums, float) / n_rows
        rs = np.asarray(rank_sums, float)
        with np.errstate(invalid="ignore", divide="ignore"):
            sub = rs[:, tested].sum(axis=1) / n_t[:, tested].sum(axis=1)
            num = np.sqrt(len(tested)) * (sub - mean_rank)
            colmean = np.where(n_t > 0, rs / n_t, np.nan)
            d = np.broadcast_to(np.asarray(divisor, dtype=float), mean_rank.shape)
            den = np.sqrt(np.nansum((colmean - mean_rank[:, None]) ** 2, axis=1) / d)
            z = num / den  # den 0: every rank tied
        return TestResult("corrado_rank", z, p_normal(z), None, "median AR = 0")
    if days is None:
        days = corrado_rank_days(dev_sums, n_t, n_rows, divisor, estudy2)
    return days.rank_test("corrado_rank", tested, cumulative)


def corrado_rank_days(
    dev_sums: np.ndarray,
    n_t: np.ndarray,
    n_rows: Any,
    divisor: Any = None,
    estudy2: bool = False,
) -> RankDays:
    """The daily part of :func:`corrado_rank_from_sums` (every day, before a window is
    chosen; the daily form and the textbook window form)."""
    n_t = np.asarray(n_t, dtype=float)
    n_rows = np.asarray(n_rows, dtype=float)
    dev = np.asarray(dev_sums, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        if estudy2:
            dev = dev / n_t * n_rows[:, None]
        per_day = np.where(n_t > 0, dev / n_t, np.nan)
    return RankDays(per_day, _day_scale(per_day, divisor), None, divisor)


def _rank_row_sums(K: np.ndarray) -> tuple[np.ndarray, ...]:
    """Single-block sums of the ranks ``K`` (N, T) for the rank tests."""
    ok = np.isfinite(K)
    K0 = np.where(ok, K, 0.0)
    n_i = ok.sum(axis=1)
    kbar = K0.sum(axis=1) / np.maximum(n_i, 1)
    return K0.sum(axis=0), ok.sum(axis=0).astype(float), kbar, n_i


def corrado_rank(
    ranks_full: np.ndarray,
    tested: np.ndarray,
    divisor: float | None = None,
    cumulative: bool = False,
    estudy2: bool = False,
) -> TestResult:
    """Corrado (1989) rank test.

    Parameters
    ----------
    ranks_full : ndarray, shape (N, T)
        Ranks of each firm-event's abnormal returns over the full window (see
        :func:`rank_rows`).
    tested : ndarray of int
        Tested columns.
    divisor : float, optional
        ``T`` of the variance (textbook: columns with any observation; estudy2: mean number
        of observations per security).
    cumulative : bool
        Window statistic: textbook ``sum_t z_t / sqrt(D)`` (Campbell & Wasley 1993);
        estudy2 ``car_rank_test`` (Cowan 1992):
        ``sqrt(D) (Kbar_W - Kbar) / sqrt(sum_t (Kbar_t - Kbar)^2 / T)``.
    estudy2 : bool
        Use estudy2's ``rowMeans * ncol`` sums and its window statistic.

    Notes
    -----
    ``z_t = (1/N_t) sum_i (K_it - Kbar_i) / S(K)``,
    ``S(K) = sqrt(1/T sum_t ((1/N_t) sum_i (K_it - Kbar_i))^2)``, ``Kbar_i`` the mean rank
    ``(n_i + 1)/2``. Standard normal.
    """
    K = np.asarray(ranks_full, dtype=float)
    sums, n_t, kbar, _ = _rank_row_sums(K)
    ok = np.isfinite(K)
    dev = sums - kbar @ ok
    r = corrado_rank_from_sums(
        sums[None],
        n_t[None],
        np.array([kbar.sum()]),
        dev[None],
        np.array([K.shape[0]]),
        tested,
        None if divisor is None else np.array([divisor]),
        cumulative,
        estudy2,
    )
    return _squeezed(r)


def modified_rank_from_sums(
    u_sums: np.ndarray,
    n_t: np.ndarray,
    n_rows: Any,
    tested: Any,
    divisor: Any = None,
    cumulative: bool = False,
    estudy2_sums: bool = False,
    days: RankDays | None = None,
) -> TestResult:
    """:func:`modified_rank` from the per-block daily sums of ``U_it - 1/2`` (batch form);
    ``days``: :func:`modified_rank_days` of the same sums and divisor, when already
    computed."""
    if days is None:
        days = modified_rank_days(u_sums, n_t, n_rows, divisor, estudy2_sums)
    return days.rank_test("modified_rank", tested, cumulative)


def modified_rank_days(
    u_sums: np.ndarray,
    n_t: np.ndarray,
    n_rows: Any,
    divisor: Any = None,
    estudy2_sums: bool = False,
) -> RankDays:
    """The daily part of :func:`modified_rank_from_sums` (every day, before a window is
    chosen)."""
    sums = np.asarray(u_sums, dtype=float)
    n_t = np.asarray(n_t, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        if estudy2_sums:
            sums = sums / n_t * _col(n_rows, 2)
        per_day = np.where(n_t > 0, sums / np.sqrt(n_t), np.nan)
    return RankDays(per_day, _day_scale(per_day, divisor), None, divisor)


def modified_rank(
    ranks_full: np.ndarray,
    tested: np.ndarray,
    divisor: float | None = None,
    cumulative: bool = False,
    estudy2_sums: bool = False,
) -> TestResult:
    """Modified rank test for missing returns (Corrado & Zivney 1992; Kolari & Pynnonen 2010).

    Notes
    -----
    ``U_it = K_it / (n_i + 1)`` (uniform order statistics, ``n_i`` observations of firm
    ``i`` in the full window); ``z_t = N_t^{-1/2} sum_i (U_it - 1/2) / S(U)``,
    ``S(U) = sqrt(1/T sum_t (N_t^{-1/2} sum_i (U_it - 1/2))^2)``. Standard normal. The
    window statistic is ``sum_t z_t / sqrt(D)``.
    """
    K = np.asarray(ranks_full, dtype=float)
    ok = np.isfinite(K)
    n_i = ok.sum(axis=1).astype(float)
    U = np.where(ok, K / (n_i[:, None] + 1.0) - 0.5, 0.0)
    r = modified_rank_from_sums(
        U.sum(axis=0)[None],
        ok.sum(axis=0)[None].astype(float),
        np.array([K.shape[0]]),
        tested,
        None if divisor is None else np.array([divisor]),
        cumulative,
        estudy2_sums,
    )
    return _squeezed(r)


def grank(gsar_full: np.ndarray, tested: Any, ranks: np.ndarray | None = None) -> TestResult:
    """Generalized rank test of Kolari & Pynnonen (2011), robust to cross-correlation.

    Parameters
    ----------
    gsar_full : ndarray, shape (N, T)
        Generalized standardized abnormal returns: the standardized estimation residuals
        ``AR_it / s_i`` and, in the tested columns, the event observations re-standardized
        by their cross-sectional standard deviation (``SCAR*_i = SCAR_i / sd(SCAR)``; for a
        window the cumulated observation stands as one column).
    tested : int or ndarray of int
        The column(s) tested; one statistic per column.
    ranks : ndarray, optional
        Row ranks of ``gsar_full`` when already known.

    Notes
    -----
    ``U_it = rank(GSAR_it) / (T_i + 1) - 1/2``; ``Ubar_t = mean_i U_it``;
    ``Z = Ubar_0 / S(Ubar)``, ``S(Ubar) = sqrt(1/T sum_t (N_t/N) Ubar_t^2)``;
    ``t_grank = Z sqrt((T - 2) / (T - 1 - Z^2))`` with ``T - 2`` degrees of freedom
    (Kolari & Pynnonen 2011, J. Empirical Finance 18, eqs. 9-13). The variance comes from
    the time series of cross-sectional mean ranks, so it absorbs cross-correlation. ``NaN``
    when ``S(Ubar)`` is at most :data:`RANK_MIN_SD` (mean ranks that offset exactly).
    """
    G = np.asarray(gsar_full, dtype=float)
    K = rank_rows(G) if ranks is None else np.asarray(ranks, dtype=float)
    ok = np.isfinite(K)
    n_i = ok.sum(axis=1).astype(float)
    U = np.where(ok, K / (n_i[:, None] + 1.0) - 0.5, 0.0)
    n_t = ok.sum(axis=0).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        ubar = np.where(n_t > 0, U.sum(axis=0) / n_t, np.nan)
    return _squeezed(grank_from_means(ubar[None], n_t[None], np.array([G.shape[0]]), tested))


def grank_from_means(ubar: np.ndarray, n_t: np.ndarray, n: Any, tested: Any) -> TestResult:
    """:func:`grank` from the cross-sectional mean ranks ``Ubar_t`` and counts ``N_t``.

    Parameters
    ----------
    ubar, n_t : ndarray, shape (B, T) (or (T,) for one block)
        Mean centred rank ``Ubar_t`` of each day and the firm-events observed on it.
    n : int or ndarray, shape (B,)
        Firm-events of each block.
    tested : int or ndarray of int
        Tested column(s).

    Notes
    -----
    Same statistic as :func:`grank`; the battery computes ``Ubar_t`` without re-ranking
    when one cumulated observation is added to ranked estimation residuals.
    """
    ubar = np.asarray(ubar, dtype=float)
    squeeze = ubar.ndim == 1
    ubar = np.atleast_2d(ubar)
    n_t = np.atleast_2d(np.asarray(n_t, dtype=float))
    n = np.broadcast_to(np.asarray(n, dtype=float), (ubar.shape[0],))
    tested = np.asarray(tested)
    T = (n_t > 0).sum(axis=1).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.sqrt(np.nansum((n_t / n[:, None]) * ubar**2, axis=1) / T)
        s = np.where(s > RANK_MIN_SD, s, np.nan)  # mean ranks offset exactly: no test
        z = ubar[:, tested] / _col(s, ubar[:, tested].ndim)
        Tc = _col(T, z.ndim)
        t = z * np.sqrt((Tc - 2.0) / (Tc - 1.0 - z**2))
    r = TestResult("grank", t, p_t(t, Tc - 2), T - 2, "mean GSAR rank = 1/2")
    return _squeezed(r) if squeeze else r


# ----------------------------------------------------------------------------- wilcoxon


_SIGNRANK_PMF: dict[int, np.ndarray] = {}


def _signrank_pmf(n: int) -> np.ndarray:
    """Exact distribution of the signed-rank statistic V for n untied values (probabilities)."""
    if n not in _SIGNRANK_PMF:
        top = n * (n + 1) // 2
        c = np.zeros(top + 1)
        c[0] = 1.0
        for k in range(1, n + 1):
            c[k:] = c[k:] + c[: top + 1 - k].copy()
        _SIGNRANK_PMF[n] = c / 2.0**n
    return _SIGNRANK_PMF[n]


#: Largest number of non-zero values for the exact Wilcoxon p-value (as R ``wilcox.test``).
WILCOXON_EXACT_MAX = 50


#: Blocks of at most this many firm-events rank ``|x|`` by comparing every pair of the block
#: (many small blocks: events or placebo draws); larger blocks sort each column.
WILCOXON_PAIRWISE_MAX = 16


def wilcoxon(x: np.ndarray, blocks: Blocks | None = None) -> TestResult:
    """Wilcoxon (1945) signed-rank test; the statistic is ``V`` (estudy2, R ``wilcox.test``).

    Parameters
    ----------
    x : ndarray, shape (N,) or (N, D)
        Abnormal returns or CARs.
    blocks : Blocks, optional

    Notes
    -----
    Zeros are dropped; ``|x|`` is ranked within the block (ties averaged) and ``V`` is the
    sum of the ranks of the positive values. The p-value is exact (two-sided,
    ``min(1, 2 min(P(V <= v), P(V >= v)))``) for ``n <= 50`` without ties, otherwise the
    normal approximation with the tie correction
    ``var = n(n+1)(2n+1)/24 - sum(t^3 - t)/48``.

    The ranks come from a sort of each column, or, when no block has more than
    :data:`WILCOXON_PAIRWISE_MAX` firm-events, from comparing the values of each block
    pairwise (a value's average rank is ``#{smaller} + (#{equal} + 1) / 2``, and a tie of
    ``t`` values adds ``t (t^2 - 1)`` over its members to ``sum(t^3 - t)``): the same
    half-integers either way, so ``V`` and the p-values do not depend on the route.
    """
    x = np.asarray(x, dtype=float)
    b, sq = _blocks(x, blocks)
    X = x.reshape(len(x), -1)
    if int(b.sizes.max()) <= WILCOXON_PAIRWISE_MAX:
        n, v, tie3, ties = _signed_rank_sums_pairwise(X, b)
    else:
        n, v, tie3, ties = _signed_rank_sums_sorted(X, b)
    V = np.full(n.shape, np.nan)
    P = np.full(n.shape, np.nan)
    PMIN = np.full(n.shape, np.nan)
    has = n > 0
    V[has] = v[has]
    exact = has & (n <= WILCOXON_EXACT_MAX) & ~ties
    for nj in np.unique(n[exact]).astype(int):
        at = exact & (n == nj)
        pmf = _signrank_pmf(nj)
        lo_c, hi_c = np.cumsum(pmf), np.cumsum(pmf[::-1])[::-1]
        vi = np.rint(v[at]).astype(int)
        P[at] = np.minimum(1.0, 2.0 * np.minimum(lo_c[vi], hi_c[vi]))
        PMIN[at] = min(1.0, 2.0 * pmf[0])
    approx = has & ~exact
    if approx.any():
        nn = n[approx]
        var = nn * (nn + 1) * (2 * nn + 1) / 24.0 - tie3[approx] / 48.0
        with np.errstate(invalid="ignore", divide="ignore"):
            z = (v[approx] - nn * (nn + 1) / 4.0) / np.sqrt(var)
            zmax = (nn * (nn + 1) / 4.0) / np.sqrt(var)
        P[approx] = p_normal(z)
        PMIN[approx] = p_normal(zmax)
    if x.ndim == 1:
        V, P, PMIN = V[:, 0], P[:, 0], PMIN[:, 0]
    return _result("wilcoxon", V, P, None, "AR symmetric about 0", sq, min_p=PMIN)


def _signed_rank_sums_sorted(
    X: np.ndarray, b: Blocks
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per block and column of ``X`` (K, D): the nonzero values ``n``, the signed-rank sum
    ``V``, ``sum(t^3 - t)`` over the ties of ``|x|`` and whether there is a tie, from one
    sort of each column."""
    B, D = len(b), X.shape[1]
    n_out = np.zeros((B, D))
    v_out = np.zeros((B, D))
    tie3_out = np.zeros((B, D))
    ties_out = np.zeros((B, D), dtype=bool)
    blk = b.index
    for d in range(D):
        col = X[:, d]
        keep = np.isfinite(col) & (col != 0)
        a, g, pos = np.abs(col[keep]), blk[keep], col[keep] > 0
        if len(a) == 0:
            continue
        order = np.argsort(a) if B == 1 else np.lexsort((a, g))  # ties share one rank
        a, g, pos = a[order], g[order], pos[order]
        m = len(a)
        new = np.ones(m, dtype=bool)
        new[1:] = (a[1:] != a[:-1]) | (g[1:] != g[:-1])
        run = np.cumsum(new) - 1
        run_len = np.bincount(run)
        run_start = np.flatnonzero(new)
        gstart = np.flatnonzero(np.concatenate([[True], g[1:] != g[:-1]]))
        offs = np.repeat(gstart, np.diff(np.append(gstart, m)))  # first row of the block
        rank = (run_start[run] - offs + 1) + (run_len[run] - 1) / 2.0
        n_out[:, d] = np.bincount(g, minlength=B)
        v_out[:, d] = np.bincount(g, weights=np.where(pos, rank, 0.0), minlength=B)
        tie3_out[:, d] = np.bincount(
            g[run_start], weights=(run_len**3 - run_len).astype(float), minlength=B
        )
        ties_out[:, d] = (
            np.bincount(g[run_start], weights=(run_len > 1).astype(float), minlength=B) > 0
        )
    return n_out, v_out, tie3_out, ties_out


def _signed_rank_sums_pairwise(
    X: np.ndarray, b: Blocks
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_signed_rank_sums_sorted` for small blocks: each block's values laid out as
    one row of a ``(B, m, D)`` array (``NaN``-padded) and ranked by pairwise comparison."""
    B, D = len(b), X.shape[1]
    m = int(b.sizes.max())
    if m == 1 or b.n_rows == B * m:
        A = X.reshape(B, m, D)
    else:
        A = np.full((B, m, D), np.nan)
        A[b.index, np.arange(b.n_rows) - b.starts[b.index]] = X
    keep = np.isfinite(A) & (A != 0)
    a = np.where(keep, np.abs(A), np.nan)  # NaN compares False: dropped values count nowhere
    pos = keep & (A > 0)
    less = np.zeros((B, m, D), dtype=np.int32)
    equal = np.zeros((B, m, D), dtype=np.int32)
    for j in range(m):  # compare every value with the block's j-th value
        aj = a[:, j : j + 1, :]
        less += aj < a
        equal += aj == a
    rank = less + (equal + 1.0) / 2.0
    n = keep.sum(axis=1).astype(float)
    v = np.where(pos, rank, 0.0).sum(axis=1)
    tie3 = np.where(keep, equal * equal - 1, 0).sum(axis=1).astype(float)
    ties = np.asarray((equal > 1).any(axis=1))
    return n, v, tie3, ties


# ----------------------------------------------------------------------------- single firm


def sq_test(car: np.ndarray, ar_est: np.ndarray, n_days: int) -> tuple[np.ndarray, np.ndarray]:
    """SQ test of Gelbach, Helland & Klick (2013): a single firm's CAR against the empirical
    distribution of its own estimation-window CARs of the same length.

    Parameters
    ----------
    car : ndarray, shape (K,)
        Each firm-event's CAR (AR for one day) over ``n_days`` window days.
    ar_est : ndarray, shape (K, L)
        Its estimation-window abnormal returns (the fitted model's residuals, ``NaN`` = none).
    n_days : int
        Days cumulated in ``car``.

    Returns
    -------
    p_value, n_ref : ndarray, shape (K,)
        Two-sided p-value and the number of reference CARs (sums of ``n_days`` consecutive
        estimation residuals, every one observed).

    Notes
    -----
    With ``S_1..S_n`` the reference sums, ``p = min(1, 2 min(1 + #{S_j <= CAR},
    1 + #{S_j >= CAR}) / (n + 1))``: the observed CAR ranked among the ``n`` estimation CARs,
    two-sided, as a conformal (exchangeable) p-value, so it is never 0 and its smallest value
    is ``2 / (n + 1)``. The test needs no normality: its level is right when the event-day
    abnormal return has the same distribution as the estimation residuals (Gelbach, Helland &
    Klick 2013, "Valid inference in single-firm, single-event studies", American Law and
    Economics Review 15(2), 495-541: the SQ test rejects when the event-period excess return
    lies outside the sample quantiles of the pre-event fitted excess returns). The reference
    sums overlap, so they are dependent; their quantiles are still consistent under
    stationarity. ``NaN`` where the CAR or every reference sum is missing.
    """
    car = np.asarray(car, dtype=float)
    ar_est = np.asarray(ar_est, dtype=float)
    K, L = ar_est.shape
    p = np.full(K, np.nan)
    n_ref = np.zeros(K)
    D = int(n_days)
    if D < 1 or D > L:
        return p, n_ref
    for lo in range(0, K, RANK_CHUNK_ROWS):
        hi = min(K, lo + RANK_CHUNK_ROWS)
        a = ar_est[lo:hi]
        if D <= 8:  # a few shifted adds beat a strided reduction
            sums = a[:, : L - D + 1].copy()
            for j in range(1, D):
                sums += a[:, j : L - D + 1 + j]
        else:
            sums = np.lib.stride_tricks.sliding_window_view(a, D, axis=1).sum(axis=2)
        c = car[lo:hi, None]
        n = np.count_nonzero(np.isfinite(sums), axis=1)
        with np.errstate(invalid="ignore"):  # NaN sums compare False both ways
            below = np.count_nonzero(sums <= c, axis=1)
            above = np.count_nonzero(sums >= c, axis=1)
            pv = np.minimum(1.0, 2.0 * np.minimum(1 + below, 1 + above) / (n + 1.0))
        p[lo:hi] = np.where(np.isfinite(car[lo:hi]) & (n > 0), pv, np.nan)
        n_ref[lo:hi] = n
    return p, n_ref


# ----------------------------------------------------------------------------- robust


def portfolio(
    ar_p: np.ndarray, se_p: np.ndarray, df: np.ndarray, blocks: Blocks | None = None
) -> TestResult:
    """Equal-weighted portfolio test (Brown & Warner 1980 "portfolio" method; Jaffe 1974).

    Parameters
    ----------
    ar_p : ndarray, shape (E,) or (E, D)
        Abnormal return (or CAR) of each event's equal-weighted portfolio.
    se_p : ndarray, same shape
        Its standard error from the portfolio's own estimation-window variance with the
        forecast-error term, ``s_p sqrt(L2 + L2^2/L + (sum_W (M_t - Mbar))^2/Sxx)``.
    df : ndarray, shape (E,)
        Residual degrees of freedom of each portfolio regression.
    blocks : Blocks, optional
        Groups of events (rows here are events, not firm-events).

    Notes
    -----
    One event: ``t = AR_p / se_p`` with the portfolio's residual degrees of freedom. Several
    events (distinct dates, independent portfolios): ``z = mean_e AR_pe /
    (sqrt(sum_e se_pe^2) / E)``, standard normal. Any cross-correlation inside an event is
    in the portfolio's own variance, so the test stays valid on a shared date.
    """
    ar_p = np.asarray(ar_p, dtype=float)
    se_p = np.asarray(se_p, dtype=float)
    b, sq = _blocks(ar_p, blocks)
    ar_total, n_ar, var, n_events, t_first, df_first = portfolio_sums(ar_p, se_p, df, b)
    return portfolio_from_sums(ar_total, n_ar, var, n_events, t_first, df_first, squeeze=sq)


def portfolio_sums(
    ar_p: np.ndarray, se_p: np.ndarray, df: np.ndarray, blocks: Blocks
) -> tuple[np.ndarray, ...]:
    """The pieces of :func:`portfolio` per block of events: the sum of the portfolio ARs,
    their count ``E``, the sum of their variances, the events of the block, and the first
    event's t-ratio and degrees of freedom (the statistic of a one-event block)."""
    b = blocks
    ok = np.isfinite(ar_p)
    var2 = se_p**2
    E = b.count_mask(ok)
    # an event whose portfolio has no residual variance (members offsetting exactly: its
    # sigma is NaN, see test_notes) adds none
    var = b.total(np.where(ok & np.isfinite(var2), var2, 0.0))
    first = np.asarray(df, dtype=float)[b.starts]
    with np.errstate(invalid="ignore", divide="ignore"):  # se 0: offsetting ARs
        t1 = np.where(se_p > 0, ar_p / np.where(se_p > 0, se_p, 1.0), np.nan)[b.starts]
    total = b.total(zero_masked(ar_p, ok))
    return total, E, var, b.sizes.astype(float), t1, first


def portfolio_from_sums(
    ar_total: np.ndarray,
    n_ar: np.ndarray,
    var: np.ndarray,
    n_events: np.ndarray,
    t_first: np.ndarray,
    df_first: np.ndarray,
    squeeze: bool = False,
) -> TestResult:
    """:func:`portfolio` from :func:`portfolio_sums`."""
    z = _div(mean_from_sums(ar_total, n_ar), _div(np.sqrt(var), n_ar))
    single = n_events == 1
    one = _col(single, z.ndim).astype(bool)
    stat = np.where(one, t_first, z)
    p = np.where(one, p_t(stat, _col(np.where(single, df_first, 1.0), z.ndim)), p_normal(stat))
    return _result(
        "portfolio", stat, p, np.where(single, df_first, np.nan), "portfolio AR = 0", squeeze
    )


def is_singular(cov: np.ndarray) -> bool:
    """Whether a covariance matrix cannot be inverted for :func:`sur_wald`: a non-finite
    entry, a zero variance, or a numerically rank-deficient correlation matrix (the
    securities' residuals are linearly dependent, e.g. identical returns).

    Notes
    -----
    Rank as ``numpy.linalg.matrix_rank``: eigenvalues (the singular values of a symmetric
    positive semi-definite matrix) above ``max eigenvalue * N * eps``.
    """
    cov = np.asarray(cov, dtype=float)
    n = cov.shape[0]
    if not np.isfinite(cov).all():
        return True
    sd = np.sqrt(np.diagonal(cov))
    if not (sd > 0).all():
        return True
    eig = np.linalg.eigvalsh(cov / np.outer(sd, sd))
    return bool(np.sum(np.abs(eig) > np.abs(eig).max() * n * np.finfo(float).eps) < n)


def hotelling_f(w: Any, n: Any, nu: Any) -> np.ndarray:
    """Hotelling's ``T^2 = W`` as ``F = W (nu - N + 1) / (nu N)``, ``F(N, nu - N + 1)``."""
    w, n, nu = (np.asarray(v, dtype=float) for v in (w, n, nu))
    with np.errstate(invalid="ignore", divide="ignore"):
        return w * (nu - n + 1) / (nu * n)


def sur_wald(car: np.ndarray, cov: np.ndarray, df_resid: float | None = None) -> TestResult:
    """Joint test that every security's CAR is zero (Schipper & Thompson 1983; Binder 1985).

    Parameters
    ----------
    car : ndarray, shape (N,)
        CARs of the N securities of one event (the sums of their event-dummy coefficients
        in the multivariate regression on the market).
    cov : ndarray, shape (N, N)
        Their covariance ``Sigma * (L2 + s'(X'X)^{-1}s)``, ``Sigma`` the residual covariance
        estimated jointly on the common estimation days.
    df_resid : float, optional
        Residual degrees of freedom ``nu = L - k`` of ``Sigma``. Given, the statistic is
        the Hotelling form ``F = W (nu - N + 1) / (nu N)`` with ``F(N, nu - N + 1)``; omitted,
        ``W`` against chi-squared(N).

    Notes
    -----
    ``W = CAR' V^{-1} CAR``. With ``Sigma`` estimated, ``W`` is Hotelling's ``T^2``: the
    chi-squared reference over-rejects badly for moderate ``N`` (17% at a nominal 5% with 30
    securities and 240 days, ``benchmarks/size_power.py``), the F form is exact under
    normality. Needs ``N < nu`` (``Sigma`` must be invertible). ``df`` is ``N`` and ``df2``
    ``nu - N + 1``. The battery (:mod:`eventstudy.battery`) factors ``Sigma`` once per event
    and solves every day and window with it; this function is the one-event form.
    """
    car = np.asarray(car, dtype=float)
    n = car.shape[0]
    cov = np.asarray(cov, dtype=float)
    if is_singular(cov):
        # e.g. two securities with identical returns: no joint test
        return TestResult(
            "sur_wald",
            np.nan,
            np.nan,
            float(n),
            "all CARs = 0",
            None if df_resid is None else float(df_resid) - n + 1,
        )
    # solved on the correlation scale (securities' variances may differ by many orders)
    sd = np.sqrt(np.diagonal(cov))
    z = car / sd
    w = float(z @ np.linalg.solve(cov / np.outer(sd, sd), z))
    if df_resid is None:
        return TestResult("sur_wald", w, float(p_chi2(w, n)), float(n), "all CARs = 0")
    nu = float(df_resid)
    f = float(hotelling_f(w, n, nu))
    return TestResult(
        "sur_wald", f, float(p_f(f, n, nu - n + 1)), float(n), "all CARs = 0", nu - n + 1
    )


def sur_wald_mean(car: np.ndarray, cov: np.ndarray, df_resid: float | None = None) -> TestResult:
    """Wald test that the mean CAR is zero, with the jointly estimated covariance.

    Notes
    -----
    ``W = (1'CAR/N)^2 / (1'V1/N^2)``: the square of a t-ratio whose variance uses the full
    residual covariance (Binder 1985), so it is valid under any cross-correlation. Reference
    ``F(1, nu)`` with ``nu = df_resid`` (chi-squared(1) when omitted).
    """
    car = np.asarray(car, dtype=float)
    n = car.shape[0]
    m = car.mean()
    v = float(np.sum(cov)) / n**2
    nu = None if df_resid is None else float(df_resid)
    if not (np.isfinite(v) and v > 0):
        return TestResult("sur_wald_mean", np.nan, np.nan, 1.0, "mean CAR = 0", nu)
    w = m * m / v
    p = p_chi2(w, 1) if nu is None else p_f(w, 1, nu)
    return TestResult("sur_wald_mean", float(w), float(p), 1.0, "mean CAR = 0", nu)
