"""What the API's requests and review resources read and answer: lists, their people (each with the directory
check the list's page shows), the review queue, and what a decision did for each person."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from onboarding.errors import NOTE_CONTROL_CHARACTERS, NOTHING_CHOSEN, REASON_CONTROL_CHARACTERS, REASON_REQUIRED
from onboarding.forms import SEARCH_MAX_LENGTH
from onboarding.models import PENDING_STATES, CheckResult, ItemState, RequestSource
from onboarding.services.requests import EMAIL_MAX, MAX_ROWS, NAME_MAX
from onboarding.validators import has_control_characters

SEARCH_CONTROL_CHARACTERS = _("The search must be one line of text, without control characters.")
NOTE_MAX = 2000  # as the list form's note


def _one_line(message):
    def validate(value: str) -> None:
        if has_control_characters(value or ""):
            raise serializers.ValidationError(message)
    return validate


# --- what a client sends -------------------------------------------------------------------------------------------


class PersonInSerializer(serializers.Serializer):
    """One person of a list. Only the shape is checked here: the list's own checks (name, address, role, duplicates,
    other accounts' domains) are the service's, reported by row."""

    name = serializers.CharField(max_length=NAME_MAX * 2, allow_blank=True, default="", trim_whitespace=False)
    email = serializers.CharField(max_length=EMAIL_MAX * 2, allow_blank=True, default="", trim_whitespace=False)
    role = serializers.CharField(max_length=40, allow_blank=True, default="", required=False,
                                 help_text="staff (the default) or admin.")


class _ListDetailsSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=NOTE_MAX, allow_blank=True, default="",
                                 validators=[_one_line(NOTE_CONTROL_CHARACTERS)])
    received_from = serializers.EmailField(allow_blank=True, required=False,
                                           help_text="For a list the partner sent by email: who sent it.")


class RequestSubmitSerializer(_ListDetailsSerializer):
    people = serializers.ListField(child=PersonInSerializer(), max_length=MAX_ROWS,
                                   help_text=f"At most {MAX_ROWS} people; rows are numbered from 1 in errors.")


class RequestCsvSubmitSerializer(_ListDetailsSerializer):
    file = serializers.FileField(help_text="CSV with a header row naming the columns name, email and optionally role "
                                           "(staff or admin); errors name the file's rows (the header is row 1).")


class RequestFilterSerializer(serializers.Serializer):
    q = serializers.CharField(required=False, max_length=SEARCH_MAX_LENGTH,
                              validators=[_one_line(SEARCH_CONTROL_CHARACTERS)],
                              help_text="Lists asking for someone whose name or address starts with this.")
    source = serializers.ChoiceField(choices=RequestSource.choices, required=False)


class ReviewFilterSerializer(serializers.Serializer):
    partner = serializers.SlugField(required=False, help_text="A partner's slug.")
    request = serializers.IntegerField(required=False, min_value=1, help_text="A list's id.")
    check = serializers.ChoiceField(choices=CheckResult.choices, required=False,
                                    help_text="The directory check at submission.")
    q = serializers.CharField(required=False, max_length=SEARCH_MAX_LENGTH,
                              validators=[_one_line(SEARCH_CONTROL_CHARACTERS)],
                              help_text="People whose name or address starts with this.")


class DecisionSerializer(serializers.Serializer):
    items = serializers.ListField(
        child=serializers.IntegerField(min_value=1), max_length=MAX_ROWS, allow_empty=False,
        error_messages={"empty": NOTHING_CHOSEN}, help_text=f"The ids of the people to decide (at most {MAX_ROWS}).")


class RejectSerializer(DecisionSerializer):
    reason = serializers.CharField(
        max_length=NOTE_MAX, validators=[_one_line(REASON_CONTROL_CHARACTERS)],
        error_messages={"blank": REASON_REQUIRED, "required": REASON_REQUIRED},
        help_text="Why: the requesters see it (one line).")


# --- what the API answers ------------------------------------------------------------------------------------------


class ItemStateField(serializers.ChoiceField):
    """A person's state on the way to access (an enum of its own in the schema: SPECTACULAR_SETTINGS names it)."""

    def __init__(self, **kwargs):
        super().__init__(choices=ItemState.choices, **kwargs)


class CheckSerializer(serializers.Serializer):
    """The directory check of a person when the list was submitted, as the list's page shows it."""

    result = serializers.CharField(source="check_result", help_text="A check (primary, alias, not_found, …), or "
                                                                     "empty when not checked.")
    label = serializers.CharField(source="get_check_result_display")
    suggested_email = serializers.CharField(help_text="The primary address to use instead, for an alias or a "
                                                      "forwarding address.")


class ItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    email = serializers.CharField(source="display_email")
    role = serializers.CharField()
    state = ItemStateField()
    state_label = serializers.CharField(source="get_state_display")
    check = CheckSerializer(source="*")
    decided_at = serializers.DateTimeField(allow_null=True)
    decided_by = serializers.SerializerMethodField()
    rejection_reason = serializers.CharField()
    awaiting_until = serializers.DateTimeField(allow_null=True,
                                               help_text="When a person held for the directory expires.")

    def get_decided_by(self, item) -> str | None:
        """Who decided (an address), or null: not decided, or decided by the system."""
        return item.decided_by.display_email if item.decided_by_id else None


class ReviewItemSerializer(ItemSerializer):
    partner = serializers.CharField(source="partner.slug")
    request = serializers.IntegerField(source="request_id")
    submitted_at = serializers.DateTimeField(source="request.submitted_at")
    submitted_by = serializers.CharField(source="request.submitted_by.display_email")


class RequestSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    partner = serializers.CharField(source="partner.slug")
    source = serializers.ChoiceField(choices=RequestSource.choices)
    submitted_at = serializers.DateTimeField()
    submitted_by = serializers.CharField(source="submitted_by.display_email")
    note = serializers.CharField()
    received_from = serializers.CharField()
    people = serializers.IntegerField(help_text="How many people the list asks for.")
    pending = serializers.IntegerField(help_text="How many of them are still on their way (waiting for a decision, "
                                                 "for the directory, or for a corrected address).")


class RequestDetailSerializer(RequestSerializer):
    items = ItemSerializer(many=True, source="items_listed")


def request_detail_data(portal_request, items) -> dict:
    """A list and all its people (a list holds at most MAX_ROWS) for RequestDetailSerializer."""
    items = list(items)
    portal_request.people = len(items)
    portal_request.pending = sum(item.state in PENDING_STATES for item in items)
    portal_request.items_listed = items
    return RequestDetailSerializer(portal_request).data


class DecidedPersonSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    email = serializers.CharField()
    partner = serializers.CharField()
    state = ItemStateField(help_text="The state the decision left them in.")
    directory = serializers.CharField(help_text="For a person who waits or whose address is not a primary one: the "
                                                "directory's answer (not_found, alias, forwarding, …); else empty.")


class RefusedPersonSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.CharField()
    detail = serializers.CharField(help_text="Why this person was not decided.")


class OutcomeEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.CharField()
    detail = serializers.CharField()


class OutcomeSerializer(serializers.Serializer):
    outcome = serializers.CharField()
    heading = serializers.CharField()
    state = serializers.CharField()
    next_step = serializers.CharField(help_text="What happens next, and who acts.")
    count = serializers.IntegerField()
    people = OutcomeEntrySerializer(many=True)
    more = serializers.IntegerField(help_text="How many more people have this outcome than are named.")


class DecisionResultSerializer(serializers.Serializer):
    decided = DecidedPersonSerializer(many=True)
    refused = RefusedPersonSerializer(many=True)
    outcomes = OutcomeSerializer(many=True, help_text="The decided people grouped as the review page and the "
                                                      "requester's mail show them.")
