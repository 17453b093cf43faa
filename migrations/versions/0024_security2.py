"""Look-alike addresses: each account keeps the UTS #39 skeleton of its e-mail address, so a
new address that reads the same (another script's letters) is found by an index.

Revision ID: 0024_security2
Revises: 0021_tariffs
"""
import sqlalchemy as sa
from alembic import op

revision = '0024_security2'
down_revision = '0021_tariffs'
branch_labels = None
depends_on = None


def upgrade():
    # plain ADD COLUMN (no table rebuild on SQLite)
    op.add_column('user', sa.Column('email_skeleton', sa.String(length=1000), nullable=True))
    op.create_index('ix_user_email_skeleton', 'user', ['email_skeleton'], unique=False)

    from marketplace.accounts.identity import email_skeleton

    bind = op.get_bind()
    user = sa.table('user', sa.column('id', sa.String), sa.column('email', sa.String),
                    sa.column('email_skeleton', sa.String))
    rows = bind.execute(sa.select(user.c.id, user.c.email).where(user.c.email.isnot(None)))
    for row_id, email in rows.all():
        bind.execute(user.update().where(user.c.id == row_id)
                     .values(email_skeleton=email_skeleton(email)))


def downgrade():
    op.drop_index('ix_user_email_skeleton', table_name='user')
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('email_skeleton')
