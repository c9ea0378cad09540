"""The xor section's verdicts (source 001): every row states the seed's claim, the setup and a verdict; period-2
cycles are found from the loss curve and reported with both states; the linear model and L1 rows."""
import numpy as np

from fastmlp.apps import demo, demo_xor


def by_name(rows):
    return {r.name: r for r in rows}


def test_period2_finds_an_alternating_tail_and_nothing_else():
    L = np.r_[np.linspace(1.0, 0.3, 500), 0.24 + 0.006 * (-1.0) ** np.arange(500)]
    osc = demo_xor.period2(L)
    assert osc is not None and osc["flips"] == 1.0
    assert osc["even"] == np.float64(0.246) or abs(osc["even"] - 0.246) < 1e-12     # epoch 500 + 2k: +0.006
    assert abs(osc["odd"] - 0.234) < 1e-12
    assert demo_xor.period2(np.linspace(1.0, 0.1, 1000)) is None                    # smooth descent
    noisy = 0.2 + 1e-3 * np.random.default_rng(0).standard_normal(1000)
    assert demo_xor.period2(noisy) is None                                          # noise flips ~half the time
    tiny = 0.2 + 1e-9 * (-1.0) ** np.arange(1000)
    assert demo_xor.period2(tiny) is None                                           # below the amplitude floor


def test_early_transients_do_not_fill_the_measured_column():
    L = np.r_[1.0, 30.0, np.linspace(0.9, 0.1, 998)]           # a spike at epoch 1, then smooth descent
    note, curve = demo._verdict(demo.loss_jumps(L), False)
    assert curve == "recovered" and note.startswith("late rise x")
    assert "no late jump" in note and "early transient x" in note


def test_every_xor_row_has_claim_setup_and_verdict(quick_demo):
    rows, _ = quick_demo("xor", plots=True)
    assert [r.name for r in rows] == [f"XOR {spec[0]}" for spec in demo_xor.RUNS]
    for r in rows:
        v = r.values
        assert r.source == "001" and r.reference and r.setup and r.result
        assert r.verdict == ("holds" if v["holds"] == [True] else "does not hold")   # --quick: one seed
        assert v["seeds"] == [0]


def test_linear_model_fails_on_xor_and_l1_rows_exist(quick_demo):
    rows = by_name(quick_demo("xor", plots=True)[0])
    lin = rows["XOR 2-2 linear lr 2"]
    assert lin.values["test_accuracy"] < 0.65 and lin.verdict == "holds"
    assert lin.values["test_accuracy"] < rows["XOR 2-3-2 lr 2"].values["test_accuracy"]
    for name in ("XOR 2-50-2 lr 12 L1 1e-4", "XOR 2-50-2 MSE lr 50 L1 1e-4"):
        assert rows[name].values["l1"] == 1e-4 and rows[name].values["weight_decay"] == 0


def test_the_three_unit_net_cycles_with_period_two(quick_demo):
    rows = by_name(quick_demo("xor", plots=True)[0])
    r = rows["XOR 2-3-2 lr 2"]
    osc, last = r.values["period2"], r.values["last_train_accuracy"]
    assert osc is not None and osc["flips"] >= 0.95 and abs(osc["even"] - osc["odd"]) > 1e-3
    assert len(last) == 2 and last[0] != last[1]                     # the two states' accuracies differ
    assert "alternate epochs" in r.result and "period-2 cycle" in r.note
    assert f"{last[0]:.3f}/{last[1]:.3f}" in r.result


def test_accuracy_samples_cannot_alias_a_period_two_cycle(quick_demo):
    assert all(demo_xor.odd_stride(e) % 2 == 1 for e in (1, 2, 199, 3000, 4000, 10_001))
    assert demo_xor.odd_stride(3000) == 15 and demo_xor.odd_stride(4000) == 19
    rows = by_name(quick_demo("xor", plots=True)[0])
    v = rows["XOR 2-3-2 lr 2"].values
    # the accuracy curve drawn in xor_accuracy.png: both states of the cycle appear in its tail
    tail = v["accuracy_curve"]["train"][-20:]
    assert len(set(np.round(tail, 6))) >= 2
    assert all(b - a == 15 for a, b in zip(v["accuracy_curve"]["epoch"], v["accuracy_curve"]["epoch"][1:]))


def test_training_animation_of_the_jumping_run(quick_demo):
    """Source 001's GIFs: the lr-12 run's boundary, loss and accuracy evolving, one frame per recorded epoch."""
    Image = __import__("pytest").importorskip("PIL.Image")
    rows, paths = quick_demo("xor", plots=True)
    gif = [p for p in paths if p.endswith("xor_training.gif")]
    assert len(gif) == 1
    frames = by_name(rows)["XOR 2-50-2 lr 12"].values["accuracy_curve"]["frames"]
    with Image.open(gif[0]) as im:
        assert im.n_frames == len(frames) >= 10 and im.size[0] > 2 * im.size[1]
    epochs = [e for e, _ in frames]
    assert epochs == sorted(epochs) and len({w.tobytes() for _, w in frames}) == len(frames)  # weights move
