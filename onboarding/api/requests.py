"""The API's requests resource (see onboarding/api/__init__.py): a partner's lists, submitted as JSON or as a CSV
file through the list form's service and checks; each list with its people, their states and directory checks; the
account manager's review queue; and approving or rejecting people, answered with each one's outcome as the review
page shows it."""

from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, generics, status
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import VENDOR_ROLES
from core.api.idempotency import idempotent
from core.api.pagination import ApiCursorPagination
from core.api.problems import problem
from core.conflicts import conflicts_refused
from onboarding.api.serializers_requests import (
    DecisionResultSerializer,
    DecisionSerializer,
    RejectSerializer,
    RequestCsvSubmitSerializer,
    RequestDetailSerializer,
    RequestFilterSerializer,
    RequestSerializer,
    RequestSubmitSerializer,
    ReviewFilterSerializer,
    ReviewItemSerializer,
    request_detail_data,
)
from onboarding.errors import ListInvalid, OnboardingError
from onboarding.permissions import may_submit
from onboarding.selectors import (
    partner_for,
    partner_request,
    partner_requests,
    partners_visible_to,
    request_items,
    review_items_chosen,
    review_queue,
)
from onboarding.selectors.outcomes import decision_outcomes, decision_outcomes_kept
from onboarding.services.requests import request_source, request_submit, rows_from_csv
from onboarding.services.review import request_items_approve, request_items_reject

LIST_NOT_SUBMITTED = _("The list was not submitted: see the errors of each row.")
MAY_NOT_SUBMIT = _("Only the partner's admins, its account manager and admins submit lists.")
REVIEWERS_ONLY = _("Only account managers and admins review lists.")
ITEMS_NOT_FOUND = _("Not every chosen person was found: nothing was decided.")
PROBLEM = OpenApiResponse(description="A problem-details body (application/problem+json).")


class NewestListsFirst(ApiCursorPagination):
    ordering = ("-submitted_at", "-id")  # the index request_partner_newest


class OldestItemsFirst(ApiCursorPagination):
    ordering = ("id",)  # the queue's people in the order they were asked for


def _valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _detail(partner, request_id: int) -> dict:
    portal_request = partner_request(partner=partner, request_id=request_id)
    return request_detail_data(portal_request, request_items(portal_request=portal_request))


@extend_schema_view(
    get=extend_schema(summary="A partner's lists, newest first", parameters=[RequestFilterSerializer]),
)
class PartnerRequestsView(generics.ListAPIView):
    serializer_class = RequestSerializer
    pagination_class = NewestListsFirst
    parser_classes = [JSONParser, MultiPartParser]

    def get_queryset(self):
        partner = partner_for(user=self.request.user, slug=self.kwargs["slug"])
        filters = _valid(RequestFilterSerializer, self.request.query_params)
        lists = partner_requests(partner=partner, search=filters.get("q", ""), source=filters.get("source", ""))
        return lists.select_related("partner")  # each row names its partner: joined, not read once per row

    @extend_schema(
        summary="Submit a list of people (JSON, or a CSV file as multipart field `file`)",
        description="The list form's checks: a current agreement (R1), every row a name and an address, no repeats, "
                    "no address of another account's domain. A bad row refuses the whole list (400, `errors.rows` "
                    "with each row's number and reason) and nothing is written. Honours `Idempotency-Key`.",
        request={"application/json": RequestSubmitSerializer, "multipart/form-data": RequestCsvSubmitSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False)],
        responses={201: RequestDetailSerializer, 400: PROBLEM, 403: PROBLEM, 404: PROBLEM, 409: PROBLEM,
                   422: PROBLEM},
    )
    @idempotent
    def post(self, request, slug: str):
        partner = partner_for(user=request.user, slug=slug)
        if not may_submit(request.user, partner):
            raise exceptions.PermissionDenied(MAY_NOT_SUBMIT)
        csv = request.content_type.startswith("multipart/")
        data = _valid(RequestCsvSubmitSerializer if csv else RequestSubmitSerializer, request.data)
        try:
            with conflicts_refused():
                # The file itself, not its bytes: its size is checked before it is read, then row by row.
                rows = (rows_from_csv(data["file"], partner=partner) if csv else
                        [(person["name"], person["email"], person["role"]) for person in data["people"]])
                portal_request = request_submit(
                    partner=partner, actor=request.user, rows=rows,
                    source=request_source(actor=request.user, partner=partner, csv=csv, api=True),
                    note=data["note"], received_from=data.get("received_from", ""), request=request)
        except ListInvalid as exc:
            return problem(400, LIST_NOT_SUBMITTED,
                           errors={"rows": [{"row": row, "detail": str(why)} for row, why in exc.problems]})
        except OnboardingError as exc:
            # A file too large, a note of several lines: the input, not the state (409 stays for R1's missing
            # agreement and a concurrent change, which are not OnboardingErrors).
            return problem(400, str(exc))
        return Response(_detail(partner, portal_request.pk), status=status.HTTP_201_CREATED)


class RequestDetailView(APIView):
    @extend_schema(summary="A list and its people: each one's state, role, directory check and decision",
                   responses={200: RequestDetailSerializer, 404: PROBLEM})
    def get(self, request, request_id: int):
        # The list's partner among those this person sees (404 for any other), then the page's own selectors.
        partner = get_object_or_404(partners_visible_to(user=request.user), requests__pk=request_id)
        return Response(_detail(partner, request_id))


def _require_reviewer(user) -> None:
    if user.role not in VENDOR_ROLES:
        raise exceptions.PermissionDenied(REVIEWERS_ONLY)


@extend_schema_view(get=extend_schema(
    summary="The review queue: people waiting for a decision, of the partners this person manages (admins: all)",
    parameters=[ReviewFilterSerializer], responses={200: ReviewItemSerializer(many=True), 403: PROBLEM}))
class ReviewQueueView(generics.ListAPIView):
    serializer_class = ReviewItemSerializer
    pagination_class = OldestItemsFirst

    def get_queryset(self):
        user = self.request.user
        _require_reviewer(user)
        filters = _valid(ReviewFilterSerializer, self.request.query_params)
        partner_id = None
        if "partner" in filters:
            partner_id = get_object_or_404(partners_visible_to(user=user), slug=filters["partner"]).pk
        return review_queue(user=user, partner_id=partner_id, request_id=filters.get("request"),
                            check=filters.get("check"), search=filters.get("q"))


def _decision_answer(user, decided) -> dict:
    """Each person decided with the state it left them in, each refused with why, and the review page's groups."""
    kept = decision_outcomes_kept(decided.done)
    items = {item.pk: item for item in decided.done}
    return DecisionResultSerializer({
        "decided": [{"id": pk, "name": items[pk].name, "email": items[pk].display_email,
                     "partner": items[pk].partner.slug, "state": state, "directory": kind}
                    for pk, state, kind in kept],
        "refused": [{"id": item.pk, "email": item.display_email, "detail": str(why)} for item, why in decided.refused],
        "outcomes": [{"outcome": group.outcome, "heading": str(group.heading), "state": str(group.state),
                      "next_step": str(group.next_step), "count": group.count, "more": group.more,
                      "people": [{"id": entry.item.pk, "email": entry.item.display_email, "detail": str(entry.detail)}
                                 for entry in group.entries]}
                     for group in decision_outcomes(user=user, kept=kept)],
    }).data


def _decision(request, serializer_class, decide) -> Response:
    """Decide the chosen people at once (one transaction) with `decide(ids, data)`, answered with the outcomes."""
    _require_reviewer(request.user)
    data = _valid(serializer_class, request.data)
    ids = sorted(set(data["items"]))
    # Every id must be one of this person's partners' people; otherwise nothing is decided (and nothing told).
    if len(review_items_chosen(user=request.user, ids=ids)) != len(ids):
        raise exceptions.NotFound(ITEMS_NOT_FOUND)
    with conflicts_refused():
        decided = decide(ids, data)
    return Response(_decision_answer(request.user, decided))


_DECISION_RESPONSES = {200: DecisionResultSerializer, 400: PROBLEM, 403: PROBLEM, 404: PROBLEM, 409: PROBLEM,
                       422: PROBLEM}
_IDEMPOTENCY = [OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False)]


class ReviewApproveView(APIView):
    @extend_schema(
        summary="Approve people (account managers of their partners, admins)", request=DecisionSerializer,
        description="Resellers' people get their accounts and a welcome link; MSPs' go through recipient "
                    "validation. One who cannot be approved (decided meanwhile, no current agreement, …) is refused "
                    "with the reason; the others go ahead. Honours `Idempotency-Key`.",
        parameters=_IDEMPOTENCY, responses=_DECISION_RESPONSES)
    @idempotent
    def post(self, request):
        return _decision(request, DecisionSerializer, lambda ids, data: request_items_approve(
            item_ids=ids, actor=request.user, request=request))


class ReviewRejectView(APIView):
    @extend_schema(
        summary="Reject people, with a reason the requesters see (account managers of their partners, admins)",
        description="Honours `Idempotency-Key`.", request=RejectSerializer, parameters=_IDEMPOTENCY,
        responses=_DECISION_RESPONSES)
    @idempotent
    def post(self, request):
        return _decision(request, RejectSerializer, lambda ids, data: request_items_reject(
            item_ids=ids, actor=request.user, reason=data["reason"], request=request))


urlpatterns = [
    path("partners/<slug:slug>/requests/", PartnerRequestsView.as_view(), name="partner_requests_api"),
    path("requests/<int:request_id>/", RequestDetailView.as_view(), name="request_detail_api"),
    path("review/", ReviewQueueView.as_view(), name="review_queue_api"),
    path("review/approve/", ReviewApproveView.as_view(), name="review_approve_api"),
    path("review/reject/", ReviewRejectView.as_view(), name="review_reject_api"),
]
