"""Model files: an ``.npz`` archive (never a pickle), written in one atomic step, every field checked on reading.

Members: ``format_version``, ``layers``, ``activations``, ``loss``, ``dtype``, ``init``, ``params``,
``step_count`` and, when given, ``metadata`` (a JSON object, e.g. the command line's class labels and
standardization), ``optimizer`` (JSON: the rule's name, its options and its step count) with
``optimizer_state`` (its state vector: momentum velocity, Adam's moments), and ``rng_state`` (JSON: the model's
shuffling generator, ``rng.bit_generator.state``). Files written before the last three existed still load
(the model then has no optimizer, and a fresh generator). ``fastmlp.load`` builds the model from what ``read``
returns.

Writing: in one step, by ``fastmlp.atomic.write`` (a fsynced temporary beside the target, renamed over it; the
replaced file's mode or the umask's; through symlinks; leftovers of dead writers removed).

Reading never trusts a size before checking it: only the known members are opened (others are never
decompressed), every ``.npy`` header's shape and dtype is checked against the declared layers before its data is
read, and the parameters are read straight into the buffer the caller gives (``fastmlp.load``: the model's own,
left uninitialised until then). Anything wrong is a ValueError naming the file and the field.
"""
import json
import os
import stat
import struct
import zipfile
import zlib
from typing import Any, Dict

import numpy as np
from numpy.lib import format as npy_format

from . import _core, atomic, validation
from .vocabulary import ACTIVATIONS, DTYPES, INITS, LOSSES, OPTIMIZERS

FORMAT_VERSION = 1
FIELDS = ("format_version", "layers", "activations", "loss", "dtype", "init", "params", "step_count")
METADATA = "metadata"
OPTIMIZER, OPTIMIZER_STATE, RNG_STATE = "optimizer", "optimizer_state", "rng_state"
_LEGACY_METADATA = "cli_meta"  # what `fastmlp train` wrote beside the model before metadata had its member
TMP_SUFFIX = atomic.TMP_SUFFIX  # the temporaries of a save (fastmlp.atomic)
_SMALL = 1 << 16            # bytes a name or number member may hold
_JSON = 64 << 20            # bytes a JSON member (metadata, optimizer, rng_state) may hold
_MAX_RATIO = 100            # a compressed array member may expand at most this much (above _SMALL_ARRAY)
_SMALL_ARRAY = 16 << 20
_CHUNK = 1 << 24            # bytes read at a time into the parameter buffer


# ---- writing ---------------------------------------------------------------------------------------------------
def write(path, layers, activations, loss, dtype, init, params, step_count, metadata=None, optimizer=None,
          rng_state=None):
    """Write a model file at ``path`` (``.npz`` appended when missing) in one step: a temporary file beside the
    target, renamed over it only once it is complete and on disk. ``optimizer``: None or a dict with ``name``,
    ``options`` (a dict of numbers), ``step_count`` and ``state`` (an array or None); ``rng_state``: None or
    the generator's ``bit_generator.state`` dict. Returns the path written (the one given, ``.npz`` added)."""
    path = os.fspath(path)
    if not isinstance(path, str):
        path = os.fsdecode(path)
    if not os.path.basename(path) or os.path.isdir(path):
        raise ValueError(f"save: {path!r} is a folder; give a file name (model.npz)")
    if not path.endswith(".npz"):
        path += ".npz"
    members = dict(format_version=np.int64(FORMAT_VERSION), layers=np.array(layers, dtype=np.int64),
                   activations=np.array(activations), loss=np.array(loss or ""), dtype=np.array(np.dtype(dtype).name),
                   init=np.array(init), params=params, step_count=np.int64(step_count))
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise TypeError(f"metadata: expected a dict, got {type(metadata).__name__}")
        members[METADATA] = _json("metadata", metadata)
    if optimizer is not None:
        members[OPTIMIZER] = _json("optimizer", {k: optimizer[k] for k in ("name", "options", "step_count")})
        if optimizer.get("state") is not None:
            members[OPTIMIZER_STATE] = optimizer["state"]
    if rng_state is not None:
        members[RNG_STATE] = _json("rng_state", rng_state)
    atomic.write(path, lambda f: np.savez(f, **members))
    return path


def _json(field, value):
    try:
        return np.array(json.dumps(value, allow_nan=False, default=_plain))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{field}: not JSON-serializable ({exc})") from None


def _plain(value):
    """numpy scalars and arrays as JSON takes them (a generator's state may hold them)."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON-serializable")


# ---- reading ---------------------------------------------------------------------------------------------------
def _open(path):
    """(binary file, its name for messages, whether to close it). Regular files only: a FIFO or a device is
    refused without blocking. A caller's file object or descriptor is read, never closed."""
    if isinstance(path, (bool, np.bool_)):
        raise TypeError(f"load: expected a path, got {path!r}")
    if isinstance(path, (int, np.integer)):
        name = f"file descriptor {int(path)}"
        try:
            st = os.fstat(int(path))
        except (OSError, OverflowError, ValueError) as exc:
            raise ValueError(f"load: cannot read {name} ({exc})") from None
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(f"load: {name} is not a regular file")
        return os.fdopen(os.dup(int(path)), "rb"), name, True
    if hasattr(path, "read") and hasattr(path, "seek"):
        return path, str(getattr(path, "name", "the file object")), False
    try:
        path = os.fspath(path)
    except TypeError:
        raise TypeError(f"load: expected a path or a binary file, got {type(path).__name__}") from None
    name = os.fsdecode(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except (OSError, ValueError) as exc:
        raise ValueError(f"load: cannot read {name} ({exc})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            raise ValueError(f"load: {name} is {kind}; a model file is a regular .npz file written by MLP.save")
        return os.fdopen(fd, "rb"), name, True
    except BaseException:
        os.close(fd)
        raise


class _Reader:
    """The archive of one model file, read member by member, only as far as the checks allow."""

    def __init__(self, fh, name):
        self.name = name
        fh.seek(0, os.SEEK_END)
        self.size = fh.tell()
        fh.seek(0)
        if fh.read(4) != b"PK\x03\x04":
            raise ValueError(f"load: {name} is not a fastmlp model file (an .npz archive written by MLP.save)")
        fh.seek(0)
        self.zf = zipfile.ZipFile(fh)
        self.infos = {}
        for info in self.zf.infolist():
            if info.filename.endswith(".npy"):
                self.infos[info.filename[:-4]] = info

    def error(self, field, what):
        return ValueError(f"load: {self.name}: {field}: {what}")

    def has(self, field):
        return field in self.infos

    def _header(self, field, fp):
        info = self.infos[field]
        if info.compress_size > self.size:
            raise self.error(field, f"declares {info.compress_size} stored bytes in a {self.size}-byte file")
        try:
            version = npy_format.read_magic(fp)
            if version == (1, 0):
                shape, fortran, dtype = npy_format.read_array_header_1_0(fp)
            elif version in ((2, 0), (3, 0)):
                shape, fortran, dtype = npy_format.read_array_header_2_0(fp)
            else:
                raise self.error(field, f"unknown .npy version {version}")
        except ValueError as exc:  # numpy's own words ("the magic string is not correct"), with the file named
            raise self.error(field, f"not a readable .npy array ({exc})") from None
        if dtype.hasobject:
            raise self.error(field, "an object array (fastmlp model files never hold pickles)")
        if not isinstance(shape, tuple) or any(not isinstance(s, int) or s < 0 for s in shape):
            raise self.error(field, f"bad shape {shape!r}")
        return shape, dtype

    def small(self, field, kinds, ndim, limit=_SMALL, length=None):
        """A small member (a name, a number, JSON text, the layer sizes) with its dtype kind in ``kinds`` and
        ``ndim`` dimensions, checked from the header before any data is read."""
        with self.zf.open(self.infos[field]) as fp:
            shape, dtype = self._header(field, fp)
            if dtype.kind not in kinds or len(shape) != ndim:
                raise self.error(field, f"expected a {ndim}-d array of kind {kinds!r}, got dtype {dtype} shape "
                                        f"{shape}")
            if length is not None and shape[0] > length:
                raise self.error(field, f"at most {length} values, got {shape[0]}")
            nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
            if nbytes > limit or self.infos[field].file_size > limit + 4096:
                raise self.error(field, f"{nbytes} bytes, more than the {limit} such a field may hold")
            fp.seek(0)
            return npy_format.read_array(fp, allow_pickle=False)

    def array(self, field, shape, dtype, alloc):
        """An array member of exactly ``shape`` and ``dtype`` (checked from the header), read straight into
        ``alloc()`` (called only after the checks)."""
        info = self.infos[field]
        with self.zf.open(info) as fp:
            got_shape, got_dtype = self._header(field, fp)
            if got_shape != shape or got_dtype != dtype:
                raise self.error(field, f"expected dtype {np.dtype(dtype)} and shape {shape}, got dtype {got_dtype} "
                                        f"and shape {got_shape}")
            nbytes = int(np.prod(shape, dtype=object)) * np.dtype(dtype).itemsize
            if info.file_size != fp.tell() + nbytes:
                raise self.error(field, f"the member holds {info.file_size} bytes, its header says "
                                        f"{fp.tell() + nbytes}")
            if (info.compress_type != zipfile.ZIP_STORED and nbytes > _SMALL_ARRAY
                    and nbytes > _MAX_RATIO * info.compress_size):
                raise self.error(field, f"{info.compress_size} compressed bytes expand to {nbytes}: refused")
            out = alloc()
            view = memoryview(out).cast("B")
            done = 0
            while done < nbytes:
                n = fp.readinto(view[done:done + _CHUNK])
                if not n:
                    raise self.error(field, f"truncated: {done} of {nbytes} bytes")
                done += n
            return out


def _int(reader, field, value, lo, hi=None):
    if value.dtype.kind not in "iu":
        raise reader.error(field, f"expected an integer, got {value!r}")
    v = int(value)
    if v < lo or (hi is not None and v > hi):
        raise reader.error(field, f"expected an integer in [{lo}, {hi}], got {v}")
    return v


def _name(reader, field, choices, empty_ok=False):
    value = str(reader.small(field, "U", 0))
    if not (empty_ok and value == "") and value not in choices:
        raise reader.error(field, f"expected one of {tuple(choices)}, got {value!r}")
    return value


def _json_member(reader, field, kind=dict):
    raw = reader.small(field, "U", 0, limit=_JSON)
    try:
        value = json.loads(str(raw))
    except ValueError:
        raise reader.error(field, "damaged JSON") from None
    if not isinstance(value, kind):
        raise reader.error(field, f"expected a JSON {'object' if kind is dict else kind.__name__}")
    return value


def read(path, params_out=None):
    """The fields of a model file as plain values: a dict with ``layers`` (ints), ``activations`` (names),
    ``loss`` (name or None), ``dtype``, ``init``, ``params`` (the flat array), ``step_count``, ``metadata``
    (a dict, empty when the file has none), ``optimizer`` (None, or a dict with ``name``, ``options``,
    ``step_count`` and ``state``) and ``rng_state`` (None or a dict). ``path``: a path, a binary file object or
    a file descriptor (neither is closed). ``params_out(fields)``, when given, is called once every other field
    is checked and returns the buffer (1-d, C-contiguous, of the file's dtype and size) the parameters are read
    into. Raises ValueError naming the file and the field for anything that is not such a file."""
    fh, name, close = _open(path)
    try:
        try:
            return _read(_Reader(fh, name), params_out)
        except ValueError:
            raise
        except (TypeError, IndexError, OverflowError, AttributeError, KeyError, MemoryError, EOFError, OSError,
                UnicodeError, struct.error, zlib.error, zipfile.BadZipFile, NotImplementedError,
                RuntimeError) as exc:
            raise ValueError(f"load: {name} is damaged or not a fastmlp model file ({type(exc).__name__}: {exc})") \
                from None
    finally:
        if close:
            fh.close()


def _read(r, params_out):
    missing = [k for k in FIELDS if not r.has(k)]
    if missing:
        raise ValueError(f"load: {r.name} lacks {missing}")
    version = r.small("format_version", "iuf", 0)
    if version.dtype.kind == "f" or int(version) != FORMAT_VERSION:
        raise ValueError(f"load: {r.name}: format version {version} is not {FORMAT_VERSION}")
    dtype = _name(r, "dtype", DTYPES)
    raw_layers = r.small("layers", "iu", 1, length=validation.MAX_LAYERS + 1)
    try:
        layers = validation.layer_sizes([int(s) for s in raw_layers])
        count = validation.model_size(layers, dtype)
    except (TypeError, ValueError) as exc:
        raise r.error("layers", str(exc)) from None
    acts = r.small("activations", "U", 1, length=validation.MAX_LAYERS)
    acts = [str(a) for a in acts]
    if len(acts) != len(layers) - 1 or any(a not in ACTIVATIONS for a in acts):
        raise r.error("activations", f"expected {len(layers) - 1} names of {ACTIVATIONS}, got {acts}")
    loss = _name(r, "loss", LOSSES, empty_ok=True) or None
    try:
        validation.loss_output(loss, acts[-1])
    except ValueError as exc:
        raise r.error("loss", str(exc)) from None
    init = _name(r, "init", INITS)
    step_count = _int(r, "step_count", r.small("step_count", "iuf", 0), 0, 2 ** 64 - 1)
    fields = dict(file=r.name, layers=layers, activations=acts, loss=loss, dtype=dtype, init=init, step_count=step_count,
                  metadata=_metadata(r), optimizer=_optimizer(r, count, dtype),
                  rng_state=_json_member(r, RNG_STATE) if r.has(RNG_STATE) else None)

    def alloc():
        out = np.empty(count, dtype=dtype) if params_out is None else params_out(fields)
        if out.shape != (count,) or out.dtype != np.dtype(dtype) or not out.flags.c_contiguous:
            raise AssertionError("params_out: wrong buffer")
        return out

    params = r.array("params", (count,), np.dtype(dtype), alloc)
    if not _core._all_finite(params):
        raise r.error("params", "contains NaN or Inf")
    fields["params"] = params
    opt = fields["optimizer"]
    shape = None if opt is None else opt.pop("_state_shape")
    if shape is not None:
        opt["state"] = r.array(OPTIMIZER_STATE, shape, np.dtype(dtype), lambda: np.empty(shape, dtype=dtype))
        if not _core._all_finite(opt["state"]):
            raise r.error(OPTIMIZER_STATE, "contains NaN or Inf")
    return fields


def _optimizer(r, count, dtype):
    """The optimizer's record, its state's shape checked from the header (read after the parameters)."""
    if not r.has(OPTIMIZER):
        return None
    rec = _json_member(r, OPTIMIZER)
    name, options, steps = rec.get("name"), rec.get("options"), rec.get("step_count")
    if name not in OPTIMIZERS:
        raise r.error(OPTIMIZER, f"name: expected one of {OPTIMIZERS}, got {name!r}")
    if (not isinstance(options, dict) or len(options) > 16
            or any(not isinstance(k, str) or isinstance(v, bool) or not isinstance(v, (int, float))
                   for k, v in options.items())):
        raise r.error(OPTIMIZER, f"options: expected a JSON object of numbers, got {options!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or not 0 <= steps < 2 ** 64:
        raise r.error(OPTIMIZER, f"step_count: expected an integer >= 0, got {steps!r}")
    shape = None
    if r.has(OPTIMIZER_STATE):
        with r.zf.open(r.infos[OPTIMIZER_STATE]) as fp:
            shape, got = r._header(OPTIMIZER_STATE, fp)
        if len(shape) != 1 or shape[0] > 2 * count or got != np.dtype(dtype):
            raise r.error(OPTIMIZER_STATE, f"expected a 1-d {dtype} array of at most {2 * count} values, got "
                                           f"dtype {got} shape {shape}")
    return dict(name=name, options=options, step_count=steps, state=None, _state_shape=shape)


def _metadata(r):
    field = METADATA if r.has(METADATA) else (_LEGACY_METADATA if r.has(_LEGACY_METADATA) else None)
    if field is None:
        return {}
    return _json_member(r, field)


def read_metadata(path: Any) -> Dict[str, Any]:
    """The metadata dict saved with a model, read without loading the model.

    Reads only the small members: the parameters are checked from their header, never read.

    Parameters
    ----------
    path : str, os.PathLike, binary file object or int
        The model file, as ``fastmlp.load`` takes it.

    Returns
    -------
    dict
        The ``metadata`` given to ``MLP.save`` (``{}`` when it had none).

    Raises
    ------
    ValueError
        The file is not a fastmlp model file.

    Examples
    --------
    >>> import os, tempfile
    >>> import fastmlp
    >>> path = fastmlp.MLP([2, 2], seed=0).save(os.path.join(tempfile.mkdtemp(), "m.npz"), metadata={"v": 1})
    >>> fastmlp.read_metadata(path)
    {'v': 1}
    """
    try:
        return read(path, params_out=_NoParams.raise_)["metadata"]
    except _NoParams as stop:
        return stop.args[0]["metadata"]


class _NoParams(Exception):
    @staticmethod
    def raise_(fields):
        raise _NoParams(fields)


_BIT_GENERATORS = {c.__name__: c for c in (np.random.PCG64, np.random.PCG64DXSM, np.random.MT19937,
                                            np.random.Philox, np.random.SFC64)}


def generator(state, where):
    """The numpy Generator a model file's ``rng_state`` describes (ValueError naming ``where`` otherwise)."""
    cls = _BIT_GENERATORS.get(state.get("bit_generator"))
    if cls is None:
        raise ValueError(f"{where}: rng_state: unknown bit generator {state.get('bit_generator')!r}")
    bg = cls()
    try:
        if cls is np.random.MT19937 and isinstance(state.get("state"), dict):
            state = dict(state, state=dict(state["state"], key=np.asarray(state["state"].get("key"), np.uint32)))
        bg.state = state
    except (TypeError, ValueError, KeyError, OverflowError, AttributeError) as exc:
        raise ValueError(f"{where}: rng_state: not a {cls.__name__} state ({type(exc).__name__}: {exc})") from None
    return np.random.Generator(bg)
