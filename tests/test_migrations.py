"""The migrations build exactly the schema the models describe."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from academy.extensions import db


def test_models_and_migrations_agree(ctx):
    # The session database was built by `flask db upgrade`; any difference is a missing migration.
    with db.engine.connect() as conn:
        migration_ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(migration_ctx, db.metadata)
    assert diff == [], f"models differ from migrations; run `flask db migrate`: {diff}"
