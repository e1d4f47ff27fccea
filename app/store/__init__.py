"""SQLAlchemy only: tables, tenant-scoped repositories, unit of work, migrations."""
