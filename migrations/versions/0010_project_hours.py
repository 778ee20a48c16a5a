"""project hours beside a lesson's reading minutes

Revision ID: 0010_project_hours
Revises: 0009_checks_evidence
Create Date: 2026-12-02 02:15:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010_project_hours'
down_revision = '0009_checks_evidence'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('lesson', schema=None) as batch_op:
        batch_op.add_column(sa.Column('project_hours', sa.Float(), nullable=True))


def downgrade():
    with op.batch_alter_table('lesson', schema=None) as batch_op:
        batch_op.drop_column('project_hours')
