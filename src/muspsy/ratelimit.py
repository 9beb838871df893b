"""Per-endpoint limits: requests in flight and requests per minute, shared by every role that
talks to the same endpoint. Retries of 429 and 5xx (honouring Retry-After) happen inside the
OpenAI client while the request holds its slot, so a throttled endpoint is not flooded."""

from __future__ import annotations

import asyncio
import time
from types import TracebackType


class EndpointLimiter:
    def __init__(self, max_concurrent: int | None = None, requests_per_minute: float | None = None) -> None:
        self._slots = asyncio.Semaphore(max_concurrent) if max_concurrent else None
        self._interval = 60.0 / requests_per_minute if requests_per_minute else 0.0
        self._next_start = 0.0
        self._pace = asyncio.Lock()

    async def __aenter__(self) -> EndpointLimiter:
        if self._slots:
            await self._slots.acquire()
        if self._interval:
            async with self._pace:
                wait = self._next_start - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                self._next_start = max(self._next_start, time.monotonic()) + self._interval
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._slots:
            self._slots.release()
