"""Run Alembic migrations programmatically (the CLI, `campotech dev` and tests all come here)."""

from __future__ import annotations

import os
import re

from alembic import command
from alembic.config import Config

from server.settings import PROJECT_ROOT

DEFAULT_APP_ROLE = "campotech_app"
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def migration_app_role(config: Config | None = None) -> str:
    """The application role a migration grants to (and writes, unquoted, into its SQL).

    From the Alembic config attribute ``app_role`` (set by ``alembic_config``), else the
    ``CAMPOTECH_APP_DB_ROLE`` environment variable (a bare ``alembic`` command), else ``campotech_app``;
    rejected unless it is a plain lower-case PostgreSQL identifier. Migrations call it with no argument
    (``alembic.context.config``, which exists only while Alembic runs them).
    """
    if config is None:
        from alembic import context

        config = context.config
    role = config.attributes.get("app_role") or os.environ.get("CAMPOTECH_APP_DB_ROLE") or DEFAULT_APP_ROLE
    if not _ROLE_NAME.match(role):
        raise ValueError(f"invalid application role name {role!r}")
    return role


def alembic_config(url: str, app_role: str = DEFAULT_APP_ROLE) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.set_main_option("file_template", "%%(year)d-%%(month).2d-%%(day).2d_%%(rev)s_%%(slug)s")
    cfg.attributes["url"] = url
    cfg.attributes["app_role"] = app_role
    return cfg


def upgrade(url: str, revision: str = "head", app_role: str = DEFAULT_APP_ROLE) -> None:
    command.upgrade(alembic_config(url, app_role), revision)


def downgrade(url: str, revision: str = "base", app_role: str = DEFAULT_APP_ROLE) -> None:
    command.downgrade(alembic_config(url, app_role), revision)


def make_migration(url: str, message: str) -> None:
    command.revision(alembic_config(url), message=message, autogenerate=True)
