"""Create the database and the application role (used by `campotech dev`, `campotech db setup`, tests)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from server.settings import plain_pg_url

_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _ident(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"invalid PostgreSQL identifier {name!r}")
    return name


def database_name(url: str) -> str:
    return urlsplit(plain_pg_url(url)).path.lstrip("/") or "postgres"


def with_database(url: str, name: str) -> str:
    parts = urlsplit(plain_pg_url(url))
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


async def ensure_database(admin_url: str, name: str) -> bool:
    """Create database ``name`` on the server of ``admin_url`` if missing. True when created."""
    conn = await asyncpg.connect(with_database(admin_url, "postgres"))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{_ident(name)}"')
        return not exists
    finally:
        await conn.close()


async def drop_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(with_database(admin_url, "postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{_ident(name)}" WITH (FORCE)')
    finally:
        await conn.close()


async def ensure_app_role(admin_url: str, role: str, password: str | None = None) -> None:
    """The login role the application uses: never superuser, never BYPASSRLS."""
    role = _ident(role)
    conn = await asyncpg.connect(plain_pg_url(admin_url))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
        verb = "ALTER" if exists else "CREATE"
        await conn.execute(f"{verb} ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE")
        if password:
            # parameters are not allowed in utility statements; quote the literal safely
            quoted = await conn.fetchval("SELECT quote_literal($1)", password)
            await conn.execute(f"ALTER ROLE {role} PASSWORD {quoted}")
    finally:
        await conn.close()
