"""A task enqueued through Redis is run by a real Celery worker process."""

import pytest

from portal.tasks import ping


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_task_enqueued_through_redis_runs_in_a_real_worker(celery_worker_process):
    result = ping.delay()
    answer = result.get(timeout=30)
    assert answer["pong"] is True
    # It ran in the worker process, not in this one (no eager mode).
    assert answer["pid"] == celery_worker_process.pid
