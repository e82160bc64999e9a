"""Where the client keeps its files: the app-data folder (Flet sets FLET_APP_STORAGE_DATA on every platform)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ENV_VAR = "FLET_APP_STORAGE_DATA"
OVERRIDE_VAR = "CAMPOTECH_CLIENT_DATA"  # tests and power users: put the data somewhere else
APP_NAME = "CampoTech"

_override: Path | None = None


def set_app_data_dir(path: str | os.PathLike[str] | None) -> None:
    """Override the folder for this process (None goes back to the environment/platform default)."""
    global _override
    _override = Path(path) if path is not None else None


def _platform_default() -> Path:
    home = Path.home()
    if sys.platform.startswith("win"):
        base = os.environ.get("LOCALAPPDATA") or os.environ.get("APPDATA")
        return Path(base) / APP_NAME if base else home / APP_NAME
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / APP_NAME
    base = os.environ.get("XDG_DATA_HOME")
    return (Path(base) if base else home / ".local" / "share") / APP_NAME.lower()


def app_data_dir() -> Path:
    """The app-data folder, created if missing: override > CAMPOTECH_CLIENT_DATA > FLET_APP_STORAGE_DATA > platform."""
    if _override is not None:
        path = _override
    elif os.environ.get(OVERRIDE_VAR):
        path = Path(os.environ[OVERRIDE_VAR])
    elif os.environ.get(ENV_VAR):
        path = Path(os.environ[ENV_VAR])
    else:
        path = _platform_default()
    path.mkdir(parents=True, exist_ok=True)
    return path
