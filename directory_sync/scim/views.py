"""/scim/v2/: the SCIM 2.0 endpoints (RFC 7644) an identity provider pushes an account's people to.

Plain Django views, outside the REST API: a request is authenticated by the bearer token of one SCIM directory
connection (never a session, so no CSRF), and acts on that connection's account alone; another account's ids answer
404. Bodies are application/scim+json, errors SCIM Error messages. Every change goes through services.scim.
"""

import functools
import json

from django.db import transaction
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from pydantic import ValidationError
from scim2_models import Context, Error, ListResponse, PatchOp, ResourceType, Schema, SCIMException

from core.errors import ConcurrentChange
from directory_sync.models import DirectoryAddress, DirectoryUserStatus, ScimIdentity
from directory_sync.scim import resources
from directory_sync.scim.filters import InvalidFilter, filter_condition
from directory_sync.services.scim import (
    ScimRefused,
    scim_connection_for_token,
    scim_connection_lock,
    scim_identity,
    scim_person_create,
    scim_person_delete,
    scim_person_replace,
)

CONTENT_TYPE = "application/scim+json"


def _answer(body, *, status: int = 200, context: Context = Context.DEFAULT, headers: dict | None = None):
    data = body.model_dump(scim_ctx=context) if hasattr(body, "model_dump") else body
    response = HttpResponse(json.dumps(data, default=str), status=status, content_type=CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _error(status: int, detail: str, scim_type: str | None = None) -> HttpResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="SCIM"'} if status == 401 else None
    return _answer(Error(status=status, scim_type=scim_type or None, detail=detail), status=status, headers=headers)


def _base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/scim/v2").rstrip("/")


def scim_endpoint(*methods: str):
    """Authenticate by the connection's bearer token, allow `methods`, and turn refusals into SCIM errors."""

    def decorate(view):
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            scheme, _sep, token = request.headers.get("Authorization", "").partition(" ")
            connection = scim_connection_for_token(token=token.strip()) if scheme.lower() == "bearer" else None
            if connection is None:
                return _error(401, _("A valid SCIM bearer token of a directory connection is needed."))
            if request.method not in methods:
                return _error(405, _("Method not allowed here."))
            request.scim_connection = connection
            try:
                with resources.PROVIDER_POLICY:
                    return view(request, *args, **kwargs)
            except ScimRefused as exc:
                return _error(exc.status, str(exc), exc.scim_type)
            except SCIMException as exc:
                return _error(exc.status, str(exc.detail), exc.scim_type or None)
            except ValidationError as exc:
                error = Error.from_validation_errors(exc)[0]
                return _error(error.status or 400, error.detail or str(exc), error.scim_type or "invalidValue")
            except InvalidFilter as exc:
                return _error(400, str(exc), "invalidFilter")
            except ConcurrentChange as exc:  # an address taken meanwhile: the provider retries
                return _error(409, str(exc))

        return wrapper

    return decorate


def _body(request: HttpRequest) -> dict:
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise ScimRefused(_("The body is not JSON."), scim_type="invalidSyntax") from None
    if not isinstance(body, dict):
        raise ScimRefused(_("The body is not a JSON object."), scim_type="invalidSyntax")
    return body


def _identities(connection):
    addresses = DirectoryAddress.objects.only("directory_user_id", "address", "display_address", "kind")
    return (ScimIdentity.objects.filter(partner_id=connection.partner_id)
            .exclude(directory_user__status=DirectoryUserStatus.REMOVED)
            .select_related("directory_user").prefetch_related(Prefetch("directory_user__addresses", addresses)))


def _positive(value: str | None, default: int) -> int:
    try:
        return int(value) if value not in (None, "") else default
    except ValueError:
        raise ScimRefused(_("startIndex and count are whole numbers."), scim_type="invalidValue") from None


@scim_endpoint("GET", "POST")
def users(request: HttpRequest) -> HttpResponse:
    """GET: the account's provisioned people (filter, startIndex, count); POST: provision one."""
    connection, base = request.scim_connection, _base_url(request)
    if request.method == "POST":
        user = resources.PortalUser.model_validate(_body(request), scim_ctx=Context.RESOURCE_CREATION_REQUEST)
        identity = scim_person_create(connection=connection, record=resources.record_of(user))
        created = resources.user_of(_identities(connection).get(pk=identity.pk), base_url=base)
        return _answer(created, status=201, context=Context.RESOURCE_CREATION_RESPONSE,
                       headers={"Location": created.meta.location})
    people = _identities(connection)
    if request.GET.get("filter"):
        people = people.filter(filter_condition(request.GET["filter"])).distinct()
    start = max(_positive(request.GET.get("startIndex"), 1), 1)
    count = min(max(_positive(request.GET.get("count"), resources.DEFAULT_COUNT), 0), resources.MAX_RESULTS)
    total = people.count()
    page = list(people.order_by("id")[start - 1:start - 1 + count]) if count else []
    listing = ListResponse[resources.PortalUser](
        total_results=total, start_index=start, items_per_page=len(page),
        resources=[resources.user_of(identity, base_url=base) for identity in page],
    )
    return _answer(listing, context=Context.RESOURCE_QUERY_RESPONSE)


@scim_endpoint("GET", "PUT", "PATCH", "DELETE")
def user(request: HttpRequest, scim_id: str) -> HttpResponse:
    """One provisioned person: read, replace (PUT), change (PATCH: add, replace, remove) or deprovision (DELETE)."""
    connection, base = request.scim_connection, _base_url(request)
    if request.method == "DELETE":
        scim_person_delete(connection=connection, scim_id=scim_id)
        return HttpResponse(status=204)
    if request.method == "GET":
        return _answer(_current(connection, scim_id, base), context=Context.RESOURCE_QUERY_RESPONSE)
    scim_identity(connection=connection, scim_id=scim_id)  # another account's id is a 404 whatever the body
    if request.method == "PUT":
        wanted = resources.PortalUser.model_validate(_body(request), scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST)
        scim_person_replace(connection=connection, scim_id=scim_id, record=resources.record_of(wanted))
    else:
        patch = PatchOp[resources.PortalUser].model_validate(_body(request), scim_ctx=Context.RESOURCE_PATCH_REQUEST)
        with transaction.atomic():
            scim_connection_lock(connection=connection)
            current = _current(connection, scim_id, base)
            if patch.patch(current):
                scim_person_replace(connection=connection, scim_id=scim_id, record=resources.record_of(current))
    context = Context.RESOURCE_REPLACEMENT_RESPONSE if request.method == "PUT" else Context.RESOURCE_PATCH_RESPONSE
    return _answer(_current(connection, scim_id, base), context=context)


def _current(connection, scim_id: str, base: str):
    """The SCIM User of the connection's person `scim_id` as stored now (ScimNotFound when there is none)."""
    identity = scim_identity(connection=connection, scim_id=scim_id)
    return resources.user_of(_identities(connection).get(pk=identity.pk), base_url=base)


@scim_endpoint("GET")
def service_provider_config(request: HttpRequest) -> HttpResponse:
    return _answer(resources.service_provider_config(base_url=_base_url(request)))


@scim_endpoint("GET")
def resource_types(request: HttpRequest, name: str = "") -> HttpResponse:
    resource_type = resources.user_resource_type(base_url=_base_url(request))
    if name:
        if name != resource_type.id:
            return _error(404, _("No such resource type."))
        return _answer(resource_type)
    listing = ListResponse[ResourceType](total_results=1, start_index=1, items_per_page=1, resources=[resource_type])
    return _answer(listing, context=Context.RESOURCE_QUERY_RESPONSE)


@scim_endpoint("GET")
def schemas(request: HttpRequest, schema_id: str = "") -> HttpResponse:
    documents = resources.schemas(base_url=_base_url(request))
    if schema_id:
        if schema_id not in documents:
            return _error(404, _("No such schema."))
        return _answer(documents[schema_id])
    found = list(documents.values())
    listing = ListResponse[Schema](total_results=len(found), start_index=1, items_per_page=len(found),
                                   resources=found)
    return _answer(listing, context=Context.RESOURCE_QUERY_RESPONSE)


@scim_endpoint("GET", "POST", "PUT", "PATCH", "DELETE")
def not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Anything else under /scim/v2/ (Groups, Bulk, /Me): a SCIM 404, after the token was checked."""
    return _error(404, _("The portal does not serve this SCIM endpoint."))
