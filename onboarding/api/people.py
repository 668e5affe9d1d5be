"""The API's people resource: a partner's people with access, filtered as on the people page, and the changes to
their access (deactivate, reactivate, remove, partner admin or staff) through the same services as that page.

For the partner's admins (their own partner), its account manager and admins, as the people pages; everyone else,
partner staff included, gets 404. The services' refusals (the last partner admin, someone still off in the
directory, your own access) answer 409 with the service's message."""

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import PARTNER_ROLES, User
from accounts.services.access import user_deactivate, user_reactivate, user_set_role
from core.api.idempotency import idempotent
from core.api.pagination import ApiCursorPagination
from core.conflicts import conflicts_refused
from onboarding.api.partners import partner_in_scope
from onboarding.permissions import may_manage_people
from onboarding.selectors.people import (
    PersonStatus,
    partner_people_with_status,
    partner_person,
    with_status,
)
from onboarding.services.people import person_remove
from onboarding.views import exports
from partners.models import Partner

SLUG = OpenApiParameter("slug", str, OpenApiParameter.PATH, description="The partner's slug.")
PERSON_ID = OpenApiParameter("user_id", int, OpenApiParameter.PATH, description="The person's id.")


def people_partner(request, slug: str) -> Partner:
    """The partner whose people the token's person may see and change (onboarding.views.people's rule), or 404."""
    return partner_in_scope(request, slug, may=may_manage_people)


class PersonWithAccessSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    email = serializers.CharField(source="display_email")
    full_name = serializers.CharField()
    role = serializers.ChoiceField(choices=[(role.value, role.label) for role in PARTNER_ROLES])
    status = serializers.ChoiceField(choices=PersonStatus.choices)
    status_explained = serializers.CharField()
    last_login = serializers.DateTimeField(allow_null=True)
    two_factor = serializers.BooleanField(source="has_totp")
    invited_at = serializers.DateTimeField(allow_null=True)
    accepted_at = serializers.DateTimeField(allow_null=True)
    access_ended_at = serializers.DateTimeField(allow_null=True)


class PeopleFilterSerializer(serializers.Serializer):
    search = serializers.CharField(required=False, allow_blank=True, max_length=200,
                                   help_text="The beginning of a name (any case) or of an address.")
    status = serializers.ChoiceField(choices=PersonStatus.choices, required=False,
                                     help_text="Without it, everyone but the removed.")
    role = serializers.ChoiceField(choices=[(role.value, role.label) for role in PARTNER_ROLES], required=False)


class ByName(ApiCursorPagination):
    ordering = ("full_name", "email")  # the people page's order (accounts' (partner, full_name, email) index)


class PeopleList(ListAPIView):
    serializer_class = PersonWithAccessSerializer
    pagination_class = ByName

    def get_queryset(self):
        partner = people_partner(self.request, self.kwargs["slug"])
        filters = PeopleFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return partner_people_with_status(partner=partner, **filters.validated_data)  # absent: not applied

    def paginate_queryset(self, queryset):
        return with_status(super().paginate_queryset(queryset))  # the page's rows only: no query per person

    @extend_schema(
        summary="A partner's people with access",
        description="As on the people page: by name, filtered by status, role and the beginning of a name or "
                    "address. The partner's admins, its account manager and admins; 404 for anyone else.",
        parameters=[SLUG, PeopleFilterSerializer],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class PeopleExport(APIView):
    @extend_schema(
        summary="Who has access, as CSV",
        description="The people page's export, the same file (name, email, role, status, last sign-in, two-factor, "
                    "invited, accepted; times in UTC), streamed; recorded in the audit trail as the page's is.",
        parameters=[SLUG],
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="A UTF-8 CSV file with a BOM.")},
    )
    def get(self, request, slug: str):
        # The page's own view: DRF has set the token's person (and the token) on the underlying request.
        return exports.partner_people_csv(request._request, slug)


def _person_answer(partner: Partner, user_id: int) -> Response:
    """The person as they are now (read again after a change: their status follows from it)."""
    person = with_status([partner_person(partner=partner, user_id=user_id)])[0]
    return Response(PersonWithAccessSerializer(person).data)


class RoleChangeSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=[(role.value, role.label) for role in PARTNER_ROLES])


class PersonDetail(APIView):
    @extend_schema(summary="One person with access", parameters=[SLUG, PERSON_ID],
                   responses=PersonWithAccessSerializer)
    def get(self, request, slug: str, user_id: int):
        return _person_answer(people_partner(request, slug), user_id)

    @extend_schema(
        summary="Make a person partner admin or partner staff",
        description="409 when it would take away the partner's last partner admin, or for your own access.",
        parameters=[SLUG, PERSON_ID], request=RoleChangeSerializer, responses=PersonWithAccessSerializer,
    )
    def patch(self, request, slug: str, user_id: int):
        partner = people_partner(request, slug)
        person = partner_person(partner=partner, user_id=user_id)
        change = RoleChangeSerializer(data=request.data)
        change.is_valid(raise_exception=True)
        with conflicts_refused():
            user_set_role(user=person, role=change.validated_data["role"], actor=request.user, request=request)
        return _person_answer(partner, user_id)


def _change_view(change, *, summary: str, description: str):
    """A POST that makes one change to a person's access through its service, and answers with the person."""

    class PersonChange(APIView):
        @extend_schema(summary=summary, description=description, parameters=[SLUG, PERSON_ID], request=None,
                       responses=PersonWithAccessSerializer)
        @idempotent
        def post(self, request, slug: str, user_id: int):
            partner = people_partner(request, slug)
            person: User = partner_person(partner=partner, user_id=user_id)
            with conflicts_refused():
                change(user=person, actor=request.user, request=request)
            return _person_answer(partner, user_id)

    PersonChange.__name__ = PersonChange.__qualname__ = f"Person{change.__name__.title().replace('_', '')}"
    return PersonChange.as_view()


urlpatterns = [
    path("partners/<slug:slug>/people/", PeopleList.as_view(), name="people"),
    path("partners/<slug:slug>/people/export/", PeopleExport.as_view(), name="people_export"),
    path("partners/<slug:slug>/people/<int:user_id>/", PersonDetail.as_view(), name="person"),
    path("partners/<slug:slug>/people/<int:user_id>/deactivate/", _change_view(
        user_deactivate, summary="Deactivate a person",
        description="Their access ends now: every session of theirs ends, and their API tokens stop working. "
                    "409 for the partner's last partner admin."), name="person_deactivate"),
    path("partners/<slug:slug>/people/<int:user_id>/reactivate/", _change_view(
        user_reactivate, summary="Reactivate a person",
        description="Gives a deactivated person their access back; 409 while the partner's directory still has "
                    "them disabled or removed, and for someone removed (request them again instead)."),
         name="person_reactivate"),
    path("partners/<slug:slug>/people/<int:user_id>/remove/", _change_view(
        person_remove, summary="Remove a person from the partner's portal",
        description="Their access ends and their open invitations are revoked; only a new request brings them "
                    "back. 409 for the partner's last partner admin."), name="person_remove"),
]
