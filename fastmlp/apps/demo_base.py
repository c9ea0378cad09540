"""The demo's building blocks, shared by ``fastmlp.apps.demo`` and the sections in other modules
(``demo_seeds``): ``Row`` (one line of the results table), ``Context`` (seed, --quick, progress bars, plots),
``DemoError`` and small measuring helpers."""
import os
import sys
import time
from typing import Optional
from dataclasses import dataclass, field

import numpy as np

#: The source documents (``../shared/seeds``): number -> what it is about, for the rows' "src" column.
SOURCES = {"000": "ReLU nets as piecewise-linear functions", "001": "backpropagation on XOR",
           "002": "the derivative with a step of 0.001", "003": "deep ReLU net -> 3-layer net, SHAP",
           "004": "slides: ideal p, backward pass, MNIST"}


class DemoError(Exception):
    """A demo cannot run as asked (missing optional extra or data): the CLI prints it and exits with status 2."""


@dataclass
class Row:
    section: str
    name: str
    loss: Optional[float] = None  # the final training loss (the model's own loss, without penalty terms)
    result: str = ""            # the measured metric, in words
    reference: str = ""         # what the source reports
    note: str = ""              # a measured observation (loss jumps, linear pieces, breakpoints)
    seconds: float = 0.0
    values: dict = field(default_factory=dict)
    source: str = ""            # the source document, "000" ... "004" (SOURCES)
    verdict: str = ""           # holds / does not hold / holds in k of n seeds (with a few words)
    setup: str = ""             # how the run differs from the source's setup ("as the seed: ...")


class Context:
    """Settings shared by the sections: seed, --quick sizes, progress bars, plot folder and MNIST folder.

    ``figures=True`` keeps every still figure a section makes (``figures``: name -> how to draw it) for
    ``figure(name, fig)`` to draw later onto a figure of the caller's (the gallery's pyplot figures)."""

    def __init__(self, seed=0, quick=False, quiet=False, plot_dir=None, data_dir=None, stream=None, figures=False):
        self.seed, self.quick, self.quiet = seed, quick, quiet
        self.plot_dir, self.data_dir = plot_dir, data_dir
        self.stream = sys.stderr if stream is None else stream
        self.plots = []      # paths of the PNGs written
        self.keep_figures = bool(figures)
        self.figures = {}    # name -> (plot function, args, keyword arguments), with figures=True
        self._tqdm = None
        if not quiet:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                tqdm = None
            self._tqdm = tqdm
        self._count = 0

    def train(self, label, model, X, y, epochs, callbacks=(), **fit):
        """``model.fit`` with a progress bar labelled ``label``; returns (history, seconds)."""
        self._count += 1
        bar = None
        cbs = list(callbacks)
        if self._tqdm is not None:
            bar = self._tqdm(total=epochs, desc=f"[{self._count}] {label}", unit="epoch", leave=False,
                             file=self.stream, dynamic_ncols=True, mininterval=0.25)

            def tick(model, epoch, logs):
                bar.update(1)
                bar.set_postfix_str(f"loss {logs['loss']:.4g}", refresh=False)
            cbs.append(tick)
        elif not self.quiet:
            print(f"  [{self._count}] {label} ...", file=self.stream, flush=True)
        t0 = time.perf_counter()
        try:
            history = model.fit(X, y, epochs=epochs, callbacks=cbs, **fit)
        finally:
            if bar is not None:
                bar.close()
        return history, time.perf_counter() - t0

    @property
    def wants_figures(self):
        """Whether the sections should record what their figures need (--plot, or ``figures=True``)."""
        return bool(self.plot_dir) or self.keep_figures

    def plot(self, name, func, *args, ext=".png", **kwargs):
        """Write ``<plot_dir>/<name><ext>`` (a PNG; ``ext=".gif"`` for an animation) with ``func(*args, path=...,
        **kwargs)`` (a function of ``fastmlp.apps.plots``) when --plot was given; with ``figures=True`` keep a still
        figure's recipe for ``figure(name)``."""
        if self.keep_figures and ext == ".png":
            self.figures[name] = (func, args, kwargs)
        if not self.plot_dir:
            return None
        os.makedirs(self.plot_dir, exist_ok=True)
        path = os.path.join(self.plot_dir, name + ext)
        func(*args, path=path, **kwargs)
        self.plots.append(path)
        return path

    def figure(self, name, fig=None):
        """Draw the kept figure ``name`` (``figures=True``) onto ``fig`` (e.g. ``matplotlib.pyplot.figure()``; None:
        a new pyplot-free figure) and return the figure."""
        if name not in self.figures:
            raise KeyError(f"no figure {name!r} kept; kept: {', '.join(self.figures) or 'none (figures=False?)'}")
        func, args, kwargs = self.figures[name]
        return func(*args, fig=fig, **kwargs)


def _mse(model, X, y):
    return float(np.mean((model.forward(X).astype(np.float64) - y) ** 2))


def _accuracy(model, X, y):
    """Fraction of rows whose largest output is the label (for one-hot squared-error nets too, where score is R^2)."""
    return float(np.mean(np.argmax(model.forward(X), 1) == y))


def _best_of(ctx, label, restarts, make, X, y, epochs, **fit):
    """Train ``make(k)`` for k < restarts and keep the model of lowest training MSE: (model, train MSE, history,
    total seconds)."""
    best, total = None, 0.0
    for k in range(restarts):
        model = make(k)
        hist, dt = ctx.train(f"{label} (restart {k + 1}/{restarts})", model, X, y, epochs, **fit)
        total += dt
        m = _mse(model, X, y)
        if best is None or m < best[1]:
            best = (model, m, hist)
    return best + (total,)


def _name(layers):
    return "-".join(map(str, layers))


def describe(rows):
    """The rows as text, one block per row (the gallery prints it): the run and its setup, what the source says, the
    result and what was measured, and the verdict."""
    out = []
    for r in rows:
        head = f"[{r.source or '-'}] {r.name}" + (f"  (setup: {r.setup})" if r.setup and r.setup != "-" else "")
        lines = [("source says", r.reference), ("result", r.result), ("measured", r.note),
                 ("verdict", r.verdict or "-")]
        out.append("\n".join([head] + [f"    {k + ':':<13}{v}" for k, v in lines if v]))
    return "\n\n".join(out)


def holds_in(flags):
    """``"holds"`` / ``"does not hold"`` for one result, ``"holds in k of n seeds"`` for several."""
    flags = [bool(f) for f in flags]
    if len(flags) == 1:
        return "holds" if flags[0] else "does not hold"
    return f"holds in {sum(flags)} of {len(flags)} seeds"
