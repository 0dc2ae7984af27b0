"""Alembic migrations, shipped inside the package so an installed Aprova can upgrade its own database."""
