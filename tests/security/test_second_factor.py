"""Second factors at rest, and what it takes to change one.

The authenticator's key is stored encrypted (FIELD_ENCRYPTION_KEY) and backup codes only as keyed
hashes: neither appears anywhere in the database — sessions included, decoded — and the migration
moves django-otp's clear-text rows over. Replacing the authenticator or renewing backup codes needs a
current code of the second factor on that page (a signed-in session alone is not enough), and every
change to someone's second factor that they may not have made themselves is mailed to them.
"""

import base64
import re
import time

import pytest
import time_machine
from django.contrib.sessions.models import Session
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.utils import timezone

from accounts import errors, selectors
from accounts.errors import SecondFactorRequired
from accounts.models import BackupCode, BackupCodeDevice, TOTPDevice, backup_code_hash
from accounts.services import two_factor
from core import crypto
from core.models import OutboundMail
from tests.accounts.factories import AdminFactory, UserFactory
from tests.conftest import login_with_second_factor, totp_code
from tests.database import text_columns_containing

pytestmark = pytest.mark.django_db

SETUP_URL = "/accounts/two-factor/setup/"
RENEW_URL = "/accounts/two-factor/backup-codes/renew/"
CODES_URL = "/accounts/two-factor/backup-codes/"
STEP = 30


def sessions_containing(text: str) -> list[str]:
    """The session keys whose decoded data holds `text` (a session row is only signed, not encrypted)."""
    return [s.session_key for s in Session.objects.all() if text in repr(s.get_decoded())]


def stored_anywhere(text: str) -> list[str]:
    return text_columns_containing(text) + sessions_containing(text)


def enrol(client: Client, user) -> tuple[str, list[str]]:
    """Enrol through the pages as a person does; the key as shown (base32) and the backup codes shown."""
    client.force_login(user)
    page = client.get(SETUP_URL).content.decode()
    secret = re.search(r'<code id="totp-secret">([^<]+)</code>', page).group(1)
    done = client.post(SETUP_URL, {"token": totp_code(secret)})
    assert done["Location"] == CODES_URL
    codes = re.findall(r"<code>(\d{8})</code>", client.get(CODES_URL).content.decode())
    assert len(codes) == 10
    return secret, codes


def later_code(secret: str | bytes, steps: int = 1) -> str:
    """A code of a later time step (the one just used is refused: no replay; tolerance allows one step)."""
    return totp_code(secret, at=time.time() + steps * STEP)


def mails_to(user, template: str) -> list[OutboundMail]:
    return list(OutboundMail.objects.filter(to=user.display_email, template=template))


@pytest.fixture
def person():
    return UserFactory(display_email="Tess.Two@Partner-2fa.example")


# --- at rest ---------------------------------------------------------------------------------------------------


def test_the_authenticator_key_is_nowhere_in_the_database(client, person):
    secret, _ = enrol(client, person)
    compact = secret.replace(" ", "")
    key = base64.b32decode(compact + "=" * (-len(compact) % 8))

    assert stored_anywhere(key.hex()) == []  # as otp_totp stored it
    assert stored_anywhere(compact) == []  # as people type it


def test_the_stored_key_is_the_key_encrypted_with_the_field_encryption_key(client, person):
    secret, _ = enrol(client, person)
    device = TOTPDevice.objects.get(user=person, confirmed=True)

    with connection.cursor() as cursor:
        cursor.execute("SELECT key FROM accounts_totpdevice WHERE id = %s", [device.pk])
        [stored] = cursor.fetchone()
    assert bytes.fromhex(crypto.decrypt(stored)) == device.bin_key
    assert two_factor.secret_text(device) == secret


def test_backup_codes_are_nowhere_in_the_database(client, person):
    _, codes = enrol(client, person)

    assert [code for code in codes if stored_anywhere(code)] == []


def test_backup_codes_are_stored_as_hmacs_under_the_secret_key(client, person):
    _, codes = enrol(client, person)

    stored = set(BackupCode.objects.filter(device__user=person).values_list("code_hash", flat=True))
    assert stored == {backup_code_hash(user_id=person.pk, code=code) for code in codes}


def test_new_backup_codes_wait_for_their_page_encrypted_in_the_session(client, person):
    client.force_login(person)
    page = client.get(SETUP_URL).content.decode()
    secret = re.search(r'<code id="totp-secret">([^<]+)</code>', page).group(1)
    client.post(SETUP_URL, {"token": totp_code(secret)})  # the codes page is not opened yet

    codes = two_factor.backup_codes_regenerate(user=person, current=later_code(secret))

    assert [code for code in codes if stored_anywhere(code)] == []


def test_a_backup_code_works_once(person):
    device = two_factor.enrolment_start(user=person)
    codes = two_factor.enrolment_confirm(user=person, device=device, token=totp_code(device.bin_key))

    assert isinstance(two_factor.verify(user=person, token=codes[3]), BackupCodeDevice)
    assert two_factor.verify(user=person, token=codes[3]) is None
    assert selectors.backup_codes_left(person) == 9


def test_an_authenticator_code_is_refused_the_second_time(person):
    device = two_factor.enrolment_start(user=person)
    two_factor.enrolment_confirm(user=person, device=device, token=totp_code(device.bin_key))
    code = later_code(device.bin_key)

    assert two_factor.verify(user=person, token=code) == device
    assert two_factor.verify(user=person, token=code) is None


def test_a_code_of_an_app_one_step_behind_is_accepted_and_its_drift_kept(person):
    device = two_factor.enrolment_start(user=person)
    two_factor.enrolment_confirm(user=person, device=device, token=totp_code(device.bin_key))
    device.refresh_from_db()
    behind = time.time() + 2 * STEP

    with time_machine.travel(behind + STEP, tick=False):
        accepted = two_factor.verify(user=person, token=totp_code(device.bin_key, at=behind))

    assert accepted == device
    device.refresh_from_db()
    assert device.drift == -1


def test_after_a_wrong_code_the_next_try_waits(person):
    device = two_factor.enrolment_start(user=person)
    two_factor.enrolment_confirm(user=person, device=device, token=totp_code(device.bin_key))
    right = later_code(device.bin_key)
    wrong = "000000" if right != "000000" else "111111"

    now = timezone.now()

    with time_machine.travel(now, tick=False):
        assert two_factor.verify(user=person, token=wrong) is None
        assert two_factor.verify(user=person, token=right) is None  # throttled: one second at least
    with time_machine.travel(now + timezone.timedelta(seconds=2), tick=False):
        assert two_factor.verify(user=person, token=right) == device


# --- the migration of existing devices ---------------------------------------------------------------------------


LEGACY_KEY = "3132333435363738393031323334353637383930"
LEGACY_CODE = "k3y5t0k3"
BEFORE_MIGRATION = [("accounts", "0004_second_factor_devices")]
AFTER_MIGRATION = [("accounts", "0005_second_factors_at_rest")]


def migrate(targets):
    """Migrate accounts to `targets`; the historical models of that state (the otp plugins' included)."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    others = [node for node in executor.loader.graph.leaf_nodes() if node[0] != "accounts"]
    return executor.loader.project_state([*others, *targets]).apps


@pytest.fixture
def migrated_back():
    """For a test that migrates accounts back and forth: every app at its latest migration again afterwards (going
    back unapplied the later migrations of accounts, and of the apps depending on them)."""
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("migrated_back")
def test_the_migration_encrypts_existing_keys_and_hashes_existing_backup_codes():
    old = migrate(BEFORE_MIGRATION)
    user = old.get_model("accounts", "User").objects.create(
        email="max.manager@vendor.example", display_email="Max.Manager@vendor.example", role="account_manager",
        password="!")
    old.get_model("otp_totp", "TOTPDevice").objects.create(user=user, name="phone", confirmed=True, key=LEGACY_KEY,
                                                          last_t=7, drift=1)
    backup = old.get_model("otp_static", "StaticDevice").objects.create(user=user, name="backup", confirmed=True)
    old.get_model("otp_static", "StaticToken").objects.create(device=backup, token=LEGACY_CODE)

    migrate(AFTER_MIGRATION)

    device = TOTPDevice.objects.get(user_id=user.pk)
    assert (device.name, device.confirmed, device.key, device.last_t, device.drift) == ("phone", True, LEGACY_KEY, 7, 1)
    assert stored_anywhere(LEGACY_KEY) == [] and stored_anywhere(LEGACY_CODE) == []
    with connection.cursor() as cursor:
        for table in ("otp_totp_totpdevice", "otp_static_staticdevice", "otp_static_statictoken"):
            cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed table names
            assert cursor.fetchone() == (0,), table
    assert device.verify_token(totp_code(bytes.fromhex(LEGACY_KEY), at=time.time() + STEP))
    codes = BackupCodeDevice.objects.get(user_id=user.pk)
    assert codes.verify_token(LEGACY_CODE) and not codes.verify_token(LEGACY_CODE)
    newer = TOTPDevice.objects.create(user_id=user.pk, name="tablet")  # the id sequence moved past the copies
    assert newer.pk > device.pk


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("migrated_back")
def test_migrating_back_returns_the_authenticator_with_its_key_and_an_empty_backup_code_set():
    user = AdminFactory()
    TOTPDevice.objects.create(user=user, name="phone", confirmed=True, key=LEGACY_KEY)
    BackupCodeDevice.objects.create(user=user, name="Backup codes").codes.create(
        code_hash=backup_code_hash(user_id=user.pk, code="12345678"))

    device_id = TOTPDevice.objects.get(user=user).pk

    old = migrate(BEFORE_MIGRATION)
    try:
        legacy = old.get_model("otp_totp", "TOTPDevice").objects.get(user_id=user.pk)
        assert (legacy.pk, legacy.name, legacy.key) == (device_id, "phone", LEGACY_KEY)
        statics = old.get_model("otp_static", "StaticDevice").objects.filter(user_id=user.pk)
        assert [(s.name, s.token_set.count()) for s in statics] == [("Backup codes", 0)]
    finally:
        migrate(AFTER_MIGRATION)
    assert TOTPDevice.objects.get(user=user).key == LEGACY_KEY


# --- changing a second factor needs the current one -----------------------------------------------------------------


def test_moving_to_a_new_app_asks_for_a_code_of_the_current_one(client, person):
    enrol(client, person)

    page = client.get(SETUP_URL).content.decode()

    assert 'name="current"' in page


def test_a_fresh_session_alone_does_not_replace_the_app(client, person):
    enrol(client, person)
    page = client.get(SETUP_URL).content.decode()
    new_secret = re.search(r'<code id="totp-secret">([^<]+)</code>', page).group(1)

    answer = client.post(SETUP_URL, {"token": totp_code(new_secret)})

    assert answer.status_code == 200
    assert "This field is required." in answer.content.decode()
    [confirmed] = TOTPDevice.objects.filter(user=person, confirmed=True)
    assert two_factor.secret_text(confirmed) != new_secret  # the old one stays
    assert mails_to(person, "two_factor_replaced") == []


def test_a_wrong_current_code_leaves_the_second_factor_as_it_was(client, person):
    old_secret, codes = enrol(client, person)
    old_device = TOTPDevice.objects.get(user=person, confirmed=True)
    page = client.get(SETUP_URL).content.decode()
    new_secret = re.search(r'<code id="totp-secret">([^<]+)</code>', page).group(1)
    right = later_code(old_secret)

    answer = client.post(SETUP_URL, {"token": totp_code(new_secret),
                                     "current": "000000" if right != "000000" else "111111"})

    assert str(errors.CURRENT_FACTOR_WRONG) in answer.content.decode()
    assert list(TOTPDevice.objects.filter(user=person, confirmed=True)) == [old_device]
    assert selectors.backup_codes_left(person) == len(codes)
    assert mails_to(person, "two_factor_replaced") == []


def test_a_code_of_the_current_app_replaces_it_and_the_person_is_mailed(client, person):
    old_secret, old_codes = enrol(client, person)
    page = client.get(SETUP_URL).content.decode()
    new_secret = re.search(r'<code id="totp-secret">([^<]+)</code>', page).group(1)

    done = client.post(SETUP_URL, {"token": totp_code(new_secret), "current": later_code(old_secret)})

    assert done["Location"] == CODES_URL
    [device] = TOTPDevice.objects.filter(user=person)
    assert device.confirmed
    assert two_factor.secret_text(device) == new_secret
    assert two_factor.verify(user=person, token=old_codes[0]) is None  # the old backup codes went too
    [mail] = mails_to(person, "two_factor_replaced")
    assert mail.partner_id == person.partner_id


def test_an_unused_backup_code_stands_for_a_lost_app(client, person):
    _, codes = enrol(client, person)
    page = client.get(SETUP_URL).content.decode()
    new_secret = re.search(r'<code id="totp-secret">([^<]+)</code>', page).group(1)

    done = client.post(SETUP_URL, {"token": totp_code(new_secret), "current": codes[0]})

    assert done["Location"] == CODES_URL
    assert two_factor.secret_text(TOTPDevice.objects.get(user=person)) == new_secret
    assert len(mails_to(person, "two_factor_replaced")) == 1


def test_renewing_backup_codes_asks_for_a_current_code(client, person):
    enrol(client, person)

    page = client.get(RENEW_URL)

    assert page.status_code == 200
    assert 'name="current"' in page.content.decode()
    assert client.post(RENEW_URL, {})["Content-Type"].startswith("text/html")
    assert selectors.backup_codes_left(person) == 10


def test_a_signed_in_session_alone_does_not_renew_backup_codes(client, person):
    _, codes = enrol(client, person)

    answer = client.post(RENEW_URL, {"current": ""})
    with pytest.raises(SecondFactorRequired):
        two_factor.backup_codes_regenerate(user=person)

    assert answer.status_code == 200
    assert two_factor.verify(user=person, token=codes[1]) is not None  # the old codes still work
    assert mails_to(person, "two_factor_backup_codes_renewed") == []


def test_a_wrong_current_code_renews_nothing(client, person):
    _, codes = enrol(client, person)

    answer = client.post(RENEW_URL, {"current": "99999999" if "99999999" not in codes else "88888888"})

    assert str(errors.CURRENT_FACTOR_WRONG) in answer.content.decode()
    assert selectors.backup_codes_left(person) == 10
    assert mails_to(person, "two_factor_backup_codes_renewed") == []


def test_a_current_code_renews_the_backup_codes_and_the_person_is_mailed(client, person):
    secret, old_codes = enrol(client, person)

    done = client.post(RENEW_URL, {"current": later_code(secret)})

    assert done["Location"] == CODES_URL
    new_codes = re.findall(r"<code>(\d{8})</code>", client.get(CODES_URL).content.decode())
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    assert two_factor.verify(user=person, token=old_codes[0]) is None
    [mail] = mails_to(person, "two_factor_backup_codes_renewed")
    assert mail.partner_id == person.partner_id


def test_an_admins_reset_of_someones_second_factor_mails_them(client, person):
    enrol(Client(), person)
    admin = AdminFactory()
    login_with_second_factor(client, admin)

    client.post("/admin/accounts/user/", {"action": "reset_two_factor", "_selected_action": [person.pk]})

    assert not TOTPDevice.objects.filter(user=person).exists()
    assert not BackupCodeDevice.objects.filter(user=person).exists()
    [mail] = mails_to(person, "two_factor_reset")
    assert mail.partner_id == person.partner_id
    assert "reset the two-factor authentication of your account" in mail.body


def test_the_admin_offers_no_page_with_keys_or_codes_in_clear(client):
    admin = AdminFactory()
    login_with_second_factor(client, admin)

    index = client.get("/admin/").content.decode()

    assert "/admin/otp_totp/" not in index and "/admin/otp_static/" not in index
    assert "/admin/accounts/totpdevice/" not in index and "/admin/accounts/backupcode" not in index
