"""Queues: SAQ on Redis, five named queues, one registry per process.

(Skeleton: the registry, workers and health. Task base, retries, dead letters, fairness and cron
are added alongside.)
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from saq import Queue, Worker

from server.lib.logging import get_logger

if TYPE_CHECKING:
    from server.lib.metrics import Metrics
    from server.runtime import Resources
    from server.settings import Settings

log = get_logger("campotech.queue")

QUEUE_NAMES = ("afip", "payments", "whatsapp", "voice", "default")


class QueueRegistry:
    def __init__(self, settings: Settings, resources: Resources) -> None:
        self.settings = settings
        self.resources = resources
        self.queues: dict[str, Queue] = {
            name: Queue.from_url(settings.require_redis_url(), name=f"{settings.queue_prefix}:{name}")
            for name in QUEUE_NAMES
        }
        self.workers: dict[str, Worker] = {}
        self._tasks: list[asyncio.Task[Any]] = []

    def queue(self, name: str) -> Queue:
        return self.queues[name]

    async def start_workers(self) -> None:
        for name, queue in self.queues.items():
            worker = Worker(queue, functions=[], concurrency=self.settings.queue_concurrency)
            self.workers[name] = worker
            self._tasks.append(asyncio.create_task(worker.start(), name=f"worker:{name}"))

    async def stop_workers(self) -> None:
        for worker in self.workers.values():
            await worker.stop()
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()
        self.workers.clear()

    async def health(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, queue in self.queues.items():
            info = await queue.info()
            out[name] = {
                "ok": True,
                "queued": info.get("queued", 0),
                "active": info.get("active", 0),
                "workers": len(info.get("workers", {})),
            }
        return {"queues": out}

    async def update_depth_gauges(self, metrics: Metrics) -> None:
        for name, queue in self.queues.items():
            info = await queue.info()
            metrics.queue_depth.labels(name, "queued").set(info.get("queued", 0))
            metrics.queue_depth.labels(name, "active").set(info.get("active", 0))

    async def close(self) -> None:
        await self.stop_workers()
        for queue in self.queues.values():
            await queue.disconnect()
