"""Attachments tests: the jobs team, and the app with its local file storage in a temporary folder."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from litestar import Litestar

from server.asgi import create_app
from server.runtime import Resources
from server.settings import Settings
from tests.server.jobs.conftest import Team, fixture_owner, fixture_team, jobs_subscribed

__all__ = ["Team", "fixture_owner", "fixture_team", "jobs_subscribed"]


@pytest.fixture(name="storage_dir")
def fixture_storage_dir(tmp_path: Path) -> Path:
    return tmp_path / "files"


@pytest.fixture(name="app")
def fixture_app(settings: Settings, resources: Resources, storage_dir: Path) -> Litestar:
    return create_app(msgspec.structs.replace(settings, storage_dir=storage_dir), resources)
