"""Money to the end: payment attempts (which PaymentIntents are ours), disputes, operator
alerts, both sides of each payment ledger line.

Revision ID: 0012_money
Revises: 0013_transparency
"""
import sqlalchemy as sa
from alembic import op

revision = '0012_money'
down_revision = '0013_transparency'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'payment_attempt',
        sa.Column('id', sa.String(length=26), nullable=False),
        sa.Column('order_id', sa.String(length=26), nullable=False),
        sa.Column('attempt', sa.Integer(), nullable=False),
        sa.Column('payment_intent_id', sa.String(length=255), nullable=False),
        sa.Column('amount', sa.BigInteger(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('stripe_status', sa.String(length=40), nullable=True),
        sa.Column('superseded', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['order_id'], ['order.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('order_id', 'attempt'),
        sa.UniqueConstraint('payment_intent_id'),
    )
    op.create_index('ix_payment_attempt_order_id', 'payment_attempt', ['order_id'])
    # Every order's current PaymentIntent was created by Sheber: it is its latest attempt.
    op.execute(
        'INSERT INTO payment_attempt (id, order_id, attempt, payment_intent_id, amount, currency,'
        ' superseded, created_at, updated_at) SELECT id, id, payment_attempt, payment_intent_id,'
        ' total_amount, currency, false, created_at, created_at FROM "order"'
        ' WHERE payment_intent_id IS NOT NULL')

    op.create_table(
        'dispute',
        sa.Column('id', sa.String(length=26), nullable=False),
        sa.Column('stripe_dispute_id', sa.String(length=255), nullable=False),
        sa.Column('order_id', sa.String(length=26), nullable=False),
        sa.Column('payment_intent_id', sa.String(length=255), nullable=False),
        sa.Column('charge_id', sa.String(length=255), nullable=True),
        sa.Column('amount', sa.BigInteger(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('reason', sa.String(length=60), nullable=True),
        sa.Column('status', sa.String(length=30), nullable=False),
        sa.Column('order_status_before', sa.String(length=20), nullable=True),
        sa.Column('evidence_due_by', sa.DateTime(), nullable=True),
        sa.Column('evidence_submitted_at', sa.DateTime(), nullable=True),
        sa.Column('evidence_submitted_by', sa.String(length=26), nullable=True),
        sa.Column('closed_at', sa.DateTime(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['order_id'], ['order.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('stripe_dispute_id'),
    )
    op.create_index('ix_dispute_order_id', 'dispute', ['order_id'])

    op.create_table(
        'operator_alert',
        sa.Column('id', sa.String(length=26), nullable=False),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('key', sa.String(length=255), nullable=False),
        sa.Column('order_id', sa.String(length=26), nullable=True),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('data', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('resolved_at', sa.DateTime(), nullable=True),
        sa.Column('resolved_by', sa.String(length=26), nullable=True),
        sa.ForeignKeyConstraint(['order_id'], ['order.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('kind', 'key'),
    )
    op.create_index('ix_operator_alert_order_id', 'operator_alert', ['order_id'])
    op.create_index('ix_operator_alert_created_at', 'operator_alert', ['created_at'])

    with op.batch_alter_table('payment_ledger_entry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('counter_amount', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('counter_currency', sa.String(length=3), nullable=True))
        batch_op.add_column(sa.Column('fx_rate', sa.String(length=40), nullable=True))
    with op.batch_alter_table('artisan_profile', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payout_holder_name', sa.String(length=140), nullable=True))
        batch_op.add_column(sa.Column('payout_iin_bin', sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column('payout_kbe', sa.String(length=2), nullable=True))
    with op.batch_alter_table('payout', schema=None) as batch_op:
        batch_op.add_column(sa.Column('beneficiary_iin_bin', sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column('beneficiary_kbe', sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column('knp', sa.String(length=3), nullable=True))


def downgrade():
    with op.batch_alter_table('payout', schema=None) as batch_op:
        batch_op.drop_column('knp')
        batch_op.drop_column('beneficiary_kbe')
        batch_op.drop_column('beneficiary_iin_bin')
    with op.batch_alter_table('artisan_profile', schema=None) as batch_op:
        batch_op.drop_column('payout_kbe')
        batch_op.drop_column('payout_iin_bin')
        batch_op.drop_column('payout_holder_name')
    with op.batch_alter_table('payment_ledger_entry', schema=None) as batch_op:
        batch_op.drop_column('fx_rate')
        batch_op.drop_column('counter_currency')
        batch_op.drop_column('counter_amount')
    op.drop_index('ix_operator_alert_created_at', table_name='operator_alert')
    op.drop_index('ix_operator_alert_order_id', table_name='operator_alert')
    op.drop_table('operator_alert')
    op.drop_index('ix_dispute_order_id', table_name='dispute')
    op.drop_table('dispute')
    op.drop_index('ix_payment_attempt_order_id', table_name='payment_attempt')
    op.drop_table('payment_attempt')
