"""Photo pipeline and drafts: images carry their processing state, their public variants and
whether they are illustrations; products may be drafts.

Images uploaded before this revision were stored and served as they arrived (with their camera
and GPS tags): they become ``processing`` so that ``flask catalog process-images`` makes their
clean variants.

Revision ID: 0014_photo_pipeline
Revises: 0011_hs_subheadings
"""
import sqlalchemy as sa
from alembic import op

revision = '0014_photo_pipeline'
down_revision = '0011_hs_subheadings'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('product_image', schema=None) as batch_op:
        batch_op.add_column(sa.Column('state', sa.String(length=12), nullable=False,
                                      server_default='processing'))
        batch_op.add_column(sa.Column('variants', sa.JSON(), nullable=False,
                                      server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column('illustration', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.create_index('ix_product_image_storage_key', ['storage_key'], unique=False)


def downgrade():
    with op.batch_alter_table('product_image', schema=None) as batch_op:
        batch_op.drop_index('ix_product_image_storage_key')
        batch_op.drop_column('illustration')
        batch_op.drop_column('variants')
        batch_op.drop_column('state')
