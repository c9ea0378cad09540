"""Learning-rate schedules, evaluated once per epoch: ``lr = schedule(epoch, lr0, monitored_loss)``."""
import math

from .vocabulary import SCHEDULES


class Constant:
    """The constant rate: ``lr0`` every epoch (``lr_schedule="constant"``).

    Examples
    --------
    >>> from fastmlp import schedules
    >>> schedules.Constant()(5, 0.1)
    0.1
    """

    def __call__(self, epoch, lr0, metric=None):
        return lr0


class Step:
    """Step decay: ``lr0 * gamma ** (epoch // step_size)`` (``lr_schedule="step"``).

    Parameters
    ----------
    step_size : int, default 10
        Epochs per step, >= 1.
    gamma : float, default 0.5
        The factor per step, in (0, 1].

    Raises
    ------
    ValueError
        An argument is out of range.

    Examples
    --------
    >>> from fastmlp import schedules
    >>> schedules.Step(step_size=2, gamma=0.5)(5, 0.1)     # 0.1 * 0.5 ** 2
    0.025
    """

    def __init__(self, step_size=10, gamma=0.5):
        if step_size < 1 or not 0 < gamma <= 1:
            raise ValueError("Step: step_size >= 1 and 0 < gamma <= 1")
        self.step_size, self.gamma = step_size, gamma

    def __call__(self, epoch, lr0, metric=None):
        return lr0 * self.gamma ** (epoch // self.step_size)


class Exponential:
    """Exponential decay: ``lr0 * gamma ** epoch`` (``lr_schedule="exponential"``).

    Parameters
    ----------
    gamma : float, default 0.95
        The factor per epoch, in (0, 1].

    Raises
    ------
    ValueError
        ``gamma`` is out of range.

    Examples
    --------
    >>> from fastmlp import schedules
    >>> schedules.Exponential(gamma=0.5)(3, 1.0)
    0.125
    """

    def __init__(self, gamma=0.95):
        if not 0 < gamma <= 1:
            raise ValueError("Exponential: 0 < gamma <= 1")
        self.gamma = gamma

    def __call__(self, epoch, lr0, metric=None):
        return lr0 * self.gamma ** epoch


class InvScaling:
    """Inverse scaling: ``lr0 / (epoch + 1) ** power`` (scikit-learn's "invscaling", per epoch).

    Parameters
    ----------
    power : float, default 0.5
        The exponent, >= 0.

    Raises
    ------
    ValueError
        ``power`` is negative.

    Examples
    --------
    >>> from fastmlp import schedules
    >>> schedules.InvScaling(power=0.5)(3, 1.0)
    0.5
    """

    def __init__(self, power=0.5):
        if power < 0:
            raise ValueError("InvScaling: power >= 0")
        self.power = power

    def __call__(self, epoch, lr0, metric=None):
        return lr0 / (epoch + 1) ** self.power


class ReduceOnPlateau:
    """Multiply the rate by ``factor`` when the monitored loss stops improving (``lr_schedule="plateau"``).

    Parameters
    ----------
    factor : float, default 0.5
        The factor, in (0, 1).
    patience : int, default 5
        Epochs without an improvement of ``min_delta`` before the rate is reduced, >= 1.
    min_delta : float, default 0.0
        The improvement that counts.
    min_lr : float, default 0.0
        The rate never goes below this.

    Raises
    ------
    ValueError
        ``factor`` or ``patience`` is out of range.

    Examples
    --------
    >>> from fastmlp import schedules
    >>> plateau = schedules.ReduceOnPlateau(factor=0.5, patience=1)
    >>> [plateau(epoch, 1.0, loss) for epoch, loss in enumerate([1.0, 0.5, 0.5, 0.5])]
    [1.0, 1.0, 0.5, 0.25]
    """

    def __init__(self, factor=0.5, patience=5, min_delta=0.0, min_lr=0.0):
        if not 0 < factor < 1 or patience < 1:
            raise ValueError("ReduceOnPlateau: 0 < factor < 1 and patience >= 1")
        self.factor, self.patience, self.min_delta, self.min_lr = factor, patience, min_delta, min_lr
        self.scale, self.best, self.wait = 1.0, math.inf, 0

    def __call__(self, epoch, lr0, metric=None):
        if epoch == 0:
            self.scale, self.best, self.wait = 1.0, math.inf, 0
        elif metric is not None:
            if metric < self.best - self.min_delta:
                self.best, self.wait = metric, 0
            else:
                self.wait += 1
                if self.wait >= self.patience:
                    self.scale *= self.factor
                    self.wait = 0
        return max(lr0 * self.scale, self.min_lr)


NAMES = dict(zip(SCHEDULES, (Constant, Step, Exponential, InvScaling, ReduceOnPlateau)))


def get(schedule):
    """A schedule from its name, or the object itself when it is callable.

    Parameters
    ----------
    schedule : str or callable
        "constant", "step", "exponential", "invscaling", "plateau", or a callable
        ``(epoch, lr0, monitored_loss) -> lr``.

    Returns
    -------
    callable
        A new schedule object of that name (its defaults), or ``schedule`` itself.

    Raises
    ------
    ValueError
        An unknown name.
    TypeError
        Neither a name nor a callable.

    Examples
    --------
    >>> from fastmlp import schedules
    >>> schedules.get("step")
    <fastmlp.schedules.Step object at 0x...>
    """
    if isinstance(schedule, str):
        if schedule not in NAMES:
            raise ValueError(f"lr_schedule: expected one of {tuple(NAMES)} or a callable, got {schedule!r}")
        return NAMES[schedule]()
    if callable(schedule):
        return schedule
    raise TypeError(f"lr_schedule: expected a name or a callable, got {type(schedule).__name__}")
