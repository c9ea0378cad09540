"""scikit-learn's stochastic-optimizer protocol (``learning_rate``, ``iteration_ends``, ``trigger_stopping``:
the schedules and the adaptive rate) over a fastmlp optimizer object, which owns the state (velocity or moments)
and the step count and runs in C."""
from .. import optimizers


class Solver:
    """The ``_optimizer`` of a fitted estimator. ``sgd``: Nesterov momentum (``nesterovs_momentum``), heavy-ball
    momentum, or plain SGD when ``momentum == 0``; ``adam``: Adam. ``alpha`` enters as scikit-learn's L2 term
    (divided by each batch's weight and included in the loss: ``scale_penalty``)."""

    def __init__(self, est):
        self.kind = est.solver
        self.learning_rate_init = float(est.learning_rate_init)
        self.learning_rate = float(est.learning_rate_init)
        self.lr_schedule = est.learning_rate if est.solver == "sgd" else "constant"
        self.power_t = float(est.power_t)
        wd, lr = float(est.alpha), self.learning_rate
        if est.solver == "adam":
            self.rule = optimizers.Adam(lr=lr, beta1=float(est.beta_1), beta2=float(est.beta_2),
                                        eps=float(est.epsilon), weight_decay=wd, scale_penalty=True)
        else:
            if est.momentum > 0:
                cls = optimizers.Nesterov if est.nesterovs_momentum else optimizers.Momentum
                self.rule = cls(lr=lr, momentum=float(est.momentum), weight_decay=wd, scale_penalty=True)
            else:
                self.rule = optimizers.SGD(lr=lr, weight_decay=wd, scale_penalty=True)

    def bind(self, model):
        """Make the rule ``model``'s optimizer (state kept across ``partial_fit`` calls); (rule, C config)."""
        rule, cfg, _ = model._commit(model.loss, self.rule, {})
        return rule, cfg

    def apply(self):
        """The current learning rate into the rule, before an epoch."""
        self.rule.set_lr(self.learning_rate)

    def iteration_ends(self, time_step):
        """After an epoch: ``invscaling`` sets the rate to ``learning_rate_init / (t + 1) ** power_t``, t the
        samples seen."""
        if self.lr_schedule == "invscaling":
            self.learning_rate = float(self.learning_rate_init) / (time_step + 1) ** self.power_t

    def trigger_stopping(self, msg, verbose):
        """True to stop; ``adaptive`` divides the rate by 5 instead, until it falls to 1e-6."""
        if self.lr_schedule != "adaptive":
            if verbose:
                print(msg + " Stopping.")
            return True
        if self.learning_rate <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(msg + " Setting learning rate to %f" % self.learning_rate)
        return False
