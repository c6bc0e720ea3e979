"""Two requests in flight together: run actions at once, and hold each request at one
point of its work until every one of them has reached it (so all read the same earlier
state before any acts)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from flask import has_request_context, request


@contextmanager
def released_together(
    monkeypatch, module: Any, name: str, *, before: bool = False, parties: int = 2
) -> Iterator[None]:
    """Hold each POST that calls ``module.name`` right after the call returns (or, with
    ``before``, right before it is made) until ``parties`` of them have got there; then
    let all go on."""
    barrier = threading.Barrier(parties, timeout=10)
    original = getattr(module, name)

    def wait() -> None:
        if has_request_context() and request.method == "POST":
            barrier.wait()

    def called_then_wait(*args: Any, **kwargs: Any) -> Any:
        if before:
            wait()
        result = original(*args, **kwargs)
        if not before:
            wait()
        return result

    with monkeypatch.context() as patch:
        patch.setattr(module, name, called_then_wait)
        yield
    assert not barrier.broken, "the requests were not in flight together"


def at_once(*actions: Callable[[], Any]) -> list[Any]:
    """Run the actions in threads at the same time; return their results in order."""
    with ThreadPoolExecutor(len(actions)) as pool:
        return [f.result(timeout=60) for f in [pool.submit(a) for a in actions]]
