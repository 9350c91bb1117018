"""Run an iterator one or two items ahead in a background thread.

The data-value sync reads and prepares the next chunk from the source while the current one is
posted to the destination, so the two servers work at the same time instead of taking turns.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


def read_ahead(items: Iterable[T], depth: int = 2, name: str = "read-ahead") -> Iterator[T]:
    """Yield `items` in order while a thread produces up to `depth` of them in advance.

    An exception in the producer is raised here, at the point its item would have come; closing
    this generator early stops the producer at its next item.
    """
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        buffer.put((item, None), timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
                del item  # not held while the next one is produced: the consumer may be done with it
            buffer.put((_DONE, None))
        except BaseException as exc:  # handed to the consumer, raised there
            buffer.put((_DONE, exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()  # a generator's open HTTP answer is released in this thread

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item, error = buffer.get()
            if item is _DONE:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                buffer.get(timeout=0.2)  # unblock a producer waiting on a full buffer
            except queue.Empty:
                pass
            thread.join(timeout=0.1)
