"""Work run in threads, each with its own database connection, as in separate worker or web processes:
the concurrency tests (claims, locks, unique rows) start them together and read their outcomes."""

import threading
from collections.abc import Callable
from typing import Any

from django.db import connections

TIMEOUT = 120  # seconds a thread may take before the test fails instead of hanging


class Worker(threading.Thread):
    """Runs `work` in its own thread, so with its own database connection, like a worker process."""

    def __init__(self, work: Callable[[], Any]) -> None:
        super().__init__()
        self.work = work
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.work()
        except BaseException as exc:  # surfaced in the test's thread by outcome()
            self.error = exc
        finally:
            connections.close_all()

    def outcome(self) -> Any:
        self.join(timeout=TIMEOUT)
        assert not self.is_alive(), "the worker did not finish"
        if self.error is not None:
            raise self.error
        return self.result


def in_threads(*work: Callable[[], Any]) -> list[Any]:
    """Run each callable in its own thread, all starting together (a barrier, so they really meet);
    their results, in order. A thread's error is raised here, in the test's thread."""
    start = threading.Barrier(len(work))

    def together(one: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            start.wait(timeout=TIMEOUT)
            return one()

        return run

    workers = [Worker(together(one)) for one in work]
    for worker in workers:
        worker.start()
    return [worker.outcome() for worker in workers]
