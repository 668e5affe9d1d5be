"""The API's audit resource: the audit trail, newest first, filtered by time, actor, action and partner.

For the vendor's staff only, as in the portal: admins read every event (the admin's audit log), an account
manager the events of their partners. A partner's people see only their own timelines on its pages, never the
trail itself, so they get 404 here, as for any page they may not see."""

from django.db.models import Q
from django.http import Http404
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView

from accounts.models import VENDOR_ROLES, Role
from core.api.pagination import ApiCursorPagination
from core.emails import InvalidEmail, normalize_email
from core.models import AuditEvent
from onboarding import selectors


class AuditEventSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    created_at = serializers.DateTimeField()
    actor = serializers.CharField(source="actor_label", help_text="The actor's address at the time; '' for the "
                                                                   "system.")
    action = serializers.CharField()
    partner = serializers.SerializerMethodField(help_text="The slug of the partner the event concerns, or null.")
    target_type = serializers.CharField()
    target_id = serializers.CharField()
    target_label = serializers.CharField()
    data = serializers.JSONField(help_text="The event's details; `api_token` names the token of a change made "
                                           "through the API.")
    ip_address = serializers.IPAddressField(allow_null=True)

    def get_partner(self, event) -> str | None:
        return self.context["slugs"].get(event.partner_id)


class AuditFilterSerializer(serializers.Serializer):
    since = serializers.DateTimeField(required=False, help_text="ISO 8601: events at or after this time.")
    until = serializers.DateTimeField(required=False, help_text="ISO 8601: events before this time.")
    actor = serializers.CharField(required=False, max_length=254, help_text="The actor's address.")
    action = serializers.CharField(required=False, max_length=64, help_text="An action, e.g. access.deactivated.")
    partner = serializers.SlugField(required=False, help_text="A partner's slug.")


class NewestFirst(ApiCursorPagination):
    ordering = ("-created_at", "-id")  # the created_at index, read backwards


class AuditEventList(ListAPIView):
    serializer_class = AuditEventSerializer
    pagination_class = NewestFirst

    def get_queryset(self):
        user = self.request.user
        if user.role not in VENDOR_ROLES:
            raise Http404
        filters = AuditFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        wanted = filters.validated_data
        events = AuditEvent.objects.all()
        partners = selectors.partners_visible_to(user=user)
        if "partner" in wanted:
            partner = partners.filter(slug=wanted["partner"]).first()
            if partner is None:  # another account manager's partner, as an unknown one
                raise Http404
            events = events.filter(partner_id=partner.pk)
        elif user.role != Role.ADMIN:
            events = events.filter(partner_id__in=partners.values("pk"))
        if "since" in wanted:
            events = events.filter(created_at__gte=wanted["since"])
        if "until" in wanted:
            events = events.filter(created_at__lt=wanted["until"])
        if "actor" in wanted:
            events = events.filter(self._actor(wanted["actor"]))
        if "action" in wanted:
            events = events.filter(action=wanted["action"])
        return events

    @staticmethod
    def _actor(address: str) -> Q:
        # The trail keeps the actor's normalised address as it was (actor_label); an address that does not
        # normalise matches only as written.
        try:
            return Q(actor_label=normalize_email(address))
        except InvalidEmail:
            return Q(actor_label=address)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "slugs": getattr(self, "_slugs", {})}

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        ids = {event.partner_id for event in page if event.partner_id is not None}
        self._slugs = dict(selectors.partners_visible_to(user=self.request.user).filter(pk__in=ids)
                           .values_list("pk", "slug")) if ids else {}
        return page

    @extend_schema(
        summary="The audit trail, newest first",
        description="Admins read every event, an account manager those of their partners; partner staff and "
                    "partner admins get 404. Filter by `since` and `until` (ISO 8601), `actor` (an address), "
                    "`action` and `partner` (a slug).",
        parameters=[AuditFilterSerializer],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


urlpatterns = [
    path("audit-events/", AuditEventList.as_view(), name="audit_events"),
]
