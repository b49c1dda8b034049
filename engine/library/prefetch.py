"""Run a function over a stream in a small thread pool, a bounded distance ahead of the consumer.

Image decoding, hashing and preprocessing release the GIL (PIL, hashlib, numpy, torch), so a couple of
threads keep the model fed. The bound keeps memory flat on a 1.6M-image source, and results come back in
input order so batches are reproducible.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    return max(1, min(4, (os.cpu_count() or 2) - 1))


def prefetch_map(
    func: Callable[[T], R], items: Iterable[T], *, workers: int | None = None, ahead: int = 64
) -> Iterator[tuple[T, R | BaseException]]:
    """Yield (item, func(item)) in input order; an exception from func is yielded in place of the result."""
    workers = workers or default_workers()
    pending: deque[tuple[T, Future]] = deque()
    source = iter(items)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="prefetch") as pool:
        try:
            exhausted = False
            while True:
                while not exhausted and len(pending) < ahead:
                    try:
                        item = next(source)
                    except StopIteration:
                        exhausted = True
                        break
                    pending.append((item, pool.submit(func, item)))
                if not pending:
                    return
                item, future = pending.popleft()
                result: R | BaseException
                try:
                    result = future.result()
                except Exception as e:  # per-item failure: handed to the consumer, never raised here
                    result = e
                yield item, result
        finally:
            # The consumer stopped early (cancel, error): don't decode what nobody will read.
            for _, future in pending:
                future.cancel()
