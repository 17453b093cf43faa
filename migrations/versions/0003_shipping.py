"""shipping: operator rate overrides, carrier labels

Revision ID: 0003_shipping
Revises: 0002_provenance
Create Date: 2026-11-26 05:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003_shipping'
down_revision = '0002_provenance'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('shipping_rate_override',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('service', sa.String(length=20), nullable=False),
    sa.Column('zone', sa.String(length=10), nullable=False),
    sa.Column('up_to_g', sa.Integer(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('updated_by', sa.String(length=26), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shipping_rate_override')),
    sa.UniqueConstraint('service', 'zone', 'up_to_g', name=op.f('uq_shipping_rate_override_service'))
    )
    op.create_table('carrier_label',
    sa.Column('tracking_number', sa.String(length=40), nullable=False),
    sa.Column('carrier', sa.String(length=40), nullable=False),
    sa.Column('service', sa.String(length=20), nullable=False),
    sa.Column('reference', sa.String(length=64), nullable=False),
    sa.Column('destination_country', sa.String(length=2), nullable=False),
    sa.Column('eta_min_days', sa.Integer(), nullable=False),
    sa.Column('eta_max_days', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('tracking_number', name=op.f('pk_carrier_label'))
    )
    with op.batch_alter_table('carrier_label', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_carrier_label_reference'), ['reference'], unique=False)


def downgrade():
    with op.batch_alter_table('carrier_label', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_carrier_label_reference'))

    op.drop_table('carrier_label')
    op.drop_table('shipping_rate_override')
