"""The bounded outbox between the payload builder and the broker."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass


@dataclass
class Outbox:
    """Bounded FIFO of (topic, payload); the oldest is dropped when full."""

    size: int

    def __post_init__(self) -> None:
        self._items: list[tuple[str, bytes]] = []
        self._ready = asyncio.Event()
        self.dropped = 0

    def put(self, topic: str, payload: bytes) -> None:
        if len(self._items) >= self.size:
            self._items.pop(0)
            self.dropped += 1
        self._items.append((topic, payload))
        self._ready.set()

    async def get(self) -> tuple[str, bytes]:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        return self._items.pop(0)

    def reset(self, size: int) -> None:
        """Forget what waits (counted as dropped) and take a new size."""
        self.dropped += len(self._items)
        self._items.clear()
        self.size = size

    def requeue(self, item: tuple[str, bytes]) -> None:
        self._items.insert(0, item)
        self._ready.set()

    def __len__(self) -> int:
        return len(self._items)
