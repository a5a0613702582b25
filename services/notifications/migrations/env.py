"""Alembic's entry point for this service's migrations; the logic is shared (shared/migrations.py)."""

from shared.migrations import run_migrations

run_migrations()
