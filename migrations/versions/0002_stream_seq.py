"""Stream positions (SPEC §9): `seq` on notifications (per recipient) and activity (one stream).

Existing rows are numbered in id order, which is their commit order (services/ordering.py).

Revision ID: 0002_stream_seq
Revises: 0001_initial
Create Date: 2026-12-02 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0002_stream_seq'
down_revision = '0001_initial'
branch_labels = None
depends_on = None

# Works on PostgreSQL and on SQLite 3.33+ (UPDATE ... FROM, window functions).
BACKFILL = ("UPDATE {table} SET seq = numbered.seq FROM (SELECT id, row_number() OVER ({partition}ORDER BY id) "
            "AS seq FROM {table}) AS numbered WHERE {table}.id = numbered.id")


def upgrade():
    for table, partition in (('notifications', 'PARTITION BY user_id '), ('activity', '')):
        op.add_column(table, sa.Column('seq', sa.BigInteger(), nullable=True))
        op.execute(BACKFILL.format(table=table, partition=partition))
    # SQLite rebuilds the tables here: keep their AUTOINCREMENT (ids are never reused).
    with op.batch_alter_table('notifications', schema=None,
                              table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.alter_column('seq', existing_type=sa.BigInteger(), nullable=False)
        batch_op.create_index('ix_notifications_user_id_seq', ['user_id', 'seq'], unique=True)
    with op.batch_alter_table('activity', schema=None,
                              table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.alter_column('seq', existing_type=sa.BigInteger(), nullable=False)
        batch_op.create_index('ix_activity_seq', ['seq'], unique=True)


def downgrade():
    with op.batch_alter_table('activity', schema=None,
                              table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.drop_index('ix_activity_seq')
        batch_op.drop_column('seq')
    with op.batch_alter_table('notifications', schema=None,
                              table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.drop_index('ix_notifications_user_id_seq')
        batch_op.drop_column('seq')
