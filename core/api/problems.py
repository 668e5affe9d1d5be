"""Every API error as an RFC 9457 problem-details body (application/problem+json):
{"type", "title", "status", "detail"} and, for invalid input, "errors" by field. A domain refusal (PortalError,
raised by a service) is a 409 or 400 with the service's own message, as the pages show it."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from core.errors import PortalError

PROBLEM_TYPE = "about:blank"
CONTENT_TYPE = "application/problem+json"

NO_SUCH_ADDRESS = _("There is no such address in the API: see /api/v1/docs/.")

TITLES = {
    400: _("The request is not valid."),
    401: _("Authentication is needed."),
    403: _("Not allowed."),
    404: _("Not found."),
    405: _("Method not allowed."),
    406: _("Not acceptable."),
    409: _("Conflict with the current state."),
    413: _("The request is too large."),
    415: _("Unsupported media type."),
    422: _("The request cannot be processed."),
    429: _("Too many requests."),
}


def problem(status_code: int, detail: str, *, errors: dict | None = None, headers: dict | None = None) -> Response:
    body = {"type": PROBLEM_TYPE, "title": str(TITLES.get(status_code, "")), "status": status_code,
            "detail": str(detail)}
    if errors:
        body["errors"] = errors
    return Response(body, status=status_code, headers=headers, content_type=CONTENT_TYPE)


def problem_exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: its own errors, Django's 404/403, and the portal's refusals, as problem details."""
    if isinstance(exc, PortalError):
        return problem(getattr(exc, "status_code", status.HTTP_409_CONFLICT), str(exc))
    if isinstance(exc, ValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages})
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None
    headers = {name: value for name, value in response.items() if name in ("WWW-Authenticate", "Retry-After")}
    if isinstance(exc, exceptions.ValidationError):
        errors = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return problem(400, _("The request is not valid: see errors."), errors=_plain(errors), headers=headers)
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    return problem(response.status_code, detail, headers=headers)


def _plain(errors):
    if isinstance(errors, dict):
        return {str(key): _plain(value) for key, value in errors.items()}
    if isinstance(errors, list):
        return [_plain(value) for value in errors]
    return str(errors)
