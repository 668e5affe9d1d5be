"""Idempotency-Key answers are kept API_IDEMPOTENCY_HOURS, then purged by the hourly beat task."""

import datetime

import pytest
from django.utils import timezone

from core.models import IdempotencyRecord
from core.tasks import idempotency_purge_task

pytestmark = pytest.mark.django_db


def test_answers_older_than_the_window_are_purged_and_newer_ones_kept(settings):
    settings.API_IDEMPOTENCY_HOURS = 24
    old = IdempotencyRecord.objects.create(token_id=1, key="a", fingerprint="f", status=201, body={})
    new = IdempotencyRecord.objects.create(token_id=1, key="b", fingerprint="f", status=201, body={})
    IdempotencyRecord.objects.filter(pk=old.pk).update(created_at=timezone.now() - datetime.timedelta(hours=25))
    assert idempotency_purge_task() == 1
    assert list(IdempotencyRecord.objects.values_list("pk", flat=True)) == [new.pk]


def test_the_purge_is_on_the_beat_schedule(settings):
    assert settings.CELERY_BEAT_SCHEDULE["idempotency-purge"]["task"] == "core.idempotency_purge"
