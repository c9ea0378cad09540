"""Model files: an ``.npz`` archive (never a pickle), written in one atomic step, every field checked on reading.

Members: ``format_version``, ``layers``, ``activations``, ``loss``, ``dtype``, ``init``, ``params``,
``step_count`` and, when given, ``metadata`` (a JSON object, e.g. the command line's class labels and
standardization). ``fastmlp.load`` builds the model from what ``read`` returns.
"""
import json
import os
import tempfile

import numpy as np

FORMAT_VERSION = 1
FIELDS = ("format_version", "layers", "activations", "loss", "dtype", "init", "params", "step_count")
METADATA = "metadata"
_LEGACY_METADATA = "cli_meta"  # what `fastmlp train` wrote beside the model before metadata had its member


def write(path, layers, activations, loss, dtype, init, params, step_count, metadata=None):
    """Write a model file at ``path`` (``.npz`` appended when missing) in one step: a temporary file in the same
    folder, renamed over ``path`` only once it is complete. Returns the path written."""
    path = os.fspath(path)
    if not path.endswith(".npz"):
        path += ".npz"
    members = dict(format_version=np.int64(FORMAT_VERSION), layers=np.array(layers, dtype=np.int64),
                   activations=np.array(activations), loss=np.array(loss or ""), dtype=np.array(np.dtype(dtype).name),
                   init=np.array(init), params=params, step_count=np.int64(step_count))
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise TypeError(f"metadata: expected a dict, got {type(metadata).__name__}")
        try:
            members[METADATA] = np.array(json.dumps(metadata, allow_nan=False))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"metadata: not JSON-serializable ({exc})") from None
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(suffix=".npz", dir=d)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **members)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _archive(path):
    """Every member of the archive at ``path``, or a ValueError naming what is wrong with it."""
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise ValueError(f"load: cannot read {path} ({exc})") from None
    if magic != b"PK\x03\x04":
        raise ValueError(f"load: {path} is not a fastmlp model file (an .npz archive written by MLP.save)")
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except Exception as exc:  # zipfile.BadZipFile, a truncated member, an object array, ...
        raise ValueError(f"load: {path} is damaged or not a fastmlp model file ({type(exc).__name__}: {exc})") \
            from None


def read(path):
    """The fields of a model file as plain values: a dict with ``layers`` (ints), ``activations`` (names),
    ``loss`` (name or None), ``dtype``, ``init``, ``params`` (the flat array), ``step_count`` and ``metadata``
    (a dict, empty when the file has none). Raises ValueError for anything that is not such a file."""
    fields = _archive(path)
    missing = [k for k in FIELDS if k not in fields]
    if missing:
        raise ValueError(f"load: {path} lacks {missing}")
    if int(fields["format_version"]) != FORMAT_VERSION:
        raise ValueError(f"load: format version {int(fields['format_version'])} is not {FORMAT_VERSION}")
    return dict(layers=[int(s) for s in fields["layers"]], activations=[str(a) for a in fields["activations"]],
                loss=str(fields["loss"]) or None, dtype=str(fields["dtype"]), init=str(fields["init"]),
                params=fields["params"], step_count=int(fields["step_count"]), metadata=_metadata(fields, path))


def _metadata(fields, path):
    raw = fields.get(METADATA, fields.get(_LEGACY_METADATA))
    if raw is None:
        return {}
    try:
        meta = json.loads(str(raw))
    except ValueError:
        raise ValueError(f"load: {path} has a damaged metadata member") from None
    if not isinstance(meta, dict):
        raise ValueError(f"load: {path}: metadata is not a JSON object")
    return meta


def read_metadata(path):
    """The metadata dict saved with a model (``{}`` when it has none); ValueError when the file is not a model."""
    return read(path)["metadata"]
