"""Fetch provider pages in a background thread while the caller converts the previous ones.

HTTP waits release the GIL, so fetching page N+1 overlaps with converting page N.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")

DEFAULT_DEPTH = 8
_DONE = object()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetch(pages: Iterator[T], depth: int = DEFAULT_DEPTH) -> Iterator[T]:
    """Yield the items of ``pages`` in order, reading up to ``depth`` items ahead in a thread.

    An exception raised by ``pages`` is re-raised here. Closing this generator early stops the
    background thread after its current item.
    """
    buffer: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in pages:
                while not stop.is_set():
                    try:
                        buffer.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            buffer.put(_DONE)
        except BaseException as error:  # handed to the consumer, which re-raises it
            buffer.put(_Failure(error))

    worker = threading.Thread(target=produce, name="opbox-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = buffer.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        close = getattr(pages, "close", None)
        if close is not None and not worker.is_alive():
            close()
