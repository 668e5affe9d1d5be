"""A migration drill: a populated database of the previous layout migrates to this one without losing a row.

The previous layout kept partners, their account settings, domains and agreements in onboarding and
the audit trail in portal; this one moves them to partners and core, keeping their tables. The drill
builds a database at the previous migration state with Django's MigrationExecutor, fills every table
through the historical models (today's models no longer describe that state), runs `migrate` as an
operator pulling the change would, and checks with today's models and code that every row, secret,
content type, grant and database safeguard survived. Then it migrates back, and forward again.

It runs on an empty database of its own (it refuses one that has tables), in a process of its own:
    DJANGO_SETTINGS_MODULE=portal.settings.test DATABASE_URL=sqlite:////tmp/drill.sqlite3 \\
        python -m tests.core.migration_drill
It prints what it checked and exits 1 naming every lost or changed row (2 when it refuses to start).
tests/core/test_migrate_from_previous_layout.py runs it on PostgreSQL, and on SQLite under `make run`'s
settings (portal.settings.local).
"""

import datetime
import hashlib
import io
import os
import sys
import time
import traceback

import django

# The previous commit's migration leaves of the portal's own apps; every other app at its leaf.
PREVIOUS = [
    ("accounts", "0002_initial"),
    ("onboarding", "0001_initial"),
    ("portal", "0002_audit_event_append_only"),
    ("directory_sync", "0001_initial"),
]
OWN_APPS = {"accounts", "onboarding", "portal", "directory_sync", "partners", "core"}
NEW_APPS = ("partners", "core")
# The content types that change app label: (old app, model) -> new app.
MOVED = {
    ("onboarding", "partner"): "partners",
    ("onboarding", "accountsettings"): "partners",
    ("onboarding", "accountdomain"): "partners",
    ("onboarding", "agreement"): "partners",
    ("portal", "auditevent"): "core",
}
# post_migrate makes content types and permissions app by app, in INSTALLED_APPS order (the previous one's).
PREVIOUS_APP_ORDER = [
    "admin", "auth", "contenttypes", "sessions", "otp_totp", "otp_static", "django_otp_webauthn", "django_celery_beat",
    "axes",
    "portal", "accounts", "onboarding", "directory_sync",
]
# Apps whose every table must hold rows before migrating, so that no table goes unchecked.
POPULATED_APPS = OWN_APPS | {"auth", "contenttypes", "admin", "otp_totp", "otp_static"}

# accounts 0005 moves second factors out of django-otp's clear-text tables into accounts' own (the TOTP key
# encrypted, backup codes hashed), keeping their ids; back, the TOTP devices return, backup codes cannot.
SECOND_FACTOR_TABLES = ("otp_totp_totpdevice", "otp_static_staticdevice", "otp_static_statictoken")
TOTP_KEY = "3132333435363738393031323334353637383930"
BACKUP_CODE = "k3y5t0k3"

PASSWORD = "correct horse battery staple 42"
SSO_CLIENT_SECRET = "northwind-oidc-client-secret-7f3a9c"
BIND_PASSWORD = "Northwind bind p4ss, with spaces & symbols"
INVITE_TOKEN = "invite-token-of-alice-archer-5d1e"
MISSING_PARTNER_ID = 987_654_321

problems: list[str] = []


def expect(condition: bool, message: str) -> bool:
    """Note a problem (all are reported at the end, not just the first)."""
    if not condition:
        problems.append(message)
        print(f"  PROBLEM: {message}")
    return bool(condition)


def say(message: str) -> None:
    print(message, flush=True)


def moved_label(label: str) -> str:
    """The label a model of the previous layout has now (onboarding.partner -> partners.partner)."""
    app, model = label.split(".")
    return f"{MOVED.get((app, model), app)}.{model}"


# --- the database at the previous state --------------------------------------------------------


def previous_targets(executor) -> list[tuple[str, str]]:
    others = [node for node in executor.loader.graph.leaf_nodes() if node[0] not in OWN_APPS]
    return PREVIOUS + others


def build_previous_state(connection):
    """Migrate the empty database to the previous layout; return the historical apps of that state."""
    from django.db.migrations.executor import MigrationExecutor

    with connection.cursor() as cursor:
        existing = connection.introspection.table_names(cursor)
    if existing:
        say(f"Refusing to run: {connection.settings_dict['NAME']} already has tables ({', '.join(existing[:5])}…).")
        sys.exit(2)
    executor = MigrationExecutor(connection)
    targets = previous_targets(executor)
    plan = [(migration.app_label, migration.name) for migration, _ in executor.migration_plan(targets)]
    # The drill is only worth something if it starts before the change: none of its migrations applied.
    previous = _previous_nodes(executor)
    newer = [node for node in plan if node[0] in NEW_APPS or (node[0] in OWN_APPS and node not in previous)]
    if newer:
        say(f"The previous state would include migrations of this change: {newer}")
        sys.exit(2)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def _previous_nodes(executor) -> set[tuple[str, str]]:
    graph = executor.loader.graph
    return {node for target in PREVIOUS for node in graph.forwards_plan(target)}


# --- rows, through the historical models --------------------------------------------------------


class Rows:
    """Creates rows with historical models and remembers what each one must still say afterwards."""

    def __init__(self, apps):
        self.apps = apps
        # (label of the previous layout, pk, {attname: value}) for every row created here.
        self.facts: list[tuple[str, object, dict]] = []

    def make(self, label: str, **fields):
        from django.db import models

        model = self.apps.get_model(label)
        obj = model.objects.create(**fields)
        expected = {}
        for name, value in fields.items():
            attname = model._meta.get_field(name).attname
            expected[attname] = value.pk if isinstance(value, models.Model) else value
        self.facts.append((model._meta.label_lower, obj.pk, expected))
        return obj


def create_content_types_and_permissions(apps) -> None:
    """What post_migrate (create_contenttypes, create_permissions) leaves in a database of the previous layout.

    MigrationExecutor sends no post_migrate, so these rows are made here, named exactly as Django names them.
    """
    from django.contrib.auth import get_permission_codename

    content_type = apps.get_model("contenttypes", "ContentType")
    permission = apps.get_model("auth", "Permission")
    by_app: dict[str, list] = {}
    for model in apps.get_models():
        by_app.setdefault(model._meta.app_label, []).append(model)
    unknown = set(by_app) - set(PREVIOUS_APP_ORDER)
    expect(not unknown, f"apps of the previous state missing from PREVIOUS_APP_ORDER: {sorted(unknown)}")
    for app_label in PREVIOUS_APP_ORDER:
        for model in by_app.get(app_label, []):
            opts = model._meta
            ct = content_type.objects.create(app_label=app_label, model=opts.model_name)
            builtin = [(get_permission_codename(action, opts), f"Can {action} {opts.verbose_name_raw}")
                       for action in opts.default_permissions]
            for codename, name in [*builtin, *opts.permissions]:
                permission.objects.create(content_type=ct, codename=codename, name=name)


def populate(apps) -> dict:
    """Realistic rows in every table of the previous layout; returns what the checks need to find them."""
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    rows = Rows(apps)
    make = rows.make
    now = timezone.now()
    hours = datetime.timedelta(hours=1)
    days = datetime.timedelta(days=1)
    password = make_password(PASSWORD)

    create_content_types_and_permissions(apps)
    ct = apps.get_model("contenttypes", "ContentType").objects
    permission = apps.get_model("auth", "Permission").objects

    # People of the vendor first: a partner names its account manager.
    admin = make("accounts.User", email="ada.admin@vendor.example", display_email="Ada.Admin@Vendor.example",
                 full_name="Ada Admin", role="admin", is_staff=True, password=password, last_login=now - days)
    manager = make("accounts.User", email="max.manager@vendor.example", display_email="Max.Manager@vendor.example",
                   full_name="Max Manager", role="account_manager", is_staff=True, password=password)

    northwind = make("onboarding.Partner", name="Northwind Managed IT", slug="northwind", kind="msp",
                     account_manager=manager)
    contoso = make("onboarding.Partner", name="Contoso Resell", slug="contoso-resell", kind="reseller",
                   account_manager=manager, is_active=True)
    make("onboarding.AccountSettings", partner=northwind, auth_method="sso",
         sso_issuer="https://login.northwind.example/realms/staff", sso_client_id="partner-portal",
         sso_client_secret=SSO_CLIENT_SECRET, sso_enforced=True, two_factor_policy="required",
         two_factor_grace_days=3)
    make("onboarding.AccountSettings", partner=contoso, auth_method="cloud_password", self_service_reset=False,
         reset_contact="helpdesk@contoso-resell.example", two_factor_policy="optional")
    for partner, domain in [(northwind, "northwind.example"), (northwind, "northwind-it.example"),
                            (contoso, "contoso-resell.example")]:
        make("onboarding.AccountDomain", partner=partner, domain=domain)
    make("onboarding.Agreement", partner=northwind, version="2024.1", signed_by_name="Nora North",
         signed_by_email="nora.north@northwind.example", signed_at=now - 400 * days,
         valid_until=(now - 35 * days).date(), recorded_by=manager)
    current = make("onboarding.Agreement", partner=northwind, version="2025.1", signed_by_name="Nora North",
                   signed_by_email="nora.north@northwind.example", signed_at=now - 30 * days, valid_until=None,
                   document="agreements/2025/northwind-2025.1.pdf", recorded_by=manager)
    make("onboarding.Agreement", partner=contoso, version="2023.2", signed_by_name="Carl Contoso",
         signed_at=now - 800 * days, valid_until=(now - 70 * days).date(), recorded_by=None)

    # Northwind's directory: a primary, alias and forwarding address, one address two people claim.
    connection = make("directory_sync.DirectoryConnection", partner=northwind, kind="ldap",
                      preset="active-directory", uri="ldaps://dc1.northwind.example", start_tls=False,
                      bind_dn="CN=portal-sync,OU=Service Accounts,DC=northwind,DC=example",
                      bind_password=BIND_PASSWORD, base_dn="OU=Staff,DC=northwind,DC=example",
                      attribute_overrides={"changed": "whenChanged"}, high_water_mark="4711",
                      last_full_sync_at=now - 20 * hours, last_sync_at=now - hours)
    people = {}
    for key, name, status, addresses in [
        ("alice", "Alice Archer", "active", [("Alice.Archer@Northwind.example", "primary"),
                                             ("alice@northwind.example", "alias"),
                                             ("a.archer@northwind-it.example", "forwarding")]),
        ("bob", "Bob Baker", "active", [("bob.baker@northwind.example", "primary"),
                                        ("helpdesk@northwind.example", "alias")]),
        ("carol", "Carol Cook", "disabled", [("carol.cook@northwind.example", "primary"),
                                             ("helpdesk@northwind.example", "forwarding")]),
        ("dave", "Dave Dunn", "removed", [("dave.dunn@northwind.example", "primary")]),
    ]:
        person = make("directory_sync.DirectoryUser", partner=northwind, external_id=f"guid-{key}-0001",
                      dn=f"CN={name},OU=Staff,DC=northwind,DC=example", display_name=name, status=status,
                      content_hash=hashlib.sha256(name.encode()).hexdigest(), changed_at=now - 2 * hours)
        people[key] = person
        for display, kind in addresses:
            make("directory_sync.DirectoryAddress", directory_user=person, partner=northwind,
                 address=display.lower(), display_address=display, kind=kind,
                 in_conflict=display == "helpdesk@northwind.example")
    full = make("directory_sync.SyncRun", connection=connection, mode="full", status="succeeded",
                started_at=now - 20 * hours, finished_at=now - 20 * hours + 90 * datetime.timedelta(seconds=1),
                pages_done=1, seen=4, created=4, conflicts=1, triggered_by=manager)
    failed = make("directory_sync.SyncRun", connection=connection, mode="incremental", status="failed",
                  started_at=now - 2 * hours, finished_at=now - 2 * hours, error="LDAP server unavailable")
    make("directory_sync.SyncRun", connection=connection, mode="incremental", status="running",
         started_at=now - datetime.timedelta(minutes=1), heartbeat_at=now)
    make("directory_sync.SyncProblem", run=full, kind="conflict", address="helpdesk@northwind.example",
         reason="Claimed by Bob Baker and Carol Cook.")
    make("directory_sync.SyncProblem", run=full, kind="skipped", external_id="guid-eve-0001",
         dn="CN=Eve,OU=Staff,DC=northwind,DC=example", reason="No mail attribute.")
    make("directory_sync.SyncProblem", run=failed, kind="ignored_value", external_id="guid-bob-0001",
         reason="proxyAddresses: 'x500:/o=Northwind' is not an email address.")

    # Partner people: staff of each partner, one linked to its directory entry.
    pat = make("accounts.User", email="alice.archer@northwind.example", display_email="Alice.Archer@Northwind.example",
               full_name="Alice Archer", role="partner_staff", partner=northwind, directory_user=people["alice"],
               password=make_password(None), two_factor_required_since=now - days)
    rita = make("accounts.User", email="rita.reseller@contoso-resell.example",
                display_email="rita.reseller@contoso-resell.example", full_name="Rita Reseller",
                role="partner_admin", partner=contoso, password=password)
    sam = make("accounts.User", email="sam.seller@contoso-resell.example",
               display_email="Sam.Seller@contoso-resell.example", full_name="Sam Seller", role="partner_staff",
               partner=contoso, password=password, is_active=True)

    # Requests and their items, in the states a running portal has them.
    form = make("onboarding.PortalUserRequest", partner=northwind, submitted_by=manager, source="form",
                note="First wave", submitted_at=now - 10 * days)
    csv = make("onboarding.PortalUserRequest", partner=contoso, submitted_by=rita, source="csv",
               submitted_at=now - 9 * days)
    make("onboarding.PortalUserRequest", partner=contoso, submitted_by=manager, source="on_behalf",
         received_from="carl@contoso-resell.example", note="Sent by mail", submitted_at=now - days)
    decided = {"decided_at": now - 8 * days, "decided_by": manager}
    items = {}
    for request, email, state, extra in [
        (form, "alice.archer@northwind.example", "invited", {"check_result": "primary", "user": pat, **decided}),
        (form, "alice@northwind.example", "rejected", {"check_result": "alias", "rejection_reason": "An alias.",
                                                       "suggested_email": "alice.archer@northwind.example",
                                                       **decided}),
        (form, "bob.baker@northwind.example", "approved", {"check_result": "primary", **decided}),
        (form, "helpdesk@northwind.example", "awaiting_validation",
         {"check_result": "conflict", "awaiting_until": now + 5 * days, **decided}),
        (form, "new.person@northwind.example", "submitted", {"check_result": "not_found"}),
        (csv, "sam.seller@contoso-resell.example", "accepted", {"user": sam, **decided}),
        (csv, "gone@contoso-resell.example", "expired", decided),
    ]:
        items[email] = make("onboarding.RequestItem", request=request, partner=request.partner,
                            name=email.split("@")[0].replace(".", " ").title(), email=email,
                            display_email=email.capitalize(), state=state, **extra)
    invite = make("onboarding.Invite", partner=northwind, kind="invite", email="alice.archer@northwind.example",
                  display_email="Alice.Archer@Northwind.example", name="Alice Archer", state="sent",
                  token_hash=hashlib.sha256(INVITE_TOKEN.encode()).hexdigest(), expires_at=now + 7 * days,
                  sent_at=now - days, send_attempts=1, item=items["alice.archer@northwind.example"],
                  user=pat, created_by=manager)
    make("onboarding.Invite", partner=contoso, kind="welcome", email="sam.seller@contoso-resell.example",
         display_email="Sam.Seller@contoso-resell.example", state="accepted",
         token_hash=hashlib.sha256(b"an-accepted-token").hexdigest(), expires_at=now + 7 * days,
         sent_at=now - 5 * days, accepted_at=now - 4 * days, send_attempts=1,
         item=items["sam.seller@contoso-resell.example"], user=sam, created_by=rita)
    make("onboarding.Invite", partner=northwind, email="bob.baker@northwind.example",
         display_email="bob.baker@northwind.example", state="failed", send_attempts=3,
         last_error="SMTP 451: try again later", expires_at=now + 7 * days, item=items["bob.baker@northwind.example"])
    make("onboarding.Invite", partner=contoso, email="gone@contoso-resell.example",
         display_email="gone@contoso-resell.example", state="revoked", revoked_at=now - days,
         expires_at=now + 7 * days)

    # The audit trail: events with and without a partner, and one of a partner deleted since
    # (the old foreign key had no database constraint, so such ids exist in real trails).
    events = [
        make("portal.AuditEvent", actor=admin, actor_label="ada.admin@vendor.example", action="partner.created",
             partner=northwind, target_type="onboarding.partner", target_id=str(northwind.pk),
             target_label="Northwind Managed IT", data={"kind": "msp"}, ip_address="192.0.2.10",
             user_agent="Mozilla/5.0"),
        make("portal.AuditEvent", actor=manager, actor_label="max.manager@vendor.example", action="invite.sent",
             partner=northwind, target_type="onboarding.invite", target_id=str(invite.pk), data={"attempt": 1}),
        make("portal.AuditEvent", actor=None, action="sync.finished", partner=northwind,
             target_type="directory_sync.syncrun", target_id=str(full.pk), data={"seen": 4, "conflicts": 1}),
        make("portal.AuditEvent", actor=rita, actor_label="rita.reseller@contoso-resell.example",
             action="request.submitted", partner=contoso, ip_address="2001:db8::7"),
        make("portal.AuditEvent", actor=admin, actor_label="ada.admin@vendor.example", action="user.signed_in"),
        make("portal.AuditEvent", action="partner.deleted", partner_id=MISSING_PARTNER_ID,
             target_label="A partner deleted long ago"),
    ]

    # Grants: a group with partner permissions (and one on the audit trail), and a direct grant.
    desk = make("auth.Group", name="Partner desk")
    desk.permissions.add(*[
        permission.get(content_type__app_label=app, codename=codename)
        for app, codename in [("onboarding", "view_partner"), ("onboarding", "change_accountsettings"),
                              ("onboarding", "view_agreement"), ("portal", "view_auditevent"),
                              ("onboarding", "view_requestitem")]
    ])
    admin.groups.add(desk)
    manager.groups.add(desk)
    manager.user_permissions.add(permission.get(content_type__app_label="onboarding", codename="change_partner"))

    # The admin's history: a change to a partner, and one to an invite (a model that stays).
    partner_ct = ct.get(app_label="onboarding", model="partner")
    partner_entry = make("admin.LogEntry", user=admin, content_type=partner_ct, object_id=str(northwind.pk),
                         object_repr="Northwind Managed IT", action_flag=2, action_time=now - 3 * days,
                         change_message='[{"changed": {"fields": ["Account manager"]}}]')
    make("admin.LogEntry", user=admin, content_type=ct.get(app_label="onboarding", model="invite"),
         object_id=str(invite.pk), object_repr=str(invite.pk), action_flag=1, action_time=now - 2 * days,
         change_message='[{"added": {}}]')

    # Second factors of the admin, so the otp tables are not empty either.
    totp = make("otp_totp.TOTPDevice", user=admin, name="phone", confirmed=True, key=TOTP_KEY)
    backup = make("otp_static.StaticDevice", user=admin, name="backup", confirmed=True)
    make("otp_static.StaticToken", device=backup, token=BACKUP_CODE)

    return {
        "facts": rows.facts,
        "northwind": northwind.pk,
        "contoso": contoso.pk,
        "current_agreement": current.pk,
        "invite": invite.pk,
        "admin": admin.pk,
        "totp_device": totp.pk,
        "backup_device": backup.pk,
        "manager": manager.pk,
        "rita": rita.pk,
        "partner_entry": partner_entry.pk,
        "event": events[0].pk,
        "request_item": items["new.person@northwind.example"].pk,
        "request": form.pk,
        "content_types": {(c.app_label, c.model): c.pk for c in ct.all()},
    }


# --- what the database holds -------------------------------------------------------------------


def snapshot(connection) -> dict[str, tuple[list[str], list[tuple]]]:
    """Every row of every table, read with plain SQL (no model between the drill and the data)."""
    result = {}
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names(cursor)):
            # Only a table name is interpolated, quoted, and it comes from the database itself.
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            columns = [column[0] for column in cursor.description]
            rows = [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row) for row in cursor.fetchall()]
            result[table] = (columns, sorted(rows, key=repr))
    return result


def relabelled(before: dict, table: str = "django_content_type") -> dict:
    """The snapshot as the move should leave it: the moved models' content types under their new app."""
    columns, rows = before[table]
    app, model = columns.index("app_label"), columns.index("model")
    moved = []
    for row in rows:
        row = list(row)
        row[app] = MOVED.get((row[app], row[model]), row[app])
        moved.append(tuple(row))
    return {**before, table: (columns, sorted(moved, key=repr))}


def short(value, limit: int = 400) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def later_models(old_apps) -> list:
    """Today's models that the previous layout did not have: later migrations add their tables, and
    post_migrate their content types and permissions. The drill checks the rows that were there."""
    from django.apps import apps

    previous = {(model._meta.app_label, model._meta.model_name)
                for model in old_apps.get_models(include_auto_created=True)}
    previous |= {(new_app, model) for (_, model), new_app in MOVED.items()}
    return [model for model in apps.get_models(include_auto_created=True)
            if (model._meta.app_label, model._meta.model_name) not in previous]


def without_later_models(snap: dict, models: list) -> dict:
    """The snapshot without the tables, content types and permissions of `models` (see later_models)."""
    tables = {model._meta.db_table for model in models}
    labels = {(model._meta.app_label, model._meta.model_name) for model in models}
    result = {table: content for table, content in snap.items() if table not in tables}
    columns, rows = result["django_content_type"]
    pk, app, name = columns.index("id"), columns.index("app_label"), columns.index("model")
    later_ids = {row[pk] for row in rows if (row[app], row[name]) in labels}
    result["django_content_type"] = (columns, [row for row in rows if row[pk] not in later_ids])
    columns, rows = result["auth_permission"]
    content_type = columns.index("content_type_id")
    result["auth_permission"] = (columns, [row for row in rows if row[content_type] not in later_ids])
    return result


def compare(expected: dict, actual: dict, *, when: str, grows: tuple[str, ...] = ()) -> None:
    """Every table of `expected` is in `actual` with its columns and exactly the same rows.

    Tables in `grows` may have rows added (never lost or changed). Columns a later migration added
    are left out of the comparison: the drill is about the rows and values that were there.
    """
    for table, (columns, rows) in expected.items():
        if not expect(table in actual, f"{when}: table {table} is gone ({len(rows)} rows)"):
            continue
        now_columns, now_rows = actual[table]
        missing = [column for column in columns if column not in now_columns]
        if not expect(not missing, f"{when}: {table} lost columns {missing}"):
            continue
        if now_columns != columns:
            keep = [now_columns.index(column) for column in columns]
            now_rows = [tuple(row[i] for i in keep) for row in now_rows]
        lost = [row for row in rows if row not in now_rows]
        added = [row for row in now_rows if row not in rows]
        # A row whose first column (its key) is in both is one that changed: name the columns.
        old_by_key, new_by_key = {row[0]: row for row in lost}, {row[0]: row for row in added}
        changed = [key for key in old_by_key if key in new_by_key]
        for key in changed[:3]:
            diff = {column: (was, now) for column, was, now in zip(columns, old_by_key[key], new_by_key[key],
                                                                    strict=True) if was != now}
            expect(False, f"{when}: {table} row {columns[0]}={key!r} changed (expected, found): {short(diff)}")
        expect(len(changed) <= 3, f"{when}: {table}: {len(changed) - 3} more rows changed")
        gone = [row for row in lost if row[0] not in new_by_key]
        new = [row for row in added if row[0] not in old_by_key]
        expect(not gone, f"{when}: {table} lost {len(gone)} of {len(rows)} rows, e.g. {short(gone[:2])}")
        if table not in grows:
            expect(not new, f"{when}: {table} has {len(new)} unexpected new rows, e.g. {short(new[:2])}")
    extra = sorted(set(actual) - set(expected))
    expect(not extra, f"{when}: new tables appeared: {extra}")


def without_rows(snap: dict, tables) -> dict:
    """The snapshot with `tables` emptied (their rows are expected to have moved)."""
    return {table: (columns, [] if table in tables else rows) for table, (columns, rows) in snap.items()}


def check_second_factors(facts: dict) -> None:
    """The admin's second factors moved to accounts with their ids: the key encrypted, the code hashed, both working."""
    from django.db import connection, transaction
    from django_otp.oath import TOTP

    from accounts.models import BackupCodeDevice, TOTPDevice

    device = TOTPDevice.objects.filter(pk=facts["totp_device"], user_id=facts["admin"]).first()
    if expect(device is not None, "the admin's TOTP device did not move to accounts.TOTPDevice with its id"):
        expect(device.key == TOTP_KEY and device.name == "phone" and device.confirmed,
               "the moved TOTP device has another key, name or state")
        with connection.cursor() as cursor:
            cursor.execute("SELECT key FROM accounts_totpdevice WHERE id = %s", [device.pk])
            expect(TOTP_KEY not in cursor.fetchone()[0], "the moved TOTP key is stored in clear")
        with transaction.atomic():
            generator = TOTP(device.bin_key)
            generator.time = time.time() + 30
            expect(device.verify_token(generator.token()), "the moved TOTP device does not accept its code")
            transaction.set_rollback(True)
    codes = BackupCodeDevice.objects.filter(pk=facts["backup_device"], user_id=facts["admin"]).first()
    if expect(codes is not None, "the admin's backup codes did not move to accounts.BackupCodeDevice with their id"):
        expect(not codes.codes.filter(code_hash=BACKUP_CODE).exists(), "the moved backup code is stored in clear")
        with transaction.atomic():
            expect(codes.verify_token(BACKUP_CODE), "the moved backup code does not work")
            transaction.set_rollback(True)


def migration_names(snap: dict) -> set[tuple[str, str]]:
    columns, rows = snap["django_migrations"]
    app, name = columns.index("app"), columns.index("name")
    return {(row[app], row[name]) for row in rows}


def without_history(snap: dict) -> dict:
    return {table: content for table, content in snap.items() if table != "django_migrations"}


def print_counts(before: dict, after: dict) -> None:
    say("  rows per table (previous layout -> migrated):")
    for table, (_, rows) in before.items():
        if rows:
            now = len(after[table][1]) if table in after else "GONE"
            say(f"    {table:<42} {len(rows):>4} -> {now}")


def partner_only_indexes(connection) -> list[str]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "portal_auditevent")
    return [name for name, info in constraints.items()
            if info["index"] and not info["unique"] and not info["primary_key"] and info["columns"] == ["partner_id"]]


def refusal(connection, sql: str, params: list) -> str | None:
    """The database's error for `sql`, or None when it let it through (then it is undone anyway)."""
    from django.db import DatabaseError, transaction

    try:
        with transaction.atomic(using=connection.alias):
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
            transaction.set_rollback(True, using=connection.alias)
    except DatabaseError as exc:
        return str(exc)
    return None


def check_append_only(connection, event_id: int, *, when: str) -> None:
    """The trigger that came with portal.0002 still guards the table (SQLite's refuses UPDATE only)."""
    statements = [("UPDATE", "UPDATE portal_auditevent SET action = %s WHERE id = %s", ["tampered", event_id])]
    if connection.vendor == "postgresql":
        statements.append(("DELETE", "DELETE FROM portal_auditevent WHERE id = %s", [event_id]))
    for verb, sql, params in statements:
        error = refusal(connection, sql, params)
        expect(error is not None and "append-only" in error,
               f"{when}: the append-only trigger did not refuse {verb} on portal_auditevent (got {error!r})")


# --- the checks, with today's models and code ----------------------------------------------------


def check_rows(facts: list) -> None:
    """Each row created in the previous layout, read through today's model, says what it said."""
    from django.apps import apps

    for label, pk, expected in facts:
        model = apps.get_model(moved_label(label))
        row = model.objects.filter(pk=pk).values(*expected).first()
        if not expect(row is not None, f"{label} #{pk} is gone (read as {model._meta.label})"):
            continue
        changed = {name: (value, row[name]) for name, value in expected.items() if row[name] != value}
        expect(not changed, f"{label} #{pk} changed (was, now): {changed}")


def check_content_types(ids: dict) -> None:
    from django.apps import apps
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.clear_cache()
    for (app, model), new_app in MOVED.items():
        current = ContentType.objects.get_for_model(apps.get_model(new_app, model))
        expect(current.pk == ids[(app, model)],
               f"content type of {new_app}.{model} is #{current.pk}, not the relabelled #{ids[(app, model)]}")
        expect(not ContentType.objects.filter(app_label=app, model=model).exists(),
               f"a stale content type {app}.{model} is left")
        codenames = set(Permission.objects.filter(content_type=current).values_list("codename", flat=True))
        expect(codenames == {f"{action}_{model}" for action in ("add", "change", "delete", "view")},
               f"permissions of {new_app}.{model}: {sorted(codenames)}")
    stays = ids[("onboarding", "invite")]
    expect(ContentType.objects.get_for_model(apps.get_model("onboarding", "Invite")).pk == stays,
           "the content type of onboarding.invite (which stays) changed")


def check_grants(facts: dict) -> None:
    from django.contrib.admin.models import LogEntry
    from django.contrib.auth import get_user_model

    from partners.models import Partner

    user_model = get_user_model()
    manager = user_model.objects.get(pk=facts["manager"])
    admin = user_model.objects.get(pk=facts["admin"])
    for user, perm, granted in [
        (manager, "partners.change_partner", True),  # granted directly
        (manager, "partners.view_partner", True),  # through the group
        (manager, "partners.change_accountsettings", True),
        (manager, "core.view_auditevent", True),
        (manager, "onboarding.view_requestitem", True),
        (manager, "partners.delete_partner", False),  # never granted: has_perm is not simply true
        (manager, "onboarding.change_partner", False),  # the old name grants nothing now
        (admin, "partners.view_agreement", True),
        (admin, "partners.change_partner", False),
    ]:
        expect(user.has_perm(perm) is granted, f"{user.email}.has_perm({perm!r}) is not {granted}")
    expect(list(manager.groups.values_list("name", flat=True)) == ["Partner desk"], "the group membership is gone")

    entry = LogEntry.objects.select_related("content_type").get(pk=facts["partner_entry"])
    # A content type left under the old label names no model any more: then there is nothing to resolve.
    model = entry.content_type.model_class()
    edited = entry.get_edited_object() if model else None
    expect(isinstance(edited, Partner) and edited.pk == facts["northwind"],
           f"the admin history entry ({entry.content_type.app_label}.{entry.content_type.model}) resolves to "
           f"{edited!r}, not the partner")
    expect(entry.get_admin_url() == f"/admin/partners/partner/{facts['northwind']}/change/",
           f"the admin history entry links to {entry.get_admin_url()!r}")


def check_safeguards(connection, facts: dict) -> None:
    """The database still refuses what it refused: audit changes, rows of partners that do not exist."""
    from django.apps import apps
    from django.db import IntegrityError, transaction

    from directory_sync.models import DirectoryConnection, DirectoryUser, ScimIdentity
    from onboarding.models import RequestItem
    from partners.models import Partner, WebhookEndpoint

    check_append_only(connection, facts["event"], when="after migrating")

    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "portal_auditevent")
    expect(constraints.get("audit_partner_time", {}).get("columns") == ["partner_id", "created_at"],
           "the audit_partner_time index (partner_id, created_at) is missing")
    expect(constraints.get("audit_target", {}).get("columns") == ["target_type", "target_id"],
           "the audit_target index is missing")
    expect(not partner_only_indexes(connection),
           f"the single-column partner_id index is still there: {partner_only_indexes(connection)}")

    # Every foreign key to a partner is still a database constraint, on both vendors.
    relations = [field for model in apps.get_models() for field in model._meta.concrete_fields
                 if field.is_relation and field.related_model is Partner]
    expect(len(relations) >= 10, f"only {len(relations)} foreign keys to partners found")
    with connection.cursor() as cursor:
        for field in relations:
            table = field.model._meta.db_table
            constraints = connection.introspection.get_constraints(cursor, table)
            expect(any(info["foreign_key"] == ("onboarding_partner", "id") and info["columns"] == [field.column]
                       for info in constraints.values()),
                   f"{table}.{field.column} has no foreign key constraint to onboarding_partner")

    # And it enforces them: new rows, and changed ones, naming a partner that does not exist fail.
    missing = MISSING_PARTNER_ID
    request_item = RequestItem.objects.get(pk=facts["request_item"])
    attempts = [
        ("a new request item", lambda: RequestItem.objects.create(
            request_id=facts["request"], partner_id=missing, name="Nobody", email="nobody@northwind.example",
            display_email="nobody@northwind.example")),
        ("a new directory connection", lambda: DirectoryConnection.objects.create(partner_id=missing, kind="csv")),
    ]
    # Rows of the models added since the drill's data was made (the previous layout had none of them).
    WebhookEndpoint.objects.create(partner_id=facts["northwind"], url="https://hooks.northwind.example/portal",
                                   secret="whsec_drill", events=["item.decided"])
    ScimIdentity.objects.create(
        partner_id=facts["northwind"], user_name="drill@northwind.example", display_user_name="drill@northwind.example",
        directory_user=DirectoryUser.objects.filter(partner_id=facts["northwind"]).order_by("pk").first())
    for field in relations:
        row = field.model.objects.filter(**{f"{field.attname}__isnull": False}).order_by("pk").first()
        if expect(row is not None, f"no {field.model._meta.label} row with a partner to test its foreign key"):
            attempts.append((f"{field.model._meta.label}.{field.name} changed", lambda f=field, pk=row.pk: (
                f.model.objects.filter(pk=pk).update(**{f.attname: missing}))))
    for what, attempt in attempts:
        try:
            with transaction.atomic():
                attempt()
                # The constraints are deferred to the commit: check them now (PostgreSQL: SET CONSTRAINTS
                # ALL IMMEDIATE, SQLite: PRAGMA foreign_key_check), then undo the attempt either way.
                connection.check_constraints()
                transaction.set_rollback(True)
        except IntegrityError:
            continue
        problems.append(f"{what} with partner #{missing}, which does not exist, was accepted")
        print(f"  PROBLEM: {problems[-1]}")
    request_item.refresh_from_db()
    expect(request_item.partner_id == facts["northwind"], "a refused change left a request item changed")


def check_migrations_complete() -> None:
    from django.core.management import call_command

    for command, options in [("migrate", {"check_unapplied": True}),
                             ("makemigrations", {"check_changes": True, "dry_run": True})]:
        out = io.StringIO()
        try:
            call_command(command, stdout=out, stderr=out, verbosity=1, **options)
        except SystemExit as exc:
            expect(not exc.code, f"`manage.py {command} --check` reports pending work: {out.getvalue().strip()}")


def check_current_code(facts: dict) -> None:
    """Today's services and selectors work on the migrated rows (their writes are rolled back)."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from core.audit import audit_record
    from core.models import AuditEvent
    from directory_sync.models import DirectoryConnection
    from directory_sync.selectors import LookupKind, recipient_lookup
    from onboarding.selectors import invite_by_token, partner_overview
    from partners.models import Partner
    from partners.selectors import account_settings_for_address, current_agreement

    northwind = Partner.objects.get(pk=facts["northwind"])
    contoso = Partner.objects.get(pk=facts["contoso"])
    agreement = current_agreement(partner=northwind)
    expect(agreement is not None and agreement.pk == facts["current_agreement"],
           f"current_agreement(northwind) is {agreement!r}")
    expect(current_agreement(partner=contoso) is None, "contoso's expired agreement counts as current")

    settings = account_settings_for_address(email="Someone@Northwind.example")
    expect(settings is not None and settings.auth_method == "sso"
           and settings.sso_client_secret == SSO_CLIENT_SECRET,
           "northwind's SSO settings (and their client secret) are not found by address")
    connection = DirectoryConnection.objects.get(partner__slug="northwind")
    expect(connection.bind_password == BIND_PASSWORD, "the directory bind password no longer decrypts")

    for address, kind, primary in [
        ("Alice.Archer@northwind.example", LookupKind.PRIMARY, "alice.archer@northwind.example"),
        ("alice@northwind.example", LookupKind.ALIAS, "alice.archer@northwind.example"),
        ("a.archer@northwind-it.example", LookupKind.FORWARDING, "alice.archer@northwind.example"),
        ("helpdesk@northwind.example", LookupKind.CONFLICT, ""),
        ("carol.cook@northwind.example", LookupKind.DISABLED, "carol.cook@northwind.example"),
        ("dave.dunn@northwind.example", LookupKind.NOT_FOUND, ""),
    ]:
        result = recipient_lookup(partner_id=northwind.pk, address=address)
        expect((result.kind, result.primary_address) == (kind, primary),
               f"recipient_lookup({address!r}) is {result.kind} {result.primary_address!r}, not {kind} {primary!r}")

    invite = invite_by_token(INVITE_TOKEN)
    expect(invite is not None and invite.pk == facts["invite"] and invite.partner == northwind,
           "the sent invite is not found by its link's token")
    overview = {p.slug: p for p in partner_overview(partners=Partner.objects.all())}
    expect(sorted(overview) == ["contoso-resell", "northwind"], f"partner_overview lists {sorted(overview)}")

    user_model = get_user_model()
    rita = user_model.objects.get(pk=facts["rita"])
    expect(rita.partner == contoso and rita.check_password(PASSWORD), "a partner admin lost her partner or password")
    expect(set(northwind.members.values_list("email", flat=True)) == {"alice.archer@northwind.example"},
           "northwind's members changed")

    with transaction.atomic():
        before = AuditEvent.objects.filter(partner_id=northwind.pk).count()
        manager = user_model.objects.get(pk=facts["manager"])
        event = audit_record(actor=manager, action="drill.checked", target=northwind, partner=northwind,
                             data={"drill": True})
        event = AuditEvent.objects.get(pk=event.pk)
        expect((event.partner_id, event.target_type, event.actor_label)
               == (northwind.pk, "partners.partner", "max.manager@vendor.example"),
               f"audit_record wrote {event.partner_id}, {event.target_type}, {event.actor_label}")
        expect(AuditEvent.objects.filter(partner_id=northwind.pk).count() == before + 1,
               "the new audit event is not among the partner's")
        # The moved tables keep their id sequences: a new partner gets a fresh id, not a taken one.
        newcomer = Partner.objects.create(name="Fabrikam", slug="fabrikam", kind="reseller")
        expect(newcomer.pk > max(facts["northwind"], facts["contoso"]), f"a new partner got the taken id {newcomer.pk}")
        transaction.set_rollback(True)  # leave the rows as the previous layout had them, for the way back


def check_app_by_app(facts: dict) -> None:
    """Migrating app by app, as an operator may, moves the content types with their history both ways.

    Each `migrate` ends with post_migrate, which makes content types for the state it reached: a
    partial one has both the old and the new model, so a new, empty content type appears under
    the label the relabel is about to take. The one with the history must win either way.
    """
    from django.contrib.contenttypes.models import ContentType
    from django.core.management import call_command

    ids = facts["content_types"]
    back = [("onboarding", "0001_initial"), ("portal", "0002_audit_event_append_only"),
            ("directory_sync", "0001_initial"), ("accounts", "0002_initial"), ("partners", "zero"), ("core", "zero")]
    for app, target in back:
        call_command("migrate", app, target, interactive=False, verbosity=0)
    for app, model in MOVED:
        label = ContentType.objects.filter(pk=ids[(app, model)]).values_list("app_label", flat=True).first()
        expect(label == app, f"rolled back app by app, content type #{ids[(app, model)]} is {label}.{model}")
    for app in NEW_APPS:
        call_command("migrate", app, interactive=False, verbosity=0)
    call_command("migrate", interactive=False, verbosity=0)
    ContentType.objects.clear_cache()
    for (app, model), new_app in MOVED.items():
        current = ContentType.objects.filter(app_label=new_app, model=model).values_list("pk", flat=True).first()
        expect(current == ids[(app, model)],
               f"migrated app by app, {new_app}.{model} is content type #{current}, not #{ids[(app, model)]}")
    check_grants(facts)


# --- the drill ---------------------------------------------------------------------------------


def main() -> int:
    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    started = time.monotonic()
    name = connection.settings_dict["NAME"]
    say(f"Migration drill on {connection.vendor} ({name}), settings {os.environ.get('DJANGO_SETTINGS_MODULE')}")

    old_apps = build_previous_state(connection)
    say(f"- migrated an empty database to the previous layout ({time.monotonic() - started:.1f}s)")
    facts = populate(old_apps)
    before = snapshot(connection)
    say(f"- populated it through the historical models: {sum(len(r) for _, r in before.values())} rows")
    empty = sorted(model._meta.db_table for model in old_apps.get_models(include_auto_created=True)
                   if model._meta.app_label in POPULATED_APPS and not before[model._meta.db_table][1])
    expect(not empty, f"tables the drill leaves empty (so it would not notice them lose rows): {empty}")
    expect(bool(partner_only_indexes(connection)),
           "the previous layout should have a single-column index on portal_auditevent.partner_id")

    out = io.StringIO()
    call_command("migrate", interactive=False, verbosity=1, stdout=out)
    applied = [line.strip() for line in out.getvalue().splitlines() if line.strip().startswith("Applying")]
    say(f"- `migrate` applied {len(applied)} migrations: " + "; ".join(a.removeprefix("Applying ") for a in applied))
    later = later_models(old_apps)
    after = without_later_models(snapshot(connection), later)
    print_counts(before, after)
    # The only rows that may change: the moved models' content types (relabelled, same ids), and
    # the migration history, which grows.
    compare(without_rows(relabelled(before), SECOND_FACTOR_TABLES), after, when="after migrating",
            grows=("django_migrations",))
    check_rows([fact for fact in facts["facts"] if not fact[0].startswith(("otp_totp.", "otp_static."))])
    check_second_factors(facts)
    check_content_types(facts["content_types"])
    check_grants(facts)
    check_safeguards(connection, facts)
    check_migrations_complete()
    check_current_code(facts)
    say(f"- checked rows, secrets, content types, grants, safeguards and today's code "
        f"({time.monotonic() - started:.1f}s)")

    # The way back: migrating to the previous layout leaves the database as it was before the change.
    executor = MigrationExecutor(connection)
    executor.migrate([*previous_targets(executor), *((app, None) for app in NEW_APPS)])
    compare(without_rows(before, ["otp_static_statictoken"]), without_later_models(snapshot(connection), later),
            when="after migrating back")
    expect(bool(partner_only_indexes(connection)), "migrating back did not restore the partner_id index")
    check_append_only(connection, facts["event"], when="after migrating back")
    settings = old_apps.get_model("onboarding", "AccountSettings").objects.get(pk=facts["northwind"])
    expect(settings.sso_client_secret == SSO_CLIENT_SECRET, "after migrating back, the client secret does not decrypt")
    # And forward again, as a rolled-back deployment would be rolled out once more. The history
    # rows of the re-applied migrations are new ones: only their names are compared.
    call_command("migrate", interactive=False, verbosity=0)
    again = without_later_models(snapshot(connection), later)
    expect(migration_names(again) == migration_names(after), "migrating forward again applied other migrations")
    compare(without_history(after), without_history(again), when="after migrating forward again")
    say(f"- migrated back to the previous layout and forward again ({time.monotonic() - started:.1f}s)")
    check_app_by_app(facts)
    say(f"- migrated back and forward again app by app ({time.monotonic() - started:.1f}s)")

    if problems:
        say(f"FAILED: {len(problems)} problem(s) on {connection.vendor}:")
        for problem in problems:
            say(f"  - {problem}")
        return 1
    total = sum(len(rows) for _, rows in before.values())
    say(f"OK on {connection.vendor}: no row lost: {total} rows of {len(before)} tables compared, "
        f"{len(facts['facts'])} of them read back through today's models, in {time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SystemExit:
        raise
    except BaseException:  # a crash is a failed drill too, with the traceback to say where
        traceback.print_exc()
        say(f"FAILED: the drill crashed (above), after {len(problems)} problem(s):")
        for problem in problems:
            say(f"  - {problem}")
        sys.exit(1)
