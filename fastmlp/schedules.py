"""Learning-rate schedules, evaluated once per epoch: ``lr = schedule(epoch, lr0, monitored_loss)``."""
import math

from .vocabulary import SCHEDULES


class Constant:
    def __call__(self, epoch, lr0, metric=None):
        return lr0


class Step:
    """lr0 * gamma ** (epoch // step_size)."""

    def __init__(self, step_size=10, gamma=0.5):
        if step_size < 1 or not 0 < gamma <= 1:
            raise ValueError("Step: step_size >= 1 and 0 < gamma <= 1")
        self.step_size, self.gamma = step_size, gamma

    def __call__(self, epoch, lr0, metric=None):
        return lr0 * self.gamma ** (epoch // self.step_size)


class Exponential:
    """lr0 * gamma ** epoch."""

    def __init__(self, gamma=0.95):
        if not 0 < gamma <= 1:
            raise ValueError("Exponential: 0 < gamma <= 1")
        self.gamma = gamma

    def __call__(self, epoch, lr0, metric=None):
        return lr0 * self.gamma ** epoch


class InvScaling:
    """lr0 / (epoch + 1) ** power (scikit-learn's 'invscaling', per epoch)."""

    def __init__(self, power=0.5):
        if power < 0:
            raise ValueError("InvScaling: power >= 0")
        self.power = power

    def __call__(self, epoch, lr0, metric=None):
        return lr0 / (epoch + 1) ** self.power


class ReduceOnPlateau:
    """Multiply the rate by ``factor`` when the monitored loss has not improved by ``min_delta`` for ``patience``
    epochs (never below ``min_lr``)."""

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
    """A schedule from its name, or the object itself when it is callable."""
    if isinstance(schedule, str):
        if schedule not in NAMES:
            raise ValueError(f"lr_schedule: expected one of {tuple(NAMES)} or a callable, got {schedule!r}")
        return NAMES[schedule]()
    if callable(schedule):
        return schedule
    raise TypeError(f"lr_schedule: expected a name or a callable, got {type(schedule).__name__}")
