"""``fastmlp train`` and ``fastmlp predict``: a network for the user's own data, from the command line.

Data: an ``.npz`` file with arrays ``X`` (n, features) and ``y`` (n,) or (n, outputs), or a CSV file with one label
column (``--label`` name or 0-based index; default the last column) and numeric feature columns; a header row is
detected (a first row with text where the next row has numbers). Bad input -- a missing or unreadable file, wrong
or missing columns, text or NaN in the features, a bad layer spec -- gives one line naming the problem on stderr
and exit status 2, never a traceback.

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

from .. import validation
from ..errors import DivergenceError
from ..mlp import MLP, load
from ..modelfile import read_metadata
from ..vocabulary import ACTIVATIONS, CLASSIFIER_LOSSES, DTYPES, LOGIT_LOSSES, LOSSES, OPTIMIZERS

LOSS_CHOICES = ("auto",) + LOSSES   # auto: integer or text labels -> softmax_ce, else mse
MAX_AUTO_CLASSES = 50   # integer-valued CSV labels with at most this many values are classes, else regression


class CLIError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


# ---- reading data ------------------------------------------------------------------------------------------------
def _is_number(s):
    try:
        float(s)
        return True
    except ValueError:
        return False


def _sniff(line):
    counts = {d: line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=counts.get)
    if counts[best]:
        return best
    return " " if line.strip().count(" ") else ","


def _column(header, spec, n_cols, path):
    """The index of the label column ``spec`` (a header name or a 0-based index, negative from the end)."""
    if header is not None and spec in header:
        return header.index(spec)
    try:
        k = int(spec)
    except ValueError:
        if header is None:
            raise CLIError(f"{path}: no header row, so --label {spec!r} must be a 0-based column index") from None
        raise CLIError(f"{path}: no column named {spec!r} (columns: {', '.join(header)})") from None
    if not -n_cols <= k < n_cols:
        raise CLIError(f"{path}: --label {spec}: column index out of range for {n_cols} columns")
    return k % n_cols


def read_csv(path, label=None, delimiter=None, has_label=True, label_names=()):
    """(X float64 (n, d), y (n,) as floats or strings or None, feature names, label name) from a CSV file.

    has_label=False (predict): the label column is dropped only when ``label`` is given or when the header holds
    one of ``label_names``."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise CLIError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise CLIError(f"{path}: not a text (UTF-8) CSV file") from None
    except OSError as exc:
        raise CLIError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if "\x00" in text:
        raise CLIError(f"{path}: binary data, not a text CSV file")
    lines = [(i + 1, ln) for i, ln in enumerate(text.splitlines()) if ln.strip()]
    if not lines:
        raise CLIError(f"{path}: empty file")
    delim = delimiter or _sniff(lines[0][1])
    if delim == " ":
        rows = [(i, ln.split()) for i, ln in lines]
    else:
        try:
            parsed = list(csv.reader((ln for _, ln in lines), delimiter=delim))
        except csv.Error as exc:
            raise CLIError(f"{path}: not a readable CSV file ({exc})") from None
        rows = [(i, [f.strip() for f in r]) for (i, _), r in zip(lines, parsed)]
    n_cols = len(rows[0][1])
    for i, r in rows:
        if len(r) != n_cols:
            raise CLIError(f"{path}: line {i} has {len(r)} fields, the first line has {n_cols}")
    first = rows[0][1]
    header = None
    if len(rows) > 1:
        second = rows[1][1]
        if any(not _is_number(a) and a and _is_number(b) for a, b in zip(first, second)):
            header = first
    elif not any(_is_number(a) for a in first):
        header = first
    data = rows[1:] if header is not None else rows
    if not data:
        raise CLIError(f"{path}: a header row and no data")
    names = header or [str(k) for k in range(n_cols)]
    lab = None
    if has_label:
        lab = _column(header, label, n_cols, path) if label is not None else n_cols - 1
    elif label is not None:
        lab = _column(header, label, n_cols, path)
    elif header is not None:
        lab = next((header.index(n) for n in label_names if n in header), None)
    feats = [k for k in range(n_cols) if k != lab]
    if not feats:
        raise CLIError(f"{path}: no feature columns besides the label column {names[lab]!r}")
    X = np.empty((len(data), len(feats)), dtype=np.float64)
    for r, (i, fields) in enumerate(data):
        for c, k in enumerate(feats):
            v = fields[k]
            try:
                x = float(v)
            except ValueError:
                what = "an empty value" if not v else f"{v!r} is not a number"
                raise CLIError(f"{path}: line {i}, column {names[k]!r}: {what}") from None
            if not math.isfinite(x):
                what = "a NaN value" if math.isnan(x) else "an infinite value"
                raise CLIError(f"{path}: line {i}, column {names[k]!r}: {what} ({v!r})")
            X[r, c] = x
    y = None
    if lab is not None and has_label:
        raw = [fields[lab] for _, fields in data]
        for (i, _), v in zip(data, raw):
            if not v:
                raise CLIError(f"{path}: line {i}, label column {names[lab]!r}: an empty value")
        if all(_is_number(v) for v in raw):
            y = np.array([float(v) for v in raw])
            if not np.isfinite(y).all():
                i = data[int(np.flatnonzero(~np.isfinite(y))[0])][0]
                raise CLIError(f"{path}: line {i}, label column {names[lab]!r}: NaN or infinite value")
        else:
            y = np.array(raw)
    return X, y, [names[k] for k in feats], (names[lab] if lab is not None else None)


def read_npz(path, need_y=True):
    """(X float64 (n, d), y or None, feature names, label name) from an .npz file with arrays X and y."""
    try:
        with np.load(path, allow_pickle=False) as f:
            keys = list(f.files)
            arrays = {k: f[k] for k in ("X", "y") if k in keys}
    except FileNotFoundError:
        raise CLIError(f"{path}: no such file") from None
    except Exception as exc:   # BadZipFile, a truncated member, an object array without pickle, ...
        raise CLIError(f"{path}: not a readable .npz file ({type(exc).__name__}: {exc})") from None
    for k in ("X", "y") if need_y else ("X",):
        if k not in arrays:
            raise CLIError(f"{path}: no array {k!r} (the file holds: {', '.join(keys) or 'nothing'})")
    X = arrays["X"]
    if X.dtype.kind not in "biuf":
        raise CLIError(f"{path}: X holds {X.dtype} values, expected numbers")
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise CLIError(f"{path}: X has shape {X.shape}, expected (samples, features)")
    X = X.astype(np.float64)
    if not np.isfinite(X).all():
        r, c = np.argwhere(~np.isfinite(X))[0]
        raise CLIError(f"{path}: X has NaN or infinite values (first at row {r}, column {c})")
    y = arrays.get("y") if need_y else None
    if y is not None:
        if y.ndim == 0 or y.ndim > 2 or y.shape[0] != X.shape[0]:
            raise CLIError(f"{path}: y has shape {y.shape}, expected ({X.shape[0]},) or ({X.shape[0]}, outputs)")
        if y.dtype.kind == "f" and not np.isfinite(y).all():
            raise CLIError(f"{path}: y has NaN or infinite values (first at row {np.argwhere(~np.isfinite(y))[0][0]})")
        if y.dtype.kind not in "biufUS":
            raise CLIError(f"{path}: y holds {y.dtype} values, expected numbers or text labels")
        if y.dtype.kind == "S":
            y = y.astype(str)
    return X, y, [str(k) for k in range(X.shape[1])], "y"


def read_data(path, label=None, delimiter=None, need_y=True, label_names=()):
    if not os.path.exists(path):
        raise CLIError(f"{path}: no such file")
    if os.path.isdir(path):
        raise CLIError(f"{path}: is a folder, expected a .npz or .csv file")
    if path.lower().endswith(".npz"):
        if label is not None and need_y:
            raise CLIError(f"{path}: --label is for CSV files; an .npz file holds its labels in the array y")
        return read_npz(path, need_y)
    return read_csv(path, label, delimiter, has_label=need_y, label_names=label_names)


# ---- the network -------------------------------------------------------------------------------------------------
def parse_sizes(spec, option):
    """'64,128,10' -> [64, 128, 10]; '' or 'none' -> [] (no hidden layer, for --hidden)."""
    s = spec.strip()
    if option == "--hidden" and s.lower() in ("", "none"):
        return []
    parts = [p.strip() for p in s.split(",")]
    try:
        sizes = [int(p) for p in parts]
    except ValueError:
        sizes = None
    if not sizes or any(v < 1 for v in sizes):
        example = "64,128,10" if option == "--layers" else "128 or 128,64"
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
    return v.item() if hasattr(v, "item") else v


def read_meta(path):
    """The metadata dict saved with a model file ({} when it has none); a CLIError for a damaged file."""
    try:
        return read_metadata(path)
    except ValueError as exc:
        raise CLIError(str(exc)) from None


def _progress_available():
    try:
        import tqdm  # noqa: F401
        return True
    except ImportError:
        return False


def train(args):
    option(validation.integer, "--epochs", args.epochs, 1)
    option(validation.integer, "--batch-size", args.batch_size, 1)
    option(validation.real, "--lr", args.lr, 0, lo_open=True)
    option(validation.real, "--weight-decay", args.weight_decay, 0)
    option(validation.fraction, "--val", args.val)
    option(validation.choice, "--activation", args.activation, ACTIVATIONS)
    option(validation.choice, "--optimizer", args.optimizer, OPTIMIZERS)
    option(validation.choice, "--dtype", args.dtype, DTYPES)
    out_dir = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(out_dir):
        raise CLIError(f"--out {args.out}: the folder {out_dir} does not exist")
    hidden = parse_sizes(args.hidden, "--hidden") if args.hidden is not None else None
    layers_spec = parse_sizes(args.layers, "--layers") if args.layers is not None else None
    if layers_spec is not None and len(layers_spec) < 2:
        raise CLIError(f"--layers {args.layers!r}: give at least the input and output sizes, e.g. 64,128,10")

    X, y, features, label_name = read_data(args.data, args.label, args.delimiter)
    loss, classes = _task(y, args.loss, args.data.lower().endswith(".npz"))
    if classes is not None:
        targets = np.searchsorted(classes, y).astype(np.int64)
        n_out = 1 if loss == "sigmoid_bce" else len(classes)
        if loss == "sigmoid_bce":
            targets = targets.astype(np.float64)
    else:
        targets = y.astype(np.float64)
        if targets.ndim == 1:
            targets = targets.reshape(-1, 1)
        n_out = targets.shape[1]
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

    rng = np.random.default_rng(args.seed)
    perm = rng.permutation(n)
    X, targets = X[perm], targets[perm]
    n_val = int(round(n * args.val))
    if args.val > 0 and (n_val < 1 or n_val >= n):
        raise CLIError(f"--val {args.val}: {n} rows leave no training or no validation rows")
    n_tr = n - n_val
    mean, std = None, None
    if args.standardize:
        mean = X[:n_tr].mean(axis=0)
        std = X[:n_tr].std(axis=0)
        std[std == 0] = 1.0
        X = (X - mean) / std
    try:
        model = MLP(layers, activation=args.activation, loss=loss, dtype=args.dtype, seed=args.seed)
    except (ValueError, TypeError) as exc:
        raise CLIError(str(exc)) from None
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
    dt = time.perf_counter() - t0
    metric = "accuracy" if model.is_classifier else "R^2"
    line = (f"trained in {dt:.2f} s: train loss {hist['loss'][-1]:.4g}, {metric} "
            f"{model.score(X[:n_tr], targets[:n_tr]):.4f}")
    if val is not None:
        line += f"; validation loss {hist['val_loss'][-1]:.4g}, {metric} {hist['val_score'][-1]:.4f}"
    print(line)
    meta = {"features": features, "label": label_name, "loss": loss,
            "classes": None if classes is None else [_meta_value(c) for c in classes],
            "mean": None if mean is None else mean.tolist(), "std": None if std is None else std.tolist()}
    try:
        path = model.save(args.out, metadata=meta)
    except OSError as exc:
        raise CLIError(f"--out {args.out}: cannot write ({exc.strerror or exc})") from None
    print(f"saved {path}")
    return 0


def predict(args):
    if not os.path.exists(args.model):
        raise CLIError(f"{args.model}: no such file")
    try:
        model = load(args.model)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    meta = read_meta(args.model)
    label_names = [meta["label"]] if meta.get("label") else []
    X, _, _, _ = read_data(args.data, args.label, args.delimiter, need_y=False, label_names=label_names)
    if X.shape[1] != model.n_in:
        hint = "; pass --label to drop the label column" if X.shape[1] == model.n_in + 1 else ""
        raise CLIError(f"{args.data}: {X.shape[1]} feature columns, the model takes {model.n_in}{hint}")
    if meta.get("mean") is not None:
        X = (X - np.asarray(meta["mean"])) / np.asarray(meta["std"])
    classes = meta.get("classes")
    loss = model.loss
    if args.proba:
        if loss not in LOGIT_LOSSES:
            raise CLIError(f"--proba needs a {' or '.join(LOGIT_LOSSES)} model, this one has loss {loss!r}")
        P = model.predict_proba(X).astype(np.float64)
        if loss == "sigmoid_bce" and P.shape[1] == 1:
            P = np.hstack([1 - P, P])
        names = classes if classes is not None and len(classes) == P.shape[1] else list(range(P.shape[1]))
        header = [f"p_{c}" for c in names]
        body = [[f"{v:.6g}" for v in row] for row in P]
    elif model.is_classifier:
        pred = np.asarray(model.predict(X))
        if pred.ndim == 1 and classes is not None:
            body = [[str(classes[int(k)])] for k in pred]
        else:
            body = [[str(v) for v in np.atleast_1d(row)] for row in pred]
        header = ["prediction"] if pred.ndim == 1 else [f"output_{k}" for k in range(pred.shape[1])]
    else:
        out = model.forward(X).astype(np.float64)
        header = ["prediction"] if out.shape[1] == 1 else [f"output_{k}" for k in range(out.shape[1])]
        digits = 9 if model.dtype == np.float32 else 17      # enough to round-trip the model's dtype
        body = [[f"{v:.{digits}g}" for v in row] for row in out]
    try:
        fh = open(args.out, "w", newline="") if args.out else sys.stdout
    except OSError as exc:
        raise CLIError(f"--out {args.out}: cannot write ({exc.strerror or exc})") from None
    try:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(body)
    finally:
        if args.out:
            fh.close()
    if args.out:
        print(f"wrote {len(body)} predictions to {args.out}", file=sys.stderr)
    return 0


def _run(func, command, args):
    try:
        return func(args)
    except CLIError as exc:
        print(f"fastmlp {command}: {exc}", file=sys.stderr)
        return 2


def run_train(args):
    return _run(train, "train", args)


def run_predict(args):
    return _run(predict, "predict", args)
