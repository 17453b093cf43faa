"""Mail claims: a sender claims a mail in a committed row instead of holding its row lock while
the SMTP server answers.

Revision ID: 0010_mail_claims
Revises: 0009_refund_intents
"""
import sqlalchemy as sa
from alembic import op

revision = '0010_mail_claims'
down_revision = '0009_refund_intents'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sent_mail', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=255), nullable=True))


def downgrade():
    with op.batch_alter_table('sent_mail', schema=None) as batch_op:
        batch_op.drop_column('claimed_by')
        batch_op.drop_column('claimed_at')
