"""Several real workers on threads, run until a condition holds, then stopped and closed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from segue import Segue
from segue.runtime.worker import Worker


def run_workers(
    engine: Segue,
    until: Callable[[], bool],
    *,
    count: int = 2,
    timeout: float = 60,
    lease_s: float = 30.0,
    poll_s: float = 0.01,
    batch: int = 4,
    then: Callable[[], object] | None = None,
    why: str = "timed out",
) -> None:
    """Run ``count`` workers on threads until ``until()`` holds (``then()`` runs once they
    are running), then stop them — waking idle ones at once — and close them."""
    stop = threading.Event()
    workers = [
        Worker(engine.service, owner=f"w{i}", lease_s=lease_s, poll_s=poll_s, batch=batch)
        for i in range(count)
    ]
    threads = [threading.Thread(target=w.run_forever, args=(stop,)) for w in workers]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    try:
        if then is not None:
            then()
        while not until():
            assert time.monotonic() < deadline, why
            time.sleep(0.05)
    finally:
        stop.set()
        for worker in workers:
            worker._wake.set()  # an idle worker waits up to poll_s otherwise
        for thread in threads:
            thread.join()
        for worker in workers:
            worker.close()
