"""Exchange rates by the day they were published (fx_rate_history): tax returns convert at the
rate of the day their law names.

Revision ID: 0021_tariffs_fx
Revises: 0022_piece_views
"""
import sqlalchemy as sa
from alembic import op

revision = '0021_tariffs_fx'
down_revision = '0022_piece_views'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'fx_rate_history',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('rate', sa.String(length=40), nullable=False),
        sa.Column('source', sa.String(length=200), nullable=False),
        sa.Column('recorded_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('day', 'currency', name=op.f('pk_fx_rate_history')),
    )


def downgrade():
    op.drop_table('fx_rate_history')
