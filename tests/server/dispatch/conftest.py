"""Dispatch tests reuse the jobs team (owner, dispatcher, two technicians, a customer) and the jobs subscriber."""

from __future__ import annotations

from tests.server.jobs.conftest import fixture_owner, fixture_team, jobs_subscribed

__all__ = ["fixture_owner", "fixture_team", "jobs_subscribed"]
