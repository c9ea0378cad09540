"""Attacks with threads (torn reads during fit, concurrent fits) and signals (Ctrl-C, SIGKILL / SIGTERM mid-save)."""
import os
import signal
import sys

from .case import HOME, _loads, csv_writer


def build(b):
    add, cli = b.add, b.cli
    # ---- threads ---------------------------------------------------------------------------------------------
    thread_reads = [
        ("get_flat_params", "lambda m: m.get_flat_params()", True),
        ("params", "lambda m: [(W.copy(), b.copy()) for W, b in m.params]", True),
        ("forward", "lambda m: m.forward(Xq)", False),
        ("predictor", "lambda m: m.predictor()(Xq)", False),
        ("pickle", "lambda m: pickle.loads(pickle.dumps(m)).get_flat_params()", False),
        ("save", "lambda m: (m.save(os.path.join(D, 's.npz')), fastmlp.load(os.path.join(D, 's.npz')).get_flat_params())[1]", False),
        ("to_torch", "lambda m: [p.detach().numpy().copy() for p in m.to_torch().parameters()]", False),
        ("regions.local_linear", "lambda m: R.local_linear(m, Xq)", True),
        ("regions.activation_patterns", "lambda m: R.activation_patterns(m, Xq)", True),
        ("regions.pieces_1d", "lambda m: R.pieces_1d(m, [-1, -1], [1, 1]).alpha", False),
        ("regions.linear_shap", "lambda m: R.linear_shap(m, Xq, Xq)", False),
        ("regions.shapley_values", "lambda m: R.shapley_values(m, Xq[:2], Xq)", True),
        ("regions.count_regions", "lambda m: R.count_regions(m, (-1, 1))", False),
        ("regions.to_shallow", "lambda m: R.to_shallow(m, (-1, 1))(Xq)", False),
    ]
    for what, read, q in thread_reads:
        add(f"threads.torn reads during fit: {what}", "threads", f"""
            from fastmlp import regions as R
            Xq = np.random.default_rng(3).uniform(-1, 1, (4, 2))
            torn({read}, n_fits={6 if 'count' in what or 'shallow' in what else 15})
        """, quick=q, timeout=60, item="library: guarded reads" if what in ("get_flat_params", "params") else "")
    add("threads.two threads fit one model", "threads", """
        m = model(); errs = []
        def f():
            try:
                for _ in range(20):
                    m.fit(X, Y, epochs=1)
            except RuntimeError as e:
                errs.append(e)
        ts = [threading.Thread(target=f) for _ in range(2)]; [t.start() for t in ts]; [t.join() for t in ts]
        check(np.isfinite(m.get_flat_params()).all(), "weights not finite")
    """, expect="ok", quick=True)
    add("threads.set_num_threads during fit", "threads", """
        a = model(); b = model(); stop = threading.Event()
        def flip():
            k = 0
            while not stop.is_set():
                fastmlp.set_num_threads(1 + k % 4); k += 1
        t = threading.Thread(target=flip); t.start()
        try:
            a.fit(X, Y, epochs=5, shuffle=False)
        finally:
            stop.set(); t.join()
        fastmlp.set_num_threads(1); b.fit(X, Y, epochs=5, shuffle=False)
        check(np.array_equal(a.get_flat_params(), b.get_flat_params()), "results depend on thread-count changes")
    """, expect="ok", quick=True)
    add("threads.one stepper from two threads", "threads", """
        m = model(); s = m.stepper(X[:64], Y[:64])
        def f():
            for _ in range(2000):
                try:
                    s()
                except RuntimeError:
                    pass
        ts = [threading.Thread(target=f) for _ in range(2)]; [t.start() for t in ts]; [t.join() for t in ts]
        check(np.isfinite(m.get_flat_params()).all(), "weights not finite")
    """, expect="ok")
    add("threads.reset_parameters during fit", "threads", """
        m = model(); errs = []
        t = threading.Thread(target=lambda: m.fit(X, Y, epochs=200)); t.start()
        for _ in range(200):
            try:
                m.reset_parameters()
            except RuntimeError:
                pass
        t.join(); check(np.isfinite(m.get_flat_params()).all(), "weights not finite")
    """, expect="ok")
    # ---- signals ---------------------------------------------------------------------------------------------
    add("signals.Ctrl-C after an epoch: weights and step count agree", "signals", """
        ref = model(); recs = []
        ref.fit(X, Y, epochs=6, batch_size=16, callbacks=[lambda m, ep, logs: recs.append(state(m))])
        recs.insert(0, state(model()))
        bad = 0
        for delay in np.linspace(0.0005, 0.02, 12):
            m = model()
            timer = threading.Timer(delay, lambda: signal.pthread_kill(threading.main_thread().ident, signal.SIGINT))
            try:
                timer.start()
                m.fit(X, Y, epochs=6, batch_size=16)
                time.sleep(0.05)
            except KeyboardInterrupt:
                pass
            timer.cancel()
            try:
                time.sleep(0.03)
            except KeyboardInterrupt:
                pass
            w, s = state(m)
            if not any(np.array_equal(w, rw) and s == rs for rw, rs in recs):
                bad += 1
        check(bad == 0, f"{bad} of 12 interrupted fits left weights and step count from different epochs")
    """, expect="ok", quick=True, timeout=60, item="library: one-step epoch commit")
    add("signals.KeyboardInterrupt raised by a callback", "signals", """
        m = model(); ref = model(); ref.fit(X, Y, epochs=1, batch_size=16)
        def cb(mm, ep, logs):
            raise KeyboardInterrupt
        try:
            m.fit(X, Y, epochs=3, batch_size=16, callbacks=[cb])
        except KeyboardInterrupt:
            pass
        w, s = state(m)
        check((np.array_equal(w, ref.get_flat_params()) and s == ref.step_count) or
              (np.array_equal(w, model().get_flat_params()) and s == 0), "an interrupted fit is half-committed")
    """, expect="ok")
    add("signals.SIGKILL during save", "signals", """
        import subprocess
        P = os.path.join(D, "k.npz")
        big = model((400, 800, 800, 10)); big.save(P); old = big.get_flat_params()
        child = "import fastmlp, numpy as np, sys\\nm = fastmlp.MLP([400, 800, 800, 10], seed=1)\\nwhile True:\\n    m.save(sys.argv[1])\\n"
        rng = np.random.default_rng(0); new = model((400, 800, 800, 10), seed=1).get_flat_params()
        for k in range(8):
            p = subprocess.Popen([sys.executable, "-c", child, P])
            time.sleep(0.4 + rng.uniform(0, 0.3)); p.kill(); p.wait()
            f = fastmlp.load(P).get_flat_params()
            check(np.array_equal(f, old) or np.array_equal(f, new), "the target is neither the old nor the new model")
        left = [n for n in os.listdir(D) if n not in ("k.npz",) and ("k.npz" in n or "tmp" in n)]
        model().save(os.path.join(D, "k.npz"))
        left2 = [n for n in os.listdir(D) if n not in ("k.npz",) and ("k.npz" in n or "tmp" in n)]
        check(not left2, f"temporaries left after kills and a new save: {left2} (before the save: {len(left)})")
    """, expect="ok", timeout=90, item="library: save temporaries")  # ~5 s: in the full run
    add("signals.SIGINT during save", "signals", """
        P = os.path.join(D, "k.npz"); big = model((400, 800, 800, 10)); big.save(P)
        for delay in (0.001, 0.005, 0.02):
            timer = threading.Timer(delay, lambda: signal.pthread_kill(threading.main_thread().ident, signal.SIGINT))
            timer.start()
            try:
                for _ in range(20):
                    big.save(P)
            except KeyboardInterrupt:
                pass
            timer.cancel()
            fastmlp.load(P)
        left = [n for n in os.listdir(D) if n != "k.npz" and ("k.npz" in n or "tmp" in n)]
        check(not left, f"temporaries left: {left}")
    """, expect="ok")

    def ctrl_c_cli(d, rc, out, err):
        if "Traceback" in err:
            return ("unclear error", "Ctrl-C prints a traceback: " + err.strip().splitlines()[-1][:100])
        p = os.path.join(d, "o.npz")
        if os.path.exists(p):
            sys.path.insert(0, HOME)
            import fastmlp
            try:
                fastmlp.load(p)
            except Exception as e:
                return ("lost file", f"an interrupted train left a damaged --out: {e}")
        return None

    big_csv = "".join(f"{(i * 7) % 11},{(i * 3) % 5},{i % 13},{i % 2}\n" for i in range(20000))
    cli("train Ctrl-C", ["train", "big.csv", "--out", "o.npz", "--epochs", "200", "--quiet"], expect="either",
        setup=csv_writer("big.csv", big_csv), signal_after=(2.5, signal.SIGINT), check=ctrl_c_cli,
        names=("interrupt", "Ctrl-C", "stopped", "cancel"), timeout=30, quick=True, family="signals")
    cli("train SIGTERM with --force over an existing model", ["train", "big.csv", "--out", "m.npz", "--force", "--epochs",
                                                              "200", "--quiet"],
        expect="either", setup=csv_writer("big.csv", big_csv), signal_after=(2.5, signal.SIGTERM), mutable=("m.npz",),
        check=lambda d, rc, o, e: None if _loads(os.path.join(d, "m.npz")) else ("lost file", "m.npz damaged"),
        names=("terminat", "signal", "interrupt"), timeout=30, family="signals")
