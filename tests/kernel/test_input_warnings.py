"""Input warnings: a warning outside a collector, a list inside one, nested, per thread."""

from __future__ import annotations

import threading

import pytest

from optimizer.errors import InputWarning, collect_input_warnings, warn_input


def test_outside_a_collector_an_input_warning_is_raised() -> None:
    with pytest.warns(InputWarning, match="no `region` column"):
        warn_input("stores.csv: no `region` column")


def test_a_collector_keeps_each_message_once_in_order_and_raises_none() -> None:
    with collect_input_warnings() as seen:  # the suite turns warnings into errors
        warn_input("b")
        warn_input("a")
        warn_input("b")
    assert seen == ["b", "a"]


def test_an_inner_collector_passes_its_messages_to_the_outer_one_also_on_error() -> None:
    with collect_input_warnings() as outer:
        warn_input("read")
        with pytest.raises(ValueError), collect_input_warnings() as inner:
            warn_input("job")
            warn_input("read")
            raise ValueError("the job failed")
        warn_input("after")
    assert inner == ["job", "read"]
    assert outer == ["read", "job", "after"]


def test_two_threads_keep_their_own_messages() -> None:
    started = threading.Barrier(2)
    results: dict[str, list[str]] = {}

    def job(name: str) -> None:
        with collect_input_warnings() as seen:
            started.wait()
            for i in range(50):
                warn_input(f"{name} {i}")
                if i == 25:
                    started.wait()  # both threads are inside their blocks at once
        results[name] = seen

    threads = [threading.Thread(target=job, args=(name,)) for name in ("A", "B")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {name: [f"{name} {i}" for i in range(50)] for name in ("A", "B")}
