"""What the API's invites resource reads and answers: a partner's invites and their states."""

from rest_framework import serializers

from onboarding.api.serializers_requests import SEARCH_CONTROL_CHARACTERS
from onboarding.forms import SEARCH_MAX_LENGTH
from onboarding.models import InviteKind, InviteState
from onboarding.validators import has_control_characters


def _one_line(value: str) -> None:
    if has_control_characters(value or ""):
        raise serializers.ValidationError(SEARCH_CONTROL_CHARACTERS)


class InviteFilterSerializer(serializers.Serializer):
    state = serializers.ChoiceField(
        choices=InviteState.choices, required=False,
        help_text="Accepted invites are never listed (their people are the partner's people with access).")
    q = serializers.CharField(required=False, max_length=SEARCH_MAX_LENGTH, validators=[_one_line],
                              help_text="Invites of people whose name or address starts with this.")


class InviteSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.CharField(source="display_email")
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=InviteKind.choices,
                                   help_text="invite (an MSP's person) or welcome (a reseller's account).")
    state = serializers.ChoiceField(choices=InviteState.choices)
    state_label = serializers.CharField(source="get_state_display")
    item = serializers.IntegerField(source="item_id", allow_null=True, help_text="The requested person it is for.")
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField(allow_null=True)
    send_attempts = serializers.IntegerField()
    accepted_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)
