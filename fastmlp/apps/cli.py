"""``fastmlp train`` and ``fastmlp predict``: a network for the user's own data, from the command line.

Data: an ``.npz`` file with arrays ``X`` (n, features) and ``y`` (n,) or (n, outputs), or a CSV file with one label
column (``--label`` name or 0-based index; default the last column) and numeric feature columns; a header row is
detected (a first row with text where the next row has numbers). Bad input -- a missing or unreadable file, wrong
or missing columns, text or NaN in the features, a bad layer spec -- gives one line naming the problem on stderr
and exit status 2, never a traceback.

Reading the data: ``fastmlp.apps.tabular``; checking and writing files: ``fastmlp.apps.files``.

The model is written by ``MLP.save`` in one atomic write, with its metadata (class labels, feature and label
names, the standardization) in the same file; ``fastmlp.load`` reads the model back and
``fastmlp.read_metadata`` the metadata, which ``predict`` uses to map class indices back to the labels and to scale
the features as in training. Names (activations, losses, optimizers, dtypes) come from ``fastmlp.vocabulary`` and
the checks of numeric options from ``fastmlp.validation``.
"""
import csv
import math
import os
import sys
import time

import numpy as np

from .. import atomic, validation
from ..errors import DivergenceError
from ..mlp import MLP, load
from ..modelfile import read_metadata
from ..vocabulary import ACTIVATIONS, CLASSIFIER_LOSSES, DTYPES, LOGIT_LOSSES, LOSSES, OPTIMIZERS
from .files import CLIError, StdoutError, check_output, regular_file, stdout_failed
from .tabular import _delimiter, _line_of, read_csv, read_data, read_npz  # noqa: F401 (read_csv, read_npz: API)

LOSS_CHOICES = ("auto",) + LOSSES   # auto: integer or text labels -> softmax_ce, else mse
MAX_AUTO_CLASSES = 50   # integer-valued CSV labels with at most this many values are classes, else regression


# ---- the network -------------------------------------------------------------------------------------------------
def parse_sizes(spec, option):
    """'64,128,10' -> [64, 128, 10]; '' or 'none' -> [] (no hidden layer, for --hidden)."""
    s = spec.strip()
    if option == "--hidden" and s.lower() == "none":
        return []
    parts = [p.strip() for p in s.split(",")]
    try:
        sizes = [int(p) for p in parts]
    except ValueError:
        sizes = None
    if not sizes or any(v < 1 for v in sizes):
        example = "64,128,10" if option == "--layers" else "128 or 128,64, or none for no hidden layer"
        raise CLIError(f"{option} {spec!r}: expected comma-separated positive integers, e.g. {example}")
    return sizes


def option(check, name, value, *limits, **kw):
    """``check`` (a ``fastmlp.validation`` function) applied to the option ``name``; its error as a CLIError that
    names the option and the value given, e.g. ``--epochs 0: expected an int >= 1``."""
    try:
        return check(name, value, *limits, **kw)
    except (TypeError, ValueError) as exc:
        reason = str(exc).removeprefix(f"{name}: ").rsplit(", got ", 1)[0]
        raise CLIError(f"{name} {value!r}: {reason}") from None


def _task(y, loss, from_npz):
    """(loss, classes or None) for the targets y."""
    option(validation.choice, "--loss", loss, LOSS_CHOICES)
    text = y.dtype.kind in "US"
    if loss == "auto":
        if text or y.dtype.kind in "biu":
            loss = "softmax_ce"
        elif from_npz or y.ndim > 1:
            loss = "mse"
        else:
            integral = np.all(y == np.round(y))
            loss = "softmax_ce" if integral and len(np.unique(y)) <= MAX_AUTO_CLASSES else "mse"
    if loss not in CLASSIFIER_LOSSES:
        if text:
            raise CLIError(f"--loss {loss} needs numeric targets, the labels are text")
        return loss, None
    if y.ndim > 1:
        if loss == "sigmoid_bce":
            return loss, None
        raise CLIError(f"--loss {loss} takes one label per row, y has shape {y.shape}")
    classes = np.unique(y)
    if len(classes) < 2:
        raise CLIError(f"the labels hold a single class ({classes[0]}): nothing to learn")
    if loss == "sigmoid_bce" and len(classes) != 2:
        raise CLIError(f"--loss sigmoid_bce needs two classes, the labels have {len(classes)}")
    return loss, classes


def _meta_value(v):
    """A class label for the metadata's JSON: numbers that are whole as ints (so predict prints 0, not 0.0)."""
    v = v.item() if hasattr(v, "item") else v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def _label_text(v):
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)


def read_meta(path):
    """The metadata dict saved with a model file ({} when it has none); a CLIError for a damaged file."""
    try:
        return read_metadata(path)
    except ValueError as exc:
        raise CLIError(str(exc)) from None


def check_meta(path, meta, model):
    """The metadata of ``fastmlp train`` checked against the model: a CLIError naming a damaged field."""
    def bad(field, why):
        raise CLIError(f"{path}: damaged metadata: {field!r} {why}")

    n_in, n_out = model.n_in, model.layers[-1]
    feats = meta.get("features")
    if feats is not None and (not isinstance(feats, list) or not all(isinstance(f, str) for f in feats)
                              or len(feats) != n_in or len(set(feats)) != n_in):
        bad("features", f"is not a list of {n_in} distinct column names")
    if meta.get("label") is not None and not isinstance(meta["label"], str):
        bad("label", "is not a column name")
    classes = meta.get("classes")
    if classes is not None:
        if (not isinstance(classes, list) or len(classes) < 2 or len(classes) > max(n_out, 2)
                or not all(isinstance(c, (str, int, float)) and not isinstance(c, bool) for c in classes)):
            bad("classes", f"is not a list of at most {max(n_out, 2)} class labels")
        if n_out > 1 and len(classes) != n_out:
            bad("classes", f"has {len(classes)} labels, the model has {n_out} outputs")
    for key in ("mean", "std"):
        v = meta.get(key)
        if v is None:
            continue
        ok = isinstance(v, list) and len(v) == n_in and all(
            isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in v)
        if not ok or (key == "std" and any(x <= 0 for x in v)):
            bad(key, f"is not a list of {n_in} finite numbers" + (" > 0" if key == "std" else ""))
    if (meta.get("mean") is None) != (meta.get("std") is None):
        bad("mean" if meta.get("mean") is None else "std", "is missing (the standardization needs both)")
    return meta


def _progress_available():
    try:
        import tqdm  # noqa: F401
        return True
    except ImportError:
        return False


MAX_SEED = 2**63 - 1


def _model_size(layers, dtype, option):
    """Refuse, before any allocation, a network whose parameters, gradients and optimizer state do not fit in
    memory (a CLIError naming the size)."""
    count = sum(a * b + b for a, b in zip(layers[:-1], layers[1:]))
    need = 4 * count * np.dtype(dtype).itemsize      # parameters, gradients, two optimizer moments
    try:
        limit = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        limit = None
    if count > np.iinfo(np.intp).max // 32 or (limit is not None and need > limit):
        have = "" if limit is None else f"; this machine has {limit / 2**30:.3g} GiB"
        raise CLIError(f"{option}: the network {'-'.join(map(str, layers))} has {count} parameters, "
                       f"{need / 2**30:.3g} GiB with its gradients and optimizer state: too large{have}")


def _baseline_warning(model, X, targets, classes, loss, score, on):
    """A warning line when the model ends no better than the trivial predictor (None otherwise)."""
    if model.is_classifier and classes is not None and loss != "sigmoid_bce" or loss == "sigmoid_bce" \
            and targets.ndim == 1:
        counts = np.bincount(np.asarray(targets, dtype=np.int64).ravel())
        base = counts.max() / counts.sum()
        if score <= base:
            return (f"warning: below the trivial baseline: {on} accuracy {score:.4f} <= {base:.4f}, always "
                    f"predicting the majority class; try more --epochs, another --lr or --standardize")
    elif not model.is_classifier and score <= 0:
        return (f"warning: below the trivial baseline: {on} R^2 {score:.4f} <= 0, predicting the mean; try "
                f"more --epochs, another --lr or --standardize")
    return None


_CHUNK = 1 << 16  # rows per step when features are shuffled, scaled and cast


def _shuffled(X, perm, n_tr, standardize, dtype):
    """(the rows of X in the order ``perm``, scaled by the training rows' mean and std when ``standardize``, in the
    model's dtype; mean; std). Memory: X is scaled and cast in place (a float64 X gives back the half of its buffer
    a float32 copy does not need), then one shuffled copy in ``dtype`` is made."""
    mean = std = None
    if standardize:
        tr = perm[:n_tr]
        total = np.zeros(X.shape[1])
        for s in range(0, n_tr, _CHUNK):
            total += X[tr[s:s + _CHUNK]].sum(axis=0)
        mean = total / n_tr
        sq = np.zeros(X.shape[1])
        for s in range(0, n_tr, _CHUNK):
            sq += ((X[tr[s:s + _CHUNK]] - mean) ** 2).sum(axis=0)
        std = np.sqrt(sq / n_tr)
        std[~(std > 0)] = 1.0
    return _cast_in_place(X, dtype, mean, std)[perm], mean, std


def _cast_in_place(X, dtype, mean, std):
    """X (float64, C-contiguous, owning its buffer) scaled as (X - mean) / std and cast to ``dtype`` in place:
    row block i of the result is written over bytes whose float64 rows were already read, then the buffer is
    shrunk to the result's size. Falls back to a copy when X does not own its buffer."""
    n, d = X.shape
    if dtype == X.dtype:
        if mean is not None:
            X -= mean  # in place: no second array
            X /= std
        return X
    if not (X.flags.owndata and X.flags.c_contiguous and X.dtype == np.float64 and dtype.itemsize * 2 == 8):
        out = np.empty((n, d), dtype=dtype)
        for s in range(0, n, _CHUNK):
            out[s:s + _CHUNK] = X[s:s + _CHUNK] if mean is None else (X[s:s + _CHUNK] - mean) / std
        return out
    dst = X.reshape(-1).view(dtype)[: n * d].reshape(n, d)
    for s in range(0, n, _CHUNK):
        dst[s:s + _CHUNK] = X[s:s + _CHUNK] if mean is None else (X[s:s + _CHUNK] - mean) / std  # reads first
    del dst
    X.resize(((n * d + 1) // 2,), refcheck=False)  # realloc: the tail of the float64 buffer goes back
    return X.view(dtype)[: n * d].reshape(n, d)


def train(args):
    option(validation.integer, "--epochs", args.epochs, 1)
    option(validation.integer, "--batch-size", args.batch_size, 1)
    option(validation.integer, "--seed", args.seed, 0, MAX_SEED)
    option(validation.real, "--lr", args.lr, 0, lo_open=True)
    option(validation.real, "--weight-decay", args.weight_decay, 0)
    option(validation.fraction, "--val", args.val)
    option(validation.choice, "--activation", args.activation, ACTIVATIONS)
    option(validation.choice, "--optimizer", args.optimizer, OPTIMIZERS)
    option(validation.choice, "--dtype", args.dtype, DTYPES)
    _delimiter(args.delimiter)
    out = args.out if args.out.endswith(".npz") else args.out + ".npz"     # what MLP.save writes
    if out != args.out:      # `--out data.csv` would write data.csv.npz: surely the input was meant, refuse it too
        check_output(args.out, [args.data], True)
    check_output(out, [args.data], getattr(args, "force", False))
    hidden = parse_sizes(args.hidden, "--hidden") if args.hidden is not None else None
    layers_spec = parse_sizes(args.layers, "--layers") if args.layers is not None else None
    if layers_spec is not None and len(layers_spec) < 2:
        raise CLIError(f"--layers {args.layers!r}: give at least the input and output sizes, e.g. 64,128,10")

    X, y, features, label_name = read_data(args.data, args.label, args.delimiter, drop=getattr(args, "drop", None),
                                           features=getattr(args, "features", None))
    named = not args.data.lower().endswith(".npz") and features != [str(k) for k in range(len(features))]
    loss, classes = _task(y, args.loss, args.data.lower().endswith(".npz"))
    if classes is not None:
        targets = np.searchsorted(classes, y).astype(np.int64, copy=False)
        n_out = 1 if loss == "sigmoid_bce" else len(classes)
        if loss == "sigmoid_bce":
            targets = targets.astype(np.float64)
    else:
        targets = y.astype(np.float64)
        if targets.ndim == 1:
            targets = targets.reshape(-1, 1)
        n_out = targets.shape[1]
    del y  # the targets hold what training needs
    n, d = X.shape
    if layers_spec is not None:
        if layers_spec[0] != d:
            raise CLIError(f"--layers {args.layers}: the first size must be the number of features, {d}")
        if layers_spec[-1] != n_out:
            what = f"{len(classes)} classes" if classes is not None and loss != "sigmoid_bce" else f"{n_out} outputs"
            raise CLIError(f"--layers {args.layers}: the last size must be {n_out} (the data has {what})")
        layers = layers_spec
    else:
        layers = [d, *([64] if hidden is None else hidden), n_out]
    _model_size(layers, args.dtype, "--layers" if layers_spec is not None else f"--hidden {args.hidden or 64}")

    rng = np.random.default_rng(args.seed)
    perm = rng.permutation(n)
    targets = targets[perm]
    n_val = int(round(n * args.val))
    if args.val > 0 and (n_val < 1 or n_val >= n):
        raise CLIError(f"--val {args.val}: {n} rows leave no training or no validation rows")
    n_tr = n - n_val
    X, mean, std = _shuffled(X, perm, n_tr, args.standardize, np.dtype(args.dtype))
    try:
        model = MLP(layers, activation=args.activation, loss=loss, dtype=args.dtype, seed=args.seed)
    except (ValueError, TypeError) as exc:
        raise CLIError(str(exc)) from None
    except MemoryError:
        raise CLIError(f"the network {'-'.join(map(str, layers))} does not fit in memory") from None
    val = (X[n_tr:], targets[n_tr:]) if n_val else None
    kind = (f"{len(classes)} classes" if classes is not None else f"{n_out} output{'s' * (n_out > 1)}")
    print(f"data: {n} rows x {d} features, {kind}; training on {n_tr}, validating on {n_val}")
    print(f"model: {'-'.join(map(str, layers))} {args.activation}, loss {loss}, {args.optimizer} lr {args.lr:g}, "
          f"{args.epochs} epochs of batch {args.batch_size}")
    t0 = time.perf_counter()
    try:
        hist = model.fit(X[:n_tr], targets[:n_tr], epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                         optimizer=args.optimizer, weight_decay=args.weight_decay, validation_data=val,
                         verbose=not args.quiet and _progress_available())
    except DivergenceError as exc:
        raise CLIError(f"training diverged: {exc}") from None
    except (ValueError, TypeError) as exc:
        raise CLIError(str(exc)) from None
    except MemoryError:
        raise CLIError(f"training the network {'-'.join(map(str, layers))} on {n_tr} rows ran out of memory") \
            from None
    dt = time.perf_counter() - t0
    metric = "accuracy" if model.is_classifier else "R^2"
    train_score = model.score(X[:n_tr], targets[:n_tr])
    line = f"trained in {dt:.2f} s: train loss {hist['loss'][-1]:.4g}, {metric} {train_score:.4f}"
    if val is not None:
        line += f"; validation loss {hist['val_loss'][-1]:.4g}, {metric} {hist['val_score'][-1]:.4f}"
    print(line)
    if val is not None:
        warning = _baseline_warning(model, *val, classes, loss, hist["val_score"][-1], "validation")
    else:
        warning = _baseline_warning(model, X[:n_tr], targets[:n_tr], classes, loss, train_score, "training")
    if warning:
        sys.stdout.flush()
        print(f"fastmlp train: {warning}", file=sys.stderr)
    meta = {"features": features, "named_features": named, "label": label_name, "loss": loss,
            "classes": None if classes is None else [_meta_value(c) for c in classes],
            "mean": None if mean is None else mean.tolist(), "std": None if std is None else std.tolist()}
    try:
        path = model.save(args.out, metadata=meta)
    except OSError as exc:
        raise CLIError(f"--out {args.out}: cannot write ({exc.strerror or exc})") from None
    print(f"saved {path}")
    return 0


def _positional(meta):
    """True when the model's features have no names to match (an .npz or a CSV without a header)."""
    feats = meta.get("features")
    if feats is None:
        return True
    if "named_features" in meta:
        return not meta["named_features"]
    return feats == [str(k) for k in range(len(feats))]


def predict(args):
    regular_file(args.model, "a model file (.npz written by fastmlp train or MLP.save)")
    regular_file(args.data)
    _delimiter(args.delimiter)
    if args.out:
        check_output(args.out, [args.model, args.data], args.force)
    try:
        model = load(args.model)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    except MemoryError:
        raise CLIError(f"{args.model}: the model does not fit in memory") from None
    meta = read_meta(args.model)
    if not isinstance(meta, dict):
        raise CLIError(f"{args.model}: damaged metadata (not a JSON object)")
    check_meta(args.model, meta, model)
    label_names = [meta["label"]] if meta.get("label") else []
    expect = None if _positional(meta) else meta["features"]
    X, _, names, _ = read_data(args.data, args.label, args.delimiter, need_y=False, label_names=label_names,
                               drop=args.drop, expect=expect)
    if X.shape[1] != model.n_in:
        hint = "; pass --label to drop the label column" if X.shape[1] == model.n_in + 1 else ""
        raise CLIError(f"{args.data}: {X.shape[1]} feature columns, the model takes {model.n_in}{hint}")
    if meta.get("mean") is not None:
        X = (X - np.asarray(meta["mean"], dtype=np.float64)) / np.asarray(meta["std"], dtype=np.float64)
    big = np.finfo(model.dtype).max
    bad = ~(np.abs(X) <= big)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        where = f"row {r}" if args.data.lower().endswith(".npz") else f"line {_line_of(args.data, args.delimiter, r)}"
        raise CLIError(f"{args.data}: {where}, column {names[c]!r}: a value too large for the model's "
                       f"{np.dtype(model.dtype).name} weights" + (" after standardization" if meta.get("mean")
                                                                  is not None else ""))
    classes = meta.get("classes")
    loss = model.loss
    if args.proba:
        if loss not in LOGIT_LOSSES:
            raise CLIError(f"--proba needs a {' or '.join(LOGIT_LOSSES)} model, this one has loss {loss!r}")
        P = model.predict_proba(X).astype(np.float64)
        if loss == "sigmoid_bce" and P.shape[1] == 1:
            P = np.hstack([1 - P, P])
        labels = classes if classes is not None and len(classes) == P.shape[1] else list(range(P.shape[1]))
        header = [f"p_{_label_text(c)}" for c in labels]
        body = [[f"{v:.6g}" for v in row] for row in P]
    elif model.is_classifier:
        pred = np.asarray(model.predict(X))
        if pred.ndim == 1 and classes is not None:
            body = [[_label_text(classes[int(k)])] for k in pred]
        else:
            body = [[_label_text(v.item()) for v in np.atleast_1d(row)] for row in pred]
        header = ["prediction"] if pred.ndim == 1 else [f"output_{k}" for k in range(pred.shape[1])]
    else:
        out = model.forward(X).astype(np.float64)
        header = ["prediction"] if out.shape[1] == 1 else [f"output_{k}" for k in range(out.shape[1])]
        digits = 9 if model.dtype == np.float32 else 17      # enough to round-trip the model's dtype
        body = [[f"{v:.{digits}g}" for v in row] for row in out]

    def write(fh):
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(body)

    if args.out:
        try:
            atomic.write(args.out, write, binary=False, what="--out")
        except OSError as exc:
            raise CLIError(f"--out {args.out}: cannot write ({exc.strerror or exc}); the old file is unchanged") \
                from None
        print(f"wrote {len(body)} predictions to {args.out}", file=sys.stderr)
    else:
        try:
            write(sys.stdout)
            sys.stdout.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise StdoutError(exc) from None
    return 0


def _run(func, command, args):
    try:
        return func(args)
    except CLIError as exc:
        print(f"fastmlp {command}: {exc}", file=sys.stderr)
        return 2
    except StdoutError as exc:
        return stdout_failed(command, exc.args[0])


def run_train(args):
    return _run(train, "train", args)


def run_predict(args):
    return _run(predict, "predict", args)
