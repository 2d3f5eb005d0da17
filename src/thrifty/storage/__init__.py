"""Storage: the SQL schema, migrations, repositories and the ledger's atomic operations."""
