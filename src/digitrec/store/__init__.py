"""People's corrections: the SQLAlchemy store and its Alembic migrations."""
