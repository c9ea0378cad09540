# _core_guard.pxi: Guard, a model's readers-or-one-writer state, its weights' version and packed-weights cache --
# included by _core.pyx (one compiled module)
# ---------------------------------------------------------------------------------------------------------------
from cpython.pythread cimport PyThread_get_thread_ident
from cpython.ref cimport Py_REFCNT, PyObject


cdef class _ViewBase:
    """Exports a parameter buffer through ``__array_interface__``: numpy makes this object the base of the array
    built from it, so every view derived from that array keeps it alive (a memoryview would not do: numpy wraps
    it in a memoryview of its own)."""
    cdef readonly object params
    cdef dict _interface

    def __init__(self, params):
        self.params = params
        self._interface = dict(params.__array_interface__)

    @property
    def __array_interface__(self):
        return self._interface


cdef class Guard:
    """Readers or one writer (``fastmlp._guard`` has the decorators). The training thread may read (fit scores its
    validation data) and nest (partial_fit calls fit). The methods run under the GIL and call nothing that could
    release it, so each is atomic: no lock is needed.

    The guard also keeps the weights' **version**, bumped by every change of the model's weights that fastmlp
    makes (a writer leaving, ``touch``, a stepper's step), and the packed-weights cache of ``forward``: a
    ``Predictor`` built at some version, used while the version is unchanged **and no writable view of the
    weights is alive**. Views are handed out by ``views`` only: their memory is exported through one object, the
    guard's view base, which every numpy view derived from them keeps alive; its reference count is the
    outstanding views (a ``_ViewBase``). Handing views out bumps the version, so a write made through a view that is dropped before
    the next prediction is seen too."""
    cdef long _owner
    cdef bint _owned
    cdef Py_ssize_t _readers, _depth
    cdef readonly object _version  # uint64[1]: shared with the steppers, which bump it from C
    cdef uint64_t *_ver
    cdef object _base  # the view base: a _ViewBase of the parameter buffer (None before bind)
    cdef Py_ssize_t _base_refs
    cdef object _packed
    cdef uint64_t _packed_version

    def __cinit__(self):
        self._version = np.zeros(1, dtype=np.uint64)
        cdef uint64_t[::1] v = self._version
        self._ver = &v[0]
        self._owned = False

    def bind(self, params):
        """Export the views of ``params`` (the model's flat parameter buffer) through this guard."""
        self._base = _ViewBase(params)
        self._base_refs = Py_REFCNT(self._base)
        self.touch()

    cdef int _enter_read(self) except -1:
        if self._owned and self._owner != <long>PyThread_get_thread_ident():
            raise RuntimeError("the model is being trained in another thread: predict after that call "
                               "returns, or from model.predictor(), a frozen copy that any thread may use")
        self._readers += 1
        return 0

    cdef int _enter_write(self, what) except -1:
        cdef long me = <long>PyThread_get_thread_ident()
        if (self._owned and self._owner != me) or (not self._owned and self._readers):
            raise RuntimeError(f"{what}: the model is in use by another thread (training or predicting); "
                               f"a model trains in one thread at a time, and not while it predicts")
        self._owner, self._owned = me, True
        self._depth += 1
        return 0

    cdef void _exit_write(self, bint changed) noexcept:
        if changed:
            self._ver[0] += 1
        self._depth -= 1
        if not self._depth:
            self._owned = False

    def enter_read(self):
        self._enter_read()

    def exit_read(self):
        self._readers -= 1

    def enter_write(self, what):
        self._enter_write(what)

    def exit_write(self, changed=True):
        """Leave the writer's side; ``changed=False`` for a writer that changed no weight (loss_grad)."""
        self._exit_write(bool(changed))

    @property
    def version(self):
        """The weights' version: changes whenever fastmlp changes the weights or hands out writable views."""
        return self._ver[0]

    def touch(self):
        """The weights changed (or may change through views just handed out): the packed cache is stale."""
        self._ver[0] += 1
        self._packed = None

    def views_alive(self):
        """True while a view handed out by ``views`` (or one derived from it) exists."""
        return self._views_alive()

    cdef bint _views_alive(self):
        return self._base is not None and Py_REFCNT(self._base) != self._base_refs

    def views(self):
        """The parameter buffer as an array whose views (and their views) keep the view base alive; bumps the
        version (the caller may write through them)."""
        self.touch()
        return np.asarray(self._base)

    cdef Predictor _cached(self):
        if self._packed is not None and self._packed_version == self._ver[0] \
                and Py_REFCNT(self._base) == self._base_refs:
            return self._packed
        return None

    def packed(self, layers, activations, params):
        """A Predictor of the current weights: the cached one while valid, else a new one, kept for the next call
        unless writable views are alive (then every call packs afresh, as it must)."""
        p = self._cached()
        if p is not None:
            return p
        cdef uint64_t version = self._ver[0]  # taken before packing: a change meanwhile makes the result stale
        self._packed = None
        p = Predictor(layers, activations, params)
        if self._base is not None and Py_REFCNT(self._base) == self._base_refs:
            self._packed, self._packed_version = p, version
        return p

    def predict_plain(self, X, bint check_finite):
        """``self``'s cached predictor run on X when the cache is valid and X a plain input (a 2-d C-contiguous
        aligned array of the predictor's dtype and width); None otherwise. Under the read guard."""
        cdef Predictor p
        self._enter_read()
        try:
            p = self._cached()
            if p is None or not p._plain(X):
                return None
            return p._run(X, check_finite)
        finally:
            self._readers -= 1


cdef bint _guard_views_alive(object guard):
    """``guard.views_alive()`` without a Python method call (the steppers' bounds memo asks on every step), for code
    included before the class."""
    return (<Guard>guard)._views_alive()
