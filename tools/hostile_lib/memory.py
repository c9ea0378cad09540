"""Attacks on memory: huge layer sizes, size guards under a cap, peak RSS of fit / predict / shapley, CSV memory."""
from .case import Case


def build(b):
    add = b.add
    # ---- memory ----------------------------------------------------------------------------------------------
    add("memory.MLP([20000, 20000]) fast and lean", "memory", """
        t = time.perf_counter(); e = attempt(lambda: budget(lambda: fastmlp.MLP([20000, 20000]), seconds=10, mb=2600))
        reraise(e)
    """, names=("layers", "20000", "parameters", "size"), timeout=40, item="library: init in dtype")  # ~9 s: full run
    add("memory.MLP([20000, 20000]) under a 1 GiB cap", "memory", """
        e = attempt(fastmlp.MLP, [20000, 20000]); check(e is not None, "built 1.6 GB under a 1 GiB cap?"); raise e
    """, names=("layers", "20000", "parameters", "GiB", "size"), mem=1.0, quick=True, item="library: size guard")
    for layers, q in (("[2**31, 2]", True), ("[10**6, 10**6, 10**6]", False), ("[100000, 100000, 100000]", False),
                      ("[2**40, 1]", False), ("[65536, 65536]", False)):
        add(f"memory.MLP({layers}) refused quickly", "memory", f"""
            e = attempt(lambda: budget(lambda: fastmlp.MLP({layers}), seconds=5, mb=200))
            check(e is not None, "built"); raise e
        """, names=("layers", "parameters", "size", "GiB"), mem=4.0, quick=q, timeout=30, item="library: size guard")
    add("memory.load 2 KB declaring [20000,20000,2] under a 1 GiB cap", "memory", """
        P = craft(os.path.join(D, "bad.npz"), layers=np.array([20000, 20000, 2]))
        e = attempt(fastmlp.load, P); check(e is not None, "loaded"); raise e
    """, names=("layers", "params", "bad.npz"), mem=1.0, quick=True, item="library: load sizes from headers")
    add("memory.fit on 1e6 x 1 rows under 1 GiB", "memory", """
        m = model((1, 4, 1), loss="mse"); Xb = np.ones((10**6, 1), np.float32); yb = np.ones((10**6, 1), np.float32)
        budget(lambda: m.fit(Xb, yb, epochs=1, batch_size=4096), mb=300)
    """, expect="ok", mem=1.5)
    add("memory.predict 1e6 rows peak", "memory", """
        m = model((4, 64, 3)); Xb = np.ones((10**6, 4), np.float32)
        budget(lambda: m.predict(Xb), mb=200)
    """, expect="ok")
    add("memory.shapley_values 16 features x big background", "memory", """
        from fastmlp import regions as R
        m = model((16, 4, 1), activation="relu", loss="mse")
        reraise(attempt(lambda: budget(lambda: R.shapley_values(m, np.ones((1, 16)), np.ones((2000, 16))), seconds=60, mb=500)))
    """, names=("max_features", "background", "coalitions"), timeout=90)

    b.cases.append(Case(id="memory.train 25 MB CSV: peak memory <= 3x the file", family="memory", argv=[], expect="ok",
                  check="csv_memory", timeout=240, item="cli: CSV memory"))
