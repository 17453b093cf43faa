"""Search on a stored, analysed document (stems, fold keys) with a vocabulary for fuzzy
matching, and an index for every browse path.

SQLite: product_fts is rebuilt over the analysed columns; product_fts_terms is an FTS5
trigram table over the vocabulary. PostgreSQL: generated tsvector columns with GIN indexes
replace the expression index of 0001; pg_trgm indexes the vocabulary.

Revision ID: 0015_search
Revises: 0018_security
"""
import sqlalchemy as sa
from alembic import op

revision = '0015_search'
down_revision = '0018_security'
branch_labels = None
depends_on = None

SEARCH_COLUMNS = ("search_title", "search_tags", "search_body", "search_alt")

# Must stay identical to marketplace/catalog/search.py PG_SEARCH_VECTOR / PG_TITLE_VECTOR.
PG_SEARCH_VECTOR = (
    "setweight(to_tsvector('simple'::regconfig, coalesce(search_title, '')), 'A') || "
    "setweight(to_tsvector('simple'::regconfig, coalesce(search_tags, '')), 'B') || "
    "setweight(to_tsvector('simple'::regconfig, coalesce(search_body, '')), 'C') || "
    "setweight(to_tsvector('simple'::regconfig, coalesce(search_alt, '')), 'D')"
)
PG_TITLE_VECTOR = "to_tsvector('simple'::regconfig, coalesce(search_title, ''))"

_FTS_VALUES = "{row}.id, {row}.search_title, {row}.search_tags, {row}.search_body, {row}.search_alt"
SQLITE_FTS = [
    "CREATE VIRTUAL TABLE product_fts USING fts5(product_id UNINDEXED, title, tags, body, alt, "
    "tokenize = 'unicode61 remove_diacritics 0')",
    "CREATE TRIGGER product_fts_insert AFTER INSERT ON product BEGIN "
    "INSERT INTO product_fts(product_id, title, tags, body, alt) "
    f"VALUES ({_FTS_VALUES.format(row='new')}); END",
    "CREATE TRIGGER product_fts_delete AFTER DELETE ON product BEGIN "
    "DELETE FROM product_fts WHERE product_id = old.id; END",
    "CREATE TRIGGER product_fts_update "
    "AFTER UPDATE OF search_title, search_tags, search_body, search_alt ON product BEGIN "
    "DELETE FROM product_fts WHERE product_id = old.id; "
    "INSERT INTO product_fts(product_id, title, tags, body, alt) "
    f"VALUES ({_FTS_VALUES.format(row='new')}); END",
    "INSERT INTO product_fts(product_id, title, tags, body, alt) "
    f"SELECT {_FTS_VALUES.format(row='product')} FROM product",
    # the vocabulary padded like pg_trgm pads a word, so the trigrams are the same
    "CREATE VIRTUAL TABLE product_fts_terms USING fts5(term, tokenize = 'trigram')",
    "CREATE TRIGGER product_fts_terms_insert AFTER INSERT ON search_term BEGIN "
    "INSERT INTO product_fts_terms(term) VALUES ('  ' || new.term || ' '); END",
    "CREATE TRIGGER product_fts_terms_delete AFTER DELETE ON search_term BEGIN "
    "DELETE FROM product_fts_terms WHERE term = '  ' || old.term || ' '; END",
    "INSERT INTO product_fts_terms(term) SELECT '  ' || term || ' ' FROM search_term",
]
# An index for every browse path (marketplace/catalog/models.py Product.__table_args__).
BROWSE_INDEXES = {
    "ix_product_craft_created": ("status", "craft", "created_at", "id"),
    "ix_product_craft_price": ("status", "craft", "price_base", "id"),
    "ix_product_artisan_created": ("artisan_id", "status", "created_at", "id"),
    "ix_product_artisan_price": ("artisan_id", "status", "price_base", "id"),
}
VERIFIED_CONDITIONS = {"verified": "provenance_level IN ('L1', 'L2')",
                       "unverified": "provenance_level NOT IN ('L1', 'L2')"}
PARTIAL_INDEXES = {
    f"ix_product_{name}_{sort}": (("status", column, "id"), condition)
    for name, condition in VERIFIED_CONDITIONS.items()
    for sort, column in (("created", "created_at"), ("price", "price_base"))
}
PG_TAG_INDEXES = {"product_fts_materials_trgm": "materials_key",
                  "product_fts_techniques_trgm": "techniques_key"}
OLD_SQLITE_TRIGGERS = ("product_fts_insert", "product_fts_delete", "product_fts_update")


def _backfill():
    """Analyse the products already there (the analyser is the application's)."""
    from marketplace.catalog.analysis import MIN_VOCABULARY_LENGTH, document

    bind = op.get_bind()
    product = sa.table("product", sa.column("id", sa.String), sa.column("title", sa.JSON),
                       sa.column("description", sa.JSON), sa.column("materials", sa.JSON),
                       sa.column("techniques", sa.JSON),
                       *(sa.column(name, sa.Text) for name in SEARCH_COLUMNS))
    terms = set()
    for row in bind.execute(sa.select(product.c.id, product.c.title, product.c.description,
                                      product.c.materials, product.c.techniques)).all():
        doc = document(row.title, row.description, row.materials, row.techniques)
        values = dict(zip(SEARCH_COLUMNS, (doc.title, doc.tags, doc.body, doc.alt), strict=True))
        bind.execute(product.update().where(product.c.id == row.id).values(**values))
        terms |= {w for w in " ".join(values.values()).split()
                  if MIN_VOCABULARY_LENGTH <= len(w) <= 100}
    if terms:
        search_term = sa.table("search_term", sa.column("term", sa.String))
        bind.execute(search_term.insert(), [{"term": t} for t in sorted(terms)])


def upgrade():
    dialect = op.get_bind().dialect.name
    op.create_table('search_term',
    sa.Column('term', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('term', name=op.f('pk_search_term'))
    )
    with op.batch_alter_table('product', schema=None) as batch_op:
        for name in SEARCH_COLUMNS:
            batch_op.add_column(sa.Column(name, sa.Text(), nullable=False, server_default=''))
    _backfill()
    with op.batch_alter_table('product', schema=None) as batch_op:
        for name, columns in BROWSE_INDEXES.items():
            batch_op.create_index(name, list(columns), unique=False)
        for name, (columns, condition) in PARTIAL_INDEXES.items():
            batch_op.create_index(name, list(columns), unique=False,
                                  postgresql_where=sa.text(condition),
                                  sqlite_where=sa.text(condition))

    if dialect == "sqlite":
        for trigger in OLD_SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS product_fts")
        for statement in SQLITE_FTS:
            op.execute(statement)
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS product_fts_document")
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(f"ALTER TABLE product ADD COLUMN search_vector tsvector "
                   f"GENERATED ALWAYS AS ({PG_SEARCH_VECTOR}) STORED")
        op.execute(f"ALTER TABLE product ADD COLUMN search_title_vector tsvector "
                   f"GENERATED ALWAYS AS ({PG_TITLE_VECTOR}) STORED")
        op.execute("CREATE INDEX product_fts_vector ON product USING gin (search_vector)")
        op.execute("CREATE INDEX product_fts_title_vector ON product "
                   "USING gin (search_title_vector)")
        op.execute("CREATE INDEX product_fts_terms_trgm ON search_term "
                   "USING gin (term gin_trgm_ops)")
        for name, column in PG_TAG_INDEXES.items():
            op.execute(f"CREATE INDEX {name} ON product USING gin ({column} gin_trgm_ops)")


def downgrade():
    from importlib import import_module

    foundation = import_module("migrations.versions.0001_foundation")
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for trigger in (*OLD_SQLITE_TRIGGERS, "product_fts_terms_insert",
                        "product_fts_terms_delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS product_fts_terms")
        op.execute("DROP TABLE IF EXISTS product_fts")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS product_fts_terms_trgm")
        for name in PG_TAG_INDEXES:
            op.execute(f"DROP INDEX IF EXISTS {name}")
        op.execute("DROP INDEX IF EXISTS product_fts_title_vector")
        op.execute("DROP INDEX IF EXISTS product_fts_vector")
        op.execute("ALTER TABLE product DROP COLUMN IF EXISTS search_title_vector")
        op.execute("ALTER TABLE product DROP COLUMN IF EXISTS search_vector")
    with op.batch_alter_table('product', schema=None) as batch_op:
        for name in [*BROWSE_INDEXES, *PARTIAL_INDEXES]:
            batch_op.drop_index(name)
        for name in SEARCH_COLUMNS:
            batch_op.drop_column(name)
    op.drop_table('search_term')
    if dialect == "sqlite":
        for statement in foundation.SQLITE_FTS:
            op.execute(statement)
    elif dialect == "postgresql":
        op.execute(foundation.PG_FTS_INDEX)
