"""Refund intents: a refund is recorded before Stripe is asked, so its Stripe id comes later.

Revision ID: 0009_refund_intents
Revises: 0008_payouts
"""
import sqlalchemy as sa
from alembic import op

revision = '0009_refund_intents'
down_revision = '0008_payouts'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('refund', schema=None) as batch_op:
        batch_op.alter_column('stripe_refund_id', existing_type=sa.String(length=255),
                              nullable=True)
        batch_op.add_column(sa.Column('failure_reason', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('refund', schema=None) as batch_op:
        batch_op.drop_column('failure_reason')
        batch_op.alter_column('stripe_refund_id', existing_type=sa.String(length=255),
                              nullable=False)
