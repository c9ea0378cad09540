"""Attacks through model files: crafted members, huge declared sizes, FIFOs and devices, modes and links,
truncated and bit-flipped copies."""
import random
import textwrap


def build(b, quick_files=30, full_files=400, seed=0):
    add = b.add
    # ---- model files ---------------------------------------------------------------------------------------
    def crafted(what, args, *names, quick=False):
        """A model file made by craft(P, args) from m.npz: load refuses it naming the file and one of names, or
        loads it with m.npz's contents."""
        add(f"files.crafted {what}", "files", f"""
            P = os.path.join(D, "bad.npz")
            craft(P, {args})
            def _load():
                return fastmlp.load(P)
            e = attempt(lambda: budget(_load, seconds=1.0, mb=50))
            if e is None:
                mm = fastmlp.load(P)
                check(np.isfinite(mm.forward(X[:5])).all(), "a hostile file loaded into a model that gives NaN")
                ref = fastmlp.load(os.path.join(D, "m.npz"))
                check(mm.layers == ref.layers and np.array_equal(mm.get_flat_params(), ref.get_flat_params()),
                      "a hostile file loaded with other contents")
            else:
                unclear("bad.npz" in str(e), f"the error does not name the file: {{e}}")
            reraise(e)
        """, names=names + ("bad.npz",), quick=quick, item="library: load checks")

    crafted('layers float [3.9, 8, 3]', 'layers=np.array([4.9, 8, 3])', 'layers', quick=True)
    crafted('format_version 1.9', 'format_version=np.float64(1.9)', 'format_version', quick=True)
    crafted('layers huge [20000, 20000, 3]', 'layers=np.array([20000, 20000, 3])', 'layers', 'params', quick=True)
    crafted('layers [2**62, 2]', "layers=np.array([2**62, 2]), activations=np.array(['identity'])", 'layers')
    crafted('layers negative', 'layers=np.array([4, -8, 3])', 'layers')
    crafted('layers 2-D', 'layers=np.array([[4, 8, 3]])', 'layers')
    crafted('layers empty', 'layers=np.array([], np.int64)', 'layers')
    crafted('layers strings', "layers=np.array(['4', '8', '3'])", 'layers')
    crafted('layers 300 entries', "layers=np.array([4] * 300), activations=np.array(['relu'] * 299)", 'layers')
    crafted('activations bogus', "activations=np.array(['relu', 'bogus'])", 'activation')
    crafted('loss bogus', "loss=np.array('bogus')", 'loss')
    crafted('dtype bogus', "dtype=np.array('int8')", 'dtype')
    crafted('params NaN', 'params=np.full(67, np.nan, np.float32)', 'params', 'NaN', quick=True)
    crafted('params float16', 'params=np.zeros(67, np.float16)', 'params')
    crafted('params wrong size', 'params=np.zeros(66, np.float32)', 'params')
    crafted('params 2-D', 'params=np.zeros((67, 1), np.float32)', 'params')
    crafted('params object (pickle)', "params=np.array([1, 'a'], dtype=object)", 'params', 'pickle', 'object', quick=True)
    crafted('step_count negative', 'step_count=np.int64(-5)', 'step_count')
    crafted('step_count float 2.5', 'step_count=np.float64(2.5)', 'step_count', quick=True)
    crafted('step_count 2**70', 'step_count=np.array(2**70, dtype=object)', 'step_count')
    crafted('format_version 99', 'format_version=np.int64(99)', 'format_version', 'version')
    crafted('missing params', "drop=['params']", 'params')
    crafted('missing layers', "drop=['layers']", 'layers')
    crafted('metadata not JSON', "metadata=np.array('{not json')", 'metadata')
    crafted('metadata JSON list', "metadata=np.array('[1, 2]')", 'metadata')
    crafted('optimizer JSON bogus', 'optimizer=np.array(\'{"name": "bogus"}\')', 'optimizer', quick=True)
    crafted('optimizer step_count -1', 'optimizer=np.array(\'{"name": "adam", "options": {}, "step_count": -1}\')', 'optimizer', 'step_count')
    crafted('optimizer_state wrong size', 'optimizer_state=np.zeros(3, np.float32)', 'optimizer')
    crafted('optimizer_state NaN', 'optimizer_state=np.full(134, np.nan, np.float32)', 'optimizer')
    crafted('rng_state bogus', 'rng_state=np.array(\'{"bit_generator": "Nope"}\')', 'rng_state', 'rng')
    crafted('extra member', 'extra=np.zeros(10)', 'extra')
    crafted('extra member (pickle)', 'extra=np.array([{}], dtype=object)', 'extra', 'pickle')
    crafted('params header declares 10**12 floats', "drop=['params'], raw={'params.npy': npy_header((10**12,)) + bytes(268)}", 'params', quick=True)
    crafted('metadata header declares <U10**9', "drop=['metadata'], raw={'metadata.npy': npy_header((), '<U1000000000') + bytes(64)}", 'metadata')
    crafted('params header fortran/shape lie', "drop=['params'], raw={'params.npy': npy_header((67, 10**6)) + bytes(268)}", 'params')
    crafted('duplicate member names', "raw={'params.npy': open(os.path.join(D, 'm.npz'), 'rb').read()[:10]}", 'params', 'duplicate')
    crafted('member named ../escape', "raw={'../escape.npy': b'x'}", 'escape', 'member')
    add("files.load huge-declared 2 KB file under 50 MB / 0.1 s", "files", """
        P = craft(os.path.join(D, "bad.npz"), layers=np.array([20000, 20000, 2]))
        check(os.path.getsize(P) < 8192, "the file is not small")
        e = attempt(lambda: budget(lambda: fastmlp.load(P), seconds=0.1, mb=50))
        check(e is not None, "a file declaring 400 M parameters with 67 loaded")
        raise e
    """, names=("layers", "params"), quick=True, item="library: load sizes from headers")
    add("files.load extra member 2 GB of zeros (2 MB file)", "files", """
        P = os.path.join(D, "bad.npz")
        craft(P)
        with zipfile.ZipFile(P, "a", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as z:
            with z.open("extra.npy", "w", force_zip64=True) as f:
                f.write(npy_header((2 * 2**30 // 4,)))
                block = bytes(64 << 20)
                for _ in range(32):
                    f.write(block)
        e = attempt(lambda: budget(lambda: fastmlp.load(P), seconds=1.0, mb=50))
        if e is None:
            pass
        reraise(e)
    """, names=("extra", "bad.npz", "member"), timeout=90, item="library: read known members only")
    add("files.load extra member 200 MB of zeros", "files", """
        P = os.path.join(D, "bad.npz")
        craft(P)
        with zipfile.ZipFile(P, "a", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as z:
            z.writestr("extra.npy", npy_header((50 << 20,)) + bytes(200 << 20))
        reraise(attempt(lambda: budget(lambda: fastmlp.load(P), seconds=0.5, mb=50)))
    """, names=("extra", "bad.npz", "member"), quick=True, item="library: read known members only")
    add("files.load(FIFO)", "files", """
        P = os.path.join(D, "fifo.npz"); os.mkfifo(P)
        e = attempt(fastmlp.load, P); check(e is not None, "load(fifo) returned"); raise e
    """, names=("fifo.npz",), timeout=10, quick=True, item="library: regular files only")
    add("files.read_metadata(FIFO)", "files", """
        P = os.path.join(D, "fifo.npz"); os.mkfifo(P)
        e = attempt(fastmlp.read_metadata, P); check(e is not None, "read_metadata(fifo) returned"); raise e
    """, names=("fifo.npz",), timeout=10, item="library: regular files only")
    for what, path, q in (("/dev/zero", "'/dev/zero'", True), ("a directory", "D", False),
                          ("an empty file", "open(os.path.join(D, 'e.npz'), 'w').close() or os.path.join(D, 'e.npz')", False),
                          ("a text file named .npz", "open(os.path.join(D, 't.npz'), 'w').write('hello') and os.path.join(D, 't.npz')", True),
                          ("a missing file", "os.path.join(D, 'nope.npz')", False),
                          ("a pickle named .npz", "pickle.dump({'a': 1}, open(os.path.join(D, 'p.npz'), 'wb')) or os.path.join(D, 'p.npz')", False),
                          ("a plain .npy", "np.save(os.path.join(D, 'a.npy'), np.zeros(3)) or os.path.join(D, 'a.npy')", False),
                          ("bytes path", "os.fsencode(os.path.join(D, 'nope.npz'))", False), ("int 10**6 fd", "10**6", False),
                          ("None", "None", False)):
        add(f"files.load({what})", "files", f"""
            P = {path}
            e = attempt(lambda: budget(lambda: fastmlp.load(P), seconds=2, mb=100))
            check(e is not None, "load accepted it")
            check("pickle" not in str(e).lower() or "allow_pickle" not in str(e), f"numpy's pickle message: {{e}}")
            raise e
        """, names=("zero", "dev", "nope", "e.npz", "t.npz", "p.npz", "a.npy", "fastmlp-hostile", "path", "fd", "file"), quick=q,
            timeout=15, mem=2.0)
    add("files.load(fd) keeps the caller's descriptor", "files", """
        fd = os.open(os.path.join(D, "t.bin"), os.O_RDWR | os.O_CREAT)
        os.write(fd, b"not a model"); os.lseek(fd, 0, 0)
        e = attempt(fastmlp.load, fd)
        try:
            os.fstat(fd)
        except OSError:
            check(False, "load closed the caller's file descriptor")
        reraise(e)
    """, names=("fd", "file", "descriptor", "model"), quick=True)
    add("files.load(file object) leaves it open", "files", """
        f = open(os.path.join(D, "m.npz"), "rb"); m = fastmlp.load(f); check(not f.closed, "load closed the caller's file")
    """, expect="ok")
    for kind in ("0644", "0600", "0755"):
        add(f"files.save keeps mode {kind} on re-save", "files", f"""
            P = os.path.join(D, "keep.npz"); model().save(P); os.chmod(P, 0o{kind[1:]})
            model().save(P)
            check(oct(os.stat(P).st_mode & 0o777) == oct(0o{kind[1:]}), f"re-save changed mode to {{oct(os.stat(P).st_mode & 0o777)}}")
        """, expect="ok", quick=kind == "0644", item="library: save modes")
    add("files.new file mode follows the umask", "files", """
        os.umask(0o022); P = os.path.join(D, "new.npz"); model().save(P)
        check(os.stat(P).st_mode & 0o777 == 0o644, f"new file mode {oct(os.stat(P).st_mode & 0o777)}")
    """, expect="ok", quick=True, item="library: save modes")
    add("files.save through a symlink writes the target", "files", """
        T = os.path.join(D, "target.npz"); L = os.path.join(D, "link.npz"); model().save(T); os.symlink(T, L)
        model(seed=5).save(L)
        check(os.path.islink(L), "save replaced the link"); check(fastmlp.load(T).seed is None or True, "")
        check(np.array_equal(fastmlp.load(T).get_flat_params(), model(seed=5).get_flat_params()), "target not updated")
    """, expect="ok", quick=True, item="library: save through links")
    add("files.save through a dangling symlink", "files", """
        L = os.path.join(D, "dangling.npz"); os.symlink(os.path.join(D, "sub", "x.npz"), L)
        reraise(attempt(model().save, L))
    """, names=("sub", "dangling", "x.npz"))
    add("files.save without .npz writes name.npz", "files", """
        P = os.path.join(D, "noext"); r = model().save(P)
        check(os.path.exists(P + ".npz") and not os.path.exists(P), f"saved to {r}")
    """, expect="ok")
    # damaged files: truncations and bit flips of m.npz
    rng = random.Random(seed)
    n_trunc, n_flip = full_files // 2, full_files - full_files // 2
    for k in range(full_files):
        if k < n_trunc:
            what, make = f"truncated#{k}", f"data = data[:int(len(data) * {rng.random():.6f})]"
        else:
            bits = rng.randint(1, 8)
            pos = [rng.random() for _ in range(bits)]
            what = f"bitflip#{k - n_trunc} ({bits} bits)"
            make = "data = bytearray(data)\n" + "\n".join(
                f"i = int(len(data) * {p:.6f}); data[i] ^= 1 << {rng.randint(0, 7)}" for p in pos)
        add(f"files.damaged {what}", "files", """
            data = open(os.path.join(D, "m.npz"), "rb").read()
            """ + textwrap.indent(make, "            ").lstrip() + """
            P = os.path.join(D, "bad.npz"); open(P, "wb").write(bytes(data))
            e = attempt(lambda: budget(lambda: fastmlp.load(P), seconds=2.0, mb=100))
            if e is None:
                mm, ref = fastmlp.load(P), fastmlp.load(os.path.join(D, "m.npz"))
                check(mm.layers == ref.layers and mm.activations == ref.activations and mm.loss == ref.loss and
                      np.array_equal(mm.get_flat_params(), ref.get_flat_params()) and mm.step_count == ref.step_count,
                      "a damaged file loaded with other contents")
            else:
                unclear("bad.npz" in str(e), f"the error does not name the file: {e}")
            reraise(e)
        """, names=("bad.npz",), quick=(k % max(1, full_files // quick_files) == 0), timeout=20)
