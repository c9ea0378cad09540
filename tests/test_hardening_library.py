"""Issue 13, the library's share: model files (modes, links, temporaries, hostile sizes, malformed fields,
optimizer and generator state), the model size guard, guarded reads of the weights, failed calls that leave the
model as it was, and clear errors. Each test failed before its fix (or pins behaviour that already held)."""
import io
import json
import math
import os
import stat
import subprocess
import sys
import textwrap
import threading
import zipfile

import numpy as np
import pytest

import fastmlp
from fastmlp import MLP, modelfile, training

HERE = os.path.dirname(os.path.abspath(__file__))  # subprocesses start here: never in the source root


def trained(optimizer="adam", dtype="float32", epochs=2, seed=0):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(64, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1)
    model = MLP([4, 6, 3], dtype=dtype, seed=seed)
    model.fit(X, y, epochs=epochs, batch_size=8, optimizer=optimizer, lr=0.01)
    return model, X, y


def members(path):
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def write_npz(path, fields, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for k, v in fields.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asanyarray(v), allow_pickle=False)
            zf.writestr(k + ".npy", buf.getvalue())
    return path


# ---- 1. saving: mode, links, fsync, temporaries, messages -------------------------------------------------------
def test_save_gives_a_new_file_the_umask_mode_and_keeps_an_existing_mode(tmp_path):
    model = MLP([2, 3, 1], seed=0)
    old = os.umask(0o022)
    try:
        path = model.save(tmp_path / "m.npz")
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
        os.chmod(path, 0o640)
        model.save(path)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
        os.umask(0o077)
        other = model.save(tmp_path / "n.npz")
        assert stat.S_IMODE(os.stat(other).st_mode) == 0o600
    finally:
        os.umask(old)


def test_save_writes_through_a_symlink(tmp_path):
    model = MLP([2, 3, 1], seed=0)
    real = tmp_path / "real.npz"
    MLP([2, 3, 1], seed=1).save(real)
    link = tmp_path / "link.npz"
    link.symlink_to(real)
    model.save(link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    np.testing.assert_array_equal(fastmlp.load(real).get_flat_params(), model.get_flat_params())


def test_save_fsyncs_the_file_and_the_folder(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(stat.S_ISDIR(os.fstat(fd).st_mode)), real_fsync(fd)))
    MLP([2, 3, 1], seed=0).save(tmp_path / "m.npz")
    assert synced == [False, True]  # the file before the rename, the folder after


def test_save_names_temporaries_and_removes_those_of_dead_writers(tmp_path):
    model = MLP([2, 3, 1], seed=0)
    dead = subprocess.Popen([sys.executable, "-c", "pass"], cwd=HERE)
    dead.wait()
    stale = tmp_path / f".m.npz.{dead.pid}.0badc0de{modelfile.TMP_SUFFIX}"
    stale.write_bytes(b"x" * 1000)
    mine = tmp_path / f".m.npz.{os.getpid()}.12345678{modelfile.TMP_SUFFIX}"  # a live writer's: kept
    mine.write_bytes(b"y")
    other = tmp_path / f".other.npz.{dead.pid}.0badc0de{modelfile.TMP_SUFFIX}"  # another target's: kept
    other.write_bytes(b"z")
    model.save(tmp_path / "m.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["m.npz", mine.name, other.name])


def test_a_killed_save_leaves_a_recognisable_temporary_that_the_next_save_removes(tmp_path):
    code = textwrap.dedent(f"""
        import os, signal, numpy as np, fastmlp
        real = np.savez
        def savez(f, **kw):
            real(f, **kw); os.kill(os.getpid(), signal.SIGKILL)
        np.savez = savez
        fastmlp.MLP([2, 3, 1]).save({str(tmp_path / 'm.npz')!r})
    """)
    assert subprocess.run([sys.executable, "-c", code], cwd=HERE).returncode == -9
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].startswith(".m.npz.") and left[0].endswith(modelfile.TMP_SUFFIX)
    MLP([2, 3, 1]).save(tmp_path / "m.npz")
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


def test_save_to_a_missing_folder_names_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        MLP([2, 3, 1]).save(tmp_path / "missing" / "m.npz")
    assert str(tmp_path / "missing") in str(info.value) and "tmp" not in os.path.basename(str(info.value))
    assert list(tmp_path.iterdir()) == []


# ---- 1. loading hostile files -----------------------------------------------------------------------------------
def small_fields(**changes):
    model = MLP([3, 4, 2], seed=0)
    fields = dict(format_version=np.int64(1), layers=np.array([3, 4, 2]), activations=np.array(["relu", "identity"]),
                  loss=np.array(""), dtype=np.array("float32"), init=np.array("he"),
                  params=model.get_flat_params(), step_count=np.int64(0))
    fields.update(changes)
    return fields


HOSTILE_LOAD = textwrap.dedent("""
    import resource, sys, time
    import fastmlp
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    try:
        fastmlp.load(sys.argv[1])
        outcome = "loaded"
    except ValueError as exc:
        outcome = "ValueError: " + str(exc)
    dt = time.perf_counter() - t
    grew = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    print(f"{dt:.4f} {grew:.1f} {outcome}")
""")


def hostile_load(path):
    out = subprocess.run([sys.executable, "-c", HOSTILE_LOAD, str(path)], capture_output=True, text=True,
                         timeout=120, cwd=HERE)
    assert out.returncode == 0, out.stderr
    dt, grew, outcome = out.stdout.strip().split(" ", 2)
    return float(dt), float(grew), outcome


def test_a_2kb_file_declaring_a_huge_model_is_refused_before_any_allocation(tmp_path):
    path = write_npz(tmp_path / "huge.npz", small_fields(layers=np.array([20000, 20000, 2]),
                                                          activations=np.array(["relu", "identity"])))
    assert os.path.getsize(path) < 3000
    dt, grew, outcome = hostile_load(path)
    assert outcome.startswith("ValueError") and "params" in outcome and str(path) in outcome
    assert grew < 50, f"load grew the process by {grew} MB"  # was 4.6 GB (and 12.5 s); measured ~0 MB, ~1 ms


def test_a_params_header_that_matches_a_huge_declaration_but_has_no_data_is_refused(tmp_path):
    # the header says 400 M float32 values, the member holds a few bytes
    fields = small_fields(layers=np.array([20000, 20000, 2]))
    path = tmp_path / "lying.npz"
    with zipfile.ZipFile(path, "w") as zf:
        for k, v in fields.items():
            buf = io.BytesIO()
            if k == "params":
                header = {"descr": "<f4", "fortran_order": False, "shape": (20000 * 20000 + 20000 + 40002,)}
                np.lib.format.write_array_header_1_0(buf, header)
                buf.write(b"\0" * 64)
            else:
                np.lib.format.write_array(buf, np.asanyarray(v))
            zf.writestr(k + ".npy", buf.getvalue())
    dt, grew, outcome = hostile_load(path)
    assert outcome.startswith("ValueError") and "params" in outcome
    assert grew < 50


def test_unknown_members_are_never_decompressed(tmp_path, monkeypatch):
    fields = small_fields(extra=np.zeros(50_000_000, dtype=np.float32))  # 200 MB, a few hundred KB compressed
    path = write_npz(tmp_path / "bomb.npz", fields, compression=zipfile.ZIP_DEFLATED)
    assert os.path.getsize(path) < 2_000_000
    opened, real_open = [], zipfile.ZipFile.open
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda self, name, *a, **k: (
        opened.append(getattr(name, "filename", name)), real_open(self, name, *a, **k))[1])
    fastmlp.load(path)  # was: 0.6 s decompressing the unknown member; now ~4 ms
    assert "extra.npy" not in opened and "params.npy" in opened


def test_a_compressed_params_member_that_expands_too_far_is_refused(tmp_path):
    fields = small_fields(layers=np.array([4000, 2000, 2]), params=np.zeros(4000 * 2000 + 2000 + 4002, np.float32))
    path = write_npz(tmp_path / "zeros.npz", fields, compression=zipfile.ZIP_DEFLATED)
    dt, grew, outcome = hostile_load(path)
    assert outcome.startswith("ValueError") and "params" in outcome and "expand" in outcome


@pytest.mark.parametrize("field, value, words", [
    ("layers", np.array([3.9, 4.0, 2.0]), "layers"),
    ("format_version", np.float64(1.9), "format version"),
    ("format_version", np.float64(1.0), "format version"),
    ("step_count", np.float64(3.5), "step_count"),
    ("step_count", np.array("7"), "step_count"),
    ("layers", np.array([[3, 4, 2]]), "layers"),
    ("layers", np.array([3, 2 ** 62, 2]), "layers"),
    ("layers", np.array([3]), "layers"),
    ("activations", np.array(["relu"]), "activations"),
    ("activations", np.array(["relu", "bogus"]), "activations"),
    ("activations", np.array([1, 2]), "activations"),
    ("loss", np.array("bogus"), "loss"),
    ("loss", np.array(["mse", "mse"]), "loss"),
    ("dtype", np.array("float16"), "dtype"),
    ("dtype", np.int64(3), "dtype"),
    ("init", np.array(["he"]), "init"),
    ("params", np.zeros((3, 4), np.float32), "params"),
    ("params", np.zeros(26, np.float64), "params"),
    ("params", np.zeros(26, ">f4"), "params"),
    ("metadata", np.array("[1, 2]"), "metadata"),
    ("metadata", np.array("{bad json"), "metadata"),
    ("optimizer", np.array('{"name": "adam", "options": {"lr": "x"}, "step_count": 0}'), "optimizer"),
    ("optimizer", np.array('{"name": "evil", "options": {}, "step_count": 0}'), "optimizer"),
    ("optimizer", np.array('{"name": "sgd", "options": {"lr": 0.1}, "step_count": 1.5}'), "optimizer"),
    ("rng_state", np.array('{"bit_generator": "PCG64", "state": 3}'), "rng_state"),
    ("rng_state", np.array('{"bit_generator": "os.system"}'), "rng_state"),
])
def test_malformed_fields_are_a_value_error_naming_file_and_field(tmp_path, field, value, words):
    path = write_npz(tmp_path / "bad.npz", small_fields(**{field: value}))
    with pytest.raises(ValueError) as info:
        fastmlp.load(path)
    assert words in str(info.value) and str(path) in str(info.value)


def test_nan_params_name_the_file_and_the_field(tmp_path):
    params = MLP([3, 4, 2], seed=0).get_flat_params()
    params[3] = np.inf
    path = write_npz(tmp_path / "nan.npz", small_fields(params=params))
    with pytest.raises(ValueError, match=r"nan\.npz: params: contains NaN or Inf"):
        fastmlp.load(path)


def test_load_refuses_a_fifo_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.npz"
    os.mkfifo(fifo)
    code = f"import fastmlp\ntry:\n    fastmlp.load({str(fifo)!r})\nexcept ValueError as e:\n    print(e)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=HERE)
    assert "not a regular file" in out.stdout
    with pytest.raises(ValueError, match="folder"):
        fastmlp.load(tmp_path)


def test_load_leaves_a_callers_descriptor_and_file_object_open(tmp_path):
    model, X, _ = trained()
    path = model.save(tmp_path / "m.npz")
    fd = os.open(path, os.O_RDONLY)
    try:
        np.testing.assert_array_equal(fastmlp.load(fd).forward(X), model.forward(X))
        os.fstat(fd)  # still open
    finally:
        os.close(fd)
    with open(path, "rb") as fh:
        np.testing.assert_array_equal(fastmlp.load(fh).forward(X), model.forward(X))
        assert not fh.closed


def test_read_metadata_does_not_read_the_parameters(tmp_path):
    path = MLP([3, 4, 2]).save(tmp_path / "m.npz", metadata={"classes": [1, 2]})
    assert modelfile.read_metadata(path) == {"classes": [1, 2]}


# ---- 1. optimizer and generator state in the file ---------------------------------------------------------------
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adam"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_save_load_fit_continues_bit_identically(tmp_path, optimizer, dtype):
    model, X, y = trained(optimizer, dtype)
    loaded = fastmlp.load(model.save(tmp_path / "m.npz"))
    assert loaded.step_count == model.step_count and loaded.optimizer_.name == optimizer
    for m in (model, loaded):
        m.fit(X, y, epochs=3, batch_size=8, optimizer=optimizer, lr=0.01)
    np.testing.assert_array_equal(loaded.get_flat_params(), model.get_flat_params())
    assert loaded.step_count == model.step_count


def test_an_optimizer_object_with_its_own_options_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 3)), rng.integers(0, 2, 40)
    model = MLP([3, 5, 2], seed=3)
    model.fit(X, y, epochs=2, optimizer=fastmlp.Adam(lr=0.003, beta1=0.8, eps=1e-6, weight_decay=1e-3))
    loaded = fastmlp.load(model.save(tmp_path / "m.npz"))
    assert loaded.optimizer_.options() == model.optimizer_.options()
    np.testing.assert_array_equal(loaded.optimizer_.state, model.optimizer_.state)
    model.fit(X, y, epochs=2, optimizer=model.optimizer_)
    loaded.fit(X, y, epochs=2, optimizer=loaded.optimizer_)
    np.testing.assert_array_equal(loaded.get_flat_params(), model.get_flat_params())


def test_files_without_optimizer_or_generator_still_load(tmp_path):
    model, X, y = trained("adam")
    path = model.save(tmp_path / "m.npz")
    fields = members(path)
    for k in ("optimizer", "optimizer_state", "rng_state"):
        del fields[k]
    old = write_npz(tmp_path / "old.npz", fields)
    loaded = fastmlp.load(old)
    assert loaded.optimizer_ is None and loaded.step_count == model.step_count
    np.testing.assert_array_equal(loaded.forward(X), model.forward(X))
    loaded.fit(X, y, epochs=1)


def test_an_optimizer_state_of_the_wrong_size_is_refused(tmp_path):
    model, _, _ = trained("adam")
    fields = members(model.save(tmp_path / "m.npz"))
    fields["optimizer_state"] = fields["optimizer_state"][:-1]
    with pytest.raises(ValueError, match="optimizer_state"):
        fastmlp.load(write_npz(tmp_path / "bad.npz", fields))


# ---- 2. model size guard ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("layers", [[2 ** 64, 2], [2 ** 40, 2 ** 40], [10 ** 6, 10 ** 6, 2], [2 ** 62, 1]])
def test_models_too_large_to_allocate_are_a_value_error_naming_the_size(layers):
    with pytest.raises(ValueError, match="parameters"):
        MLP(layers)


def test_initialisation_is_in_place_and_keeps_the_numbers_of_one_draw():
    for init in ("he", "glorot", "uniform"):
        for dtype in ("float32", "float64"):
            model = MLP([5, 7, 3], init=init, dtype=dtype, seed=11)
            rng, ref = np.random.default_rng(11), []
            for n_i, n_o in [(5, 7), (7, 3)]:
                if init == "he":
                    ref += [rng.normal(0, math.sqrt(2 / n_i), size=(n_o, n_i)).ravel(), np.zeros(n_o)]
                elif init == "glorot":
                    lim = math.sqrt(6 / (n_i + n_o))
                    ref += [rng.uniform(-lim, lim, size=(n_o, n_i)).ravel(), np.zeros(n_o)]
                else:
                    lim = 1 / math.sqrt(n_i)
                    ref += [rng.uniform(-lim, lim, size=(n_o, n_i)).ravel(), rng.uniform(-lim, lim, size=n_o)]
            np.testing.assert_array_equal(model.get_flat_params(), np.concatenate(ref).astype(dtype))


def test_a_large_model_is_built_without_a_float64_copy():
    code = textwrap.dedent("""
        import resource, fastmlp
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        fastmlp.MLP([4000, 2000, 2])          # 8 M float32 parameters: 32 MB
        print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=HERE)
    assert float(out.stdout) < 32 + 40  # params + one 32 MB chunk at most; was 32 + 64 (float64 draw) + grads


# ---- 3. reads of the weights during training in another thread --------------------------------------------------
def train_in_thread(model, X, y, body):
    """Run ``body()`` while another thread is inside ``model.fit`` (held at its first epoch's callback)."""
    inside, release = threading.Event(), threading.Event()

    def hold(m, epoch, logs):
        inside.set()
        release.wait(30)

    t = threading.Thread(target=lambda: model.fit(X, y, epochs=1, callbacks=[hold]))
    t.start()
    try:
        assert inside.wait(30)
        return body()
    finally:
        release.set()
        t.join()


@pytest.mark.parametrize("read", ["params", "get_flat_params", "predictor", "save", "pickle", "read_weights",
                                  "forward"])
def test_every_read_of_the_weights_during_training_in_another_thread_raises(tmp_path, read):
    import pickle
    model, X, y = trained("sgd")
    calls = {"params": lambda: model.params, "get_flat_params": model.get_flat_params,
             "predictor": model.predictor, "save": lambda: model.save(tmp_path / "m.npz"),
             "pickle": lambda: pickle.dumps(model), "read_weights": lambda: model.read_weights().__enter__(),
             "forward": lambda: model.forward(X)}

    def body():
        with pytest.raises(RuntimeError, match="another thread"):
            calls[read]()
    train_in_thread(model, X, y, body)
    assert model.params and not (tmp_path / "m.npz").exists()


def testread_weights_keeps_training_out_while_it_is_held():
    model, X, y = trained("sgd")
    with model.read_weights() as params:
        errors = []
        t = threading.Thread(target=lambda: errors.append(pytest.raises(RuntimeError, model.fit, X, y, epochs=1)))
        t.start()
        t.join()
        assert errors and len(params) == 2
    model.fit(X, y, epochs=1)


# ---- 4. a failed call does not change the model -----------------------------------------------------------------
def test_bad_validation_targets_raise_before_any_step():
    model, X, y = trained("sgd")
    before, steps = model.get_flat_params(), model.step_count
    with pytest.raises(ValueError, match="validation y"):
        model.fit(X, y, epochs=3, validation_data=(X, np.full(len(y), 7)))
    np.testing.assert_array_equal(model.get_flat_params(), before)
    assert model.step_count == steps


def test_ctrl_c_right_after_the_c_epoch_returns_rolls_the_epoch_back(monkeypatch):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(32, 3)), rng.integers(0, 2, 32)
    model = MLP([3, 4, 2], seed=0)
    before = model.get_flat_params()
    calls = []

    class Clock:  # the second perf_counter call of an epoch comes right after the C epoch returned
        @staticmethod
        def perf_counter():
            calls.append(1)
            if len(calls) == 2:
                raise KeyboardInterrupt
            return 0.0
    monkeypatch.setattr(training, "time", Clock)
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, y, epochs=2, optimizer="adam")
    np.testing.assert_array_equal(model.get_flat_params(), before)  # was: new weights with step count 0
    assert model.step_count == 0 and model.optimizer_ is None


def test_ctrl_c_from_a_callback_keeps_the_committed_epochs_whole():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(32, 3)), rng.integers(0, 2, 32)
    model, twin = MLP([3, 4, 2], seed=0), MLP([3, 4, 2], seed=0)

    def interrupt(m, epoch, logs):
        if epoch == 1:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, y, epochs=5, batch_size=8, optimizer="adam", callbacks=[interrupt])
    twin.fit(X, y, epochs=2, batch_size=8, optimizer="adam")
    np.testing.assert_array_equal(model.get_flat_params(), twin.get_flat_params())
    assert model.step_count == twin.step_count == 8
    np.testing.assert_array_equal(model.optimizer_.state, twin.optimizer_.state)


# ---- 5. clear errors --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("call, exc, words", [
    (lambda m, X, y: m.fit(X, y, validation_split="0.2"), TypeError, "validation_split"),
    (lambda m, X, y: m.fit(X, y, validation_data=(X,)), ValueError, "validation_data"),
    (lambda m, X, y: fastmlp.gradcheck(m, X, y, eps=0), ValueError, "eps"),
    (lambda m, X, y: fastmlp.gradcheck(m, X, y, eps=-1e-3), ValueError, "eps"),
    (lambda m, X, y: fastmlp.gradcheck(m, X, y, eps=float("nan")), ValueError, "eps"),
    (lambda m, X, y: MLP([3, 2], seed="abc"), TypeError, "seed"),
    (lambda m, X, y: MLP([3, 2], seed=-1), ValueError, "seed"),
    (lambda m, X, y: MLP([3, 2], seed=1.5), TypeError, "seed"),
    (lambda m, X, y: MLP([3, 2], dtype="bogus"), TypeError, "dtype"),
    (lambda m, X, y: MLP([2 ** 64, 2]), ValueError, "layers"),
])
def test_clear_errors_name_the_argument(call, exc, words):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(10, 3)), rng.integers(0, 2, 10)
    model = MLP([3, 4, 2], dtype="float64", seed=0)
    before = model.get_flat_params()
    with pytest.raises(exc, match=words):
        call(model, X, y)
    np.testing.assert_array_equal(model.get_flat_params(), before)


def test_forward_on_one_sample_suggests_reshape_1_minus_1():
    model = MLP([3, 4, 2], seed=0)
    with pytest.raises(ValueError, match=r"reshape\(1, -1\)"):
        model.forward(np.ones(3))
    with pytest.raises(ValueError, match=r"reshape\(-1, 1\)"):
        MLP([1, 4, 2]).forward(np.ones(5))
    with pytest.raises(ValueError, match=r"reshape\(1, -1\).*reshape\(-1, 1\)"):  # neither fits: both named
        model.forward(np.ones(5))


def test_to_onnx_refuses_a_folder_before_any_work(tmp_path):
    model = MLP([3, 4, 2], seed=0)
    with pytest.raises(ValueError, match="folder"):
        model.to_onnx(path=tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        model.to_onnx(path=tmp_path / "missing" / "m.onnx")


def test_load_refuses_an_adam_state_with_a_negative_second_moment(tmp_path):
    """The C train step does not scan the optimizer state; a file must not bring a negative v in."""
    X = np.random.default_rng(0).standard_normal((16, 3))
    y = np.arange(16) % 2
    model = MLP([3, 4, 2], seed=0)
    model.fit(X, y, epochs=1, optimizer="adam")
    path = str(tmp_path / "m.npz")
    model.save(path)
    state = model.optimizer_.state.copy()
    state[-1] = -1.0
    bad = str(tmp_path / "bad.npz")
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(bad, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "optimizer_state.npy":
                buf = io.BytesIO()
                np.save(buf, state)
                data = buf.getvalue()
            zout.writestr(item, data)
    with pytest.raises(ValueError, match="second moments"):
        fastmlp.load(bad)
    fastmlp.load(path)  # the file as saved loads
