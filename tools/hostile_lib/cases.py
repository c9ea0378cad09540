"""All the attacks, family after family, in the order --list shows them."""
from . import api, cli, concurrency, files, kernels, memory
from .case import Builder


def build_cases(quick_files=30, full_files=400, seed=0):
    b = Builder()
    kernels.build(b)
    api.build(b)
    files.build(b, quick_files, full_files, seed)
    cli.build(b)
    concurrency.build(b)
    memory.build(b)
    return b.cases
