"""The API's invites resource (see onboarding/api/__init__.py): a partner's invites (everyone who sees the partner,
as on its page), and resending or revoking one (its account manager and admins, as the page's buttons)."""

from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, generics
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.idempotency import idempotent
from core.api.pagination import ApiCursorPagination
from core.conflicts import conflicts_refused
from onboarding.api.serializers_invites import InviteFilterSerializer, InviteSerializer
from onboarding.permissions import may_review
from onboarding.selectors import partner_for, partner_invite, partner_invites, partners_visible_to
from onboarding.services.invites import invite_resend, invite_revoke

MAY_NOT_CHANGE_INVITES = _("Only the partner's account manager and admins resend or revoke invites.")
PROBLEM = OpenApiResponse(description="A problem-details body (application/problem+json).")
_ANSWERS = {200: InviteSerializer, 403: PROBLEM, 404: PROBLEM, 409: PROBLEM, 422: PROBLEM}
_IDEMPOTENCY = [OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False)]


class NewestInvitesFirst(ApiCursorPagination):
    ordering = ("-created_at", "-id")  # as the partner page lists them


@extend_schema_view(get=extend_schema(summary="A partner's invites that were not accepted, newest first",
                                      parameters=[InviteFilterSerializer]))
class PartnerInvitesView(generics.ListAPIView):
    serializer_class = InviteSerializer
    pagination_class = NewestInvitesFirst

    def get_queryset(self):
        partner = partner_for(user=self.request.user, slug=self.kwargs["slug"])
        filters = InviteFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return partner_invites(partner=partner, search=filters.validated_data.get("q", ""),
                               state=filters.validated_data.get("state", ""))


def _invite_action(request, invite_id: int, service) -> Response:
    """The invite among the partners this person sees (404 for any other), changed by `service` if they may."""
    partner = get_object_or_404(partners_visible_to(user=request.user), invites__pk=invite_id)
    if not may_review(request.user, partner):
        raise exceptions.PermissionDenied(MAY_NOT_CHANGE_INVITES)
    invite = partner_invite(partner=partner, invite_id=invite_id)
    with conflicts_refused():
        invite = service(invite=invite, actor=request.user, request=request)
    return Response(InviteSerializer(invite).data)


class InviteResendView(APIView):
    @extend_schema(summary="Send an invite again: a new link and a fresh expiry; the old link stops working",
                   description="Open, failed and expired invites. Honours `Idempotency-Key`.", request=None,
                   parameters=_IDEMPOTENCY, responses=_ANSWERS)
    @idempotent
    def post(self, request, invite_id: int):
        return _invite_action(request, invite_id, invite_resend)


class InviteRevokeView(APIView):
    @extend_schema(summary="Revoke an invite: its link dies, its person's request ends revoked",
                   description="Honours `Idempotency-Key`.", request=None, parameters=_IDEMPOTENCY,
                   responses=_ANSWERS)
    @idempotent
    def post(self, request, invite_id: int):
        return _invite_action(request, invite_id, invite_revoke)


urlpatterns = [
    path("partners/<slug:slug>/invites/", PartnerInvitesView.as_view(), name="partner_invites_api"),
    path("invites/<int:invite_id>/resend/", InviteResendView.as_view(), name="invite_resend_api"),
    path("invites/<int:invite_id>/revoke/", InviteRevokeView.as_view(), name="invite_revoke_api"),
]
