"""Twin of csrc/loss.c (loss.inc): losses, means over the batch of per-sample sums, and their gradients."""
import math

from .common import KernelError, check_sizes


def loss_mse(p, t, dp, loss, n, m):
    """loss[0] = 1/(2n) sum (p - t)^2; dp = (p - t) / n (dp may be None)."""
    check_sizes(n, m)
    total = 0.0
    for i in range(n * m):
        d = p[i] - t[i]
        total += d * d
        if dp is not None:
            dp[i] = d / n
    loss[0] = 0.5 * total / n


def loss_softmax_ce(z, y, dz, loss, n, m):
    """loss[0] = mean_i logsumexp(z_i) - z_i[y_i]; dz = (softmax(z) - onehot(y)) / n (dz may be None)."""
    check_sizes(n, m)
    for i in range(n):
        if y[i] < 0 or y[i] >= m:
            raise KernelError("label out of range")
    total = 0.0
    for i in range(n):
        mx = z[i * m]
        for j in range(1, m):
            if z[i * m + j] > mx:
                mx = z[i * m + j]
        s = 0.0
        for j in range(m):
            s += math.exp(z[i * m + j] - mx)
        lse = mx + math.log(s)
        yi = y[i]
        total += lse - z[i * m + yi]
        if dz is not None:
            for j in range(m):
                q = math.exp(z[i * m + j] - mx) / s
                if j == yi:
                    q -= 1.0
                dz[i * m + j] = q / n
    loss[0] = total / n


def loss_sigmoid_bce(z, t, dz, loss, n, m):
    """loss[0] = 1/n sum max(z,0) - z t + log1p(exp(-|z|)); dz = (sigmoid(z) - t) / n (dz may be None)."""
    check_sizes(n, m)
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


def softmax(z, p, n, m):
    """p[n][m] = row-wise softmax of z."""
    check_sizes(n, m)
    for i in range(n):
        mx = z[i * m]
        for j in range(1, m):
            if z[i * m + j] > mx:
                mx = z[i * m + j]
        s = 0.0
        for j in range(m):
            p[i * m + j] = math.exp(z[i * m + j] - mx)
            s += p[i * m + j]
        for j in range(m):
            p[i * m + j] = p[i * m + j] / s
