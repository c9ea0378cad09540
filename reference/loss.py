"""Twin of csrc/loss.c (loss.inc): losses, means over the batch of per-sample sums, and their gradients.

``sw`` (sample weights, one per row, or None) gives the weighted mean sum_i w_i l_i / sum w and the gradient
scaled by c_i = w_i / sum w; with None the plain formulas (a separate path, as in C)."""
import math

from .common import KernelError, check_sizes


def wsum(sw, n):
    """Sum of the weights in index order (fm_wsum)."""
    s = 0.0
    for i in range(n):
        s += sw[i]
    return s


def check_sw(sw, n):
    """Weights finite and >= 0 with a positive, finite sum."""
    if sw is None:
        return
    if not all(math.isfinite(sw[i]) and sw[i] >= 0.0 for i in range(n)):
        raise KernelError("option out of range")
    s = wsum(sw, n)
    if not (s > 0.0 and math.isfinite(s)):
        raise KernelError("option out of range")


def loss_mse(p, t, sw, dp, loss, n, m):
    """loss[0] = 1/(2n) sum (p - t)^2; dp = (p - t) / n (dp may be None).

    Parameters
    ----------
    p : list of float
        The predictions, ``n * m`` values.
    t : list of float
        The targets, ``n * m`` values.
    sw : list of float or None
        One weight >= 0 per row (a positive sum); None: all ones.
    dp : list of float or None
        Written: the gradient ``(p - t) / n`` (weighted: see the C twin); None: not computed.
    loss : list of float
        A one-element list: ``loss[0]`` is written.
    n : int
        The rows of the batch.
    m : int
        The outputs per row.

    Raises
    ------
    KernelError
        Where the C twin returns a negative ``FM_E*`` code (nothing is written then).

    See Also
    --------
    fastmlp.loss_mse : The fast kernel, on numpy arrays.

    Examples
    --------
    >>> import fastmlp.reference as ref
    >>> loss, dp = [0.0], [0.0] * 2
    >>> ref.loss_mse([1.0, 2.0], [0.0, 0.0], None, dp, loss, 1, 2)
    >>> loss, dp
    ([2.5], [1.0, 2.0])
    """
    check_sizes(n, m)
    check_sw(sw, n)
    if sw is None:
        total = 0.0
        for i in range(n * m):
            d = p[i] - t[i]
            total += d * d
            if dp is not None:
                dp[i] = d / n
        loss[0] = 0.5 * total / n
        return
    ws = wsum(sw, n)
    total = 0.0
    for i in range(n):
        c = sw[i] / ws
        row = 0.0
        for j in range(i * m, (i + 1) * m):
            d = p[j] - t[j]
            row += d * d
            if dp is not None:
                dp[j] = d * c
        total += sw[i] * row
    loss[0] = 0.5 * total / ws


def loss_softmax_ce(z, y, sw, dz, loss, n, m):
    """loss[0] = mean_i logsumexp(z_i) - z_i[y_i]; dz = (softmax(z) - onehot(y)) / n (dz may be None).

    Parameters
    ----------
    z : list of float
        The logits, ``n * m`` values.
    y : list of int
        The labels, ``n`` values in ``[0, m)``.
    sw : list of float or None
        One weight >= 0 per row (a positive sum); None: all ones.
    dz : list of float
        Written: ``dp * act'(p)``, ``n * n_out`` values (it may be ``dp`` itself).
    loss : list of float
        A one-element list: ``loss[0]`` is written.
    n : int
        The rows of the batch.
    m : int
        The outputs per row.

    Raises
    ------
    KernelError
        Where the C twin returns a negative ``FM_E*`` code (nothing is written then).

    See Also
    --------
    fastmlp.loss_softmax_ce : The fast kernel, on numpy arrays.

    Examples
    --------
    >>> import fastmlp.reference as ref
    >>> loss, dz = [0.0], [0.0] * 2
    >>> ref.loss_softmax_ce([0.0, 0.0], [1], None, dz, loss, 1, 2)
    >>> round(loss[0], 4), dz                                  # log 2, softmax - onehot
    (0.6931, [0.5, -0.5])
    """
    check_sizes(n, m)
    for i in range(n):
        if y[i] < 0 or y[i] >= m:
            raise KernelError("label out of range")
    check_sw(sw, n)
    ws = wsum(sw, n) if sw is not None else float(n)
    total = 0.0
    e = dz if dz is not None else [0.0] * (n * m)  # each exponential once, into dz's row (C: a chunk on the stack)
    for i in range(n):
        mx = z[i * m]
        for j in range(1, m):
            if z[i * m + j] > mx:
                mx = z[i * m + j]
        yi = y[i]
        zy = z[i * m + yi]  # read before dz (which may be z) is written
        s = 0.0
        for j in range(m):
            e[i * m + j] = math.exp(z[i * m + j] - mx)
        for j in range(m):
            s += e[i * m + j]
        lse = mx + math.log(s)
        if sw is not None:
            total += sw[i] * (lse - zy)
        else:
            total += lse - zy
        if dz is not None:
            c = sw[i] / ws if sw is not None else 0.0
            for j in range(m):
                q = dz[i * m + j] / s
                if j == yi:
                    q -= 1.0
                dz[i * m + j] = q * c if sw is not None else q / n
    loss[0] = total / ws


def loss_sigmoid_bce(z, t, sw, dz, loss, n, m):
    """loss[0] = 1/n sum max(z,0) - z t + log1p(exp(-abs(z))); dz = (sigmoid(z) - t) / n (dz may be None).

    Parameters
    ----------
    z : list of float
        The logits, ``n * m`` values.
    t : list of float
        The targets, ``n * m`` values.
    sw : list of float or None
        One weight >= 0 per row (a positive sum); None: all ones.
    dz : list of float
        Written: ``dp * act'(p)``, ``n * n_out`` values (it may be ``dp`` itself).
    loss : list of float
        A one-element list: ``loss[0]`` is written.
    n : int
        The rows of the batch.
    m : int
        The outputs per row.

    Raises
    ------
    KernelError
        Where the C twin returns a negative ``FM_E*`` code (nothing is written then).

    See Also
    --------
    fastmlp.loss_sigmoid_bce : The fast kernel, on numpy arrays.

    Examples
    --------
    >>> import fastmlp.reference as ref
    >>> loss, dz = [0.0], [0.0]
    >>> ref.loss_sigmoid_bce([0.0], [1.0], None, dz, loss, 1, 1)
    >>> round(loss[0], 4), dz                                  # log 2, sigmoid(0) - 1
    (0.6931, [-0.5])
    """
    check_sizes(n, m)
    check_sw(sw, n)
    if sw is None:
        total = 0.0
        for i in range(n * m):
            zi, ti = z[i], t[i]
            az = -zi if zi < 0.0 else zi
            e = math.exp(-az)
            total += (zi if zi > 0.0 else 0.0) - zi * ti + math.log1p(e)
            if dz is not None:
                s = 1.0 / (1.0 + e) if zi >= 0.0 else e / (1.0 + e)
                dz[i] = (s - ti) / n
        loss[0] = total / n
        return
    ws = wsum(sw, n)
    total = 0.0
    for i in range(n):
        c = sw[i] / ws
        row = 0.0
        for j in range(i * m, (i + 1) * m):
            zi, ti = z[j], t[j]
            az = -zi if zi < 0.0 else zi
            e = math.exp(-az)
            row += (zi if zi > 0.0 else 0.0) - zi * ti + math.log1p(e)
            if dz is not None:
                s = 1.0 / (1.0 + e) if zi >= 0.0 else e / (1.0 + e)
                dz[j] = (s - ti) * c
        total += sw[i] * row
    loss[0] = total / ws


def loss_poisson(z, t, sw, dz, loss, n, m):
    """loss[0] = 1/n sum xlogy(t, t) - t - t z + exp(z) (half the Poisson deviance, scikit-learn's poisson_loss of
    t and exp(z)); dz = (exp(z) - t) / n (dz may be None). Targets must be >= 0.

    Parameters
    ----------
    z : list of float
        The log-mean, ``n * m`` values.
    t : list of float
        The counts (>= 0), ``n * m`` values.
    sw : list of float or None
        One weight >= 0 per row (a positive sum); None: all ones.
    dz : list of float
        Written: ``dp * act'(p)``, ``n * n_out`` values (it may be ``dp`` itself).
    loss : list of float
        A one-element list: ``loss[0]`` is written.
    n : int
        The rows of the batch.
    m : int
        The outputs per row.

    Raises
    ------
    KernelError
        Where the C twin returns a negative ``FM_E*`` code (nothing is written then).

    See Also
    --------
    fastmlp.loss_poisson : The fast kernel, on numpy arrays.

    Examples
    --------
    >>> import fastmlp.reference as ref
    >>> loss, dz = [0.0], [0.0]
    >>> ref.loss_poisson([0.0], [0.0], None, dz, loss, 1, 1)   # exp(0) - 0
    >>> loss, dz
    ([1.0], [1.0])
    """
    check_sizes(n, m)
    if not all(t[i] >= 0.0 for i in range(n * m)):
        raise KernelError("option out of range")
    check_sw(sw, n)
    ws = wsum(sw, n) if sw is not None else float(n)
    total = 0.0
    for i in range(n):
        c = sw[i] / ws if sw is not None else 0.0
        row = 0.0
        for j in range(i * m, (i + 1) * m):
            zj, tj = z[j], t[j]
            xlogy = tj * math.log(tj) if tj > 0.0 else 0.0
            row += xlogy - tj - tj * zj + math.exp(zj)
            if dz is not None:
                d = math.exp(z[j]) - t[j]
                dz[j] = d * c if sw is not None else d / n
        total += sw[i] * row if sw is not None else row
    loss[0] = total / ws


def softmax(z, p, n, m):
    """p[n][m] = row-wise softmax of z.

    Parameters
    ----------
    z : list of float
        The logits, ``n * m`` values.
    p : list of float
        Written: the row-wise softmax, ``n * m`` values.
    n : int
        The rows of the batch.
    m : int
        The outputs per row.

    Raises
    ------
    KernelError
        Where the C twin returns a negative ``FM_E*`` code (nothing is written then).

    See Also
    --------
    fastmlp.softmax : The fast kernel, on numpy arrays.

    Examples
    --------
    >>> import fastmlp.reference as ref
    >>> p = [0.0] * 4
    >>> ref.softmax([1.0, 1.0, 0.0, -1e9], p, 2, 2)
    >>> p
    [0.5, 0.5, 1.0, 0.0]
    """
    check_sizes(n, m)
    for i in range(n):
        mx = z[i * m]
        for j in range(1, m):
            if z[i * m + j] > mx:
                mx = z[i * m + j]
        s = 0.0
        for j in range(m):
            p[i * m + j] = math.exp(z[i * m + j] - mx)
        for j in range(m):
            s += p[i * m + j]
        for j in range(m):
            p[i * m + j] = p[i * m + j] / s
