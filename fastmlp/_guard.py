"""One model used from several threads: any number of readers (predictions) at a time, or one trainer; the other
side is refused with a RuntimeError -- never blocked, never raced. The guard itself is ``fastmlp._core.Guard`` (a
compiled class: the GIL makes each of its methods atomic, no lock needed), which also keeps the weights' version
and the packed-weights cache of ``forward`` (see its docstring); here are the decorators that take it."""
import functools
from typing import Any, Callable, TypeVar, cast

from ._core import Guard

__all__ = ["Guard", "reads", "writes", "uses_workspace"]

_F = TypeVar("_F", bound=Callable[..., Any])


def reads(method: _F) -> _F:
    """Run ``method`` as a reader of ``self._guard``."""
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        guard = self._guard
        guard.enter_read()
        try:
            return method(self, *args, **kwargs)
        finally:
            guard.exit_read()
    return cast(_F, wrapper)


def writes(method: _F) -> _F:
    """Run ``method`` as the writer of ``self._guard``; leaving it marks the weights changed (the packed cache of
    ``forward`` is rebuilt on the next prediction), also when the method raised."""
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        guard = self._guard
        guard.enter_write(method.__name__)
        try:
            return method(self, *args, **kwargs)
        finally:
            guard.exit_write()
    return cast(_F, wrapper)


def uses_workspace(method: _F) -> _F:
    """Run ``method`` as the writer of ``self._guard`` (it uses the network's shared workspace) that changes no
    weight: the packed cache of ``forward`` stays valid."""
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        guard = self._guard
        guard.enter_write(method.__name__)
        try:
            return method(self, *args, **kwargs)
        finally:
            guard.exit_write(False)
    return cast(_F, wrapper)
