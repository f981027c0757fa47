"""The store's Alembic scripts, shipped inside the package so an installed wheel can upgrade
its database; citybrain/store/schema.py runs them (never the `alembic` command line)."""
