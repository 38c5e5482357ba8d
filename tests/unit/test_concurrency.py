import threading
import time

import pytest

from shared.realtime.concurrency import run_concurrently

pytestmark = pytest.mark.unit


def test_results_come_back_in_call_order_and_the_calls_overlap():
    started = []
    barrier = threading.Barrier(3, timeout=5)  # only passes if all three run at once

    def call(value):
        def run():
            started.append(value)
            barrier.wait()
            return value * 10

        return run

    assert run_concurrently([call(1), call(2), call(3)]) == [10, 20, 30]


def test_a_failure_is_raised_only_after_every_call_has_finished():
    finished = []

    def slow():
        time.sleep(0.1)
        finished.append("slow")

    def broken():
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        run_concurrently([broken, slow])
    assert finished == ["slow"]
