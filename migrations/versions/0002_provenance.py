"""provenance: records, decisions, signing keys, labels, pieces and their events, flags

Revision ID: 0002_provenance
Revises: 0001_foundation
Create Date: 2026-11-26 03:52:56.956500

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002_provenance'
down_revision = '0001_foundation'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('provenance_signing_key',
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('public_key', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('retired_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('key_id', name=op.f('pk_provenance_signing_key'))
    )

    op.create_table('provenance_label',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('product_id', sa.String(length=26), nullable=False),
    sa.Column('level', sa.String(length=2), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('canonical', sa.LargeBinary(), nullable=False),
    sa.Column('signature', sa.String(length=100), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('issued_at', sa.DateTime(), nullable=False),
    sa.Column('issued_by', sa.String(length=26), nullable=True),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['issued_by'], ['user.id'], name=op.f('fk_provenance_label_issued_by_user')),
    sa.ForeignKeyConstraint(['key_id'], ['provenance_signing_key.key_id'], name=op.f('fk_provenance_label_key_id_provenance_signing_key')),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name=op.f('fk_provenance_label_product_id_product')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_provenance_label')),
    sa.UniqueConstraint('code', name=op.f('uq_provenance_label_code'))
    )
    with op.batch_alter_table('provenance_label', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_provenance_label_product_id'), ['product_id'], unique=False)

    op.create_table('provenance_decision',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('product_id', sa.String(length=26), nullable=False),
    sa.Column('decision', sa.String(length=10), nullable=False),
    sa.Column('level', sa.String(length=2), nullable=True),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('attestation', sa.JSON(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('operator_id', sa.String(length=26), nullable=True),
    sa.Column('label_id', sa.String(length=26), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['label_id'], ['provenance_label.id'], name=op.f('fk_provenance_decision_label_id_provenance_label')),
    sa.ForeignKeyConstraint(['operator_id'], ['user.id'], name=op.f('fk_provenance_decision_operator_id_user')),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name=op.f('fk_provenance_decision_product_id_product')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_provenance_decision'))
    )
    with op.batch_alter_table('provenance_decision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_provenance_decision_product_id'), ['product_id'], unique=False)

    op.create_table('provenance_flag',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('label_id', sa.String(length=26), nullable=False),
    sa.Column('user_id', sa.String(length=26), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('resolved_at', sa.DateTime(), nullable=True),
    sa.Column('resolved_by', sa.String(length=26), nullable=True),
    sa.Column('resolution_note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['label_id'], ['provenance_label.id'], name=op.f('fk_provenance_flag_label_id_provenance_label')),
    sa.ForeignKeyConstraint(['resolved_by'], ['user.id'], name=op.f('fk_provenance_flag_resolved_by_user')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_provenance_flag_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_provenance_flag'))
    )
    with op.batch_alter_table('provenance_flag', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_provenance_flag_label_id'), ['label_id'], unique=False)
        batch_op.create_index('ix_provenance_flag_status_created', ['status', 'created_at', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_provenance_flag_user_id'), ['user_id'], unique=False)

    op.create_table('provenance_piece',
    sa.Column('serial', sa.String(length=32), nullable=False),
    sa.Column('label_id', sa.String(length=26), nullable=False),
    sa.Column('product_id', sa.String(length=26), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.String(length=26), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('head_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['label_id'], ['provenance_label.id'], name=op.f('fk_provenance_piece_label_id_provenance_label')),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name=op.f('fk_provenance_piece_product_id_product')),
    sa.PrimaryKeyConstraint('serial', name=op.f('pk_provenance_piece')),
    sa.UniqueConstraint('label_id', 'number', name='uq_provenance_piece_label_number'),
    sa.UniqueConstraint('order_id', 'product_id', 'position', name='uq_provenance_piece_order_product_position')
    )
    with op.batch_alter_table('provenance_piece', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_provenance_piece_label_id'), ['label_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_provenance_piece_product_id'), ['product_id'], unique=False)

    op.create_table('provenance_record',
    sa.Column('product_id', sa.String(length=26), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('level', sa.String(length=2), nullable=False),
    sa.Column('current_label_id', sa.String(length=26), nullable=True),
    sa.Column('submitted_at', sa.DateTime(), nullable=True),
    sa.Column('status_changed_at', sa.DateTime(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['current_label_id'], ['provenance_label.id'], name=op.f('fk_provenance_record_current_label_id_provenance_label')),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name=op.f('fk_provenance_record_product_id_product')),
    sa.PrimaryKeyConstraint('product_id', name=op.f('pk_provenance_record'))
    )
    with op.batch_alter_table('provenance_record', schema=None) as batch_op:
        batch_op.create_index('ix_provenance_record_queue', ['status', 'status_changed_at', 'product_id'], unique=False)

    op.create_table('provenance_piece_event',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('serial', sa.String(length=32), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('event_type', sa.String(length=20), nullable=False),
    sa.Column('time', sa.DateTime(), nullable=False),
    sa.Column('place', sa.Text(), nullable=True),
    sa.Column('data', sa.Text(), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=True),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['serial'], ['provenance_piece.serial'], name=op.f('fk_provenance_piece_event_serial_provenance_piece')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_provenance_piece_event')),
    sa.UniqueConstraint('serial', 'key', name='uq_provenance_piece_event_serial_key'),
    sa.UniqueConstraint('serial', 'seq', name='uq_provenance_piece_event_serial_seq')
    )


def downgrade():
    op.drop_table('provenance_piece_event')
    with op.batch_alter_table('provenance_record', schema=None) as batch_op:
        batch_op.drop_index('ix_provenance_record_queue')

    op.drop_table('provenance_record')
    with op.batch_alter_table('provenance_piece', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_provenance_piece_product_id'))
        batch_op.drop_index(batch_op.f('ix_provenance_piece_label_id'))

    op.drop_table('provenance_piece')
    with op.batch_alter_table('provenance_flag', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_provenance_flag_user_id'))
        batch_op.drop_index('ix_provenance_flag_status_created')
        batch_op.drop_index(batch_op.f('ix_provenance_flag_label_id'))

    op.drop_table('provenance_flag')
    with op.batch_alter_table('provenance_decision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_provenance_decision_product_id'))

    op.drop_table('provenance_decision')
    with op.batch_alter_table('provenance_label', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_provenance_label_product_id'))

    op.drop_table('provenance_label')
    op.drop_table('provenance_signing_key')
