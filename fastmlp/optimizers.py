"""Optimizer objects: an update rule, its options and the state it owns for its whole life.

An optimizer is bound to one network (its parameter count and dtype) the first time it trains it; from then on
its state buffers (momentum velocity, Adam's moments) and its step counter are the ones that ``fit``,
``train_step``, steppers and pickling all see. A model that switches to another optimizer *retires* the old
one: steppers made with it refuse to run rather than update the weights with a stale state.

The state array (``optimizer.state``) is read by the C steps; to change it, use ``snapshot``/``restore`` (or
``reset``), not an in-place write: a stepper or ``train_step`` takes the state's largest value for its overflow
bound from the step before it, and only these methods tell it to scan the state again.
"""
import copy
import weakref
from typing import Dict, Optional, Type

import numpy as np

from . import _core, validation
from .vocabulary import OPTIMIZERS


class Optimizer:
    """Base class: ``lr``, ``weight_decay`` (L2) and ``l1`` on the weights (never the biases).

    scale_penalty: False (default) adds ``weight_decay*W + l1*sign(W)`` to each batch's gradient, as PyTorch does;
    True divides both by the batch's total sample weight (its row count without weights) and includes the
    penalty ``(0.5*weight_decay*||W||^2 + l1*|W|_1) / S`` in the batch loss: scikit-learn's ``alpha``.

    Parameters
    ----------
    lr : float, default 0.01
        The learning rate.
    weight_decay : float, default 0.0
        The L2 penalty on the weights.
    l1 : float, default 0.0
        The L1 penalty on the weights.
    scale_penalty : bool, default False
        Divide the penalties by the batch's total sample weight (above).

    Examples
    --------
    >>> import fastmlp
    >>> opt = fastmlp.SGD(lr=0.1, weight_decay=1e-4)
    >>> isinstance(opt, fastmlp.optimizers.Optimizer), opt.lr, opt.weight_decay
    (True, 0.1, 0.0001)
    """

    name: Optional[str] = None  # one of vocabulary.OPTIMIZERS

    def __init__(self, lr: float = 0.01, weight_decay: float = 0.0, l1: float = 0.0,
                 scale_penalty: bool = False) -> None:
        self.lr = lr
        self.weight_decay = weight_decay
        self.l1 = l1
        # a flag; 0.0 / 1.0 as a model file stores every option
        self.scale_penalty = validation.flag("scale_penalty", scale_penalty if isinstance(
            scale_penalty, (bool, np.bool_)) or scale_penalty not in (0, 1) else bool(scale_penalty))
        self._config = None   # _core.OptimConfig: the options checked once, as C takes them
        self._config_options = None  # the options it was made from (an option set later makes a new one)
        self.state = None     # the state vector (allocated by bind)
        self._counter = np.zeros(1, dtype=np.uint64)  # updates applied: Adam's step number
        self._alive = np.ones(1, dtype=np.uint8)      # 0 once its model has replaced it: its steppers stop
        self._owner = None    # weakref to the model training with it (one model at a time)
        self._new_bounds()

    def _new_bounds(self):
        """Forget what the steppers know of the weights' and state's largest values."""
        # [valid, max |W|, max |s0|, max |s1|] after the last step of a stepper or train_step, and the model's
        # weights version it holds for (the C step's bounds memo: the next step then scans only the gradient).
        # Every method here that writes the state or gives it to another model invalidates it, in place (the
        # steppers hold it); a copy of the optimizer starts its own.
        if self.__dict__.get("_bounds") is None:
            self._bounds = np.zeros(4)
            self._bounds_version = np.zeros(1, dtype=np.uint64)
        self._bounds[0] = 0.0

    def options(self):
        """The optimizer's options.

        Returns
        -------
        dict
            The options as keyword arguments of ``_core.OptimConfig`` (``scale_penalty`` only when it is on).
        """
        opts = dict(lr=self.lr, weight_decay=self.weight_decay, l1=self.l1)
        if self.scale_penalty:
            opts["scale_penalty"] = True
        return opts

    def config(self, dtype):
        """The checked C configuration for ``dtype``: made again only when an option or the dtype changed."""
        options = self.options()
        if self._config is None or self._config.dtype != dtype or self._config_options != options:
            self._config = _core.OptimConfig(self.name, dtype, **options)
            self._config_options = options
        return self._config

    def check_free(self, model):
        """Refuse an optimizer another live model trains with: their step counts and state would be one."""
        owner = None if self._owner is None else self._owner()
        if owner is not None and owner is not model:
            raise ValueError(f"optimizer: {self!r} belongs to another model; give this one its own optimizer "
                             f"(a new object, or copy.deepcopy of that one)")

    def adopt(self, model):
        """Become ``model``'s optimizer (see ``check_free``); steppers made before with this object stay
        stopped."""
        self.check_free(model)
        self._owner = weakref.ref(model)
        self._alive = np.ones(1, dtype=np.uint8)
        self._new_bounds()

    def bind(self, net):
        """Make this optimizer's state fit ``net`` (a ``_core._Net``): zeros on first use; kept afterwards."""
        cfg = self.config(net.dtype)
        size = net.state_size(cfg)
        if self.state is None or self.state.shape[0] != size or self.state.dtype != net.dtype:
            if self.state is not None and self.state.shape[0]:
                raise ValueError(f"{self!r} is bound to another network (state of {self.state.shape[0]} "
                                 f"{self.state.dtype} values, this one needs {size} {net.dtype})")
            self.state = _core._aligned_empty(size, net.dtype, zero=True)  # on cache lines, as the parameters
            self._new_bounds()
        return cfg

    def set_options(self, options, dtype):
        """Carry on with new ``options`` (a dict as ``options()`` gives), keeping the state; checked before
        anything changes. Returns the C configuration."""
        if options != self.options() or self._config is None or self._config.dtype != dtype:
            cfg = _core.OptimConfig(self.name, dtype, **options)
            self.__dict__.update(options)
            self._config, self._config_options = cfg, dict(options)
        return self._config

    def set_lr(self, lr):
        """Change the learning rate (schedules do, once per epoch); checked as the constructor checks it."""
        if lr == self.lr and self._config is not None:
            return
        if self._config is not None:
            self._config.lr = lr  # checked here, before anything changes
            self.lr = self._config.lr
            self._config_options = self.options()
        else:
            self.lr = validation.real("lr", lr, 0.0)

    @property
    def step_count(self) -> int:
        """Updates applied with this optimizer (Adam's step number)."""
        return int(self._counter[0])

    @step_count.setter
    def step_count(self, value: int) -> None:
        self._counter[0] = validation.integer("step_count", value, 0)

    def reset(self):
        """Zero the state and the step counter (fresh weights start a fresh optimizer)."""
        if self.state is not None:
            self.state[...] = 0
        self._counter[0] = 0
        self._new_bounds()

    def retire(self):
        """Mark this optimizer as replaced: steppers made with it refuse to run, and it is free for another
        model."""
        self._alive[0] = 0
        self._owner = None

    def revive(self, model):
        """Undo ``retire`` (a refused call puts its model's optimizer back, steppers included)."""
        self._alive[0] = 1
        self._owner = weakref.ref(model)

    def snapshot(self):
        """A copy of the state and counter (``restore`` puts them back), e.g. around an epoch that may diverge."""
        return (None if self.state is None else self.state.copy(), int(self._counter[0]))

    def restore(self, snap):
        state, count = snap
        if state is not None:
            self.state[...] = state
        self._counter[0] = count
        self._new_bounds()

    def __getstate__(self):
        d = self.__dict__.copy()
        d["_config"] = d["_config_options"] = None  # rebuilt from the options on first use
        d["_owner"] = None  # the model that unpickles it adopts it again
        d.pop("_bounds", None), d.pop("_bounds_version", None)  # a copy knows nothing of the weights' bounds
        for k in ("state", "_counter", "_alive"):
            d[k] = None if d[k] is None else d[k].copy()
        return d

    def __setstate__(self, d):
        self.__dict__.update(d)
        # pickle protocol 5 may hand back read-only or unaligned buffers: the C core writes into these
        for k in ("state", "_counter", "_alive"):
            if self.__dict__[k] is not None:
                self.__dict__[k] = _core._aligned_copy(self.__dict__[k])
        self._bounds = None  # its own memo (copy.copy in __deepcopy__ shared the original's)
        self._new_bounds()

    def __deepcopy__(self, memo):
        new = copy.copy(self)
        new.__setstate__(self.__getstate__())
        return new

    def __repr__(self):
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options().items())
        return f"{type(self).__name__}({opts})"


class SGD(Optimizer):
    """Plain stochastic gradient descent: ``W -= lr * (dW + weight_decay*W + l1*sign(W))``.

    An optimizer owns its state and step counter for its whole life: ``model.fit(X, y, optimizer=opt)`` trains
    with exactly this object, and ``fit``, ``train_step``, steppers and pickling all see its one state.

    Parameters
    ----------
    lr : float, default 0.01
        The learning rate, >= 0.
    weight_decay : float, default 0.0
        The L2 penalty on the weights (never the biases), >= 0.
    l1 : float, default 0.0
        The L1 penalty on the weights, >= 0.
    scale_penalty : bool, default False
        False adds ``weight_decay*W + l1*sign(W)`` to each batch's gradient, as PyTorch does; True divides both by
        the batch's total sample weight and includes the penalty in the batch loss: scikit-learn's ``alpha``.

    Examples
    --------
    >>> import numpy as np
    >>> import fastmlp
    >>> opt = fastmlp.SGD(lr=0.05)
    >>> model = fastmlp.MLP([2, 3, 2], seed=0)
    >>> _ = model.fit(np.ones((4, 2)), np.array([0, 1, 0, 1]), epochs=2, batch_size=2, optimizer=opt)
    >>> model.optimizer_ is opt, opt.step_count
    (True, 4)
    """


class Momentum(Optimizer):
    """SGD with (heavy-ball) momentum, as in PyTorch: ``v = momentum*v + g``, ``W -= lr*v``.

    ``g = dW + weight_decay*W + l1*sign(W)``; the velocity v is the optimizer's state.

    Parameters
    ----------
    lr : float, default 0.01
        The learning rate, >= 0.
    momentum : float, default 0.9
        In [0, 1).
    weight_decay : float, default 0.0
        The L2 penalty on the weights (never the biases), >= 0.
    l1 : float, default 0.0
        The L1 penalty on the weights, >= 0.
    scale_penalty : bool, default False
        False adds ``weight_decay*W + l1*sign(W)`` to each batch's gradient, as PyTorch does; True divides both by
        the batch's total sample weight and includes the penalty in the batch loss: scikit-learn's ``alpha``.

    Examples
    --------
    >>> import fastmlp
    >>> fastmlp.Momentum(lr=0.1, momentum=0.8)
    Momentum(lr=0.1, weight_decay=0.0, l1=0.0, momentum=0.8)
    """

    def __init__(self, lr: float = 0.01, momentum: float = 0.9, weight_decay: float = 0.0,
                 l1: float = 0.0, scale_penalty: bool = False) -> None:
        super().__init__(lr, weight_decay, l1, scale_penalty)
        self.momentum = momentum

    def options(self):
        """The optimizer's options.

        Returns
        -------
        dict
            ``lr``, ``weight_decay``, ``l1`` and ``momentum`` (``scale_penalty`` only when it is on).
        """
        return dict(super().options(), momentum=self.momentum)


class Nesterov(Momentum):
    """SGD with Nesterov momentum, as in PyTorch: ``v = momentum*v + g``, ``W -= lr*(g + momentum*v)``.

    Parameters
    ----------
    lr : float, default 0.01
        The learning rate, >= 0.
    momentum : float, default 0.9
        In (0, 1).
    weight_decay : float, default 0.0
        The L2 penalty on the weights (never the biases), >= 0.
    l1 : float, default 0.0
        The L1 penalty on the weights, >= 0.
    scale_penalty : bool, default False
        False adds ``weight_decay*W + l1*sign(W)`` to each batch's gradient, as PyTorch does; True divides both by
        the batch's total sample weight and includes the penalty in the batch loss: scikit-learn's ``alpha``.

    Examples
    --------
    >>> import fastmlp
    >>> fastmlp.Nesterov(momentum=0.9).name
    'nesterov'
    """


class Adam(Optimizer):
    """Adam (Kingma & Ba, bias-corrected, as in PyTorch) with L2/L1 terms added to the gradient.

    The moments m and v are the optimizer's state; its step counter is Adam's step number.

    Parameters
    ----------
    lr : float, default 0.001
        The learning rate, >= 0.
    beta1 : float, default 0.9
        The first moment's decay, in [0, 1).
    beta2 : float, default 0.999
        The second moment's decay, in [0, 1).
    eps : float, default 1e-8
        Added to the root of the second moment, > 0.
    weight_decay : float, default 0.0
        The L2 penalty on the weights (never the biases), >= 0.
    l1 : float, default 0.0
        The L1 penalty on the weights, >= 0.
    scale_penalty : bool, default False
        True: scikit-learn's ``alpha`` convention (see ``SGD``).

    Examples
    --------
    >>> import numpy as np
    >>> import fastmlp
    >>> opt = fastmlp.Adam(lr=0.003)
    >>> model = fastmlp.MLP([2, 3, 2], seed=0)
    >>> _ = model.fit(np.ones((4, 2)), np.array([0, 1, 0, 1]), epochs=1, batch_size=4, optimizer=opt)
    >>> opt.state.shape == (2 * model.n_params,), opt.step_count      # the moments m and v
    (True, 1)
    """

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                 weight_decay: float = 0.0, l1: float = 0.0, scale_penalty: bool = False) -> None:
        super().__init__(lr, weight_decay, l1, scale_penalty)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def options(self):
        """The optimizer's options.

        Returns
        -------
        dict
            ``lr``, ``weight_decay``, ``l1``, ``beta1``, ``beta2`` and ``eps`` (``scale_penalty`` only when on).
        """
        return dict(super().options(), beta1=self.beta1, beta2=self.beta2, eps=self.eps)


BY_NAME: Dict[str, Type[Optimizer]] = dict(zip(OPTIMIZERS, (SGD, Momentum, Nesterov, Adam)))
for _name, _cls in BY_NAME.items():  # each rule's name is the one in fastmlp.vocabulary
    _cls.name = _name


def options_for(optimizer, lr=0.01, momentum=0.9, weight_decay=0.0, l1=0.0, beta1=0.9, beta2=0.999, eps=1e-8):
    """The options rule ``optimizer`` (a name) takes from these, as its ``options()`` would list them."""
    validation.choice("optimizer", optimizer, OPTIMIZERS)
    opts = dict(lr=lr, weight_decay=weight_decay, l1=l1)
    cls = BY_NAME[optimizer]
    if cls is Adam:
        opts.update(beta1=beta1, beta2=beta2, eps=eps)
    elif issubclass(cls, Momentum):
        opts.update(momentum=momentum)
    return opts


#: what each rule does not take, and which rules take it (``check_given``)
_TAKEN_BY = {"momentum": ("momentum", "nesterov"), "beta1": ("adam",), "beta2": ("adam",), "eps": ("adam",)}


def check_given(optimizer, given):
    """Refuse an option given explicitly (``given``: the names) that the rule ``optimizer`` would ignore, e.g.
    ``momentum`` with plain ``"sgd"``: an accepted argument must change what happens."""
    for name in given:
        takers = _TAKEN_BY.get(name)
        if takers is not None and optimizer not in takers:
            raise ValueError(f"{name}: optimizer={optimizer!r} does not use it (it would be ignored); "
                             f"{name} belongs to optimizer={' or '.join(map(repr, takers))}")


def restore_optimizer(model, f, where):
    """Give ``model`` (just read by ``fastmlp.load``) the optimizer recorded in the model file ``f``, every field
    checked (ValueError naming ``where`` and the field)."""
    rec = f["optimizer"]
    if rec["step_count"] != f["step_count"]:
        raise ValueError(f"{where}: optimizer: step_count {rec['step_count']} differs from the model's "
                         f"{f['step_count']}")
    try:
        opt = BY_NAME[rec["name"]](**rec["options"])
        opt.config(model.dtype)  # checks every option
        opt.bind(model._c_net())
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: optimizer: {exc}") from None
    state = rec["state"]
    size = opt.state.shape[0]
    if (0 if state is None else state.shape[0]) != size:
        raise ValueError(f"{where}: optimizer_state: {rec['name']} on this network keeps {size} values, the file "
                         f"has {0 if state is None else state.shape[0]}")
    if isinstance(opt, Adam) and size and np.any(state[size // 2:] < 0):
        # the second half is Adam's second moment v (state = [m, v]): a negative v turns weights into NaN
        raise ValueError(f"{where}: optimizer_state: Adam's second moments must be >= 0")
    if size:
        opt.state = _core._aligned_copy(state)
    opt.step_count = rec["step_count"]
    opt.adopt(model)
    model.optimizer_ = opt
