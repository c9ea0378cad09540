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
import re
import stat
import sys
import tempfile
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
# a number as fastmlp reads it: ASCII digits with an optional sign, '.' decimal point and exponent (no '1_000', no
# non-ASCII digits, no hex); the words nan / inf are recognised only to say what is wrong with them
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_NONFINITE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.ASCII | re.IGNORECASE)
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+", re.ASCII)
HEAD_BYTES = 1 << 16      # what the delimiter and header detection look at
CHUNK_CELLS = 1 << 18     # cells per chunk when reading a CSV file (bounds the parser's temporary memory)
INSTALL_CLI = 'pip install "fastmlp[cli]"'


def _is_number(s):
    """A plain ASCII decimal number (see _NUMBER); nan and inf count as numbers (to be refused with their line)."""
    s = s.strip()
    return bool(_NUMBER.fullmatch(s) or _NONFINITE.fullmatch(s))


def _cell_problem(v):
    """None when ``v`` is a finite number fastmlp reads, else what is wrong with it."""
    s = v.strip()
    if not s:
        return "an empty value"
    if _NUMBER.fullmatch(s):
        return None if math.isfinite(float(s)) else f"an infinite value ({v!r})"
    if _NONFINITE.fullmatch(s):
        return "a NaN value" if "nan" in s.lower() else f"an infinite value ({v!r})"
    if "\n" in v or "\r" in v:
        return "a quoted field that spans several lines (a quote that is never closed?)"
    if _DECIMAL_COMMA.fullmatch(s):
        return (f"{v!r} is not a number: it has a decimal comma, fastmlp reads numbers with a decimal point "
                f"({s.replace(',', '.')})")
    return f"{v!r} is not a number"


def regular_file(path, what=None):
    """Refuse anything but an existing regular file (a FIFO would block, /dev/zero never ends), before opening it."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise CLIError(f"{path}: no such file") from None
    except OSError as exc:
        raise CLIError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise CLIError(f"{path}: is a folder, expected {what or 'a .npz or .csv file'}")
    if not stat.S_ISREG(st.st_mode):
        raise CLIError(f"{path}: not a regular file (a pipe, a device or a socket); give "
                       f"{what or 'a .npz or .csv file'}")
    return st


def _pandas():
    try:
        import pandas
    except ImportError:
        raise CLIError(f"reading CSV files needs pandas: {INSTALL_CLI} (or give an .npz file with arrays X and y)") \
            from None
    return pandas


def _sniff(lines):
    """The delimiter of the first lines: one of , ; tab found the same number of times on every line (';' before ','
    when both are: decimal commas), the most frequent one on the first line, else space (or ',' for one column)."""
    counts = {d: [ln.count(d) for ln in lines] for d in (";", "\t", ",")}
    steady = [d for d, c in counts.items() if c[0] and len(set(c)) == 1]
    if steady:
        return max(steady, key=lambda d: (d == ";" and "," in steady, counts[d][0]))
    first = {d: c[0] for d, c in counts.items()}
    best = max(first, key=first.get)
    if first[best]:
        return best
    return " " if lines[0].strip().count(" ") else ","


def _delimiter(spec):
    """The --delimiter given: one character ('\\t' and 'tab' for a tab, 'space' or ' ' for runs of blanks)."""
    if spec is None:
        return None
    d = {"\\t": "\t", "tab": "\t", "space": " "}.get(spec, spec)
    if len(d) != 1 or d in "\"\r\n.+-" or d.isalnum():
        raise CLIError(f"--delimiter {spec!r}: expected one character such as , ; or \\t (not a quote, digit, "
                       f"letter, sign or '.')")
    return d


def _records(fh, delim):
    """(line number, fields) of the non-blank records of an open text file, fields stripped; CLIError for a quote
    that is never closed."""
    if delim == " ":
        for i, ln in enumerate(fh, 1):
            if ln.strip():
                yield i, ln.split()
        return
    reader = csv.reader(fh, delimiter=delim, strict=True)
    line = 1
    while True:
        try:
            rec = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise CLIError(f"{fh.name}: line {line}: not a readable CSV record ({exc}; a quote that is never "
                           f"closed?)") from None
        if any(f.strip() for f in rec):
            yield line, [f.strip() for f in rec]
        line = reader.line_num + 1


def _open_text(path):
    return open(path, newline="", encoding="utf-8-sig")


def _head(path):
    """The first records of the file for the delimiter and header detection: (delimiter, [(line, fields)] of at
    most 2 records)."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(HEAD_BYTES)
    except OSError as exc:
        raise CLIError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if b"\x00" in raw:
        raise CLIError(f"{path}: binary data, not a text CSV file")
    try:
        text = raw.decode("utf-8-sig", errors="strict")
    except UnicodeDecodeError as exc:
        if exc.start < len(raw) - 4:        # not just a character cut at the end of the head
            raise CLIError(f"{path}: not a text (UTF-8) CSV file") from None
        text = raw[:exc.start].decode("utf-8-sig")
    if len(raw) == HEAD_BYTES and "\n" in text:
        text = text[:text.rindex("\n") + 1]     # whole lines only
    lines = [ln for ln in text.splitlines() if ln.strip()][:20]
    if not lines:
        raise CLIError(f"{path}: empty file")
    return lines, text


def _first_records(path, text, delim):
    import io

    out = []
    fh = io.StringIO(text)
    fh.name = path
    try:
        for rec in _records(fh, delim):
            out.append(rec)
            if len(out) == 2:
                break
    except CLIError:
        if not out:
            raise
    return out


def _column(header, spec, n_cols, path, option="--label"):
    """The index of the column ``spec`` (a header name or a 0-based index, negative from the end)."""
    if header is not None and spec in header:
        return header.index(spec)
    try:
        k = int(spec)
    except ValueError:
        if header is None:
            raise CLIError(f"{path}: no header row, so {option} {spec!r} must be a 0-based column index") from None
        raise CLIError(f"{path}: no column named {spec!r} (columns: {', '.join(header)})") from None
    if not -n_cols <= k < n_cols:
        raise CLIError(f"{path}: {option} {spec}: column index out of range for {n_cols} columns")
    return k % n_cols


def _columns(header, spec, n_cols, path, option):
    """The column indices of a comma-separated list of names or indices (--drop, --features)."""
    if spec is None:
        return None
    parts = [p.strip() for p in spec.split(",")] if spec not in (header or ()) else [spec]
    if not all(parts):
        raise CLIError(f"{option} {spec!r}: expected comma-separated column names or indices")
    return [_column(header, p, n_cols, path, option) for p in parts]


def _count_lines(path):
    """An upper bound on the records of the file: its newlines + 1 (read in blocks, nothing kept)."""
    n = 1
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            n += block.count(b"\n")
    return n


def _diagnose(path, delim, header, n_cols, feats, lab, names, check_label, reason):
    """The first problem of the file, found by walking it with the csv module (the slow path, only after the
    fast parser refused the file or found a bad value): a CLIError with its line number."""
    try:
        with _open_text(path) as fh:
            first = True
            for i, fields in _records(fh, delim):
                if first and header is not None:
                    first = False
                    continue
                first = False
                if len(fields) != n_cols:
                    raise CLIError(f"{path}: line {i} has {len(fields)} fields, the first line has {n_cols}")
                for k in feats:
                    what = _cell_problem(fields[k])
                    if what:
                        raise CLIError(f"{path}: line {i}, column {names[k]!r}: {what}")
                if check_label:
                    v = fields[lab]
                    if not v:
                        raise CLIError(f"{path}: line {i}, label column {names[lab]!r}: an empty value")
                    if "\n" in v or "\r" in v:
                        raise CLIError(f"{path}: line {i}, label column {names[lab]!r}: a quoted field that spans "
                                       f"several lines (a quote that is never closed?)")
                    if _NONFINITE.fullmatch(v) or (_NUMBER.fullmatch(v) and not math.isfinite(float(v))):
                        raise CLIError(f"{path}: line {i}, label column {names[lab]!r}: NaN or infinite value")
    except UnicodeDecodeError:
        raise CLIError(f"{path}: not a text (UTF-8) CSV file") from None
    except OSError as exc:
        raise CLIError(f"{path}: cannot read ({exc.strerror or exc})") from None
    raise CLIError(f"{path}: not a readable CSV file ({reason})")


def read_csv(path, label=None, delimiter=None, has_label=True, label_names=(), drop=None, features=None,
             expect=None, chunk_rows=None):
    """(X float64 (n, d), y (n,) as floats or strings or None, feature names, label name) from a CSV file, read
    with pandas' C parser in chunks of rows (each converted to float64 into one preallocated array).

    has_label=False (predict): the label column is dropped only when ``label`` is given or when the header holds
    one of ``label_names``. ``drop`` / ``features``: comma-separated column names or indices to leave out / to use.
    ``expect``: the feature names a model was trained on; a file with a header gives them by name, in any order
    (a missing or an unknown column is refused)."""
    regular_file(path)
    pd = _pandas()
    delim = _delimiter(delimiter)
    lines, head = _head(path)
    delim = delim or _sniff(lines)
    recs = _first_records(path, head, delim)
    if not recs:
        raise CLIError(f"{path}: empty file")
    for i, fields in recs:
        for k, v in enumerate(fields):
            if delim != "," and _DECIMAL_COMMA.fullmatch(v):
                raise CLIError(f"{path}: line {i}, column {str(k)!r}: {_cell_problem(v)}")
    first = recs[0][1]
    n_cols = len(first)
    header = None
    if len(recs) > 1:
        second = recs[1][1]
        if any(not _is_number(a) and a and _is_number(b) for a, b in zip(first, second)):
            header = first
    elif not any(_is_number(a) for a in first):
        header = first
    if header is not None and len(recs) == 1:
        raise CLIError(f"{path}: a header row and no data")
    names = header or [str(k) for k in range(n_cols)]
    lab = None
    if has_label:
        lab = _column(header, label, n_cols, path) if label is not None else n_cols - 1
    elif label is not None:
        lab = _column(header, label, n_cols, path)
    elif header is not None:
        lab = next((header.index(n) for n in label_names if n in header), None)
    dropped = set(_columns(header, drop, n_cols, path, "--drop") or ())
    chosen = _columns(header, features, n_cols, path, "--features")
    if chosen is not None:
        if lab in chosen:
            raise CLIError(f"--features {features!r}: {names[lab]!r} is the label column")
        feats = [k for k in chosen if k not in dropped]
    else:
        feats = [k for k in range(n_cols) if k != lab and k not in dropped]
    if lab is not None and lab in dropped and has_label:
        raise CLIError(f"--drop {drop!r}: {names[lab]!r} is the label column")
    if not feats:
        raise CLIError(f"{path}: no feature columns left" + (f" besides the label column {names[lab]!r}"
                                                             if lab is not None else ""))
    if expect is not None and header is not None:
        feats = _match(path, names, feats, expect)

    dtypes = {k: (np.float64 if k in feats else object) for k in range(n_cols)}
    n_max = _count_lines(path)
    X = np.empty((n_max, len(feats)), dtype=np.float64)
    codes = np.empty(n_max, dtype=np.int64) if lab is not None and has_label else None
    uniques = {}
    rows = chunk_rows or max(256, CHUNK_CELLS // n_cols)
    n = 0

    def diagnose(reason):
        _diagnose(path, delim, header, n_cols, feats, lab, names, codes is not None, reason)

    try:
        reader = pd.read_csv(path, sep=r"\s+" if delim == " " else delim, header=0 if header is not None else None,
                             names=list(range(n_cols)), dtype=dtypes, na_filter=False, engine="c",
                             encoding="utf-8-sig", skip_blank_lines=True, chunksize=rows, quotechar='"',
                             doublequote=True, low_memory=True)
        with reader:
            for chunk in reader:
                m = len(chunk)
                if n + m > n_max:
                    diagnose("more records than lines")
                block = X[n:n + m]
                for c, k in enumerate(feats):
                    block[:, c] = chunk[k].to_numpy(dtype=np.float64, copy=False)
                if not np.isfinite(block).all():
                    diagnose("a value that is not finite")
                if codes is not None:
                    col = chunk[lab].to_numpy(dtype=object)
                    cc, uu = pd.factorize(col)
                    remap = np.array([uniques.setdefault(str(u).strip(), len(uniques)) for u in uu], dtype=np.int64)
                    codes[n:n + m] = remap[cc]
                n += m
                del chunk
    except CLIError:
        raise
    except UnicodeDecodeError:
        raise CLIError(f"{path}: not a text (UTF-8) CSV file") from None
    except (ValueError, pd.errors.ParserError) as exc:   # a value that is not a number, a ragged line, ...
        diagnose(str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__)
    except OSError as exc:
        raise CLIError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if n == 0:
        raise CLIError(f"{path}: a header row and no data" if header is not None else f"{path}: empty file")
    X = _shrink(X, n)
    y = None
    if codes is not None:
        labels = list(uniques)
        if any(not v or "\n" in v or "\r" in v for v in labels):
            diagnose("an empty or multi-line label")
        codes = codes[:n]
        if all(_NUMBER.fullmatch(v) for v in labels):
            values = np.array([float(v) for v in labels])
            if not np.isfinite(values).all():
                diagnose("a label that is not finite")
            y = values[codes]
        elif any(_NONFINITE.fullmatch(v) for v in labels) and all(_is_number(v) for v in labels):
            diagnose("a NaN or infinite label")
        else:
            y = np.array(labels, dtype=str)[codes]
    return X, y, [names[k] for k in feats], (names[lab] if lab is not None else None)


def _shrink(X, n):
    """The first n rows of X, giving back the rest of the preallocated buffer (no copy when it can resize)."""
    if n == X.shape[0]:
        return X
    try:
        X.resize((n, X.shape[1]), refcheck=False)
        return X
    except ValueError:
        return X[:n].copy()


def _plural(word, items):
    return f"{word}{'s' * (len(items) > 1)} {', '.join(repr(c) for c in items)}"


def _match(path, names, feats, expect):
    """The feature columns in the model's order ``expect``, matched by name; CLIError naming the missing and
    unknown columns."""
    have = {names[k]: k for k in feats}
    missing = [e for e in expect if e not in have]
    unknown = [h for h in have if h not in expect]
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing {_plural('column', missing)}")
        if unknown:
            parts.append(f"unknown {_plural('column', unknown)} (leave {'them' if len(unknown) > 1 else 'it'} out "
                         f"with --drop)")
        if len(have) != len(expect):
            parts.insert(0, f"{len(have)} feature columns, the model takes {len(expect)}")
        raise CLIError(f"{path}: {'; '.join(parts)}; the model was trained on {', '.join(expect)}")
    return [have[e] for e in expect]


def read_npz(path, need_y=True):
    """(X float64 (n, d), y or None, feature names, label name) from an .npz file with arrays X and y."""
    regular_file(path)
    try:
        with open(path, "rb") as fh:
            magic = fh.read(6)
    except OSError as exc:
        raise CLIError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if magic[:4] not in (b"PK\x03\x04", b"PK\x05\x06"):
        what = "a single .npy array" if magic == b"\x93NUMPY" else "empty" if not magic else "not a zip archive"
        raise CLIError(f"{path}: not an .npz file ({what}); expected an archive written by numpy.savez with arrays "
                       f"X and y")
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


def read_data(path, label=None, delimiter=None, need_y=True, label_names=(), drop=None, features=None,
              expect=None):
    """(X, y, feature names, label name) from a CSV or .npz file (a regular file only)."""
    regular_file(path)
    if path.lower().endswith(".npz"):
        if label is not None and need_y:
            raise CLIError(f"{path}: --label is for CSV files; an .npz file holds its labels in the array y")
        X, y, names, lab = read_npz(path, need_y)
        if drop is not None or features is not None:
            d = X.shape[1]
            gone = set(_columns(None, drop, d, path, "--drop") or ())
            keep = _columns(None, features, d, path, "--features")
            keep = [k for k in (keep if keep is not None else range(d)) if k not in gone]
            if not keep:
                raise CLIError(f"{path}: no feature columns left")
            X, names = np.ascontiguousarray(X[:, keep]), [names[k] for k in keep]
        return X, y, names, lab
    return read_csv(path, label, delimiter, has_label=need_y, label_names=label_names, drop=drop,
                    features=features, expect=expect)


# ---- outputs -----------------------------------------------------------------------------------------------------
def check_output(out, inputs, force, option="--out"):
    """Refuse an output that is one of the inputs (the same file, also through links), an existing output
    without --force, a folder, and a folder that does not exist or cannot be written -- before any work."""
    real = os.path.realpath(out)
    for src in inputs:
        same = os.path.realpath(src) == real
        if not same and os.path.exists(out) and os.path.exists(src):
            try:
                same = os.path.samefile(out, src)
            except OSError:
                same = False
        if same:
            raise CLIError(f"{option} {out}: is the input {src}; write to another file")
    if os.path.isdir(out):
        raise CLIError(f"{option} {out}: is a folder")
    folder = os.path.dirname(real)
    if not os.path.isdir(folder):
        raise CLIError(f"{option} {out}: cannot write: the folder {os.path.dirname(os.path.abspath(out))} does "
                       f"not exist")
    if os.path.lexists(out) and not force:
        raise CLIError(f"{option} {out}: the file exists; pass --force to replace it")
    if os.path.exists(out) and not os.path.isfile(real):
        raise CLIError(f"{option} {out}: not a regular file")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise CLIError(f"{option} {out}: cannot write in {folder} ({exc.strerror or exc})") from None
    return real


def write_atomic(path, write):
    """Call ``write(fh)`` on a temporary text file beside ``path`` (through a symlink: beside its target), fsync it
    and rename it over ``path``: an error midway leaves the old file as it was. The new file gets the old file's
    mode, or the umask's."""
    real = os.path.realpath(path)
    folder = os.path.dirname(real)
    fd, tmp = tempfile.mkstemp(prefix=".fastmlp-", suffix=".tmp", dir=folder)
    try:
        try:
            mode = stat.S_IMODE(os.stat(real).st_mode)
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", newline="") as fh:
            fd = None
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, real)
    except BaseException:
        if fd is not None:
            os.close(fd)
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


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
            return (f"warning: {on} accuracy {score:.4f} is no better than always predicting the most frequent "
                    f"class ({base:.4f}); try more --epochs, another --lr or --standardize")
    elif not model.is_classifier and score <= 0:
        return (f"warning: {on} R^2 {score:.4f} <= 0: no better than predicting the mean; try more --epochs, "
                f"another --lr or --standardize")
    return None


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
    _model_size(layers, args.dtype, "--layers" if layers_spec is not None else f"--hidden {args.hidden or 64}")

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
        std[~(std > 0)] = 1.0
        X = (X - mean) / std
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


def _line_of(path, delimiter, r):
    """The line number of data row r (0-based) of a CSV file (the slow path, for an error message)."""
    lines, head = _head(path)
    delim = _delimiter(delimiter) or _sniff(lines)
    recs = _first_records(path, head, delim)
    first, second = recs[0][1], recs[1][1] if len(recs) > 1 else None
    has_header = (any(not _is_number(a) and a and _is_number(b) for a, b in zip(first, second)) if second
                  else not any(_is_number(a) for a in first))
    with _open_text(path) as fh:
        for k, (i, _) in enumerate(_records(fh, delim)):
            if k == r + has_header:
                return i
    return "?"


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
            write_atomic(args.out, write)
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


class StdoutError(Exception):
    """Standard output could not be written (a full device, ...): main says so in one line."""


class GuardedStdout:
    """sys.stdout whose write errors (other than a closed pipe) are StdoutError, so that they are told apart from
    the errors of other files."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, s):
        try:
            return self._stream.write(s)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise StdoutError(exc) from None

    def flush(self):
        try:
            return self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise StdoutError(exc) from None

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _run(func, command, args):
    try:
        return func(args)
    except CLIError as exc:
        print(f"fastmlp {command}: {exc}", file=sys.stderr)
        return 2
    except StdoutError as exc:
        return stdout_failed(command, exc.args[0])


def stdout_failed(command, exc):
    """Standard output cannot be written (``> /dev/full``): one line on stderr, the unwritten output discarded (so
    that Python's last flush at exit does not print a traceback); returns the exit status, 1."""
    print(f"fastmlp {command}: standard output: cannot write ({exc.strerror or exc})", file=sys.stderr)
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
    return 1


def run_train(args):
    return _run(train, "train", args)


def run_predict(args):
    return _run(predict, "predict", args)
