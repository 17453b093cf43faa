"""Community: favourites, reviews, conversations and their messages, commissions; a product may
be a commission's one-off listing reserved for one buyer.

Revision ID: 0019_community
Revises: 0012_money
"""
import sqlalchemy as sa
from alembic import op

revision = '0019_community'
down_revision = '0012_money'
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN: a batch (copy-and-move) rebuild of ``product`` on SQLite would drop
    # the triggers that keep its search table.
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('ALTER TABLE product ADD COLUMN reserved_for_id VARCHAR(26) '
                   'REFERENCES "user" (id)')
    else:
        op.add_column('product', sa.Column('reserved_for_id', sa.String(length=26),
                                           nullable=True))
        op.create_foreign_key('fk_product_reserved_for_id_user', 'product', 'user',
                              ['reserved_for_id'], ['id'])

    op.create_table(
        'favourite',
        sa.Column('user_id', sa.String(length=26), nullable=False),
        sa.Column('product_id', sa.String(length=26), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['product_id'], ['product.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id', 'product_id'),
    )
    op.create_index('ix_favourite_product_id', 'favourite', ['product_id'])
    op.create_index('ix_favourite_user_created', 'favourite', ['user_id', 'created_at'])

    op.create_table(
        'review',
        sa.Column('id', sa.String(length=26), nullable=False),
        sa.Column('order_id', sa.String(length=26), nullable=False),
        sa.Column('order_line_id', sa.String(length=26), nullable=False),
        sa.Column('product_id', sa.String(length=26), nullable=False),
        sa.Column('artisan_id', sa.String(length=26), nullable=False),
        sa.Column('author_id', sa.String(length=26), nullable=True),
        sa.Column('author_name', sa.String(length=200), nullable=False),
        sa.Column('rating', sa.Integer(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('language', sa.String(length=5), nullable=False),
        sa.Column('photos', sa.JSON(), nullable=False),
        sa.Column('reply_text', sa.Text(), nullable=True),
        sa.Column('replied_at', sa.DateTime(), nullable=True),
        sa.Column('hidden_at', sa.DateTime(), nullable=True),
        sa.Column('hidden_reason', sa.Text(), nullable=True),
        sa.Column('hidden_by', sa.String(length=26), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['artisan_id'], ['user.id']),
        sa.ForeignKeyConstraint(['author_id'], ['user.id']),
        sa.ForeignKeyConstraint(['hidden_by'], ['user.id']),
        sa.ForeignKeyConstraint(['order_id'], ['order.id']),
        sa.ForeignKeyConstraint(['order_line_id'], ['order_line.id']),
        sa.ForeignKeyConstraint(['product_id'], ['product.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('order_line_id', name='uq_review_order_line'),
    )
    op.create_index('ix_review_order_id', 'review', ['order_id'])
    op.create_index('ix_review_artisan_id', 'review', ['artisan_id'])
    op.create_index('ix_review_author_id', 'review', ['author_id'])
    op.create_index('ix_review_product_visible', 'review',
                    ['product_id', 'hidden_at', 'created_at'])

    op.create_table(
        'conversation',
        sa.Column('id', sa.String(length=26), nullable=False),
        sa.Column('buyer_id', sa.String(length=26), nullable=False),
        sa.Column('artisan_id', sa.String(length=26), nullable=False),
        sa.Column('product_id', sa.String(length=26), nullable=True),
        sa.Column('order_id', sa.String(length=26), nullable=True),
        sa.Column('subject', sa.String(length=200), nullable=False),
        sa.Column('reported_at', sa.DateTime(), nullable=True),
        sa.Column('reported_by', sa.String(length=26), nullable=True),
        sa.Column('report_reason', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('last_message_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['artisan_id'], ['user.id']),
        sa.ForeignKeyConstraint(['buyer_id'], ['user.id']),
        sa.ForeignKeyConstraint(['order_id'], ['order.id']),
        sa.ForeignKeyConstraint(['product_id'], ['product.id']),
        sa.ForeignKeyConstraint(['reported_by'], ['user.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_conversation_reported_at', 'conversation', ['reported_at'])
    op.create_index('ix_conversation_buyer_last', 'conversation', ['buyer_id', 'last_message_at'])
    op.create_index('ix_conversation_artisan_last', 'conversation',
                    ['artisan_id', 'last_message_at'])

    op.create_table(
        'conversation_message',
        sa.Column('id', sa.String(length=26), nullable=False),
        sa.Column('conversation_id', sa.String(length=26), nullable=False),
        sa.Column('sender_id', sa.String(length=26), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['conversation_id'], ['conversation.id']),
        sa.ForeignKeyConstraint(['sender_id'], ['user.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_message_conversation_created', 'conversation_message',
                    ['conversation_id', 'created_at'])

    op.create_table(
        'commission',
        sa.Column('id', sa.String(length=26), nullable=False),
        sa.Column('conversation_id', sa.String(length=26), nullable=False),
        sa.Column('buyer_id', sa.String(length=26), nullable=False),
        sa.Column('artisan_id', sa.String(length=26), nullable=False),
        sa.Column('description', sa.Text(), nullable=False),
        sa.Column('budget_amount', sa.BigInteger(), nullable=True),
        sa.Column('budget_currency', sa.String(length=3), nullable=True),
        sa.Column('wanted_by', sa.Date(), nullable=True),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('offer_amount', sa.BigInteger(), nullable=True),
        sa.Column('offer_currency', sa.String(length=3), nullable=True),
        sa.Column('offer_making_days', sa.Integer(), nullable=True),
        sa.Column('offer_note', sa.Text(), nullable=True),
        sa.Column('offer_listing', sa.JSON(), nullable=True),
        sa.Column('product_id', sa.String(length=26), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['artisan_id'], ['user.id']),
        sa.ForeignKeyConstraint(['buyer_id'], ['user.id']),
        sa.ForeignKeyConstraint(['conversation_id'], ['conversation.id']),
        sa.ForeignKeyConstraint(['product_id'], ['product.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_commission_conversation_id', 'commission', ['conversation_id'])
    op.create_index('ix_commission_buyer_id', 'commission', ['buyer_id'])
    op.create_index('ix_commission_artisan_id', 'commission', ['artisan_id'])


def downgrade():
    op.drop_table('commission')
    op.drop_table('conversation_message')
    op.drop_table('conversation')
    op.drop_table('review')
    op.drop_table('favourite')
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('ALTER TABLE product DROP COLUMN reserved_for_id')
    else:
        op.drop_constraint('fk_product_reserved_for_id_user', 'product', type_='foreignkey')
        op.drop_column('product', 'reserved_for_id')
