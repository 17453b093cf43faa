"""shipments: parcels, labels, customs papers, tracking events

Revision ID: 0007_shipments
Revises: 0005_workers
Depends on: 0004_checkout (shipment.order_id references the order table)
Create Date: 2026-11-26 04:16:00.249021

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_shipments'
down_revision = '0005_workers'
branch_labels = None
depends_on = '0004_checkout'


def upgrade():
    op.create_table('shipment',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('order_id', sa.String(length=26), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('carrier', sa.String(length=40), nullable=False),
    sa.Column('service', sa.String(length=20), nullable=False),
    sa.Column('duties_mode', sa.String(length=3), nullable=False),
    sa.Column('weight_g', sa.Integer(), nullable=False),
    sa.Column('length_mm', sa.Integer(), nullable=False),
    sa.Column('width_mm', sa.Integer(), nullable=False),
    sa.Column('height_mm', sa.Integer(), nullable=False),
    sa.Column('tracking_number', sa.String(length=40), nullable=True),
    sa.Column('customs_form', sa.String(length=4), nullable=True),
    sa.Column('label_pdf', sa.LargeBinary(), nullable=True),
    sa.Column('customs_pdf', sa.LargeBinary(), nullable=True),
    sa.Column('permit_number', sa.String(length=64), nullable=True),
    sa.Column('permit_issued_by', sa.String(length=200), nullable=True),
    sa.Column('permit_issued_at', sa.DateTime(), nullable=True),
    sa.Column('permit_recorded_by', sa.String(length=26), nullable=True),
    sa.Column('requested_by', sa.String(length=26), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('status_at', sa.DateTime(), nullable=False),
    sa.Column('label_created_at', sa.DateTime(), nullable=True),
    sa.Column('delivered_at', sa.DateTime(), nullable=True),
    sa.Column('polled_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['order.id'], name=op.f('fk_shipment_order_id_order')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shipment')),
    sa.UniqueConstraint('carrier', 'tracking_number', name=op.f('uq_shipment_carrier')),
    sa.UniqueConstraint('order_id', name=op.f('uq_shipment_order_id'))
    )
    with op.batch_alter_table('shipment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shipment_status'), ['status'], unique=False)

    op.create_table('shipment_event',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('shipment_id', sa.String(length=26), nullable=False),
    sa.Column('carrier', sa.String(length=40), nullable=False),
    sa.Column('external_id', sa.String(length=100), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('occurred_at', sa.DateTime(), nullable=False),
    sa.Column('location', sa.String(length=200), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['shipment_id'], ['shipment.id'], name=op.f('fk_shipment_event_shipment_id_shipment')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shipment_event')),
    sa.UniqueConstraint('carrier', 'external_id', name=op.f('uq_shipment_event_carrier'))
    )
    with op.batch_alter_table('shipment_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shipment_event_shipment_id'), ['shipment_id'], unique=False)



def downgrade():
    with op.batch_alter_table('shipment_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shipment_event_shipment_id'))

    op.drop_table('shipment_event')
    with op.batch_alter_table('shipment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shipment_status'))

    op.drop_table('shipment')
