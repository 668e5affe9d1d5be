"""The API's directory resource: who an address is on a partner's account (the recipient lookup sign-in and
onboarding ask), and the account's sync runs — listed, read, and started as the admin's "Sync now" starts them
(queued to the same Celery task, after the request's transaction commits).

The lookup is for those who may keep the partner's directory (its partner admins, its account manager, admins:
onboarding.views.directory's rule); sync runs for its account manager and admins, as in the admin. Everyone
else, and every other partner's id, gets 404."""

from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.idempotency import idempotent
from core.api.pagination import ApiCursorPagination
from core.conflicts import conflicts_refused
from directory_sync import errors as sync_errors
from directory_sync.models import SyncMode, SyncRun, SyncStatus
from directory_sync.selectors import LookupKind, recipient_lookup
from directory_sync.services.runs import directory_sync_queue
from onboarding import selectors
from onboarding.api.partners import partner_in_scope
from onboarding.permissions import may_maintain_directory, may_review
from onboarding.selectors.directory import directory_connection_of
from partners.models import Partner

SLUG = OpenApiParameter("slug", str, OpenApiParameter.PATH, description="The partner's slug.")

NO_CONNECTION = _("{partner} has no directory connection yet.")


def _directory_partner(request, slug: str) -> Partner:
    return partner_in_scope(request, slug, may=may_maintain_directory)


def _runs_partner(request, slug: str) -> Partner:
    return partner_in_scope(request, slug, may=may_review)


class DirectoryPersonSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    external_id = serializers.CharField()
    display_name = serializers.CharField()
    status = serializers.CharField()


class RecipientLookupSerializer(serializers.Serializer):
    address = serializers.CharField(help_text="The address asked about, normalised.")
    kind = serializers.ChoiceField(choices=[(kind.value, kind.value) for kind in LookupKind])
    may_sign_in = serializers.BooleanField(source="is_primary",
                                           help_text="Only a primary address of an enabled person signs in (R7).")
    primary_address = serializers.CharField(help_text="The primary address to use instead (alias, forwarding).")
    person_id = serializers.IntegerField(source="person.pk", allow_null=True, default=None,
                                         help_text="The directory person whose address it is, or null.")
    person_name = serializers.CharField(source="person.display_name", allow_null=True, default=None)
    person_external_id = serializers.CharField(source="person.external_id", allow_null=True, default=None)
    person_status = serializers.CharField(source="person.status", allow_null=True, default=None)
    claimants = DirectoryPersonSerializer(many=True, help_text="For a conflict: everyone claiming the address.")
    description = serializers.CharField(source="describe")


class LookupQuerySerializer(serializers.Serializer):
    email = serializers.CharField(max_length=254, help_text="The address to look up, in any spelling.")


class RecipientLookupView(APIView):
    @extend_schema(
        summary="Who an address is on the partner's account",
        description="primary (may be invited and sign in), alias or forwarding (with the primary to use), "
                    "disabled, conflict (several people claim it), not_found, or invalid.",
        parameters=[SLUG, LookupQuerySerializer], responses=RecipientLookupSerializer,
    )
    def get(self, request, slug: str):
        partner = _directory_partner(request, slug)
        query = LookupQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        answer = recipient_lookup(partner_id=partner.pk, address=query.validated_data["email"])
        return Response(RecipientLookupSerializer(answer).data)


class SyncRunSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    partner = serializers.CharField(source="connection.partner.slug")
    mode = serializers.ChoiceField(choices=SyncMode.choices)
    status = serializers.ChoiceField(choices=SyncStatus.choices)
    dry_run = serializers.BooleanField()
    forced = serializers.BooleanField()
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    counts = inline_serializer("SyncRunCounts", fields={
        name: serializers.IntegerField() for name in
        ("seen", "created", "updated", "unchanged", "disabled", "removed", "skipped", "conflicts")}, source="*")
    error = serializers.CharField()


def _runs():
    return SyncRun.objects.select_related("connection__partner")


class NewestStartedFirst(ApiCursorPagination):
    ordering = ("-started_at", "-id")


class StartSyncSerializer(serializers.Serializer):
    full = serializers.BooleanField(required=False, default=False,
                                    help_text="A full run; otherwise incremental when the directory allows it.")


class SyncQueuedSerializer(serializers.Serializer):
    partner = serializers.CharField()
    full = serializers.BooleanField()
    queued_at = serializers.DateTimeField()
    runs = serializers.CharField(help_text="Where the run appears once it starts.")


class PartnerSyncRuns(ListAPIView):
    serializer_class = SyncRunSerializer
    pagination_class = NewestStartedFirst

    def get_queryset(self):
        partner = _runs_partner(self.request, self.kwargs["slug"])
        return _runs().filter(connection__partner=partner)

    @extend_schema(summary="The partner's directory sync runs, newest first", parameters=[SLUG],
                   description="Its account manager and admins; 404 for anyone else.")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Start a directory sync",
        description="Queues a run of the partner's directory server, as the admin's Sync now does (202): it "
                    "appears in this list once a worker starts it. 409 while a run is running or queued, for a "
                    "CSV-sourced account, or a connection switched off. Its account manager and admins.",
        parameters=[SLUG], request=StartSyncSerializer, responses={202: SyncQueuedSerializer},
    )
    @idempotent
    def post(self, request, slug: str):
        partner = _runs_partner(request, slug)
        start = StartSyncSerializer(data=request.data)
        start.is_valid(raise_exception=True)
        connection = directory_connection_of(partner=partner)
        if connection is None:
            raise sync_errors.SyncNotQueued(str(NO_CONNECTION).format(partner=partner.name))
        full = start.validated_data["full"]
        with conflicts_refused():
            connection = directory_sync_queue(connection=connection, full=full, actor=request.user, request=request)
        body = {"partner": partner.slug, "full": full, "queued_at": connection.sync_requested_at,
                "runs": request.build_absolute_uri()}
        return Response(SyncQueuedSerializer(body).data, status=status.HTTP_202_ACCEPTED)


class SyncRunDetail(RetrieveAPIView):
    serializer_class = SyncRunSerializer

    def get_object(self):
        partners = selectors.partners_visible_to(user=self.request.user)
        run = get_object_or_404(_runs().filter(connection__partner__in=partners), pk=self.kwargs["run_id"])
        if not may_review(self.request.user, run.connection.partner):
            raise Http404
        return run

    @extend_schema(summary="One sync run: status, counts, start and finish",
                   parameters=[OpenApiParameter("run_id", int, OpenApiParameter.PATH)])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


urlpatterns = [
    path("partners/<slug:slug>/directory/lookup/", RecipientLookupView.as_view(), name="directory_lookup"),
    path("partners/<slug:slug>/sync-runs/", PartnerSyncRuns.as_view(), name="partner_sync_runs"),
    path("sync-runs/<int:run_id>/", SyncRunDetail.as_view(), name="sync_run"),
]
