"""What buyers expect: guests, saved addresses, mailed single-use account tokens, account
deletion, the language and contact address of an order.

Revision ID: 0017_buyers
Revises: 0014_photo_pipeline
"""
import sqlalchemy as sa
from alembic import op

revision = '0017_buyers'
down_revision = '0014_photo_pipeline'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.alter_column('email', existing_type=sa.String(length=254), nullable=True)
        batch_op.add_column(sa.Column('is_guest', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('deleted_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('order', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contact_email', sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column('locale', sa.String(length=5), nullable=True))
        batch_op.create_index('ix_order_contact_email', ['contact_email'], unique=False)
    op.create_table(
        'account_token',
        sa.Column('id', sa.String(length=26), nullable=False),
        sa.Column('user_id', sa.String(length=26), nullable=False),
        sa.Column('purpose', sa.String(length=20), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('new_email', sa.String(length=254), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('used_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash'),
    )
    op.create_index('ix_account_token_user_id', 'account_token', ['user_id'], unique=False)
    op.create_table(
        'address',
        sa.Column('id', sa.String(length=26), nullable=False),
        sa.Column('user_id', sa.String(length=26), nullable=False),
        sa.Column('label', sa.String(length=60), nullable=True),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('line1', sa.String(length=200), nullable=False),
        sa.Column('line2', sa.String(length=200), nullable=True),
        sa.Column('city', sa.String(length=100), nullable=False),
        sa.Column('region', sa.String(length=100), nullable=True),
        sa.Column('postal_code', sa.String(length=12), nullable=True),
        sa.Column('country', sa.String(length=2), nullable=False),
        sa.Column('phone', sa.String(length=20), nullable=True),
        sa.Column('is_default', sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_address_user_id', 'address', ['user_id'], unique=False)


def downgrade():
    op.drop_index('ix_address_user_id', table_name='address')
    op.drop_table('address')
    op.drop_index('ix_account_token_user_id', table_name='account_token')
    op.drop_table('account_token')
    with op.batch_alter_table('order', schema=None) as batch_op:
        batch_op.drop_index('ix_order_contact_email')
        batch_op.drop_column('locale')
        batch_op.drop_column('contact_email')
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('deleted_at')
        batch_op.drop_column('is_guest')
        batch_op.alter_column('email', existing_type=sa.String(length=254), nullable=False)
