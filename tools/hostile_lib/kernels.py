"""Attacks on the compiled kernels: thread caps, optimizer updates, packed / dense forward and backward, losses."""
import itertools
import textwrap

from .case import dd


def build(b):
    add = b.add
    # ---- kernels -------------------------------------------------------------------------------------------
    fwd_check = """
        x = np.random.default_rng(1).normal(size=(257, 64)); W = np.random.default_rng(2).normal(size=(48, 64))
        b = np.zeros(48)
        ref = np.maximum(x @ W.T, 0)
        check(np.allclose(fastmlp.dense_forward(x, W, b), ref), "dense_forward wrong after set_num_threads")
        m = model(); m.fit(X, Y, epochs=2); check(np.isfinite(m.get_flat_params()).all(), "fit gave NaN")
    """
    for n, q in (("65536", True), ("32768", True), ("2**31-1", True), ("2**31", False), ("2**63", False),
                 ("1 << 16", False), ("-1", True), ("0", False), ("1.5", False), ("'4'", True), ("True", False),
                 ("None", False), ("np.int64(65536)", True), ("np.uint64(2**64-1)", False), ("4096", False)):
        add(f"kernels.set_num_threads({n})", "kernels",
            f"e = attempt(fastmlp.set_num_threads, {n})\nif e is None:\n" + textwrap.indent(dd(fwd_check), "    ")
            + "\nreraise(e)", names=("n", "thread"), quick=q,
            item="core: thread cap" if n in ("65536", "1 << 16", "np.int64(65536)", "4096") else "")
    add("kernels.OMP_NUM_THREADS=65536 env", "kernels", fwd_check, env={"OMP_NUM_THREADS": "65536"}, quick=True,
        names=("thread", "OMP"), item="core: thread cap")
    add("kernels.OMP_THREAD_LIMIT=1 then set 64", "kernels", "fastmlp.set_num_threads(64)\n" + dd(fwd_check),
        env={"OMP_THREAD_LIMIT": "1"}, names=("thread",))
    # adam / sgd updates: a result must be finite or refused
    adam = """
        W = np.ones(10); g = np.full(10, 0.1); mm = np.zeros(10); v = np.zeros(10)
        {setup}
        e = attempt(lambda: fastmlp.adam_update(W, g, mm, v, {t}, {kw}))
        check(e is not None or not np.isnan(W).any(), "adam_update turned the weights into NaN without an error")
        reraise(e)
    """
    for i, (setup, t, kw, q) in enumerate([
            ("v[:] = -1.0", 1, "lr=0.01", True), ("v[3] = -1e-30", 1, "lr=0.01", True),
            ("v[:] = -1.0; W = W.astype(np.float32); g = g.astype(np.float32); mm = mm.astype(np.float32); "
             "v = v.astype(np.float32)", 1, "lr=0.01", True),
            ("v[0] = np.nan", 1, "lr=0.01", False), ("mm[0] = np.inf", 1, "lr=0.01", False),
            ("pass", 0, "lr=0.01", True), ("pass", -1, "lr=0.01", False), ("pass", 2**70, "lr=0.01", False),
            ("pass", 1, "lr=float('nan')", False), ("pass", 1, "lr=float('inf')", False),
            ("pass", 1, "lr=0.01, beta1=1.0", False), ("pass", 1, "lr=0.01, beta2=1.5", False),
            ("pass", 1, "lr=0.01, eps=0.0", True), ("pass", 1, "lr=0.01, eps=-1.0", False),
            ("g[:] = 0", 1, "lr=0.01, eps=0.0", True), ("pass", 1, "lr=1e308, weight_decay=1e308", False),
            ("v = v[:5]", 1, "lr=0.01", False), ("v = mm", 1, "lr=0.01", False), ("g = W", 1, "lr=0.01", False),
            ("W = W[::2]; g = g[::2]; mm = mm[::2]; v = v[::2]", 1, "lr=0.01", False)]):
        add(f"kernels.adam_update#{i} {setup} t={t} {kw}", "kernels", adam.format(setup=setup, t=t, kw=kw),
            names=("v", "m", "t", "lr", "beta", "eps", "W", "dW", "weight_decay", "overlap", "alias"), quick=q,
            item="core: adam negative v" if "-1" in setup or "-1e-30" in setup else "")
    sgd = """
        W = np.ones(10); g = np.full(10, 0.1); v = np.zeros(10)
        {setup}
        e = attempt(lambda: fastmlp.sgd_update(W, g, v, {kw}))
        check(e is not None or not np.isnan(W).any(), "sgd_update turned the weights into NaN without an error")
        reraise(e)
    """
    for i, (setup, kw) in enumerate([("pass", "lr=float('nan')"), ("pass", "lr=0.1, momentum=-1.0"),
                                     ("v = v[:3]", "lr=0.1, momentum=0.9"), ("W.flags.writeable = False", "lr=0.1"),
                                     ("pass", "lr=1e308, weight_decay=1e308"), ("g = W", "lr=0.1"),
                                     ("v[0] = np.inf", "lr=0.1, momentum=0.9"), ("pass", "lr=0.1, l1=float('inf')")]):
        add(f"kernels.sgd_update#{i} {setup} {kw}", "kernels", sgd.format(setup=setup, kw=kw), quick=i < 3,
            names=("v", "lr", "momentum", "W", "dW", "weight_decay", "l1", "writ", "overlap", "alias", "read-only"))
    packed = """
        rng = np.random.default_rng(0); x = rng.normal(size=(33, 20)).astype(np.{dt}); W = rng.normal(size=(12, 20)).astype(np.{dt})
        b = rng.normal(size=12).astype(np.{dt}); Wp = fastmlp.dense_pack(W)
        ref = fastmlp.dense_forward(x, W, b)
        n_out = {n_out}
        e = attempt(lambda: fastmlp.dense_forward_packed(x, Wp, b, n_out{extra}))
        if e is None:
            out = fastmlp.dense_forward_packed(x, Wp, b, n_out{extra})
            check(out.shape == ref.shape and np.array_equal(out, ref), f"dense_forward_packed(n_out={{n_out}}) gave shape {{out.shape}} and wrong values")
        reraise(e)
    """
    for i, (n_out, extra, dt, q) in enumerate([
            ("11", "", "float32", True), ("13", "", "float32", True), ("8", "", "float64", True), ("0", "", "float32", False),
            ("-1", "", "float32", False), ("2**40", "", "float32", False), ("2**64", "", "float32", False),
            ("12.0", "", "float32", False), ("'12'", "", "float32", False), ("12", ", check_finite='no'", "float32", True),
            ("12", ", check_finite=2", "float32", False), ("12", ", check_finite=None", "float32", False),
            ("12", ", check_finite=1.0", "float32", False), ("12", "", "float64", False),
            ("12", ", act='bogus'", "float32", False), ("1", "", "float32", False), ("24", "", "float32", False)]):
        add(f"kernels.dense_forward_packed#{i} n_out={n_out}{extra} {dt}", "kernels",
            packed.format(n_out=n_out, extra=extra, dt=dt), quick=q,
            names=("n_out", "check_finite", "Wp", "act", "b"), item="core: packed n_out / check_finite"
            if n_out in ("11", "13", "8", "1", "24") or "check_finite" in extra else "")
    add("kernels.dense_forward_packed Wp truncated", "kernels", """
        Wp = np.zeros(5, np.float32)   # not what dense_pack returned
        reraise(attempt(fastmlp.dense_forward_packed, np.ones((3, 20), np.float32), Wp, np.zeros(12, np.float32), 12))
    """, expect="error", names=("Wp",), quick=True)
    add("kernels.dense_forward_packed Wp of other dtype", "kernels", """
        Wp = fastmlp.dense_pack(np.ones((12, 20), np.float64))
        reraise(attempt(fastmlp.dense_forward_packed, np.ones((3, 20), np.float32), Wp, np.zeros(12, np.float32), 12))
    """, expect="error", names=("Wp", "dtype", "float"))
    fwd = """
        rng = np.random.default_rng(0); x = rng.normal(size=(6, 6)); W = rng.normal(size=(6, 6)); b = rng.normal(size=6)
        {setup}
        ref = np.maximum(np.asarray(x, float) @ np.asarray(W, float).T + np.asarray(b, float), 0) if np.ndim(x) == 2 and np.shape(b) == (np.shape(W)[0],) else None
        e = attempt(lambda: fastmlp.dense_forward(x, W, b, {kw}))
        if e is None:
            check(ref is not None, "dense_forward accepted malformed input")
            check(np.allclose(got, ref), "dense_forward result differs from the numpy oracle")
        reraise(e)
    """.replace("e = attempt(lambda: fastmlp.dense_forward(x, W, b, {kw}))",
                "got = None\n        def _f():\n            global got\n            got = fastmlp.dense_forward(x, W, b, {kw})\n"
                "        e = attempt(_f)")
    for i, (setup, kw, q) in enumerate([
            ("pass", "out=x", True), ("pass", "out=W", True), ("b = x[0]", "out=x", False),
            ("pass", "out=x[:, ::-1]", False), ("x[2, 3] = np.nan", "act='relu'", True),
            ("x[2, 3] = np.inf", "check_finite=False", False), ("b = b[:5]", "act='relu'", True),
            ("W = W[:, :5]", "act='relu'", False), ("pass", "act='bogus'", True), ("pass", "act=None", False),
            ("x = x.astype(np.float16)", "act='relu'", False), ("x = x.astype(object)", "act='relu'", False),
            ("x = x[None]", "act='relu'", False), ("x = np.asfortranarray(x)", "act='relu'", False),
            ("pass", "check_finite='yes'", False), ("x = x[:0]", "act='relu'", False),
            ("pass", "out=np.empty((6, 6), np.float32)", False), ("o = np.empty((6, 6)); o.flags.writeable = False",
                                                                  "out=o", False),
            ("x = np.full((6, 6), 1e300); W = np.full((6, 6), 1e300)", "act='relu'", True),
            ("x = x.astype('>f8')", "act='relu'", False), ("x = x.astype(complex)", "act='relu'", False)]):
        add(f"kernels.dense_forward#{i} {setup} {kw}", "kernels", fwd.format(setup=setup, kw=kw), quick=q,
            names=("x", "W", "b", "out", "act", "check_finite", "overlap", "alias", "dtype", "finite"))
    bwd = """
        rng = np.random.default_rng(0); x = rng.normal(size=(5, 5)); W = rng.normal(size=(5, 5))
        p = np.maximum(x @ W.T, 0); dp = rng.normal(size=(5, 5))
        dz_ref = dp * (p > 0); dW_ref = dz_ref.T @ x; dx_ref = dz_ref @ W
        {setup}
        res = None
        def _f():
            global res
            res = fastmlp.dense_backward(x, W, p, dp, 'relu', {kw})
        e = attempt(_f)
        if e is None:
            dW, db, dx = res
            check(np.allclose(dW, dW_ref) and (dx is None or np.allclose(dx, dx_ref)), "dense_backward differs from the oracle")
        reraise(e)
    """
    for i, (setup, kw, q) in enumerate([("pass", "dx=x", True), ("pass", "dW=W", True), ("pass", "dx=dp", False),
                                        ("pass", "dz=p", False), ("pass", "dz=dp", False), ("pass", "dW=x", False),
                                        ("pass", "dx=W", False), ("dp = dp[:, :3]", "bias=True", False),
                                        ("pass", "accumulate=True", False), ("pass", "bias=False, db=np.zeros(5)", False)]):
        add(f"kernels.dense_backward#{i} {kw}", "kernels", bwd.format(setup=setup, kw=kw), quick=q,
            names=("dx", "dW", "dz", "dp", "db", "x", "W", "p", "overlap", "alias", "accumulate", "bias"))
    loss = """
        {setup}
        res = None
        def _f():
            global res
            res = {call}
        e = attempt(_f)
        if e is None:
            check(not any(np.isnan(np.asarray(r, float)).any() for r in res), "{name} returned NaN without an error")
            check(np.isfinite(np.asarray(res[-1], float)).all(), "{name}: a non-finite gradient without an error")
        reraise(e)
    """
    loss_calls = {"softmax_ce": "fastmlp.loss_softmax_ce(z, y)", "sigmoid_bce": "fastmlp.loss_sigmoid_bce(z, t)",
                  "mse": "fastmlp.loss_mse(p, t)", "softmax": "(fastmlp.softmax(z),)"}
    n_loss = itertools.count()

    def loss_attack(name, setup, call=None, quick=False):
        """A loss (or softmax) on setup's arrays: refused, or without NaN and with a finite gradient."""
        call = call or loss_calls[name]
        add(f"kernels.loss#{next(n_loss)} {name} {setup}", "kernels", loss.format(setup=setup, call=call, name=name),
            quick=quick, names=("y", "z", "t", "p", "dp", "out", "label", "target", "finite", "range"))

    loss_attack('softmax_ce', 'z = np.zeros((4, 3)); y = np.array([0, 1, 2, 3])', quick=True)
    loss_attack('softmax_ce', 'z = np.zeros((4, 3)); y = np.array([0, 1, 2, -1])', quick=True)
    loss_attack('softmax_ce', 'z = np.zeros((4, 3)); y = np.array([0, 1, 2, 2**40])')
    loss_attack('softmax_ce', 'z = np.zeros((4, 3)); y = np.array([0., 1.5, 2, 1])')
    loss_attack('softmax_ce', 'z = np.array([[1e308, -1e308, 0.]]); y = np.array([1])', quick=True)
    loss_attack('softmax_ce', 'z = np.zeros((4, 3)); y = np.array([0, 1, 2])')
    loss_attack('sigmoid_bce', 'z = np.zeros((2, 2)); t = np.array([[0., 2.], [1., 0.]])', quick=True)
    loss_attack('sigmoid_bce', 'z = np.full((2, 2), 1e300); t = np.ones((2, 2))')
    loss_attack('mse', 'p = np.full((2, 2), 1e200); t = -p', quick=True)
    loss_attack('mse', 'p = np.zeros((2, 2)); t = np.zeros((2, 3))')
    loss_attack('mse', 'p = np.zeros((2, 2)); t = np.zeros((2, 2))', 'fastmlp.loss_mse(p, t, dp=t)')
    loss_attack('softmax', 'z = np.array([[np.inf, 0.]])')
    loss_attack('softmax', 'z = np.array([[1e308, -1e308]])', quick=True)
    loss_attack('softmax', 'z = np.zeros((2, 2))', '(fastmlp.softmax(z, out=np.zeros((2, 3))),)')
    add("kernels.dense_pack NaN W", "kernels", """
        reraise(attempt(fastmlp.dense_pack, np.full((3, 3), np.nan)))
    """, names=("W",))
