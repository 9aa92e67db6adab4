"""The trade columns seen through a look-through matrix: ``G'E``, ``G'v`` and ``G'WG``.

``G = M S`` where ``M`` maps holdings into look-through space (identity, plus a replaced fund's
benchmark in the fund's column) and ``S`` puts each trade column on its security with sign +-1.
``through_funds_sparse`` is the plain scipy computation.  ``through_funds`` gives the same numbers
to the bit for a fraction of the time on a direct index: most columns of ``M`` hold one entry, so
their products are single terms (written out here as scipy forms them, ``0 + a*b``); only the few
fund columns are sums, accumulated in scipy's order (ascending row, from zero).  When ``M`` has an
unusual shape (an empty column, three trades on one row) it falls back to scipy.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["through_funds", "through_funds_sparse"]


def through_funds_sparse(
    M: sp.csr_matrix,
    t_sec: np.ndarray,
    t_sign: np.ndarray,
    exposures: np.ndarray,
    v: np.ndarray,
    w: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``G'E``, ``G'v`` and the upper triangle of ``G'diag(w)G`` (rows, columns, values, by trade
    column) with scipy's sparse products."""
    n, m = M.shape[0], len(t_sec)
    G = (M @ sp.csc_matrix((t_sign, (t_sec, np.arange(m))), shape=(n, m))).tocsc()
    GtE = np.asarray(G.T @ exposures).reshape(m, -1)
    Gtv = G.T @ v
    PG = sp.triu(G.T @ sp.csc_matrix(G.multiply(w[:, None]))).tocoo()
    return GtE, Gtv, PG.row, PG.col, PG.data


def _in_order(terms: np.ndarray) -> np.ndarray:
    """Sums down the first axis one term at a time from zero, as scipy's products add them."""
    return np.add.accumulate(np.concatenate((np.zeros((1, *terms.shape[1:])), terms)), axis=0)[-1]


def through_funds(
    M: sp.csr_matrix,
    t_sec: np.ndarray,
    t_sign: np.ndarray,
    exposures: np.ndarray,
    v: np.ndarray,
    w: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``through_funds_sparse``'s answer, bit for bit, with few numpy calls (see the module)."""
    n, m = M.shape[0], len(t_sec)
    rows = np.repeat(np.arange(n), np.diff(M.indptr))
    kept = M.data != 0  # scipy's products drop zeros
    rows, cols, vals = rows[kept], M.indices[kept], M.data[kept]
    count = np.bincount(cols, minlength=n)[t_sec]
    one = (count == 1).nonzero()[0]
    many = (count > 1).nonzero()[0]
    row_of = np.zeros(n, dtype=np.int64)
    val_of = np.zeros(n)
    row_of[cols] = rows
    val_of[cols] = vals
    r = row_of[t_sec[one]]
    g = val_of[t_sec[one]] * t_sign[one]
    # Trades of one row (a security sold and bought): pairs in trade order; more is unusual.
    order = np.argsort(r, kind="stable")
    by_row, shared = one[order], r[order]
    same = (shared[1:] == shared[:-1]).nonzero()[0]
    if (count == 0).any() or (len(same) > 1 and (np.diff(same) == 1).any()):
        return through_funds_sparse(M, t_sec, t_sign, exposures, v, w)
    GtE = np.empty((m, exposures.shape[1]))
    Gtv = np.empty(m)
    GtE[one] = g[:, None] * exposures[r] + 0.0
    Gtv[one] = g * v[r] + 0.0
    g_one = np.zeros(m)
    g_one[one] = g
    r_one = np.zeros(m, dtype=np.int64)
    r_one[one] = r
    a, b = by_row[same], by_row[same + 1]
    pi = [one, a]
    pj = [one, b]
    pv = [g * (g * w[r]), g_one[a] * (g_one[b] * w[r_one[a]])]
    # Fund columns: whole columns of G, their sums in scipy's order.
    fund = np.zeros((len(many), n))
    for f, j in enumerate(many.tolist()):
        at = cols == t_sec[j]
        fund[f, rows[at]] = vals[at] * t_sign[j]
        nz = rows[at]
        terms = fund[f, nz][:, None] * np.column_stack((exposures[nz], v[nz]))
        total = _in_order(terms)
        GtE[j], Gtv[j] = total[:-1], total[-1]
        # With each single-entry trade on one of the fund's rows: one term, its factors in the
        # order scipy's product takes them (the earlier trade's entry times the later one's,
        # weighted).
        hit = one[fund[f, r] != 0]
        fr = fund[f, r_one[hit]]
        before = hit < j
        pi.append(np.where(before, hit, j))
        pj.append(np.where(before, j, hit))
        pv.append(np.where(before, g_one[hit] * (fr * w[r_one[hit]]), fr * (g_one[hit] * w[r_one[hit]])))
        for e, i in enumerate(many[: f + 1].tolist()):
            common = ((fund[e] != 0) & (fund[f] != 0)).nonzero()[0]
            pi.append(np.array([i]))
            pj.append(np.array([j]))
            pv.append(_in_order((fund[e, common] * (fund[f, common] * w[common]))[:, None]))
    pi, pj, pv = np.concatenate(pi), np.concatenate(pj), np.concatenate(pv)
    nonzero = pv != 0
    return GtE, Gtv, pi[nonzero], pj[nonzero], pv[nonzero]
