"""Long engine jobs are generators: they yield progress values and return their result.

`run_to_end` is the one way front ends drive such a job when they only want a callback per step (CLIs, the demo
builder); GUI workers `yield from` the job instead, so each step reaches the window as it comes.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TypeVar

Step = TypeVar("Step")
Result = TypeVar("Result")


def run_to_end(job: Generator[Step, None, Result], on_step: Callable[[Step], object] | None = None) -> Result:
    """Run `job` to completion, handing each yielded step to `on_step`; return the job's return value.

    The job is closed if `on_step` raises (e.g. KeyboardInterrupt in a CLI), so its own cleanup runs.
    """
    results: list[Result] = []

    def collect() -> Generator[Step, None, None]:
        results.append((yield from job))

    steps = collect()
    try:
        for step in steps:
            if on_step is not None:
                on_step(step)
    finally:
        steps.close()
        job.close()
    return results[0]
