"""Wire contracts shared by server and client (camelCase JSON)."""
