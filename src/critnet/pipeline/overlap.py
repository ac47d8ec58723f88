"""Overlapping decoding, fusion and encoding: a reader thread ahead of the caller, a writer thread
behind it, bounded queues between them, order kept.

Folder and video runs (:mod:`critnet.pipeline.folder`, :mod:`critnet.pipeline.video`) spend a
good part of each frame outside the network: decoding JPEG / PNG / H.264, converting levels,
quantising and encoding. With :func:`prefetched` the next frame is decoded while this one is
fused, and with :class:`Writer` the previous one is encoded meanwhile, so both cores stay busy
(PIL, PyAV, numpy, torch and onnxruntime release the GIL in their heavy loops).

Semantics the callers rely on: items come out and are written in their original order; an
exception raised by the source or by a write is re-raised in the calling thread (at the item
where it happened for the source, at the next :meth:`Writer.submit` or at :meth:`Writer.close`
for a write) and stops both threads; nothing runs after the first failure of a write.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_DONE = object()  # the end of a queue
_POLL = 0.1  # seconds between checks for a stopped partner while a queue is full or empty


def _put(channel: queue.Queue, item: Any, stop: threading.Event) -> bool:
    """Put ``item`` unless ``stop`` is set first; whether it was put."""
    while not stop.is_set():
        try:
            channel.put(item, timeout=_POLL)
            return True
        except queue.Full:
            continue
    return False


def prefetched(items: Iterable[T], depth: int = 1) -> Iterator[T]:
    """``items``, produced by a background thread up to ``depth`` items ahead of the consumer.

    An exception raised while producing an item is re-raised when that item would have come.
    Closing the iterator early (``break``, an exception in the consumer) stops the thread after
    the item it is producing.
    """
    channel: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    source = iter(items)

    def produce() -> None:
        try:
            for item in source:
                if not _put(channel, (True, item), stop):
                    return
            _put(channel, (True, _DONE), stop)
        except BaseException as error:  # handed to the consumer, raised there
            _put(channel, (False, error), stop)
        finally:
            close = getattr(source, "close", None)  # a generator: run its cleanup here
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="critnet-reader", daemon=True)
    thread.start()
    try:
        while True:
            ok, item = channel.get()
            if not ok:
                raise item
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        thread.join()


class Writer:
    """Runs submitted calls one at a time, in order, in a background thread.

    Use as a context manager: leaving it waits for every call (:meth:`close`); leaving it by
    an exception drops the calls still queued (the one running finishes). The first call that
    raises stops the thread; its exception is re-raised by the next :meth:`submit` or by
    :meth:`close`, and the calls queued after it are dropped.
    """

    def __init__(self, depth: int = 1) -> None:
        self._channel: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="critnet-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            task = self._channel.get()
            if task is _DONE:
                return
            call, args = task
            if self._error is not None:
                continue  # dropped after a failure
            try:
                call(*args)
            except BaseException as error:  # re-raised in the submitting thread
                self._error = error
                self._stop.set()

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def submit(self, call: Callable[..., Any], *args: Any) -> None:
        """Queue ``call(*args)`` (waits while the queue is full).

        Raises:
            the exception of an earlier call, if one failed (``call`` is then not queued).
        """
        self._raise()
        if not _put(self._channel, (call, args), self._stop):
            self._raise()

    def close(self) -> None:
        """Wait for every queued call; re-raise the first failure."""
        self._channel.put(_DONE)
        self._thread.join()
        self._raise()

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, kind: type | None, *_: Any) -> None:
        if kind is None:
            self.close()
            return
        self._error = self._error or RuntimeError("stopped")  # drop what is queued, then end
        self._stop.set()
        self._channel.put(_DONE)
        self._thread.join()


def ordered_map(function: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
    """``function(item)`` for each of ``items``, up to ``workers`` at once in background
    threads, yielded in the items' order. ``items`` is read in the calling thread (so stateful
    preparation stays sequential), at most ``workers`` ahead of the consumer.

    With two frames fused at once, each on one onnxruntime thread, both cores stay busy through
    the many short operators of a small network, where one frame on two threads leaves them
    waiting on each other (docs/inference.md, "Streams"). An exception raised by
    ``function`` is re-raised when its item's result would have come; closing the iterator
    early cancels what has not started and waits for what has. ``workers <= 1``: a plain map.
    """
    if workers <= 1:
        yield from map(function, items)
        return
    pending: deque[Future] = deque()
    with ThreadPoolExecutor(workers, thread_name_prefix="critnet-fuse") as pool:
        try:
            for item in items:
                pending.append(pool.submit(function, item))
                if len(pending) >= workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


__all__ = ["Writer", "ordered_map", "prefetched"]
