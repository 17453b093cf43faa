"""National tariff codes per product (the EU's CN/TARIC, the US HTS, ...), by tariff id.

A plain ADD COLUMN: on SQLite, batch-altering ``product`` would drop its search triggers.

Revision ID: 0021_tariffs
Revises: 0020_invoices
"""
import sqlalchemy as sa
from alembic import op

revision = '0021_tariffs'
down_revision = '0020_invoices'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('product', sa.Column('tariff_codes', sa.JSON(), nullable=True))


def downgrade():
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite >= 3.35 drops a column in place (no table rebuild, the triggers stay)
        op.execute('ALTER TABLE product DROP COLUMN tariff_codes')
    else:
        op.drop_column('product', 'tariff_codes')
