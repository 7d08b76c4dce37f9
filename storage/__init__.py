"""Persistence: SQLAlchemy 2.0 models, Alembic migrations and repositories.

Repositories hold every query and never commit; the caller owns the transaction.
"""
