"""``make bench`` (``python -m bench``): every benchmark, one after the other.

- ``bench.pipeline``: the outbox -> worker round trip against plain Celery tasks;
- ``bench.order_pipeline``: paid orders through the whole order pipeline (tasks/s);
  ``bench.order_steps`` (not run here) what each of its steps costs in statements and CPU;
- ``bench.catalog``: every browse and search endpoint at 10k and 100k products on SQLite and
  PostgreSQL, as ratios to ``/healthz`` (``--million`` adds 1M on PostgreSQL).

The first two run on the embedded broker and, when it answers, on Redis. Run one alone with
``python -m bench.<name> --help``; ``python -m bench [catalogue options]`` passes its arguments
to ``bench.catalog``.
"""

from __future__ import annotations

import sys

from bench import catalog, order_pipeline, pipeline


def main() -> None:
    pipeline.main([])
    order_pipeline.main([])
    catalog.main(sys.argv[1:])


if __name__ == "__main__":
    main()
