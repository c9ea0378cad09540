"""``python -m fastmlp``: the command line of ``fastmlp.apps.main``."""
from .apps.main import main

if __name__ == "__main__":
    raise SystemExit(main())
