"""Piece views per day, for the workshop's charts.

Revision ID: 0022_piece_views
Revises: 0026_log_index
"""
import sqlalchemy as sa
from alembic import op

revision = '0022_piece_views'
down_revision = '0026_log_index'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'product_view_day',
        sa.Column('product_id', sa.String(length=26), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('views', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['product_id'], ['product.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('product_id', 'day'),
    )


def downgrade():
    op.drop_table('product_view_day')
