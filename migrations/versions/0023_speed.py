"""Materials and techniques browsed in the page's order: product_tag holds one row per material
and per technique of a product with its status, privacy and sort keys, kept by triggers on
product, and indexed per sort (catalog/browse.py, tests/catalog/test_browse_plans.py).

SQLite: triggers after INSERT, after UPDATE OF the tag columns (their rows made again), after
UPDATE OF the copied keys, after DELETE. PostgreSQL: one row trigger function doing the same.
Product itself is not altered.

Revision ID: 0023_speed
Revises: 0021_tariffs_fx
"""
import sqlalchemy as sa
from alembic import op

revision = '0023_speed'
down_revision = '0021_tariffs_fx'
branch_labels = None
depends_on = None

KINDS = (("material", "materials"), ("technique", "techniques"))
KEYS = "status, reserved_for_id, created_at, price_base"

def _each(statements: tuple[str, ...], row: str) -> str:
    """The statements for the rows of ``row`` (NEW in a trigger), as one trigger body."""
    return " ".join(f"{statement.format(row=row)};" for statement in statements)


SQLITE_ROWS = tuple(
    f"INSERT OR IGNORE INTO product_tag (kind, value, product_id, status, private, created_at, "
    f"price_base) SELECT '{kind}', tag.value, {{row}}.id, {{row}}.status, "
    f"{{row}}.reserved_for_id IS NOT NULL, {{row}}.created_at, {{row}}.price_base "
    f"FROM json_each({{row}}.{column}) AS tag WHERE tag.type = 'text'"
    for kind, column in KINDS)
SQLITE_TRIGGERS = {
    "product_tag_insert": "AFTER INSERT ON product BEGIN " + _each(SQLITE_ROWS, "NEW")
                          + " END",
    "product_tag_tags": "AFTER UPDATE OF materials, techniques ON product BEGIN "
                        "DELETE FROM product_tag WHERE product_id = OLD.id; "
                        + _each(SQLITE_ROWS, "NEW") + " END",
    "product_tag_keys": f"AFTER UPDATE OF {KEYS} ON product BEGIN "
                        "UPDATE product_tag SET status = NEW.status, "
                        "private = NEW.reserved_for_id IS NOT NULL, created_at = NEW.created_at, "
                        "price_base = NEW.price_base WHERE product_id = NEW.id; END",
    "product_tag_delete": "AFTER DELETE ON product BEGIN "
                          "DELETE FROM product_tag WHERE product_id = OLD.id; END",
}

PG_ROWS = tuple(
    f"INSERT INTO product_tag (kind, value, product_id, status, private, created_at, "
    f"price_base) SELECT '{kind}', tag, {{row}}.id, {{row}}.status, "
    f"{{row}}.reserved_for_id IS NOT NULL, {{row}}.created_at, {{row}}.price_base "
    f"FROM json_array_elements_text({{row}}.{column}) AS tag ON CONFLICT DO NOTHING"
    for kind, column in KINDS)

PG_FUNCTION = f"""
CREATE FUNCTION product_tag_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.materials::text IS NOT DISTINCT FROM OLD.materials::text
            AND NEW.techniques::text IS NOT DISTINCT FROM OLD.techniques::text THEN
        IF (NEW.status, NEW.reserved_for_id IS NOT NULL, NEW.created_at, NEW.price_base)
                IS DISTINCT FROM
                (OLD.status, OLD.reserved_for_id IS NOT NULL, OLD.created_at, OLD.price_base) THEN
            UPDATE product_tag SET status = NEW.status,
                private = NEW.reserved_for_id IS NOT NULL, created_at = NEW.created_at,
                price_base = NEW.price_base WHERE product_id = NEW.id;
        END IF;
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM product_tag WHERE product_id = OLD.id;
    END IF;
    {_each(PG_ROWS, "NEW")}
    RETURN NULL;
END $$
"""
PG_TRIGGER = (f"CREATE TRIGGER product_tag_sync AFTER INSERT OR UPDATE OF materials, techniques, "
              f"{KEYS} ON product FOR EACH ROW EXECUTE FUNCTION product_tag_sync()")


def upgrade():
    op.create_table(
        'product_tag',
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('value', sa.String(length=1000), nullable=False),
        sa.Column('product_id', sa.String(length=26), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('private', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('price_base', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['product_id'], ['product.id'],
                                name=op.f('fk_product_tag_product_id_product'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('kind', 'value', 'product_id', name=op.f('pk_product_tag')),
    )
    op.create_index('ix_product_tag_created', 'product_tag',
                    ['kind', 'value', 'status', 'private', 'created_at', 'product_id'])
    op.create_index('ix_product_tag_price', 'product_tag',
                    ['kind', 'value', 'status', 'private', 'price_base', 'product_id'])
    op.create_index('ix_product_tag_product_id', 'product_tag', ['product_id'])
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(PG_FUNCTION)
        op.execute(PG_TRIGGER)
        for statement in PG_ROWS:  # the products there are
            op.execute(statement.format(row="product").replace(
                "FROM json_array_elements_text", "FROM product, json_array_elements_text"))
    else:
        for name, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")
        for statement in SQLITE_ROWS:
            op.execute(statement.format(row="product").replace(
                "FROM json_each", "FROM product, json_each"))


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER IF EXISTS product_tag_sync ON product")
        op.execute("DROP FUNCTION IF EXISTS product_tag_sync()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_index('ix_product_tag_product_id', table_name='product_tag')
    op.drop_index('ix_product_tag_price', table_name='product_tag')
    op.drop_index('ix_product_tag_created', table_name='product_tag')
    op.drop_table('product_tag')
