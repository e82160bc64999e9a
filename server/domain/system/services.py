"""Dependency checks for /health/ready and /health/live."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy import text

from server.runtime import Resources

CHECK_TIMEOUT_SECONDS = 2.0


async def _timed(name: str, check: Any) -> tuple[str, dict[str, Any]]:
    started = time.perf_counter()
    try:
        detail = await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
    except Exception as exc:  # every failure is reported, never raised
        reason = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
        return name, {
            "ok": False,
            "error": reason,
            "latencyMs": round((time.perf_counter() - started) * 1000, 2),
        }
    result = {"ok": True, "latencyMs": round((time.perf_counter() - started) * 1000, 2)}
    if isinstance(detail, dict):
        result.update(detail)
    return name, result


async def check_postgres(resources: Resources) -> dict[str, Any]:
    async with resources.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    return {}


async def check_redis(resources: Resources) -> dict[str, Any]:
    await resources.redis.ping()
    return {}


async def readiness(resources: Resources) -> dict[str, dict[str, Any]]:
    """PostgreSQL and Redis, concurrently: one round trip each."""
    results = await asyncio.gather(
        _timed("postgres", lambda: check_postgres(resources)),
        _timed("redis", lambda: check_redis(resources)),
    )
    return dict(results)


async def liveness(resources: Resources) -> dict[str, dict[str, Any]]:
    """Every dependency, queues included (depth and live workers per queue)."""
    checks = await readiness(resources)
    if resources.queues is not None:
        name, result = await _timed("queues", resources.queues.health)
        if result.get("ok") and not all(q.get("ok", True) for q in result.get("queues", {}).values()):
            result["ok"] = False
        checks[name] = result
    return checks
