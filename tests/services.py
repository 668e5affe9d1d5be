"""Helpers for tests that start or wait for real services."""

import time
from collections.abc import Callable


def wait_for(check: Callable[[], bool], *, timeout: float, what: str, alive: Callable[[], bool] | None = None,
             interval: float = 0.05) -> None:
    """Poll `check` until it is true; fail with `what` after `timeout` s or when `alive` turns false."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        if alive is not None and not alive():
            raise RuntimeError(f"{what} exited before it was ready")
        time.sleep(interval)
    raise TimeoutError(f"{what} was not ready after {timeout} s")
