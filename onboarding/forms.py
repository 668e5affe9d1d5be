"""Forms of onboarding: the list of people (rows and CSV), decisions, the invitation code and the lists' filters."""

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import PARTNER_ROLES, Role
from onboarding.errors import INVITE_CODE_MISSING
from onboarding.models import PENDING_STATES, InviteState, ItemState, RequestSource
from onboarding.selectors import AgreementFilter
from onboarding.selectors.people import ROLE_LABELS, PersonStatus
from onboarding.validators import validate_plain_text
from partners.models import PartnerKind

ROWS = 5


class PersonRowForm(forms.Form):
    name = forms.CharField(max_length=200, required=False, widget=forms.TextInput(attrs={"autocomplete": "off"}))
    email = forms.CharField(
        max_length=254, required=False,
        widget=forms.EmailInput(attrs={"autocomplete": "off", "inputmode": "email"}),
    )
    # The role the person gets once their access starts (a partner may have several partner admins).
    role = forms.ChoiceField(required=False, choices=[(Role.PARTNER_STAFF, _("Partner staff")),
                                                      (Role.PARTNER_ADMIN, _("Partner admin"))])


PersonRowFormSet = forms.formset_factory(PersonRowForm, extra=ROWS, max_num=1000, validate_max=True)


class ListDetailsForm(forms.Form):
    # One line: the note is shown with the list and must hold no line breaks (see onboarding.validators).
    note = forms.CharField(required=False, max_length=2000)
    received_from = forms.EmailField(
        required=False, label=_("Received by email from"),
        help_text=_("For a list the partner sent you: who sent it."),
    )


class CsvListForm(forms.Form):
    file = forms.FileField(label=_("CSV file"), help_text=_(
        "Columns: name, email, and optionally role (staff or admin; staff if empty). A header row is required."))
    note = forms.CharField(required=False, max_length=2000)
    received_from = forms.EmailField(required=False, label=_("Received by email from"))



class InviteCodeForm(forms.Form):
    """The invitation code: posted by the link's page script from the fragment, or pasted from the mail."""

    code = forms.CharField(
        label=_("Invitation code"), max_length=100, strip=True, error_messages={"required": INVITE_CODE_MISSING},
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "off", "spellcheck": "false"}),
    )


# --- the lists' filters (GET) -------------------------------------------------------------------------------------

SEARCH_MAX_LENGTH = 100
SEARCH_LABEL = _("Name or address starts with")
ANY = _("Any")
FILTER_NOT_UNDERSTOOD = _("Not understood, so not applied: {value}")


def search_field(label=SEARCH_LABEL) -> forms.CharField:
    """A list's search box: the beginning of a name or an address (matched as a prefix, so an index serves it)."""
    return forms.CharField(
        label=label, required=False, max_length=SEARCH_MAX_LENGTH, validators=[validate_plain_text],
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )


def choice_field(label, choices) -> forms.ChoiceField:
    return forms.ChoiceField(label=label, required=False, choices=[("", ANY), *choices])


class ListFilterForm(forms.Form):
    """One list's filter on the partner page, bound to the page's query string under the list's prefix
    (`?pending-q=pat&pending-state=submitted`), so that each list of the page is filtered on its own. A value that
    does not clean is reported on the form and not applied; the others still are."""

    q = search_field()
    state = choice_field(_("State"), ())

    def filters(self) -> dict:
        """The filter's arguments for onboarding.selectors (search, state or source), those that cleaned."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {"search": data.get("q", ""), **{name: data.get(name, "") for name in self.fields if name != "q"}}

    @property
    def active(self) -> bool:
        return any(self.filters().values())


class PendingFilterForm(ListFilterForm):
    state = choice_field(_("State"), [(state.value, state.label) for state in PENDING_STATES])


class RequestedFilterForm(ListFilterForm):
    state = choice_field(_("State"), ItemState.choices)


class InviteFilterForm(ListFilterForm):
    state = choice_field(_("State"), [c for c in InviteState.choices if c[0] != InviteState.ACCEPTED])


class ListsFilterForm(ListFilterForm):
    """The partner's lists: those asking for someone of that name or address, from one source."""

    q = search_field(_("Asks for a name or address starting with"))
    state = None
    source = choice_field(_("Source"), RequestSource.choices)


class PartnerFilterForm(forms.Form):
    """The partner list's filter: the beginning of the name or the short name, the kind, the agreement, waiting."""

    q = search_field(_("Name starts with"))
    kind = choice_field(_("Kind"), PartnerKind.choices)
    agreement = choice_field(_("Agreement"), [
        (AgreementFilter.CURRENT, _("Current")),
        (AgreementFilter.LAPSED, _("Lapsed")),
        (AgreementFilter.NONE, _("None signed")),
    ])
    pending = forms.BooleanField(label=_("Only partners with people waiting"), required=False)

    def filters(self) -> dict:
        """The arguments of onboarding.selectors.partners_matching, those that cleaned."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {"search": data.get("q", ""), "kind": data.get("kind", ""), "agreement": data.get("agreement", ""),
                "pending": bool(data.get("pending"))}

    @property
    def active(self) -> bool:
        return any(self.filters().values())


class PeopleFilterForm(ListFilterForm):
    """A partner's people with access: by the beginning of their name or address, status and role."""

    state = choice_field(_("Status"), PersonStatus.choices)
    role = choice_field(_("Role"), [(role.value, ROLE_LABELS[role]) for role in PARTNER_ROLES])


class PersonChangeForm(forms.Form):
    """A change to one person's access, posted by a button of their page."""

    action = forms.ChoiceField(choices=[(a, a) for a in ("deactivate", "reactivate", "remove", "make_partner_admin",
                                                         "make_partner_staff", "make_signer", "unmake_signer")])
    confirmed = forms.BooleanField(required=False)
