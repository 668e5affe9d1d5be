"""Idempotency-Key on creating POSTs: a client that retries (a timeout, a lost answer) sends the same key and gets
the first answer again, without a second list, invite or mail.

The record is made in the request's own transaction, before the view runs; a concurrent retry with the same key
waits on its unique row and then replays the answer. An answer that is an error of the server (5xx), or an
exception, rolls the record back with everything else: the retry runs again. The same key with another request
(method, path or body) is refused (422). Records are kept API_IDEMPOTENCY_HOURS, then purged."""

import datetime
import functools
import hashlib

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework.response import Response

from core.api.problems import CONTENT_TYPE as PROBLEM_CONTENT_TYPE
from core.api.problems import problem
from core.errors import BODY_TOO_LARGE, IDEMPOTENCY_KEY_REUSED, IDEMPOTENCY_KEY_TOO_LONG
from core.models import IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"


def idempotent(method):
    """Decorate an APIView's post(): honour the request's Idempotency-Key (requests without one run as they are)."""

    @functools.wraps(method)
    def wrapper(view, request, *args, **kwargs):
        if int(request.META.get("CONTENT_LENGTH") or 0) > settings.API_MAX_BODY_BYTES:
            # Refused before anything is read or written to disk (a CSV upload's own limit is smaller still).
            return problem(413, BODY_TOO_LARGE.format(limit=settings.API_MAX_BODY_BYTES // 1024))
        key = request.headers.get(HEADER, "").strip()
        token = getattr(request, "auth", None)
        if not key or getattr(token, "pk", None) is None:
            return method(view, request, *args, **kwargs)
        if len(key) > 200:
            return problem(400, IDEMPOTENCY_KEY_TOO_LONG)
        fingerprint = _fingerprint(request)
        fresh_after = timezone.now() - datetime.timedelta(hours=settings.API_IDEMPOTENCY_HOURS)
        with transaction.atomic():
            IdempotencyRecord.objects.filter(token_id=token.pk, key=key, created_at__lt=fresh_after).delete()
            record, created = IdempotencyRecord.objects.get_or_create(
                token_id=token.pk, key=key, defaults={"fingerprint": fingerprint, "status": 0})
            if not created:
                if record.fingerprint != fingerprint:
                    return problem(422, IDEMPOTENCY_KEY_REUSED)
                return Response(record.body, status=record.status, headers={REPLAYED: "true"},
                                content_type=PROBLEM_CONTENT_TYPE if record.status >= 400 else None)
            response = method(view, request, *args, **kwargs)
            if response.status_code >= 500:
                transaction.set_rollback(True)
                return response
            record.status, record.body = response.status_code, response.data
            record.save(update_fields=["status", "body"])
        return response

    return wrapper


def _fingerprint(request) -> str:
    """What makes two requests the same one: method, path and body — for a file upload its fields and each file's
    content, not the multipart boundary a client draws anew for every try."""
    digest = hashlib.sha256(f"{request.method}\n{request.get_full_path()}\n".encode())
    if request.content_type.startswith("multipart/form-data"):
        for name, values in sorted(request.POST.lists()):
            digest.update(f"field {name}={values!r}\n".encode())
        for name, files in sorted(request.FILES.lists()):
            for upload in files:
                content = hashlib.sha256()
                for chunk in upload.chunks():
                    content.update(chunk)
                upload.seek(0)
                digest.update(f"file {name}={content.hexdigest()}\n".encode())
    else:
        digest.update(request.body)
    return digest.hexdigest()


def idempotency_records_purge() -> int:
    """Delete the records older than API_IDEMPOTENCY_HOURS (a beat task); returns how many."""
    fresh_after = timezone.now() - datetime.timedelta(hours=settings.API_IDEMPOTENCY_HOURS)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=fresh_after).delete()
    return deleted
