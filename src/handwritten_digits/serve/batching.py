"""Micro-batching: concurrent requests share one model call, run off the event loop.

Requests queue their item and await a future. One loop task waits for a free slot (at most
`max_in_flight` batches run at once, each in a worker thread), then takes whatever is queued (up to
`max_batch`), optionally waits `wait_s` for more, and hands the batch to a thread. Under load the
queue fills while the slots are busy, so batches grow by themselves; a lone request waits for
nothing. Two slots let preprocessing (PIL and numpy release the GIL) overlap the model call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import anyio.to_thread

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")


class MicroBatcher(Generic[T, R]):
    def __init__(self, fn: Callable[[list[T]], Sequence[R]], max_batch: int = 64,
                 wait_s: float = 0.0, max_in_flight: int = 1,
                 on_batch: Callable[[int], None] | None = None) -> None:
        self.fn = fn  # list of items -> one result per item, in order; runs in a thread
        self.max_batch = max_batch
        self.wait_s = wait_s
        self.max_in_flight = max_in_flight
        self.on_batch = on_batch
        self._queue: asyncio.Queue[tuple[T, asyncio.Future[R]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="micro-batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for task in list(self._running):
            await asyncio.wait({task})
        while not self._queue.empty():
            _, fut = self._queue.get_nowait()
            if not fut.done():
                fut.set_exception(RuntimeError("server shutting down"))

    async def submit(self, item: T) -> R:
        fut: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((item, fut))
        return await fut

    async def _run(self) -> None:
        slots = asyncio.Semaphore(self.max_in_flight)
        while True:
            await slots.acquire()  # before collecting: the batch grows while every slot is busy
            batch = [await self._queue.get()]
            await self._fill(batch)
            pending = [(item, fut) for item, fut in batch if not fut.cancelled()]
            if not pending:
                slots.release()
                continue
            if self.on_batch is not None:
                self.on_batch(len(pending))
            task = asyncio.get_running_loop().create_task(self._process(pending))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
            task.add_done_callback(lambda _: slots.release())

    async def _process(self, pending: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results: Sequence[Any] = await anyio.to_thread.run_sync(
                self.fn, [item for item, _ in pending])
            answered = list(zip(pending, results, strict=True))  # too few results: an error, not a hang
        except Exception as e:  # noqa: BLE001 - handed to the waiting request(s)
            waiting = [(item, fut) for item, fut in pending if not fut.done()]
            if len(waiting) > 1:  # one item's failure must not fail other clients' requests
                log.warning("a batch of %d failed (%s: %s); answering its items one by one",
                            len(waiting), type(e).__name__, e)
                for one in waiting:
                    if not one[1].done():  # a request given up meanwhile is not answered
                        await self._process([one])
                return
            for _, fut in waiting:
                fut.set_exception(e)
            return
        for (_, fut), result in answered:
            if not fut.done():
                fut.set_result(result)

    async def _fill(self, batch: list) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait_s
        while len(batch) < self.max_batch:
            if not self._queue.empty():
                batch.append(self._queue.get_nowait())
                continue
            timeout = deadline - loop.time()
            if timeout <= 0:
                return
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), timeout))
            except TimeoutError:
                return
