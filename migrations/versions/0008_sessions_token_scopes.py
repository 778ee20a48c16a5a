"""server-side sign-ins; access token scopes and expiry

Revision ID: 0008_sessions_token_scopes
Revises: 0007_unsubscribe_tokens
Create Date: 2026-12-02 01:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_sessions_token_scopes'
down_revision = '0007_unsubscribe_tokens'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('login_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('remember', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_login_session_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_session')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_login_session_key_hash'))
    )
    op.create_index('ix_login_session_user_id', 'login_session', ['user_id'], unique=False)
    # Tokens made before scopes could do what a learner's session does, short of admin work;
    # they keep "learning" and expire 90 days after they were made, as new ones do by default.
    with op.batch_alter_table('access_token') as batch_op:
        batch_op.add_column(sa.Column('scopes', sa.String(length=100), nullable=False,
                                      server_default='learning'))
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(), nullable=True))
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        op.execute("UPDATE access_token SET expires_at = created_at + interval '90 days'")
    else:
        op.execute("UPDATE access_token SET expires_at = datetime(created_at, '+90 days')")
    with op.batch_alter_table('access_token') as batch_op:
        batch_op.alter_column('expires_at', existing_type=sa.DateTime(), nullable=False)
        batch_op.alter_column('scopes', existing_type=sa.String(length=100),
                              server_default=None)


def downgrade():
    with op.batch_alter_table('access_token') as batch_op:
        batch_op.drop_column('expires_at')
        batch_op.drop_column('scopes')
    op.drop_index('ix_login_session_user_id', table_name='login_session')
    op.drop_table('login_session')
