"""Storage: models (one table a module), engine and the tenant context of each transaction."""
