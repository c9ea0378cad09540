"""asv (airspeed velocity) benchmarks for fastmlp; the suite lives in ``benchmarks/``, configured by the
repository's top-level ``asv.conf.json``."""
