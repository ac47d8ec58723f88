"""The reader / writer threads of folder and video runs: order kept, errors re-raised in the
caller at the right item, nothing written after a failed write, threads stopped."""

from __future__ import annotations

import threading
import time

import pytest

from critnet.pipeline.overlap import Writer, ordered_map, prefetched


def _threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith("critnet-")}


def test_prefetched_keeps_order_and_reads_ahead_in_another_thread():
    where = []

    def source():
        for i in range(20):
            where.append(threading.current_thread().name)
            yield i

    assert list(prefetched(source(), depth=2)) == list(range(20))
    assert set(where) == {"critnet-reader"}
    assert _threads() == set()


def test_prefetched_reads_the_next_item_while_this_one_is_used():
    reading_second = threading.Event()

    def source():
        yield 1
        reading_second.set()  # only reached while the consumer still holds item 1 if ahead
        yield 2

    items = prefetched(source())
    assert next(items) == 1
    assert reading_second.wait(5)  # a serial iterator would never get here
    assert list(items) == [2]


def test_a_source_error_is_raised_at_its_item():
    def source():
        yield 1
        yield 2
        raise ValueError("frame 3 is corrupt")

    got = []
    with pytest.raises(ValueError, match="frame 3 is corrupt"):
        for item in prefetched(source()):
            got.append(item)
    assert got == [1, 2]
    assert _threads() == set()


def test_stopping_early_stops_the_reader_and_closes_the_source():
    closed = threading.Event()

    def endless():
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.set()

    items = prefetched(endless())
    assert [next(items) for _ in range(3)] == [0, 1, 2]
    items.close()
    assert closed.is_set() and _threads() == set()


def test_writer_runs_calls_in_order_in_one_thread():
    done = []
    with Writer(depth=2) as writer:
        for i in range(30):
            writer.submit(lambda n: done.append((n, threading.current_thread().name)), i)
    assert [n for n, _ in done] == list(range(30))
    assert {name for _, name in done} == {"critnet-writer"}
    assert _threads() == set()


def test_a_failed_write_is_raised_and_nothing_after_it_runs():
    done = []

    def write(n):
        if n == 2:
            raise OSError(28, "No space left on device")
        done.append(n)

    with pytest.raises(OSError, match="No space left"):
        with Writer() as writer:
            for i in range(10):
                writer.submit(write, i)
                time.sleep(0.01)
    assert done == [0, 1]
    assert _threads() == set()


def test_an_error_in_the_caller_drops_queued_writes():
    started, release, done = threading.Event(), threading.Event(), []

    def first():
        started.set()
        release.wait(5)
        done.append("first")

    with pytest.raises(KeyError):
        with Writer(depth=4) as writer:
            writer.submit(first)
            writer.submit(done.append, "second")
            started.wait(5)
            threading.Timer(0.05, release.set).start()
            raise KeyError("stop")
    assert done == ["first"]  # the running call finished, the queued one was dropped
    assert _threads() == set()


def test_ordered_map_keeps_order_with_two_items_in_flight_at_once():
    running, most = [0], [0]
    lock = threading.Lock()

    def slow(item: int) -> int:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05 if item % 2 == 0 else 0.01)  # even items finish after the next odd one
        with lock:
            running[0] -= 1
        return item * 10

    assert list(ordered_map(slow, range(8), workers=2)) == [i * 10 for i in range(8)]
    assert most[0] == 2  # really two at once, never more


def test_ordered_map_raises_at_the_failing_item_and_reads_items_in_the_caller():
    readers = set()

    def items():
        for i in range(6):
            readers.add(threading.current_thread().name)
            yield i

    def fail_on_three(item: int) -> int:
        if item == 3:
            raise ValueError("frame 3")
        return item

    got = []
    with pytest.raises(ValueError, match="frame 3"):
        for value in ordered_map(fail_on_three, items(), workers=2):
            got.append(value)
    assert got == [0, 1, 2]
    assert readers == {threading.current_thread().name}


def test_ordered_map_with_one_worker_is_a_plain_map():
    threads = set()

    def where(item: int) -> int:
        threads.add(threading.current_thread().name)
        return item + 1

    assert list(ordered_map(where, [1, 2, 3], workers=1)) == [2, 3, 4]
    assert threads == {threading.current_thread().name}
