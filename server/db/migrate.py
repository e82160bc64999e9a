"""Run Alembic migrations programmatically (the CLI, `campotech dev` and tests all come here)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from server.settings import PROJECT_ROOT


def alembic_config(url: str, app_role: str = "campotech_app") -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.set_main_option("file_template", "%%(year)d-%%(month).2d-%%(day).2d_%%(rev)s_%%(slug)s")
    cfg.attributes["url"] = url
    cfg.attributes["app_role"] = app_role
    return cfg


def upgrade(url: str, revision: str = "head", app_role: str = "campotech_app") -> None:
    command.upgrade(alembic_config(url, app_role), revision)


def downgrade(url: str, revision: str = "base", app_role: str = "campotech_app") -> None:
    command.downgrade(alembic_config(url, app_role), revision)


def make_migration(url: str, message: str) -> None:
    command.revision(alembic_config(url), message=message, autogenerate=True)
