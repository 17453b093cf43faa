"""Invoices and credit notes: the issued documents, frozen, and a counter row per series.

Revision ID: 0020_invoices
Revises: 0017_buyers
"""
import sqlalchemy as sa
from alembic import op

revision = '0020_invoices'
down_revision = '0017_buyers'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'document_counter',
        sa.Column('series', sa.String(length=20), nullable=False),
        sa.Column('last_number', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('series'),
    )
    op.create_table(
        'tax_document',
        sa.Column('id', sa.String(length=26), nullable=False),
        sa.Column('kind', sa.String(length=12), nullable=False),
        sa.Column('series', sa.String(length=20), nullable=False),
        sa.Column('sequence', sa.Integer(), nullable=False),
        sa.Column('number', sa.String(length=40), nullable=False),
        sa.Column('source_key', sa.String(length=80), nullable=False),
        sa.Column('order_id', sa.String(length=26), nullable=False),
        sa.Column('refund_id', sa.String(length=26), nullable=True),
        sa.Column('invoice_id', sa.String(length=26), nullable=True),
        sa.Column('locale', sa.String(length=5), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('total_amount', sa.BigInteger(), nullable=False),
        sa.Column('issued_at', sa.DateTime(), nullable=False),
        sa.Column('data', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['order_id'], ['order.id']),
        sa.ForeignKeyConstraint(['refund_id'], ['refund.id']),
        sa.ForeignKeyConstraint(['invoice_id'], ['tax_document.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('number'),
        sa.UniqueConstraint('series', 'sequence'),
        sa.UniqueConstraint('source_key'),
    )
    op.create_index('ix_tax_document_order_id', 'tax_document', ['order_id'])
    op.create_index('ix_tax_document_issued_at', 'tax_document', ['issued_at'])


def downgrade():
    op.drop_index('ix_tax_document_issued_at', table_name='tax_document')
    op.drop_index('ix_tax_document_order_id', table_name='tax_document')
    op.drop_table('tax_document')
    op.drop_table('document_counter')
