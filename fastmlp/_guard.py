"""One model used from several threads: any number of readers (predictions) at a time, or one trainer; the other
side is refused with a RuntimeError -- never blocked, never raced."""
import functools
import threading
from typing import Any, Callable, Optional, TypeVar, cast

_F = TypeVar("_F", bound=Callable[..., Any])


class Guard:
    """Readers or one writer. The training thread may read (fit scores its validation data) and nest
    (partial_fit calls fit)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._readers = 0
        self._owner: Optional[int] = None
        self._depth = 0

    def enter_read(self) -> None:
        with self._lock:
            if self._owner is not None and self._owner != threading.get_ident():
                raise RuntimeError("the model is being trained in another thread: predict after that call "
                                   "returns, or from model.predictor(), a frozen copy that any thread may use")
            self._readers += 1

    def exit_read(self) -> None:
        with self._lock:
            self._readers -= 1

    def enter_write(self, what: str) -> None:
        me = threading.get_ident()
        with self._lock:
            if (self._owner is not None and self._owner != me) or (self._owner is None and self._readers):
                raise RuntimeError(f"{what}: the model is in use by another thread (training or predicting); "
                                   f"a model trains in one thread at a time, and not while it predicts")
            self._owner = me
            self._depth += 1

    def exit_write(self) -> None:
        with self._lock:
            self._depth -= 1
            if not self._depth:
                self._owner = None


def reads(method: _F) -> _F:
    """Run ``method`` as a reader of ``self._guard``."""
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        self._guard.enter_read()
        try:
            return method(self, *args, **kwargs)
        finally:
            self._guard.exit_read()
    return cast(_F, wrapper)


def writes(method: _F) -> _F:
    """Run ``method`` as the writer of ``self._guard``."""
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        self._guard.enter_write(method.__name__)
        try:
            return method(self, *args, **kwargs)
        finally:
            self._guard.exit_write()
    return cast(_F, wrapper)
