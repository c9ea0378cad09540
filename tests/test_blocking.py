"""Cache blocking of the dense products: the block sizes come from the caches the CPU reports and are named in
build_info(); forcing other block sizes (FASTMLP_BLOCKS=kc,nc, in a subprocess: it is read once) changes no bit of
any result, because every output is summed over the depth in the same order whatever the blocks."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import fastmlp
from fastmlp import _core
from isa_child import last_line_on

HERE = os.path.dirname(os.path.abspath(__file__))
SHAPES = [(1, 40, 70), (13, 300, 97), (50, 129, 200), (37, 530, 33)]  # (n, n_in, n_out): several depth blocks

SCRIPT = r"""
import json, sys
import numpy as np
import fastmlp
from fastmlp import _core
out = {"blocking": fastmlp.build_info()["blocking"], "f32": _core.dense_blocking("float32"), "results": []}
for dtype in (np.float32, np.float64):
    for n, n_in, n_out in json.loads(sys.argv[1]):
        rng = np.random.default_rng(n * n_in + n_out)
        x = rng.standard_normal((n, n_in)).astype(dtype)
        W = rng.standard_normal((n_out, n_in)).astype(dtype)
        b = rng.standard_normal(n_out).astype(dtype)
        p = fastmlp.dense_forward(x, W, b, "tanh")
        pp = _core.dense_forward_packed(x, _core.dense_pack(W), b, n_out, "tanh")
        dp = rng.standard_normal(p.shape).astype(dtype)
        dW, db, dx = fastmlp.dense_backward(x, W, p, dp, "tanh")
        out["results"].append([a.tobytes().hex() for a in (p, pp, dW, db, dx)])
print(json.dumps(out))
"""


def run(blocks=None):
    env = dict(os.environ)
    env.pop("FASTMLP_BLOCKS", None)
    if blocks:
        env["FASTMLP_BLOCKS"] = blocks
    proc = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(SHAPES)], env=env, cwd=HERE,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_block_sizes_come_from_the_caches_and_are_reported():
    info = fastmlp.build_info()
    assert "blocking" in info and "kc" in info["blocking"]
    for dtype in ("float32", "float64"):
        b = _core.dense_blocking(dtype)
        assert b["l1d"] >= 16 * 1024 and b["l2"] >= 128 * 1024 and b["l3"] >= b["l2"]
        assert f"{dtype} tile {b['tile_rows']}x{b['tile_cols']} kc {b['kc']} nc {b['nc']}" in info["blocking"]
        if _core.cpu_path() != "naive":
            assert b["tile_cols"] == _core.dense_pack_width(dtype)
            assert 8 <= b["kc"] <= 512 and b["kc"] % 8 == 0
            assert b["nc"] >= b["tile_cols"] and b["nc"] % b["tile_cols"] == 0
            # the A micro-panel fits a quarter of L1d (or kc is at its floor), the B slab half of L2
            item = np.dtype(dtype).itemsize
            assert b["tile_rows"] * b["kc"] * item <= b["l1d"] // 4 or b["kc"] == 8
            assert b["kc"] * b["nc"] * item <= b["l2"] // 2 or b["nc"] == b["tile_cols"]
    with pytest.raises(TypeError):
        _core.dense_blocking("int32")


@pytest.mark.skipif(_core.cpu_path() == "naive", reason="the plain loops have no blocks")
def test_forced_tiny_blocks_change_no_bit():
    default, tiny = run(), run("8,1")
    assert tiny["f32"]["kc"] == 8 and tiny["f32"]["nc"] == tiny["f32"]["tile_cols"]  # rounded up to one panel
    assert "kc 8 nc" in tiny["blocking"] and default["f32"]["kc"] > 8
    assert len(default["results"]) == 2 * len(SHAPES)
    for shape, a, b in zip(SHAPES * 2, default["results"], tiny["results"]):
        for name, x, y in zip(("forward", "packed forward", "dW", "db", "dx"), a, b):
            assert x == y, f"{name} {shape}: blocks changed the result"
    odd = run("not,numbers")  # ignored: the cache-derived sizes
    assert odd["f32"] == default["f32"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_operand_paths_and_row_tiles_change_no_bit(dtype):
    """Operands read in place or packed (row strides under or over a page, short or long depth, few or many rows)
    and the row tiles (a few rows shared evenly between tiles) change which loads run, never a sum: a sample's
    forward and dx rows are the same bits in any batch, and dW over a corner of a wide layer equals dW of the
    narrow layer made of that corner."""
    rng = np.random.default_rng(7)
    n, wide, narrow = 200, 1100, 200
    x = rng.standard_normal((n, wide)).astype(dtype)
    W = rng.standard_normal((wide, wide)).astype(dtype)
    dp = rng.standard_normal((n, wide)).astype(dtype)
    for depth in (16, 40, 200):  # the batch is the depth of dW
        xs, dps = x[:depth], dp[:depth]
        dW_wide = fastmlp.dense_backward(xs, W, dps, dps, "identity")[0]
        xn, Wn, dpn = (np.ascontiguousarray(a) for a in (xs[:, :narrow], W[:narrow, :narrow], dps[:, :narrow]))
        dW_narrow = fastmlp.dense_backward(xn, Wn, dpn, dpn, "identity")[0]
        assert dW_narrow.tobytes() == np.ascontiguousarray(dW_wide[:narrow, :narrow]).tobytes(), depth
    for width in (64, 256, wide):
        xw, Ww, dpw = (np.ascontiguousarray(a) for a in (x[:, :width], W[:width, :width], dp[:, :width]))
        p_all = fastmlp.dense_forward(xw, Ww, None, "identity")
        dx_all = fastmlp.dense_backward(xw, Ww, dpw, dpw, "identity")[2]
        for rows in (1, 2, 3, 4, 13, 16, 40, 64, 97):  # 1-3: W read in place (gemm.inc rows_t)
            p = fastmlp.dense_forward(xw[:rows], Ww, None, "identity")
            dx = fastmlp.dense_backward(xw[:rows], Ww, dpw[:rows], dpw[:rows], "identity")[2]
            assert p.tobytes() == p_all[:rows].tobytes(), (width, rows)
            assert dx.tobytes() == dx_all[:rows].tobytes(), (width, rows)


# (n_in, n_out) for one to four rows against W read in place (gemm.inc rows_t): outputs under one panel (10), a last
# panel of one half (100 = 3 x 32 + 4) or of one and a part (180 = 5 x 32 + 20; float64 panels: 16 = 2 x 8), depths
# under a block (37) or with a remainder (300, 1100), rows a multiple of 4 KiB apart past half of L2 (1024 floats,
# 512 doubles: the halves one after the other; 1024 x 600 floats is past half of a 2 MiB L2 too) and not (1100)
FEW_ROW_SHAPES = [(100, 10), (37, 53), (784, 100), (300, 300), (1024, 180), (1024, 600), (512, 600), (1100, 45)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threads", [1, 2])
def test_few_rows_forward_is_the_batched_forward(dtype, threads):
    """One to four rows read W in place, with a last partial panel and the depth's remainder masked: each row is the
    same bits as in a batch of 64 (the blocked or lanes path), and agrees with numpy to rounding."""
    rng = np.random.default_rng(11)
    before = _core.get_num_threads()
    _core.set_num_threads(threads)
    try:
        for n_in, n_out in FEW_ROW_SHAPES:
            W = rng.standard_normal((n_out, n_in)).astype(dtype)
            b = rng.standard_normal(n_out).astype(dtype)
            x = rng.standard_normal((64, n_in)).astype(dtype)
            batch = fastmlp.dense_forward(x, W, b, "relu")
            want = np.maximum(x.astype(np.float64) @ W.T.astype(np.float64) + b, 0)
            tol = 1e-4 if dtype == np.float32 else 1e-12
            np.testing.assert_allclose(batch, want, rtol=tol, atol=tol * np.sqrt(n_in))
            for rows in (1, 2, 3, 4):
                for start in (0, 5):
                    p = fastmlp.dense_forward(x[start:start + rows], W, b, "relu")
                    assert p.tobytes() == batch[start:start + rows].tobytes(), (n_in, n_out, rows, start)
    finally:
        _core.set_num_threads(before)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threads", [1, 2])
def test_few_rows_backward_is_the_blocked_backward(dtype, threads):
    """A batch of 1 to 4 rows runs both backward products in one pass down W (gemm.inc's bwd_few); a batch of 16
    runs the blocked products. With the 16 - n rows after a batch's n rows of dp all zero, each dW element's chain
    only adds exact zeros after the same n steps, and each dx row is that sample's: the same bits, with and
    without accumulate, with and without dx, at widths that are and are not whole vectors and cache lines."""
    rng = np.random.default_rng(11)
    before = _core.get_num_threads()
    _core.set_num_threads(threads)
    try:
        # (2048, 1024): rows a whole number of cache lines and work enough for 2 threads: the columns split
        for n_in, n_out in ((1100, 300), (67, 129), (16, 45), (2049, 33), (2048, 1024)):
            W = rng.standard_normal((n_out, n_in)).astype(dtype)
            x16 = rng.standard_normal((16, n_in)).astype(dtype)
            dp16 = rng.standard_normal((16, n_out)).astype(dtype)
            p16 = np.abs(rng.standard_normal((16, n_out))).astype(dtype) * (rng.random((16, n_out)) > 0.3)
            start, start_b = rng.standard_normal((n_out, n_in)).astype(dtype), rng.standard_normal(n_out).astype(dtype)
            for rows in (1, 2, 3, 4):
                dp_pad = dp16.copy()
                dp_pad[rows:] = 0
                for accumulate in (False, True):
                    ref_dW, ref_db = start.copy(), start_b.copy()
                    ref_dx = fastmlp.dense_backward(x16, W, p16, dp_pad, "relu", dW=ref_dW, db=ref_db,
                                                    accumulate=accumulate)[2]
                    dW, db = start.copy(), start_b.copy()
                    dx = fastmlp.dense_backward(x16[:rows], W, p16[:rows], dp16[:rows], "relu", dW=dW, db=db,
                                                accumulate=accumulate)[2]
                    case = (n_in, n_out, rows, accumulate)
                    assert dW.tobytes() == ref_dW.tobytes(), case
                    assert dx.tobytes() == ref_dx[:rows].tobytes(), case
                    assert db.tobytes() == ref_db.tobytes(), case
                dW_only = fastmlp.dense_backward(x16[:rows], W, p16[:rows], dp16[:rows], "relu", need_dx=False)
                assert dW_only[2] is None
                ref_dW = fastmlp.dense_backward(x16, W, p16, dp_pad, "relu", need_dx=False)[0]
                assert dW_only[0].tobytes() == ref_dW.tobytes(), (n_in, n_out, rows)
    finally:
        _core.set_num_threads(before)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threads", [1, 2])
def test_streamed_gradient_is_the_stored_one(dtype, threads):
    """A dW past a quarter of L3, in one depth block (B <= kc) and overwritten, is written with streaming stores
    where its rows are whole vectors apart (gemm.inc's dw_tile, and bwd_few for 1-4 rows, with dx or without: the
    columns before the first vector boundary, as for numpy's arrays 16 bytes past a line, stored as usual): on a cache line, one element past one and numpy's own
    offset, and with rows 1000 wide (never whole vectors apart: ordinary stores), it gives the bits of accumulating
    into zeros (ordinary stores) and numpy's product to rounding; a misaligned streaming store would fault."""
    l3 = _core.dense_blocking(dtype)["l3"]
    itemsize = np.dtype(dtype).itemsize
    rng = np.random.default_rng(9)
    before = _core.get_num_threads()
    _core.set_num_threads(threads)
    try:
        for n_in in (1024, 1000):
            n_out = (l3 // 4 // (n_in * itemsize) + 8 + 15) // 16 * 16  # past L3 / 4, whole tiles
            if n_out * n_in * itemsize > 256 << 20:
                pytest.skip("L3 too large for a quick test")
            W0 = np.zeros((n_out, n_in), dtype)
            for rows, need_dx in ((1, False), (3, True), (4, False), (16, False), (64, False)):  # 1-4: bwd_few
                x = rng.standard_normal((rows, n_in)).astype(dtype)
                dp = rng.standard_normal((rows, n_out)).astype(dtype)
                p = np.ones((rows, n_out), dtype)
                acc = np.zeros((n_out, n_in), dtype)
                fastmlp.dense_backward(x, W0, p, dp, "identity", dW=acc, db=np.zeros(n_out, dtype), need_dx=False,
                                       accumulate=True)
                aligned = _core._aligned_empty((n_out, n_in), dtype)
                off = np.empty(n_out * n_in + 1, dtype)[1:].reshape(n_out, n_in)
                assert aligned.ctypes.data % 64 == 0 and off.ctypes.data % 64 != 0
                outs = [aligned, off, np.empty((n_out, n_in), dtype)]
                for dW in outs:
                    dW.fill(np.nan)  # an element left unwritten shows
                    fastmlp.dense_backward(x, W0, p, dp, "identity", dW=dW, need_dx=need_dx)
                own = fastmlp.dense_backward(x, W0, p, dp, "identity", need_dx=need_dx)[0]
                for dW in outs + [own]:
                    assert dW.tobytes() == acc.tobytes(), (n_in, rows)
                np.testing.assert_allclose(acc, dp.astype(np.float64).T @ x, rtol=1e-3, atol=1e-3)
    finally:
        _core.set_num_threads(before)


@pytest.mark.skipif(_core.cpu_path() not in ("avx512", "avx2"), reason="the AVX2 kernels need AVX2")
def test_streamed_gradient_is_the_stored_one_on_avx2():
    # the AVX2 streaming stores (32-byte vectors)
    assert last_line_on("avx2", "test_blocking", "[t.test_streamed_gradient_is_the_stored_one(d, 1) "
                        "for d in (np.float32, np.float64)]; print('ok')") == "ok"


def lanes_forward_mismatches(dtype, threads):
    """The forward with the batch along the vector lanes and W read in place (gemm.inc cols_t), against the same rows
    computed one at a time (rows_t or the packed panels: one row fills under half of its lanes, too few for cols_t
    even where W comes from memory), as the cases whose bits differ.
    cols_t takes 5-96 rows where they fill enough of their lanes for the depth (here 16, 48, 64, 96 rows from a
    depth of 130; 14, 28, 60 from 600; 12 from 1100), and a larger batch against a W past half of L2 in chunks of 64
    rows, the last 96 or fewer as a product of their own (the 1100 -> 300 and 5000 -> 96 layers: 150 rows as 64 + 86,
    300 as 4 x 64 + 44). The shapes cover partial groups of 48 columns and partial tiles (50, 97, 300 outputs) and,
    at a depth of 5000, several depth blocks (the partial sums stored and reloaded)."""
    rng = np.random.default_rng(5)
    before = _core.get_num_threads()
    _core.set_num_threads(threads)
    bad = []
    try:
        for n_in, n_out in ((130, 50), (600, 97), (1100, 300), (5000, 96)):
            W = rng.standard_normal((n_out, n_in)).astype(dtype)
            b = rng.standard_normal(n_out).astype(dtype)
            x = rng.standard_normal((300, n_in)).astype(dtype)
            ref = np.concatenate([fastmlp.dense_forward(x[i:i + 1], W, b, "tanh") for i in range(300)])
            for rows in (5, 12, 14, 16, 28, 48, 60, 64, 96, 97, 150, 200, 300):
                if fastmlp.dense_forward(x[:rows], W, b, "tanh").tobytes() != ref[:rows].tobytes():
                    bad.append((n_in, n_out, rows))
    finally:
        _core.set_num_threads(before)
    return bad


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threads", [1, 2])
def test_lanes_forward_is_the_packed_forward(dtype, threads):
    assert lanes_forward_mismatches(dtype, threads) == []


@pytest.mark.skipif(_core.cpu_path() not in ("avx512", "avx2"), reason="the AVX2 kernels need AVX2")
def test_lanes_forward_is_the_packed_forward_on_avx2():
    # the AVX2 kernels (12 accumulators: at most 24 float or 12 double rows)
    out = last_line_on("avx2", "test_blocking",
                       "print(json.dumps([t.lanes_forward_mismatches(d, 1) for d in (np.float32, np.float64)]))")
    assert json.loads(out) == [[], []]


ENV_SCRIPT = r"""
import os, json, sys
import numpy as np
import fastmlp
from fastmlp import _core
if sys.argv[1] == "change":  # right after the import, before any kernel ran
    os.environ.update(FASTMLP_ISA=sys.argv[2], FASTMLP_BLOCKS="8,64", FASTMLP_BF16="nofma",
                      FASTMLP_BF16_TRAIN="emulated")
fastmlp.dense_forward(np.ones((20, 30)), np.ones((40, 30)))
fastmlp.MLP([3, 2], seed=0).train_step(np.ones((2, 3), np.float32), np.array([0, 1]), dtype="bfloat16")
print(json.dumps([_core.cpu_path(), _core.bf16_path(), _core.dense_blocking("float32"), _core.bf16_train_path()]))
"""


def test_environment_is_read_once_at_import():
    # FASTMLP_ISA / _BLOCKS / _BF16 / _BF16_TRAIN are read when the extension is imported (fm_init), never inside a
    # kernel: a change after the import has no effect
    env = {k: v for k, v in os.environ.items()
           if k not in ("FASTMLP_ISA", "FASTMLP_BLOCKS", "FASTMLP_BF16", "FASTMLP_BF16_TRAIN")}
    other = "naive" if _core.cpu_path() != "naive" else "baseline"
    got = []
    for how in ("keep", "change"):
        proc = subprocess.run([sys.executable, "-c", ENV_SCRIPT, how, other], env=env, cwd=HERE, capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        got.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert got[0] == got[1]
