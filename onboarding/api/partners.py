"""The API's partners resource: the partners a token's person may see (as on the partner list: an account manager
theirs, admins all, a partner's people their own) with kind and agreement state, and a partner's agreements (as on
its agreement page: its partner admins, its account manager and admins). Anything else answers 404."""

from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.generics import ListAPIView, RetrieveAPIView

from core.api.pagination import ApiCursorPagination
from onboarding import selectors
from onboarding.selectors.scope import AgreementFilter
from partners.models import Partner, PartnerKind, SignedVia
from partners.selectors import agreement_history, agreement_is_current, agreement_partner_for

AGREEMENT_STATES = (AgreementFilter.CURRENT, AgreementFilter.LAPSED, AgreementFilter.NONE)


def partner_in_scope(request, slug: str, *, may=None) -> Partner:
    """The partner of a URL if the token's person may see it (onboarding.selectors.partner_for) and, given a rule of
    onboarding.permissions (`may(user, partner)`), may do what it allows there; 404 otherwise, as on the pages."""
    partner = selectors.partner_for(user=request.user, slug=slug)
    if may is not None and not may(request.user, partner):
        raise Http404
    return partner


def agreement_state(*, signed_at, valid_until) -> str:
    """The latest agreement's standing, as the partner list's filter names it: current, lapsed or none."""
    if signed_at is None:
        return AgreementFilter.NONE
    current = agreement_is_current(signed_at=signed_at, valid_until=valid_until)
    return AgreementFilter.CURRENT if current else AgreementFilter.LAPSED


class PartnerAgreementStateSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=AGREEMENT_STATES, help_text="current, lapsed, or none (never signed).")
    version = serializers.CharField(allow_null=True)
    signed_at = serializers.DateTimeField(allow_null=True)
    valid_until = serializers.DateField(allow_null=True)


class PartnerCountsSerializer(serializers.Serializer):
    people_with_access = serializers.IntegerField(source="member_count")
    pending_items = serializers.IntegerField()
    open_invites = serializers.IntegerField()
    directory_people = serializers.IntegerField()


class PartnerSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=PartnerKind.choices)
    is_active = serializers.BooleanField()
    account_manager = serializers.SerializerMethodField(help_text="The account manager's address, or null.")
    agreement = serializers.SerializerMethodField(help_text="The latest signed agreement and its standing (R1).")
    counts = PartnerCountsSerializer(source="*")

    def get_account_manager(self, partner) -> str | None:
        return partner.account_manager.display_email if partner.account_manager_id else None

    @extend_schema_field(PartnerAgreementStateSerializer)
    def get_agreement(self, partner) -> dict:
        return PartnerAgreementStateSerializer({
            "state": agreement_state(signed_at=partner.agreement_signed_at, valid_until=partner.agreement_valid_until),
            "version": partner.agreement_version, "signed_at": partner.agreement_signed_at,
            "valid_until": partner.agreement_valid_until,
        }).data


class PartnerFilterSerializer(serializers.Serializer):
    search = serializers.CharField(required=False, allow_blank=True, max_length=200)
    kind = serializers.ChoiceField(choices=PartnerKind.choices, required=False)
    agreement = serializers.ChoiceField(choices=AGREEMENT_STATES, required=False)
    pending = serializers.BooleanField(required=False)


class BySlug(ApiCursorPagination):
    ordering = "slug"  # unique (partner_slug_unique): a stable cursor


class PartnerList(ListAPIView):
    serializer_class = PartnerSerializer
    pagination_class = BySlug

    def get_queryset(self):
        filters = PartnerFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        overview = selectors.partner_overview(partners=selectors.partners_visible_to(user=self.request.user))
        return selectors.partners_matching(overview, **filters.validated_data)  # absent filters: not applied

    @extend_schema(
        summary="The partners you may see",
        description="An account manager's partners, every partner for admins, a partner's people their own; "
                    "filtered as on the partner list (the beginning of the name or slug, kind, agreement state, "
                    "people waiting).",
        parameters=[PartnerFilterSerializer],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class PartnerDetail(RetrieveAPIView):
    serializer_class = PartnerSerializer

    def get_object(self):
        visible = selectors.partners_visible_to(user=self.request.user)
        return get_object_or_404(selectors.partner_overview(partners=visible), slug=self.kwargs["slug"])

    @extend_schema(summary="One partner", description="404 for a partner you may not see.")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class AgreementSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    version = serializers.CharField()
    signed_at = serializers.DateTimeField()
    signed_by_name = serializers.CharField()
    signed_by_email = serializers.CharField()
    signed_by_title = serializers.CharField()
    signed_via = serializers.ChoiceField(choices=SignedVia.choices)
    valid_until = serializers.DateField(allow_null=True)
    is_current = serializers.SerializerMethodField()
    has_document = serializers.BooleanField()

    def get_is_current(self, agreement) -> bool:
        return agreement.is_current()


class NewestSignedFirst(ApiCursorPagination):
    ordering = ("-signed_at", "-id")


class AgreementList(ListAPIView):
    serializer_class = AgreementSerializer
    pagination_class = NewestSignedFirst

    def get_queryset(self):
        partner = agreement_partner_for(user=self.request.user, slug=self.kwargs["slug"])
        if partner is None:  # partner staff, and other partners' people, as on the agreement page
            raise Http404
        return agreement_history(partner=partner)

    @extend_schema(
        summary="A partner's signed agreements, newest first",
        description="Its partner admins, its account manager and admins (as the agreement page); 404 otherwise.",
        parameters=[OpenApiParameter("slug", str, OpenApiParameter.PATH)],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


urlpatterns = [
    path("partners/", PartnerList.as_view(), name="partners"),
    path("partners/<slug:slug>/", PartnerDetail.as_view(), name="partner"),
    path("partners/<slug:slug>/agreements/", AgreementList.as_view(), name="partner_agreements"),
]
