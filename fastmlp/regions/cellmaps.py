"""What both enumeration paths share: the LP / geometry coordinates of a box, and each cell's half-spaces, affine
map and hyperplane blocks computed from its activation pattern alone (so the LP search and the planar geometry
report bit-for-bit the same rows for the same pattern)."""
from __future__ import annotations

import numpy as np


def lp_scale(net, centre, half):
    """The unit lengths S (n_in,) of the coordinates y = (x - centre) / S in which both paths work: S_i =
    min(half_i, R), R the largest distance from the centre of a first-layer hyperplane that can meet the box (its
    circumscribed ball), i.e. the extent of the arrangement in the box. Both scale with the inputs and ignore a
    shift, so the results do too; a box much larger than its features (R << half) is not resolved more coarsely.
    half = inf: all of R^n."""
    R = np.inf
    if len(net.Ws) > 1:
        W, b = net.Ws[0], net.bs[0]
        nrm = np.sqrt((W * W).sum(axis=1))
        ok = nrm > 0
        if ok.any():
            dist = np.abs(W[ok] @ centre + b[ok]) / nrm[ok]
            reach = float(np.sqrt((half * half).sum()))
            dist = dist[dist <= reach]
            if len(dist) and dist.max() > 0:
                R = float(dist.max())
    S = np.minimum(half, R)
    return np.where(np.isfinite(S), S, 1.0)


def push(W, Z):
    """W @ Z[k] for every k (Z: (K, j, n) -> (K, i, n)) as ONE matrix product (einsum and broadcast matmul loop
    over K small products)."""
    K, j, n = Z.shape
    out = np.ascontiguousarray(Z.transpose(0, 2, 1)).reshape(K * n, j) @ W.T
    return out.reshape(K, n, W.shape[0]).transpose(0, 2, 1)


def apply_rows(Z, cz, Y):
    """Z[k] @ Y[k] + cz[k] for every k (Z: (K, i, n), Y: (K, n))."""
    out = cz + Z[:, :, 0] * Y[:, 0, None]
    for d in range(1, Z.shape[2]):
        out = out + Z[:, :, d] * Y[:, d, None]
    return out


def layer_offsets(net):
    """The column of each hidden layer's unit 0 in a pattern (one entry per layer, and the total at the end)."""
    return np.concatenate([[0], np.cumsum(net.widths)]).astype(np.int64)


def cell_maps(net, patterns, full):
    """Everything ``Regions`` reports about cells, from their patterns (K, units) alone, in x.

    Returns H (K, U, n_in), c (K, U), strict (K, U), alpha (K, n_out, n_in), beta (K, n_out), hp_index (K, U), G
    (Q, n_in), g0 (Q,). Rows follow ``Region``'s convention: a unit active on the cell gives (-z/|z|, zc/|z|)
    (``H x < c`` iff z x + zc > 0), an inactive one (z/|z|, -zc/|z|); a unit constant on the cell (z = 0) gives the
    zero row with c = +-zc. strict: the active rows, and all rows when ``full``. The hyperplanes (G, g0) come in
    blocks, one per layer and pattern of the earlier layers (the deduplication ``ShallowNet`` needs: cells sharing
    a prefix share the same floats)."""
    K, U = patterns.shape
    n_in = net.n_in
    off = layer_offsets(net)
    H = np.zeros((K, U, n_in))
    c = np.zeros((K, U))
    hp = np.zeros((K, U), dtype=np.int64)
    G_rows, g0_rows, base = [], [], 0
    Z = np.broadcast_to(net.Ws[0], (K,) + net.Ws[0].shape)
    cz = np.broadcast_to(net.bs[0], (K, len(net.bs[0])))
    for li, width in enumerate(net.widths):
        s = patterns[:, off[li]:off[li + 1]]
        # the layer's hyperplane blocks: one per distinct prefix (the patterns of the layers before it)
        if K:
            prefix = np.packbits(patterns[:, :off[li]], axis=1) if off[li] else np.zeros((K, 1), np.uint8)
            _, first, inv = np.unique(prefix, axis=0, return_index=True, return_inverse=True)
            inv = inv.ravel()
            G_rows.append(Z[first].reshape(-1, n_in))
            g0_rows.append(cz[first].reshape(-1))
            hp[:, off[li]:off[li + 1]] = base + inv[:, None] * width + np.arange(width)
            base += len(first) * width
        nrm = np.sqrt((Z * Z).sum(axis=2))
        zero = nrm == 0.0
        safe = np.where(zero, 1.0, nrm)
        sg = np.where(s, -1.0, 1.0)
        H[:, off[li]:off[li + 1]] = np.where(zero[..., None], 0.0, sg[..., None] * Z / safe[..., None])
        c[:, off[li]:off[li + 1]] = np.where(zero, -sg * cz, -sg * cz / safe)
        Zm, cm = Z * s[..., None], cz * s
        W, b = net.Ws[li + 1], net.bs[li + 1]
        Z = push(W, Zm)
        cz = cm @ W.T + b
    strict = np.ones((K, U), dtype=bool) if full else patterns.copy()
    G = np.concatenate(G_rows) if G_rows else np.zeros((0, n_in))
    g0 = np.concatenate(g0_rows) if g0_rows else np.zeros(0)
    return H, c, strict, np.ascontiguousarray(Z), np.ascontiguousarray(cz), hp, G, g0
