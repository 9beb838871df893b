"""Executor choices that need no cluster: how endpoint limits are divided between workers, and
what the Ray executor refuses before anything is written."""

from __future__ import annotations

import pytest

from muspsy.backends import limit_share
from muspsy.config import build_config, resolved
from muspsy.executors.base import ExecutorError
from muspsy.runner import ExecutorOptions, check_executor

pytestmark = pytest.mark.unit

POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.mark.parametrize("workers", [1, 2, 3, 4])
def test_worker_shares_of_an_endpoint_limit_add_up_to_the_limit(workers):
    shares = [limit_share((5, 600.0), index, workers) for index in range(workers)]
    assert sum(slots for slots, _ in shares) == 5
    assert max(slots for slots, _ in shares) - min(slots for slots, _ in shares) <= 1
    assert sum(rate for _, rate in shares) == pytest.approx(600.0)
    assert limit_share((None, None), 0, workers) == (None, None)


def test_the_ray_executor_refuses_what_it_cannot_honour():
    ray = ExecutorOptions("ray", workers=2)
    with pytest.raises(ExecutorError, match="needs --checkpointer postgresql"):
        check_executor(ray, None)
    check_executor(ray, POSTGRES, resolved(build_config({"backend": "scripted"}, "test")))


def test_fewer_request_slots_than_workers_is_refused():
    from muspsy.executors.ray_pool import check_limits

    config = resolved(
        build_config(
            {
                "backend": "openai",
                "models": {"default": {"base_url": "http://127.0.0.1:1/v1", "max_concurrent_requests": 1}},
            },
            "test",
        )
    )
    with pytest.raises(ExecutorError, match="fewer than --workers 2"):
        check_limits(config, 2)
    check_limits(config, 1)
