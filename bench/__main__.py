"""``make bench`` (``python -m bench``): every benchmark, one after the other.

- ``bench.pipeline``: the outbox -> worker round trip against plain Celery tasks;
- ``bench.order_pipeline``: paid orders through the whole order pipeline (tasks/s).

Each runs on the embedded broker and, when it answers, on Redis. Run one alone with
``python -m bench.pipeline --help`` or ``python -m bench.order_pipeline --help``.
"""

from __future__ import annotations

from bench import order_pipeline, pipeline


def main() -> None:
    pipeline.main([])
    order_pipeline.main([])


if __name__ == "__main__":
    main()
