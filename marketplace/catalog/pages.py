"""Page statements built once per shape, for the catalogue's lists (browse pages, search tiers).

A list page's statement is built for its shape (which filters are given, the plan, the
conditions, whether a cursor is) and run with its values as parameters: building a statement and
its cache key costs more Python than its run."""

from __future__ import annotations

# Page statements by shape; all forgotten when this many are kept
PAGE_SHAPES = 256
_pages: dict[tuple, object] = {}


def page_statement(key: tuple, build):
    """The page statement of the shape ``key`` (every value it depends on but its parameters'),
    built by ``build()`` once."""
    statement = _pages.get(key)
    if statement is None:
        if len(_pages) >= PAGE_SHAPES:
            _pages.clear()
        statement = _pages[key] = build()
    return statement
