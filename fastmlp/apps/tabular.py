"""Reading the command line's data: a CSV file (pandas' C parser, in chunks of rows converted to float64 into one
preallocated array; a slow csv-module walk only to name the line of a problem) or an .npz file with arrays X and y.
Numbers are plain ASCII decimals (no ``1_000``, no non-ASCII digits); a quoted field spanning lines, a ragged line,
text, NaN or an empty value is one CLIError naming the line and the column."""
import csv
import io
import math
import re

import numpy as np

from .files import CLIError, regular_file

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
        raise CLIError(f"{path}: {option} {spec!r}: no column named {spec!r} (columns: {', '.join(header)})") \
            from None
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
