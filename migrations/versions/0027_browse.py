"""The newest-first index of products carries the price after its keys, so that a price range
sorted by newest is checked in the index as it is walked, never by reading the rows it discards
(catalog/browse.py, tests/catalog/test_browse_plans.py). It replaces ix_product_status_created,
whose keys it begins with.

Revision ID: 0027_browse
Revises: 0023_speed
"""
from alembic import op

revision = '0027_browse'
down_revision = '0023_speed'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_product_status_created_price', 'product',
                    ['status', 'created_at', 'id', 'price_base'])
    op.drop_index('ix_product_status_created', table_name='product')


def downgrade():
    op.create_index('ix_product_status_created', 'product', ['status', 'created_at', 'id'])
    op.drop_index('ix_product_status_created_price', table_name='product')
