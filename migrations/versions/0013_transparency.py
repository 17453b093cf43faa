"""Transparency log of labels and piece events; labels as verifiable credentials.

Revision ID: 0013_transparency
Revises: 0015_search
"""
import sqlalchemy as sa
from alembic import op

revision = '0013_transparency'
down_revision = '0015_search'
branch_labels = None
depends_on = None

APPEND_ONLY = ("transparency_entry", "transparency_checkpoint")
MESSAGE = "the transparency log is append-only"


def upgrade():
    op.create_table(
        'transparency_entry',
        sa.Column('index', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('kind', sa.String(length=24), nullable=False),
        sa.Column('entry', sa.LargeBinary(), nullable=False),
        sa.Column('leaf_hash', sa.LargeBinary(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('index'),
    )
    op.create_table(
        'transparency_head',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_table(
        'transparency_checkpoint',
        sa.Column('size', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('root_hash', sa.LargeBinary(), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('size'),
    )
    with op.batch_alter_table('provenance_label', schema=None) as batch_op:
        batch_op.add_column(sa.Column('superseded_by', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('log_index', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('credential', sa.Text(), nullable=True))
        batch_op.create_unique_constraint('uq_provenance_label_log_index', ['log_index'])
    with op.batch_alter_table('provenance_piece_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('log_index', sa.Integer(), nullable=True))
        batch_op.create_unique_constraint('uq_provenance_piece_event_log_index', ['log_index'])

    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f"""
            CREATE FUNCTION transparency_append_only() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION '{MESSAGE}: % on %', TG_OP, TG_TABLE_NAME; END
            $$ LANGUAGE plpgsql""")
        for table in APPEND_ONLY:
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION transparency_append_only()")
    else:
        for table in APPEND_ONLY:
            for operation in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} "
                           f"ON {table} BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END")


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP FUNCTION IF EXISTS transparency_append_only()")
    with op.batch_alter_table('provenance_piece_event', schema=None) as batch_op:
        batch_op.drop_constraint('uq_provenance_piece_event_log_index', type_='unique')
        batch_op.drop_column('log_index')
    with op.batch_alter_table('provenance_label', schema=None) as batch_op:
        batch_op.drop_constraint('uq_provenance_label_log_index', type_='unique')
        batch_op.drop_column('credential')
        batch_op.drop_column('log_index')
        batch_op.drop_column('superseded_by')
    op.drop_table('transparency_checkpoint')
    op.drop_table('transparency_head')
    op.drop_table('transparency_entry')
