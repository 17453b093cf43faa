"""The buyer's receipt PDF is rendered on its first download and kept, instead of being made
for every paid order and attached to the receipt mail (orders/receipt.py).

Revision ID: 0028_pipeline
Revises: 0027_browse
"""
import sqlalchemy as sa
from alembic import op

revision = '0028_pipeline'
down_revision = '0027_browse'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'order_receipt',
        sa.Column('order_id', sa.String(length=26), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['order_id'], ['order.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('order_id'),
    )


def downgrade():
    op.drop_table('order_receipt')
