"""The admin at a vendor's size: lists and change pages cost the same number of queries at any size, lists of
big tables never count the whole table, long inlines are bounded, and searches are answered by an index."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import ApiTokenScope
from accounts.services.api_tokens import api_token_create
from core.admin_utils import EstimatedCountPaginator
from core.audit import audit_record
from core.mail import mail_send_on_commit
from core.models import AuditEvent, OutboundMail
from directory_sync.models import DirectoryAddress, SyncProblem, SyncStatus
from onboarding.models import ItemState, RequestItem
from tests.accounts.factories import AccountManagerFactory, AdminFactory, UserFactory
from tests.conftest import login_with_second_factor
from tests.directory_sync.factories import (
    DirectoryAddressFactory,
    DirectoryConnectionFactory,
    DirectoryUserFactory,
    SyncRunFactory,
)
from tests.onboarding.factories import InviteFactory, PortalUserRequestFactory, RequestItemFactory
from tests.partners.factories import AgreementFactory, AgreementVersionFactory, PartnerFactory

pytestmark = pytest.mark.django_db

BIG_TABLES = [
    "core.AuditEvent", "core.OutboundMail", "directory_sync.DirectoryUser", "directory_sync.DirectoryAddress",
    "directory_sync.SyncRun", "directory_sync.SyncProblem", "onboarding.PortalUserRequest", "onboarding.RequestItem",
    "onboarding.Invite",
]
EVERY_ADMIN = sorted(
    model._meta.label for model in admin.site._registry
    if model._meta.app_label in ("core", "partners", "directory_sync", "accounts", "onboarding", "portal")
)


def _url(label: str, view: str, *args) -> str:
    model = apps.get_model(label)
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def admin_user():
    return AdminFactory()


@pytest.fixture
def admin_client(client, admin_user):
    login_with_second_factor(client, admin_user)
    return client


def grow(count: int) -> None:
    """`count` more rows of every model the admin lists, each with related rows of its own (so that a
    query per row shows)."""
    now = timezone.now()
    partner = PartnerFactory()
    connection_ = DirectoryConnectionFactory(partner=partner)
    AgreementFactory(partner=partner)
    AgreementVersionFactory()
    for n in range(count):
        decider = AccountManagerFactory()
        person = UserFactory(partner=partner)
        item = RequestItemFactory(
            request=PortalUserRequestFactory(partner=partner), state=ItemState.APPROVED, decided_by=decider,
            decided_at=now, user=person,
        )
        InviteFactory(partner=partner, item=item, user=person, created_by=decider)
        DirectoryAddressFactory(directory_user__partner=partner)
        run = SyncRunFactory(connection=connection_, triggered_by=decider, status=SyncStatus.SUCCEEDED,
                             started_at=now, finished_at=now)
        SyncProblem.objects.create(run=run, kind="skipped", dn=f"cn=broken{n}", reason="no stable id")
        audit_record(actor=decider, action="test.grown", target=item, partner=partner)
        api_token_create(user=decider, name=f"token {n}", scope=ApiTokenScope.READ, days=30, actor=decider)
        mail_send_on_commit(to=f"requester{n}@{partner.slug}.example", subject="Your list",
                            template="request_item_decided", context={"decision": "approved"}, partner=partner)


def queries(client, url: str) -> int:
    """The queries of a page, once the process has cached what it caches (content types) on a first visit."""
    client.get(url)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured)


@pytest.mark.parametrize("label", EVERY_ADMIN)
def test_a_list_costs_the_same_queries_with_5_rows_and_with_50(admin_client, label):
    grow(5)
    small = queries(admin_client, _url(label, "changelist"))

    grow(45)

    assert queries(admin_client, _url(label, "changelist")) == small


@pytest.mark.parametrize("label", EVERY_ADMIN)
def test_a_change_page_costs_the_same_queries_with_5_rows_and_with_50(admin_client, label):
    grow(5)
    obj = apps.get_model(label).objects.order_by("-pk").first()
    small = queries(admin_client, _url(label, "change", obj.pk))

    grow(45)

    assert queries(admin_client, _url(label, "change", obj.pk)) == small


@pytest.mark.parametrize("label", EVERY_ADMIN)
def test_a_search_costs_the_same_queries_with_5_rows_and_with_50(admin_client, label):
    grow(5)
    small = queries(admin_client, _url(label, "changelist") + "?q=Requester1@")

    grow(45)

    assert queries(admin_client, _url(label, "changelist") + "?q=Requester1@") == small


@pytest.mark.parametrize("label", BIG_TABLES)
def test_the_list_of_a_big_table_never_counts_the_whole_table(label):
    assert admin.site._registry[apps.get_model(label)].show_full_result_count is False


def _request_with_items(count: int):
    request = PortalUserRequestFactory()
    decided = {"state": ItemState.APPROVED, "decided_at": timezone.now()}
    for _ in range(count):
        RequestItemFactory(request=request, decided_by=AccountManagerFactory(), **decided)
    return request


def test_a_request_change_page_costs_the_same_with_5_items_and_with_500(admin_client):
    few, many = _request_with_items(5), _request_with_items(500)

    assert queries(admin_client, _url("onboarding.PortalUserRequest", "change", many.pk)) == queries(
        admin_client, _url("onboarding.PortalUserRequest", "change", few.pk)
    )


def test_a_long_request_shows_its_first_items_and_links_to_all_of_them(admin_client):
    request = _request_with_items(60)

    response = admin_client.get(_url("onboarding.PortalUserRequest", "change", request.pk))

    formset = response.context["inline_admin_formsets"][0].formset
    assert len(formset.forms) == 50
    assert [form.instance.pk for form in formset.forms] == list(
        request.items.order_by("id").values_list("pk", flat=True)[:50]
    )
    page = response.content.decode()
    assert "60 item(s); the first 50 are shown below." in page
    assert f"{_url('onboarding.RequestItem', 'changelist')}?request__id__exact={request.pk}" in page


def test_a_long_request_is_saved_from_its_change_page_without_touching_the_items_not_shown(admin_client):
    request = _request_with_items(55)
    page = admin_client.get(_url("onboarding.PortalUserRequest", "change", request.pk))
    formset = page.context["inline_admin_formsets"][0].formset
    data = {
        "partner": request.partner_id, "submitted_by": request.submitted_by_id, "source": request.source,
        "received_from": "", "note": "checked", "submitted_at_0": timezone.localdate().isoformat(),
        "submitted_at_1": "10:00:00",
        f"{formset.prefix}-TOTAL_FORMS": "50", f"{formset.prefix}-INITIAL_FORMS": "50",
        f"{formset.prefix}-MIN_NUM_FORMS": "0", f"{formset.prefix}-MAX_NUM_FORMS": "1000",
    }
    for i, form in enumerate(formset.forms):
        item = form.instance
        data |= {f"{formset.prefix}-{i}-id": item.pk, f"{formset.prefix}-{i}-request": request.pk,
                 f"{formset.prefix}-{i}-name": item.name, f"{formset.prefix}-{i}-display_email": item.display_email}
    data[f"{formset.prefix}-0-name"] = "Renamed Person"

    response = admin_client.post(_url("onboarding.PortalUserRequest", "change", request.pk), data)

    assert response.status_code == 302, response.context and response.context["errors"]
    request.refresh_from_db()
    assert request.note == "checked"
    assert request.items.order_by("id").first().name == "Renamed Person"
    assert request.items.count() == 55


def test_items_are_found_by_any_spelling_of_their_address_or_its_beginning(admin_client):
    item = RequestItemFactory(display_email="Ann.Example@Acme.example")
    RequestItemFactory(display_email="bob@acme.example")
    url = _url("onboarding.RequestItem", "changelist")

    exact = admin_client.get(url, {"q": "ANN.example@acme.EXAMPLE"}).context["cl"].result_list
    prefix = admin_client.get(url, {"q": "ann.ex"}).context["cl"].result_list

    assert list(exact) == [item] and list(prefix) == [item]


def test_a_person_is_found_by_one_of_their_addresses(admin_client):
    person = DirectoryUserFactory(display_name="Ann Example")
    DirectoryAddressFactory(directory_user=person, display_address="Ann@Acme.example")
    DirectoryAddressFactory(directory_user=person, display_address="ann.alias@acme.example", kind="alias")
    DirectoryAddressFactory(display_address="bob@acme.example")
    url = _url("directory_sync.DirectoryUser", "changelist")

    by_alias = admin_client.get(url, {"q": "Ann.Alias@acme.example"}).context["cl"].result_list
    by_name = admin_client.get(url, {"q": "ann ex"}).context["cl"].result_list

    assert list(by_alias) == [person] and list(by_name) == [person]


def test_audit_events_are_found_by_actor_action_object_or_client(admin_client, admin_user):
    actor = AccountManagerFactory(display_email="Carla@Vendor.example")
    item = RequestItemFactory(name="Dora Example")
    audit_record(actor=actor, action="request.approved", target=item, ip_address="192.0.2.7")
    audit_record(actor=None, action="signin.failed", data={"email": "x@y.example"})
    url = _url("core.AuditEvent", "changelist")

    def found(term: str) -> set[str]:
        return {event.action for event in admin_client.get(url, {"q": term}).context["cl"].result_list}

    assert found("CARLA@vendor.example") == {"request.approved"}
    assert found("carla@") == {"request.approved"}
    assert found("signin.") == {"signin.failed"}
    assert found("Dora Ex") == {"request.approved"}
    assert found("192.0.2.7") == {"request.approved"}


# -- the indexes behind the searches (PostgreSQL's plans; the table scan switched off to see whether an
# index can answer at all, as it would at a vendor's size) ------------------------------------------------


def _plan(queryset) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    return queryset.explain()


def _searched(label: str, term: str):
    model = apps.get_model(label)
    model_admin = admin.site._registry[model]
    queryset, _ = model_admin.get_search_results(None, model.objects.all(), term)
    return queryset


@pytest.mark.parametrize("term", ["carla@vendor.example", "Carla@", "signin.fail", "Dora Ex", "192.0.2.7"])
def test_an_audit_search_is_answered_by_an_index(term):
    plan = _plan(_searched("core.AuditEvent", term))

    assert "Seq Scan" not in plan, plan
    assert "portal_auditevent" in plan


def test_an_outbound_mail_search_is_answered_by_an_index():
    plan = _plan(_searched("core.OutboundMail", "Requester1@Acme.example"))

    assert "Seq Scan" not in plan, plan


@pytest.mark.parametrize("label", ["onboarding.RequestItem", "onboarding.Invite", "onboarding.PortalUserRequest"])
@pytest.mark.parametrize("term", ["Requester1@Acme.example", "requester1@", "Dora Ex"])
def test_a_search_for_a_requested_person_is_answered_by_an_index(label, term):
    plan = _plan(_searched(label, term))

    assert "Seq Scan on onboarding_requestitem" not in plan, plan
    assert "Seq Scan on onboarding_invite" not in plan, plan


def test_the_audit_list_pages_on_its_time_index():
    plan = _plan(AuditEvent.objects.order_by("-created_at", "-id")[:100])

    assert "Seq Scan" not in plan and "Index Scan Backward" in plan, plan


def test_the_outbox_list_pages_on_its_time_index():
    plan = _plan(OutboundMail.objects.order_by("-created_at", "-id")[:100])

    assert "Seq Scan" not in plan and "Index Scan Backward" in plan, plan


def test_the_big_directory_and_onboarding_lists_page_on_the_primary_key():
    for model in (DirectoryAddress, RequestItem):
        plan = _plan(model.objects.order_by("-pk")[:100])

        assert "Seq Scan" not in plan, plan


# -- counting and filtering without reading the whole table --------------------------------------------------


def test_an_unfiltered_big_list_takes_its_size_from_the_statistics(admin_client, monkeypatch):
    grow(5)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE portal_auditevent")
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = 'portal_auditevent'::regclass")
        (estimate,) = cursor.fetchone()
    monkeypatch.setattr(EstimatedCountPaginator, "ESTIMATE_FROM", 1)

    with CaptureQueriesContext(connection) as captured:
        response = admin_client.get(_url("core.AuditEvent", "changelist"))

    assert response.context["cl"].result_count == estimate
    assert not [q for q in captured.captured_queries if "COUNT(*)" in q["sql"] and "portal_auditevent" in q["sql"]]


def test_a_filtered_big_list_is_counted_exactly(admin_client, monkeypatch):
    grow(5)
    audit_record(actor=None, action="test.once")
    monkeypatch.setattr(EstimatedCountPaginator, "ESTIMATE_FROM", 1)

    response = admin_client.get(_url("core.AuditEvent", "changelist"), {"action": "test.once"})

    assert response.context["cl"].result_count == 1


def test_the_audit_list_offers_each_action_once_and_the_portals_models(admin_client):
    grow(3)
    audit_record(actor=None, action="signin.failed")

    response = admin_client.get(_url("core.AuditEvent", "changelist"))

    filters = {spec.title: [choice["display"] for choice in spec.choices(response.context["cl"])]
               for spec in response.context["cl"].filter_specs}
    assert filters["action"] == ["All", "api_token.created", "signin.failed", "test.grown"]
    assert "request item" in filters["target type"] and "user" in filters["target type"]
