"""Alembic environment: the URL comes from the Config that `digitrec.store.feedback.migrate` builds."""

from alembic import context
from sqlalchemy import create_engine

from digitrec.store.feedback import Base

url = context.config.get_main_option("sqlalchemy.url")

if context.is_offline_mode():
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = create_engine(str(url))
    with engine.begin() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
