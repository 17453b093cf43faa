"""Positions in the transparency log are 64-bit: a label's and a piece event's log index, the
log's entry index, its size and its checkpoints' sizes (they were 32-bit, which capped the log
and made a far status list a database error on PostgreSQL). SQLite's integers are 64-bit
already, so there is nothing to change there.

Revision ID: 0026_log_index
Revises: 0024_security2
"""
import sqlalchemy as sa
from alembic import op

revision = '0026_log_index'
down_revision = '0024_security2'
branch_labels = None
depends_on = None

COLUMNS = (("provenance_label", "log_index"), ("provenance_piece_event", "log_index"),
           ("transparency_entry", "index"), ("transparency_head", "size"),
           ("transparency_checkpoint", "size"))


def _retype(column_type) -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    for table, column in COLUMNS:
        op.alter_column(table, column, type_=column_type)


def upgrade():
    _retype(sa.BigInteger())


def downgrade():
    _retype(sa.Integer())
