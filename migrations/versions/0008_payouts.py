"""payouts: artisan ledger, payouts, batches and their bank files

Revision ID: 0008_payouts
Revises: 0007_shipments
Create Date: 2026-11-26 04:49:05.038729

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_payouts'
down_revision = '0007_shipments'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('payout_batch',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('rail', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('execution_date', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=26), nullable=True),
    sa.Column('executed_at', sa.DateTime(), nullable=True),
    sa.Column('executed_by', sa.String(length=26), nullable=True),
    sa.Column('bank_reference', sa.String(length=100), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payout_batch'))
    )
    with op.batch_alter_table('payout_batch', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payout_batch_created_at'), ['created_at'], unique=False)

    op.create_table('payout',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('artisan_id', sa.String(length=26), nullable=False),
    sa.Column('batch_id', sa.String(length=26), nullable=False),
    sa.Column('rail', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('beneficiary_name', sa.String(length=140), nullable=False),
    sa.Column('beneficiary_country', sa.String(length=2), nullable=False),
    sa.Column('iban', sa.String(length=34), nullable=False),
    sa.Column('bic', sa.String(length=11), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('paid_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['artisan_id'], ['user.id'], name=op.f('fk_payout_artisan_id_user')),
    sa.ForeignKeyConstraint(['batch_id'], ['payout_batch.id'], name=op.f('fk_payout_batch_id_payout_batch')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payout'))
    )
    with op.batch_alter_table('payout', schema=None) as batch_op:
        batch_op.create_index('ix_payout_artisan_created', ['artisan_id', 'created_at', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payout_batch_id'), ['batch_id'], unique=False)

    op.create_table('payout_file',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('batch_id', sa.String(length=26), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['payout_batch.id'], name=op.f('fk_payout_file_batch_id_payout_batch')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payout_file')),
    sa.UniqueConstraint('batch_id', 'name', name=op.f('uq_payout_file_batch_id'))
    )
    op.create_table('payout_ledger_entry',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('artisan_id', sa.String(length=26), nullable=False),
    sa.Column('order_id', sa.String(length=26), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('reference', sa.String(length=80), nullable=False),
    sa.Column('after_delivery', sa.Boolean(), nullable=False),
    sa.Column('commission_bps', sa.Integer(), nullable=True),
    sa.Column('payout_id', sa.String(length=26), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['artisan_id'], ['user.id'], name=op.f('fk_payout_ledger_entry_artisan_id_user')),
    sa.ForeignKeyConstraint(['order_id'], ['order.id'], name=op.f('fk_payout_ledger_entry_order_id_order')),
    sa.ForeignKeyConstraint(['payout_id'], ['payout.id'], name=op.f('fk_payout_ledger_entry_payout_id_payout')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payout_ledger_entry')),
    sa.UniqueConstraint('artisan_id', 'kind', 'reference', name=op.f('uq_payout_ledger_entry_artisan_id'))
    )
    with op.batch_alter_table('payout_ledger_entry', schema=None) as batch_op:
        batch_op.create_index('ix_payout_ledger_entry_open', ['artisan_id', 'payout_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payout_ledger_entry_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payout_ledger_entry_payout_id'), ['payout_id'], unique=False)



def downgrade():
    with op.batch_alter_table('payout_ledger_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payout_ledger_entry_payout_id'))
        batch_op.drop_index(batch_op.f('ix_payout_ledger_entry_order_id'))
        batch_op.drop_index('ix_payout_ledger_entry_open')

    op.drop_table('payout_ledger_entry')
    op.drop_table('payout_file')
    with op.batch_alter_table('payout', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payout_batch_id'))
        batch_op.drop_index('ix_payout_artisan_created')

    op.drop_table('payout')
    with op.batch_alter_table('payout_batch', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payout_batch_created_at'))

    op.drop_table('payout_batch')
