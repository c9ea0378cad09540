"""Attacks on the Python API: bare core objects, set_flat_params, fit / MLP / save arguments, resumption, regions."""


def build(b):
    add = b.add
    # ---- api -------------------------------------------------------------------------------------------------
    add("api.type(stepper)() call", "api", """
        m = model(); st = m.stepper(X[:32], Y[:32]); S = type(st)
        e = attempt(S)
        if e is None:
            s = S(); reraise(attempt(s))
        reraise(e)
    """, expect="error", names=("Stepper", "stepper"), quick=True, item="core: Stepper construction")
    add("api.type(stepper)().step_count", "api", """
        m = model(); st = m.stepper(X[:32], Y[:32]); S = type(st)
        e = attempt(S)
        if e is None:
            s = S(); e = attempt(lambda: s.step_count)
        reraise(e)
    """, expect="error", names=("Stepper", "stepper"), quick=True, item="core: Stepper construction")
    add("api.Stepper.__new__ call", "api", """
        S = fastmlp._core.Stepper
        s = S.__new__(S)
        reraise(attempt(s)); reraise(attempt(lambda: s.step_count)); reraise(attempt(repr, s))
    """, expect="error", names=("Stepper", "stepper"), quick=True, item="core: Stepper construction")
    add("api.Predictor.__new__ call", "api", item="core: Predictor construction", code="""
        P = fastmlp._core.Predictor
        p = P.__new__(P)
        reraise(attempt(p, np.ones((2, 4), np.float32)))
    """, expect="error", names=("Predictor", "predictor"), quick=True)
    add("api.OptimConfig.__new__ use", "api", """
        O = fastmlp._core.OptimConfig
        o = O.__new__(O)
        m = model()
        reraise(attempt(m._net.train_step, m._params, m._grads, o, None, None, X[:8], None, Y[:8].astype(np.int32)))
    """, names=("OptimConfig", "config", "cfg", "state", "counter", "t", "labels", "y", "expected"))
    netreuse = """
        n = fastmlp._core._Net([4, 8, 3], ["relu", "identity"], "mse", "float32")
        e = attempt(n.__init__, {bad})
        p = np.zeros(67, np.float32); x = np.ones((2, 4), np.float32); out = np.empty((2, 3), np.float32)
        reraise(attempt(lambda: n.forward(p, x, out))); reraise(attempt(lambda: n.n_params))
    """
    for i, bad in enumerate(['[4, -1, 3], ["relu", "identity"], "mse", "float32"',
                             '[4, 8, 3], ["relu", "bogus"], "mse", "float32"',
                             '[4, 8, 3], ["relu", "identity"], "mse", "int8"',
                             '[4, 2**40, 3], ["relu", "identity"], "mse", "float32"',
                             '[4] * 200, ["relu"] * 199, "mse", "float32"',
                             '[4, 8, 3], ["relu", "identity"], "bogus", "float32"']):
        add(f"api._Net failed __init__ reuse#{i}", "api", netreuse.format(bad=bad), quick=i < 3,
            names=("sizes", "layers", "acts", "activation", "loss", "dtype", "_Net", "net", "n_in", "params", "n"),
            item="core: _Net commit on success")
    add("api._Net re-__init__ to other sizes then old buffers", "api", """
        n = fastmlp._core._Net([4, 8, 3], ["relu", "identity"], "mse", "float32")
        n.__init__([40, 80, 30], ["relu", "identity"], "mse", "float32")
        p = np.zeros(67, np.float32); x = np.ones((2, 4), np.float32); out = np.empty((2, 3), np.float32)
        reraise(attempt(lambda: n.forward(p, x, out)))
    """, names=("params", "x", "out", "n_in", "expected", "_Net"), quick=True, item="core: _Net commit on success")
    add("api.Predictor failed __init__ reuse", "api", """
        m = model(); p = m.predictor()
        e = attempt(p.__init__, [4, -1, 3], ["relu", "identity"], m.get_flat_params())
        check(e is not None, "Predictor.__init__ accepted bad sizes")
        reraise(attempt(p, np.ones((2, 4), np.float32)))
    """, names=("layers", "Predictor", "predictor", "sizes", "params"), quick=True, item="core: commit on success")
    for i, (val, dt) in enumerate([("1e300", "float32"), ("-1e39", "float32"), ("3.5e38", "float32"),
                                   ("np.float64(1e308) * 10", "float64"), ("np.nan", "float64"),
                                   ("np.float128(1e4000) if hasattr(np, 'float128') else np.inf", "float64"),
                                   ("2**200", "float32")]):
        add(f"api.set_flat_params {val} into {dt}", "api", f"""
            m = model(dtype="{dt}"); before = state(m)
            flat = m.get_flat_params().astype(np.float64 if "{val}" != "2**200" else object); flat[0] = {val}
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                e = attempt(m.set_flat_params, flat)
            if e is None:
                check(np.isfinite(m.forward(X[:5])).all(), "set_flat_params accepted a value that makes forward NaN/Inf")
                m.save(os.path.join(D, "out.npz")); fastmlp.load(os.path.join(D, "out.npz"))
            else:
                unchanged(m, before, "the refused set_flat_params")
            reraise(e)
        """, names=("flat", "range", "finite", "float"), quick=i < 2, item="library: set_flat_params cast")
    bad_val = [("(X[:20], Y[:19])", True), ("(X[:20], np.full(20, 7))", True), ("(X[:20],)", True),
               ("(X[:20, :3], Y[:20])", False), ("'abc'", False), ("(X[:20], Y[:20], Y[:20])", False),
               ("(np.full((20, 4), np.nan), Y[:20])", False), ("(X[:20], -Y[:20] - 1)", False),
               ("(X[:20], Y[:20].astype(float) + 0.5)", False), ("{'X': X}", False), ("(None, None)", False)]
    for i, (vd, q) in enumerate(bad_val):
        add(f"api.fit validation_data={vd}", "api", f"""
            m = model(); m.fit(X, Y, epochs=1); before = state(m)
            e = attempt(lambda: m.fit(X, Y, epochs=3, validation_data={vd}))
            unchanged(m, before, "a fit refusing its validation_data")
            reraise(e)
        """, expect="error", names=("validation",), quick=q, item="library: validate before the first step")
    for i, (kw, q) in enumerate([("validation_split='0.2'", True), ("validation_split=-0.1", False),
                                 ("validation_split=1.0", False), ("validation_split=float('nan')", True),
                                 ("epochs=-1", False), ("epochs=2.5", False), ("batch_size=0", False),
                                 ("lr=float('nan')", True), ("lr=-1.0", False), ("lr='0.1'", False),
                                 ("optimizer='bogus'", False), ("lr_schedule='bogus'", False), ("patience=0", False),
                                 ("callbacks=[1]", False), ("on_divergence='ignore'", False),
                                 ("momentum=2.0, optimizer='momentum'", False), ("beta2=1.0, optimizer='adam'", False),
                                 ("shuffle='yes'", False), ("verbose=2", False), ("weight_decay=-1.0", False)]):
        arg = kw.split("=")[0]
        add(f"api.fit({kw})", "api", f"""
            m = model(); m.fit(X, Y, epochs=1); before = state(m)
            e = attempt(lambda: m.fit(X, Y, {kw if kw.startswith("epochs") else "epochs=2, " + kw}))
            if e is not None:
                unchanged(m, before, "a refused fit")
            reraise(e)
        """, names=(arg, "optimizer", "schedule", "callback"), quick=q)
    for i, (kw, q) in enumerate([("eps=0", True), ("eps=-1e-3", False), ("eps=float('nan')", False),
                                 ("eps='a'", False)]):
        add(f"api.gradcheck({kw})", "api", f"""
            m = model(dtype="float64")
            e = attempt(lambda: fastmlp.gradcheck(m, X[:10].astype(float), Y[:10], {kw}))
            reraise(e)
        """, expect="error", names=("eps",), quick=q)
    for i, (args, names, q) in enumerate([
            ("[4, 3], seed='abc'", ("seed",), True), ("[4, 3], seed=-1", ("seed",), False),
            ("[4, 3], seed=1.5", ("seed",), False), ("[4, 3], dtype='bogus'", ("dtype",), True),
            ("[4, 3], dtype=np.int32", ("dtype",), False), ("[4, 3], dtype='float16'", ("dtype",), False),
            ("[2**64, 2]", ("layers", "size"), True), ("[2**63, 2]", ("layers", "size"), False),
            ("[0, 2]", ("layers",), False), ("[-1, 2]", ("layers",), False), ("[2]", ("layers",), False),
            ("[]", ("layers",), False), ("'2,3'", ("layers",), False), ("[2.5, 3]", ("layers",), True),
            ("[True, 2]", ("layers",), False), ("[4, 5, 3], activation='bogus'", ("activation",), False),
            ("[4, 3], loss='bogus'", ("loss",), False), ("[4, 3], init='bogus'", ("init",), False),
            ("[4, 3], output='softmax'", ("output",), False), ("[2] * 300", ("layers",), False),
            ("[np.float64(4.0), 3]", ("layers",), False), ("[4, 3], activation=['relu', 'tanh']", ("activation",), False)]):
        add(f"api.MLP({args})", "api", f"""
            e = attempt(lambda: fastmlp.MLP({args}))
            reraise(e)
        """, expect="error", names=names, quick=q, max_s=5.0)
    for i, (path, names, q) in enumerate([("'/missing/m.npz'", ("/missing",), True),
                                          ("D + os.sep", ("path", "folder", "directory", "name"), False), ("'/proc/m.npz'", ("/proc",), False),
                                          ("os.path.join(D, 'm.npz', 'x.npz')", ("m.npz",), False)]):
        add(f"api.save({path})", "api", f"""
            m = model()
            e = attempt(m.save, {path})
            check(e is not None, "save reported success for an impossible path")
            import re
            unclear(not re.search(r"fastmlp-tmp|\\.tmp\\b|\\.part\\b|\\.\\d+\\.[0-9a-f]{{8}}", str(e)), f"the error names the temporary file: {{e}}")
            raise e
        """, names=names, quick=q, item="library: save errors" if i == 0 else "")
    add("api.save metadata not JSON", "api", """
        m = model(); reraise(attempt(m.save, os.path.join(D, "out.npz"), metadata={"a": object()}))
    """, expect="error", names=("metadata",))
    add("api.save metadata NaN", "api", """
        m = model(); reraise(attempt(m.save, os.path.join(D, "out.npz"), metadata={"a": float("nan")}))
    """, names=("metadata",))
    add("api.to_onnx(path=<dir>)", "api", """
        m = model(); reraise(attempt(m.to_onnx, path=D))
    """, expect="error", names=("fastmlp-hostile", "path", "onnx", "directory"), quick=True)
    add("api.forward 1-D sample hint", "api", """
        m = model(); e = attempt(m.forward, X[0])
        check(e is not None, "forward accepted a 1-D sample")
        unclear("reshape(-1, 1)" not in str(e), "the hint says reshape(-1, 1) for one sample")
        raise e
    """, names=("reshape(1, -1)",), quick=True)
    for i, (x, q) in enumerate([("X[:, :3]", False), ("np.full((2, 4), np.nan)", True), ("X.astype(str)", False),
                                ("X[:0]", False), ("X.astype(object)", False), ("np.full((2, 4), 1e300)", True),
                                ("[[1, 2, 3, 'a']]", False)]):
        add(f"api.forward({x})", "api", f"""
            m = model(); e = attempt(lambda: m.forward({x}))
            if e is None:
                check(np.isfinite(m.forward({x})).all(), "forward returned NaN/Inf without an error")
            reraise(e)
        """, names=("X",), quick=q)
    for opt, q in (("adam", True), ("momentum", True), ("sgd", False), ("nesterov", False)):
        add(f"api.save->load->fit resumes bit-identically ({opt})", "api", f"""
            a = model(); a.fit(X, Y, epochs=2, optimizer="{opt}", shuffle=False)
            b = pickle.loads(pickle.dumps(a))
            a.save(os.path.join(D, "r.npz")); c = fastmlp.load(os.path.join(D, "r.npz"))
            b.fit(X, Y, epochs=2, optimizer="{opt}", shuffle=False)
            c.fit(X, Y, epochs=2, optimizer="{opt}", shuffle=False)
            check(np.array_equal(b.get_flat_params(), c.get_flat_params()) and b.step_count == c.step_count,
                  "save -> load -> fit differs from continuing")
        """, expect="ok", quick=q, item="library: save optimizer state")
    add("api.save->load->fit shuffled (rng state)", "api", """
        a = model(); a.fit(X, Y, epochs=2, optimizer="adam")
        b = pickle.loads(pickle.dumps(a))
        a.save(os.path.join(D, "r.npz")); c = fastmlp.load(os.path.join(D, "r.npz"))
        b.fit(X, Y, epochs=2, optimizer="adam"); c.fit(X, Y, epochs=2, optimizer="adam")
        check(np.array_equal(b.get_flat_params(), c.get_flat_params()), "save -> load -> shuffled fit differs")
    """, expect="ok", item="library: save optimizer state")
    add("api.stepper after reset_parameters", "api", """
        m = model(); s = m.stepper(X[:32], Y[:32]); s(); m.reset_parameters()
        reraise(attempt(s))
    """, expect="error", names=("stepper", "optimizer", "reset"))
    add("api.ShallowNet.to_mlp(M=1e20)", "api", """
        from fastmlp import regions as R
        m = model((2, 4, 4, 1), activation="relu", loss="mse", dtype="float64")
        m.set_flat_params(np.random.default_rng(6).normal(size=m.n_params))
        s = R.to_shallow(m, (-2, 2))
        Xs = np.random.default_rng(0).uniform(-2, 2, (2000, 2))
        e = attempt(s.to_mlp, 1e20)
        if e is None:
            err = np.abs(s.to_mlp(1e20).forward(Xs) - m.forward(Xs))
            check(np.median(err) < 1e-6, f"to_mlp(1e20): median error {np.median(err):.3g}")
        reraise(e)
    """, names=("M",), quick=True, item="regions: to_mlp bound")
    for M in ("1e300", "1e12", "np.inf", "-1.0", "1e-3"):
        add(f"api.ShallowNet.to_mlp(M={M})", "api", f"""
            from fastmlp import regions as R
            m = model((2, 4, 1), activation="relu", loss="mse", dtype="float64")
            m.set_flat_params(np.random.default_rng(1).normal(size=m.n_params))
            s = R.to_shallow(m, (-1, 1)); Xs = np.random.default_rng(0).uniform(-1, 1, (2000, 2))
            e = attempt(s.to_mlp, {M})
            if e is None:
                err = np.abs(s.to_mlp({M}).forward(Xs) - m.forward(Xs))
                check(np.median(err) < 1e-6, f"to_mlp: median error {{np.median(err):.3g}}")
            reraise(e)
        """, names=("M",), item="regions: to_mlp bound")
    regions_bad = [("R.local_linear(m, np.ones(2))", True), ("R.local_linear(m, np.full((1, 2), np.nan))", False),
                   ("R.enumerate_regions(m, (1, -1))", True), ("R.enumerate_regions(m, (-1, 1), max_regions=0)", False),
                   ("R.pieces_1d(m, [0, 0], [0, 0])", False), ("R.shapley_values(m, np.ones((1, 2)), np.ones((0, 2)))", False),
                   ("R.enumerate_regions(model((2, 64, 64, 64, 1), activation='relu'), (-9, 9), max_seconds=1)", False),
                   ("R.local_linear(model((2, 4, 1), activation='tanh'), np.ones((1, 2)))", False),
                   ("R.to_shallow(m, None, max_regions=2)", False), ("R.linear_shap('m', np.ones((1, 2)), np.ones((1, 2)))", False)]
    for i, (call, q) in enumerate(regions_bad):
        add(f"api.regions {call}", "api", f"""
            from fastmlp import regions as R
            m = model((2, 6, 6, 1), activation="relu", loss="mse")
            reraise(attempt(lambda: {call}))
        """, names=("X", "box", "max_", "a", "b", "background", "budget", "model", "relu", "regions", "point"),
            quick=q, timeout=30)
