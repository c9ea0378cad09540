"""``fastmlp demo``: the experiments of the source documents, trained on built-in data, ending in a results table.

Sections (``fastmlp demo [xor|fit|surface|sincos|digits|derivatives|mnist|regions|shap|all] ...``; none named:
every section but the named ones, mnist, regions and shap):

* xor (source 001): sigmoid nets with 3 and 50 hidden units; the 50-unit net at a large learning rate, whose loss
  jumps, and the cures (learning-rate decay, stronger L2), each judged from its measured loss curve.
* fit (source 000): f(x) = sin(2x) + cos(x) + x by shallow 1-12-1, 1-32-1, 1-64-1 and deep 1-6-6-1 ReLU nets, with
  the test MSE and the exact number of linear pieces (``fastmlp.regions.pieces_1d``).
* surface (source 000): f(x1, x2) on a 100k-point grid by 2-12-1, 2-32-1, 2-64-1, 2-6-6-1, against the
  notebooks' train MSE.
* sincos (source 000): one 1-3-2 net for (sin x, cos x), whose two outputs break at the same x.
* regions (sources 000, 001): partitions that evolve during training, recorded exactly every few epochs
  (``fastmlp.apps.regions_demo``; with --plot: animated GIFs).
* digits / mnist (source 004): a linear model against a 3-layer ReLU net, with the +-5 "ideal p" squared error and
  with softmax cross-entropy (``fastmlp.apps.demo_slides``).
* latent (source 000): the 1-2-10-1 net whose ten second-layer units fold the (h1, h2) plane (``demo_latent``).
* derivatives (source 002) and shap (source 003): ``fastmlp.apps.demo_seeds`` and ``demo_shap``.

Every function ``xor(ctx)``, ``fit(ctx)``, ... returns a list of ``Row`` with the measured numbers in
``row.values``; ``run(sections, ...)`` runs several and returns the rows; ``format_table(rows)`` is the table. The
sections' experiments are functions of their modules (``demo_xor``, ``demo_fits``, ``demo_latent``, ``demo_seeds``,
``demo_shap``, ``demo_slides``) that the gallery (``docs/gallery``) calls one by one; a ``Context(figures=True)``
keeps their figures for ``ctx.figure(name, fig)`` to draw.
"""
import sys
import time

from . import plots, regions_demo   # plots imports matplotlib only when a figure is drawn
from .files import writable_folder
from .demo_base import DemoError, Row, Context
from . import demo_latent, demo_seeds   # the sections of sources 000 (latent), 002 and 003
from .demo_fits import (SURFACE_REFERENCE, SINCOS_REFERENCE, fit, surface, sincos,  # noqa: F401  (source 000)
                        spread_kinks, breakpoints_by_output)
from .demo_xor import xor, loss_jumps, period2, _verdict, JUMP, STUCK  # noqa: F401  (source 001)
from .demo_slides import MNIST_REFERENCE, digits, mnist, slides_recipe, _verdicts  # noqa: F401  (source 004)

SECTIONS = ("xor", "fit", "latent", "surface", "sincos", "digits", "derivatives", "mnist", "regions") + demo_seeds.NAMED
DEFAULT = ("xor", "fit", "latent", "surface", "sincos", "digits", "derivatives")
#: The source document of each section's rows (a row may name its own).
SECTION_SOURCE = {"xor": "001", "fit": "000", "latent": "000", "surface": "000", "sincos": "000", "digits": "004", "mnist": "004",
                  "regions": "000/001"}

# ---- running and printing ---------------------------------------------------------------------------------------
def selection(names):
    """The sections to run for the names given on the command line ([] -> the default selection)."""
    if not names:
        return list(DEFAULT)
    out = []
    for n in names:
        if n == "all":
            out += [s for s in SECTIONS if s not in out]
        elif n not in SECTIONS:
            raise DemoError(f"fastmlp demo: unknown demo {n!r}; choose from {', '.join(SECTIONS)} or all")
        elif n not in out:
            out.append(n)
    return out


def run(sections, ctx):
    """Run the named sections in order; returns the rows. A section that cannot run (missing extra or data) raises
    DemoError when it was named alone; in a larger selection it becomes a "skipped" row."""
    rows = []
    funcs = {"xor": xor, "fit": fit, "surface": surface, "sincos": sincos, "digits": digits, "mnist": mnist,
             "latent": demo_latent.latent, "regions": lambda c: regions_demo.section(c, Row), **demo_seeds.SECTIONS}
    for s in sections:
        try:
            new = funcs[s](ctx)
            for r in new:
                r.source = r.source or SECTION_SOURCE.get(s, "")
            rows += new
        except DemoError as exc:
            if len(sections) == 1:
                raise
            msg = str(exc).split(". ")[0]
            rows.append(Row(s, s, None, "skipped", "", msg.replace(f"fastmlp demo {s}: ", "")))
        except ImportError as exc:   # matplotlib for --plot
            raise DemoError(str(exc)) from None
    return rows


HEADER = ("src", "run", "setup vs source", "loss", "result", "source says", "measured", "verdict", "time")


def format_table(rows):
    """The rows as a plain-text table, one block per section."""
    cells = [HEADER] + [(r.source or "-", r.name, r.setup or "-", "-" if r.loss is None else f"{r.loss:.3g}", r.result, r.reference,
                         r.note, r.verdict or "-", f"{r.seconds:.1f}s" if r.seconds else "-") for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADER))]
    line = lambda c: "  ".join(v.ljust(w) for v, w in zip(c, widths)).rstrip()      # noqa: E731
    out = [line(HEADER), "  ".join("-" * w for w in widths)]
    prev = None
    for r, c in zip(rows, cells[1:]):
        if prev is not None and r.section != prev:
            out.append("")
        out.append(line(c))
        prev = r.section
    return "\n".join(out)


def run_demo(args):
    """The ``fastmlp demo`` command: returns the exit status."""
    try:
        sections = selection(getattr(args, "demos", None) or [])
    except DemoError as exc:
        print(exc, file=sys.stderr)
        return 2
    ctx = Context(seed=args.seed, quick=getattr(args, "quick", False), quiet=getattr(args, "quiet", False),
                  plot_dir=getattr(args, "plot", None), data_dir=getattr(args, "data", None))
    if ctx.plot_dir:
        try:
            plots.require()
        except ImportError as exc:
            print(f"fastmlp demo --plot: {exc}", file=sys.stderr)
            return 2
        problem = writable_folder(ctx.plot_dir)   # before any training: not after minutes of work
        if problem:
            print(f"fastmlp demo: --plot {ctx.plot_dir}: {problem}", file=sys.stderr)
            return 2
    t0 = time.perf_counter()
    try:
        rows = run(sections, ctx)
    except DemoError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(format_table(rows))
    total = time.perf_counter() - t0
    print(f"\n{len(rows)} rows in {total:.1f} s (seed {ctx.seed}{', --quick' if ctx.quick else ''}). loss: the final "
          f"training loss (cross-entropy, or 1/2 mean squared error;\n+-5 MSE: against +5/-5 targets).")
    if any(r.section == "xor" for r in rows):
        print(f"XOR 'late rise': the largest loss after the first 10 % of epochs over the best before it (full-batch "
              f"descent does not rise\nwhen stable); 'jumps': a late rise >= x{JUMP:g}; 'blew up': ends > x{STUCK:g} "
              f"above its best loss; 'period-2 cycle': the loss alternates between two states every epoch.")
    print("verdict: whether the source's claim holds for the measured numbers; 'k of n seeds': over n initialisation "
          "seeds,\nthe other columns show the first seed's run.")
    if ctx.plots:
        print(f"plots: {', '.join(ctx.plots)}")
    return 0
