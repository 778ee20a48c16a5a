"""unsubscribe tokens: opaque one-click links, stored as hashes

Revision ID: 0007_unsubscribe_tokens
Revises: 0006_careers
Create Date: 2026-12-03 10:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0007_unsubscribe_tokens'
down_revision = '0006_careers'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('unsubscribe_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('preference', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_used_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'],
                            name=op.f('fk_unsubscribe_token_user_id_user_account'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unsubscribe_token')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_unsubscribe_token_token_hash'))
    )
    with op.batch_alter_table('unsubscribe_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_unsubscribe_token_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('unsubscribe_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_unsubscribe_token_user_id'))

    op.drop_table('unsubscribe_token')
