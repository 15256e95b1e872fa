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
) -> None:
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
        while not until():
            assert time.monotonic() < deadline, "timed out"
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        for worker in workers:
            worker.close()
