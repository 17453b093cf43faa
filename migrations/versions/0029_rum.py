"""A RUM index on the search vector with created_at attached (PostgreSQL with the rum
extension only): a rare word's relevance page reads its matches newest first from the index
and only about a page of rows, instead of every match's row (catalog/search.py).

Nothing happens on SQLite, on a PostgreSQL server without the rum extension, or when the
extension is not installed in the database and this role may not create it: search keeps the
GIN indexes of 0015 (which stay either way).

Revision ID: 0029_rum
Revises: 0028_pipeline
"""
from alembic import op
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

revision = '0029_rum'
down_revision = '0028_pipeline'
branch_labels = None
depends_on = None

# Must stay identical to marketplace/catalog/search.py RUM_INDEXES.
RUM_INDEXES = {"product_fts_rum_vector": "search_vector"}
# A predicate only the RUM plan's queries state: the planner never takes the RUM index for
# another query (a bitmap scan of it would read a lexeme asked both as a prefix and as a word
# wrong, see search._rum_reads_right); every product satisfies it.
RUM_PREDICATE = "length(id) > 0"


def _may_use_rum(bind) -> bool:
    if bind.dialect.name != "postgresql":
        return False
    if bind.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'rum'")).scalar():
        return True
    if not bind.execute(text(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'rum'")).scalar():
        return False
    # rum is not a trusted extension: only a superuser (or the database's owner, once an
    # administrator has marked it trusted) may create it; anyone else keeps the GIN path
    try:
        with bind.begin_nested():
            bind.execute(text("CREATE EXTENSION IF NOT EXISTS rum"))
    except DBAPIError:  # insufficient privilege: skip, search keeps the GIN plan
        return False
    return True


def upgrade():
    bind = op.get_bind()
    if not _may_use_rum(bind):
        return
    for name, column in RUM_INDEXES.items():
        op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON product USING rum "
                   f"({column} rum_tsvector_addon_ops, created_at) "
                   f"WITH (attach = 'created_at', to = '{column}') WHERE {RUM_PREDICATE}")


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for name in RUM_INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
    # the extension goes too, unless something else of this database still uses it (or this
    # role may not drop it): DROP EXTENSION without CASCADE refuses then, and it stays
    if bind.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'rum'")).scalar():
        try:
            with bind.begin_nested():
                bind.execute(text("DROP EXTENSION rum"))
        except DBAPIError:  # still in use, or not ours to drop
            pass
