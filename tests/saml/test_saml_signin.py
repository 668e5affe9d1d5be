"""SAML 2.0 sign-in end to end: the portal's AuthnRequest, the real identity provider's signed answer, the ACS,
and every answer the portal must refuse (each refusal audited and explained on the sign-in page)."""

import base64
import logging
import re
import zlib
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from saml2 import BINDING_HTTP_REDIRECT, samlp
from saml2 import saml as saml2_saml
from saml2.client import Saml2Client
from saml2.saml import SCM_BEARER

from accounts import errors, saml, sso
from accounts.models import TOTPDevice
from core.models import AuditEvent
from partners.models import AccountSettings, Partner
from partners.selectors import active_account_settings, saml_service_provider
from partners.services.saml import IdentityProvider
from tests.accounts.factories import UserFactory
from tests.saml.saml_flow import (
    ALIAS,
    ANN,
    at_idp,
    finish,
    post_to_acs,
    saml_partner,
    saml_sign_in,
    signed_in_pk,
    start,
    text_of,
)
from tests.saml_idp import EMAIL_CLAIM, _AnswerPolicy

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def refused_with(landed, reason) -> bool:
    """Whether the sign-in page says single sign-on failed for `reason`."""
    return landed.request["PATH_INFO"] == "/accounts/login/" and str(
        errors.SSO_FAILED.format(reason=reason)) in text_of(landed)


def failures() -> list[str]:
    return list(AuditEvent.objects.filter(action="signin.failed").values_list("data__reason", flat=True))


# -- signing in ---------------------------------------------------------------------------------------------------


def test_a_person_of_the_account_signs_in_with_a_signed_answer(client, idp, ann):
    idp.answer(email=ANN)
    landed = saml_sign_in(client, idp)
    assert landed.status_code == 200 and landed.request["PATH_INFO"] == "/"
    assert signed_in_pk(client) == str(ann.pk)
    event = AuditEvent.objects.get(action="signin.succeeded")
    assert event.data["method"] == "sso" and event.target_id == str(ann.pk)
    assert client.session["_auth_user_backend"] == sso.SAML_BACKEND


def test_the_authn_request_is_signed_and_its_relay_state_is_an_opaque_token(client, idp, ann):
    location = start(client)
    assert location.startswith(f"{idp.url}/sso?")
    query = parse_qs(urlsplit(location).query)
    assert query["SigAlg"] == ["http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"] and query["Signature"]
    relay_state = query["RelayState"][0]
    assert "/" not in relay_state and ":" not in relay_state and len(relay_state) >= 32
    # The identity provider verifies the request's signature against the portal's metadata (it answers 200).
    assert at_idp(idp, location)["RelayState"] == relay_state


def test_enforced_single_sign_on_goes_from_the_email_step_to_the_identity_provider(client, idp, ann):
    AccountSettings.objects.filter(partner=ann.partner).update(sso_enforced=True)
    response = client.post("/accounts/login/", {"email": ANN}, follow=True)
    assert response.redirect_chain[-1][0].startswith(f"{idp.url}/sso?")


def test_the_acs_never_touches_the_session_of_the_post_it_gets(client, idp, ann):
    idp.answer(email=ANN)
    form = at_idp(idp, start(client))
    acs_response = post_to_acs(form)
    assert settings.SESSION_COOKIE_NAME not in acs_response.cookies  # it would replace the browser's session
    assert acs_response.status_code == 303
    finish(client, acs_response)
    assert signed_in_pk(client) == str(ann.pk)


def test_an_encrypted_assertion_is_decrypted_with_the_accounts_key(client, idp, ann):
    idp.answer(email=ANN, encrypt_assertion=True)
    saml_sign_in(client, idp)
    assert "EncryptedAssertion" in saml_response_xml(idp.responses[-1])
    assert signed_in_pk(client) == str(ann.pk)


def test_the_configured_attribute_carries_the_address_when_the_name_id_does_not(client, idp, ann):
    AccountSettings.objects.filter(partner=ann.partner).update(saml_email_attribute=EMAIL_CLAIM)
    idp.answer(email=ANN, name_id="7f3c2a1e-persistent")
    saml_sign_in(client, idp)
    assert signed_in_pk(client) == str(ann.pk)


def test_a_person_with_an_authenticator_gives_their_code_next(client, idp, ann):
    TOTPDevice.objects.create(user=ann, name="app", confirmed=True)
    idp.answer(email=ANN)
    landed = saml_sign_in(client, idp)
    assert landed.request["PATH_INFO"] == "/accounts/login/verify/"
    assert signed_in_pk(client) is None


def test_a_response_signature_alone_is_enough_only_when_signed_assertions_are_not_required(client, idp, ann):
    AccountSettings.objects.filter(partner=ann.partner).update(saml_want_assertions_signed=False)
    idp.answer(email=ANN, sign_response=True, sign_assertion=False)
    saml_sign_in(client, idp)
    assert signed_in_pk(client) == str(ann.pk)


# -- refusals: who the answer names ------------------------------------------------------------------------------


def test_an_alias_address_is_refused(client, idp, ann):
    idp.answer(email=ALIAS)
    landed = saml_sign_in(client, idp, email=ANN)
    assert refused_with(landed, sso.NOT_PRIMARY)
    assert signed_in_pk(client) is None
    assert failures() == [str(sso.NOT_PRIMARY)]


def test_a_disabled_person_is_refused(client, idp, partner):
    UserFactory(partner=partner, display_email="dan@acme-saml.example", is_active=False)
    idp.answer(email="dan@acme-saml.example")
    landed = saml_sign_in(client, idp, email="dan@acme-saml.example")
    assert refused_with(landed, sso.NOT_PRIMARY)
    assert signed_in_pk(client) is None


def test_a_person_of_another_account_is_refused(client, idp, ann):
    UserFactory(partner=UserFactory().partner, display_email="eve@elsewhere.example")
    idp.answer(email="eve@elsewhere.example")
    landed = saml_sign_in(client, idp)
    assert refused_with(landed, sso.NOT_PRIMARY)
    assert signed_in_pk(client) is None


def test_an_answer_without_an_email_address_is_refused(client, idp, ann):
    idp.answer(email=ANN, name_id="7f3c2a1e-persistent")  # a persistent NameID and no attribute configured
    landed = saml_sign_in(client, idp)
    assert refused_with(landed, saml.NO_EMAIL)
    assert signed_in_pk(client) is None


def test_an_error_status_from_the_identity_provider_is_refused(client, idp, ann):
    idp.answer(email=None)
    landed = saml_sign_in(client, idp)
    assert refused_with(landed, saml.NOT_CONFIRMED)
    assert failures() == [str(saml.NOT_CONFIRMED)]


# -- refusals: the answer itself ---------------------------------------------------------------------------------


def test_an_unsigned_assertion_is_refused_although_the_response_is_signed(client, idp, ann):
    idp.answer(email=ANN, sign_response=True, sign_assertion=False)
    landed = saml_sign_in(client, idp)
    assert refused_with(landed, saml.UNSIGNED)
    assert signed_in_pk(client) is None
    assert failures() == [str(saml.UNSIGNED)]


def test_an_answer_signed_nowhere_is_refused_even_when_signed_assertions_are_not_required(client, idp, ann):
    AccountSettings.objects.filter(partner=ann.partner).update(saml_want_assertions_signed=False)
    idp.answer(email=ANN, sign_response=False, sign_assertion=False)
    landed = saml_sign_in(client, idp)
    assert refused_with(landed, saml.UNSIGNED)
    assert signed_in_pk(client) is None


def test_a_tampered_answer_is_refused(client, idp, ann):
    UserFactory(partner=ann.partner, display_email="bob@acme-saml.example")
    idp.answer(email=ANN)
    form = at_idp(idp, start(client))
    xml = saml_response_xml(form["SAMLResponse"]).replace(ANN, "bob@acme-saml.example")
    form["SAMLResponse"] = base64_of(xml)
    landed = finish(client, post_to_acs(form))
    assert refused_with(landed, saml.UNSIGNED)
    assert signed_in_pk(client) is None


def test_an_answer_for_another_audience_is_refused(client, idp, ann):
    idp.answer(email=ANN, audience="https://other-portal.example/saml/metadata/")
    landed = saml_sign_in(client, idp)
    assert refused_with(landed, saml.WRONG_AUDIENCE)
    assert signed_in_pk(client) is None


def test_an_expired_answer_is_refused(client, idp, ann):
    idp.answer(email=ANN, valid_seconds=-(settings.SAML_CLOCK_SKEW_SECONDS + 60))
    landed = saml_sign_in(client, idp)
    assert refused_with(landed, saml.EXPIRED)
    assert signed_in_pk(client) is None


def test_an_answer_for_another_recipient_is_refused(client, idp, ann):
    idp.answer(email=ANN, recipient="https://other-portal.example/saml/acs/")
    landed = saml_sign_in(client, idp)
    assert refused_with(landed, saml.WRONG_RECIPIENT)
    assert signed_in_pk(client) is None


def test_a_replayed_answer_is_refused(client, idp, ann):
    idp.answer(email=ANN)
    form = at_idp(idp, start(client))
    finish(client, post_to_acs(form))
    assert signed_in_pk(client) == str(ann.pk)

    thief = Client()
    thief.post("/accounts/login/", {"email": ANN})
    thief.get("/accounts/sso/start/")  # a sign-in of its own is waiting: the old answer is still not for it
    landed = finish(thief, post_to_acs(form))
    assert refused_with(landed, saml.REPLAYED)
    assert signed_in_pk(thief) is None
    assert failures() == [str(saml.REPLAYED)]


def test_an_assertion_is_used_once_whatever_request_it_comes_with(idp, ann):
    """The second line against replays: an assertion ID seen before is refused even for a request still open."""
    idp.answer(email=ANN)
    form = at_idp(idp, start(Client()))
    cache.add(f"saml-assertion:{ann.partner_id}:{assertion_id_of(form['SAMLResponse'])}", True, 60)
    acs_response = post_to_acs(form)
    landed = Client().get(acs_response["Location"], follow=True)
    assert refused_with(landed, saml.REPLAYED)


def test_an_unsolicited_answer_is_refused(client, idp, ann):
    """An answer to an AuthnRequest the portal never recorded (as an IdP-initiated sign-in would be)."""
    idp.answer(email=ANN)
    account = active_account_settings(partner_id=ann.partner_id)
    with saml.service_provider(account) as provider:
        _, info = provider.client.prepare_for_authenticate(
            entityid=idp.entity_id, relay_state="forged", binding=BINDING_HTTP_REDIRECT)
    form = at_idp(idp, dict(info["headers"])["Location"])
    start(client)  # the browser has a sign-in of its own waiting
    landed = finish(client, post_to_acs(form))
    assert refused_with(landed, saml.UNSOLICITED)
    assert signed_in_pk(client) is None


def test_an_answer_whose_request_expired_is_refused(client, idp, ann):
    idp.answer(email=ANN)
    form = at_idp(idp, start(client))
    cache.delete(saml._request_key(in_response_to_of(form['SAMLResponse'])))
    landed = finish(client, post_to_acs(form))
    assert refused_with(landed, saml.UNSOLICITED)


def test_an_answer_posted_to_another_accounts_acs_is_refused(client, idp, ann):
    saml_partner(idp, slug="beta-saml", domain="beta-saml.example", directory=False)
    idp.answer(email=ANN)
    form = at_idp(idp, start(client))
    landed = finish(client, post_to_acs(form, action="/accounts/saml/beta-saml/acs/"))
    assert refused_with(landed, saml.OTHER_ACCOUNT)
    assert signed_in_pk(client) is None


def test_an_answer_finished_in_another_browser_is_refused(client, idp, ann):
    idp.answer(email=ANN)
    form = at_idp(idp, start(client))
    other_browser = Client()
    landed = finish(other_browser, post_to_acs(form))
    assert refused_with(landed, saml.OTHER_BROWSER)
    assert signed_in_pk(other_browser) is None
    assert signed_in_pk(client) is None


def test_garbage_at_the_acs_is_refused_without_an_error(client, idp, ann):
    start(client)
    landed = finish(client, post_to_acs({"action": "/accounts/saml/acme-saml/acs/", "SAMLResponse": "bm90IHhtbA==",
                                         "RelayState": "x"}))
    assert refused_with(landed, saml.INVALID)


def test_the_acs_of_an_account_without_saml_refuses(idp):
    response = post_to_acs({"action": "/accounts/saml/no-such-partner/acs/", "SAMLResponse": "", "RelayState": ""})
    assert response.status_code == 303
    landed = Client().get(response["Location"], follow=True)
    assert refused_with(landed, errors.SSO_UNAVAILABLE)


def test_a_used_done_link_does_nothing(client, idp, ann):
    idp.answer(email=ANN)
    acs_response = post_to_acs(at_idp(idp, start(client)))
    finish(client, acs_response)
    again = Client().get(acs_response["Location"], follow=True)
    assert refused_with(again, saml.UNSOLICITED)


# -- answers moved to another request or browser, and malformed ones (security review) ----------------------------


def request_of(location: str) -> tuple[str, str]:
    """The ID and RelayState of the AuthnRequest the portal sent the browser to `location` with."""
    query = parse_qs(urlsplit(location).query)
    xml = zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15).decode()
    return samlp.authn_request_from_string(xml).id, query["RelayState"][0]


def rebound(form: dict, to: str) -> tuple[str, str]:
    """The answer in `form` with its (unsigned) Response/@InResponseTo changed to the request `to`."""
    xml = saml_response_xml(form["SAMLResponse"])
    answered = in_response_to_of(form["SAMLResponse"])
    moved = xml.replace(f'InResponseTo="{answered}"', f'InResponseTo="{to}"', 1)
    assert moved.count(to) == 1  # only the Response's: the assertion's own is encrypted or signed
    return base64_of(moved), answered


@pytest.mark.parametrize("encrypt_assertion", [True, False])
def test_an_assertion_cannot_be_moved_to_another_browsers_request(idp, ann, encrypt_assertion):
    """An answer issued for the victim's request, rewrapped by an attacker in a Response naming the attacker's own
    request: pysaml2 checks the assertion's InResponseTo only when it is not encrypted, the portal always."""
    idp.answer(email=ANN, sign_response=False, sign_assertion=True, encrypt_assertion=encrypt_assertion)
    victim, attacker = Client(), Client()
    form = at_idp(idp, start(victim))
    attackers_request, attackers_relay_state = request_of(start(attacker))
    forged, _ = rebound(form, attackers_request)

    landed = finish(attacker, post_to_acs({**form, "SAMLResponse": forged, "RelayState": attackers_relay_state}))

    assert refused_with(landed, saml.UNSOLICITED)
    assert signed_in_pk(attacker) is None
    assert failures() == [str(saml.UNSOLICITED)]
    # The victim's own sign-in is still open and goes through.
    finish(victim, post_to_acs(form))
    assert signed_in_pk(victim) == str(ann.pk)


def test_each_audience_restriction_must_name_the_account(client, idp, ann, monkeypatch):
    """Several AudienceRestrictions all apply (SAML core 2.5.1.4); pysaml2 is content with one naming the portal."""
    conditions = _AnswerPolicy.conditions

    def also_for_another_audience(policy, sp_entity_id):
        made = conditions(policy, sp_entity_id)
        made.audience_restriction.append(saml2_saml.AudienceRestriction(
            audience=[saml2_saml.Audience(text="https://other-portal.example/saml/metadata/")]))
        return made

    monkeypatch.setattr(_AnswerPolicy, "conditions", also_for_another_audience)
    idp.answer(email=ANN)
    landed = saml_sign_in(client, idp)
    assert "other-portal.example" in saml_response_xml(idp.responses[-1])
    assert refused_with(landed, saml.WRONG_AUDIENCE)
    assert signed_in_pk(client) is None


def confirmed(*confirmations, audiences=None):
    """A checked answer as _answer_require_mine sees it, with these SubjectConfirmations (method, InResponseTo,
    Recipient) and AudienceRestrictions (lists of audiences)."""
    sp = saml_service_provider(Partner.objects.get(slug="acme-saml"))
    restrictions = [saml2_saml.AudienceRestriction(audience=[saml2_saml.Audience(text=text) for text in named])
                    for named in (audiences if audiences is not None else [[sp.entity_id]])]
    assertion = saml2_saml.Assertion(
        issuer=saml2_saml.Issuer(text=IDP_ENTITY), conditions=saml2_saml.Conditions(audience_restriction=restrictions),
        subject=saml2_saml.Subject(subject_confirmation=[
            saml2_saml.SubjectConfirmation(method=method, subject_confirmation_data=saml2_saml.SubjectConfirmationData(
                in_response_to=in_response_to, recipient=sp.acs_url if recipient is None else recipient))
            for method, in_response_to, recipient in confirmations]),
    )
    response = SimpleNamespace(assertions=[assertion], assertion=assertion, issuer=lambda: IDP_ENTITY,
                               response=SimpleNamespace(destination=sp.acs_url))
    return response, sp


IDP_ENTITY = "https://idp.acme-saml.example/"
HOLDER_OF_KEY = "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key"


@pytest.mark.parametrize(("confirmations", "audiences", "reason"), [
    ([(SCM_BEARER, "id-r1", None)], None, None),
    ([(SCM_BEARER, "id-r2", None)], None, saml.UNSOLICITED),
    ([(SCM_BEARER, None, None)], None, saml.UNSOLICITED),
    ([(SCM_BEARER, "id-r1", None), (SCM_BEARER, "id-r2", None)], None, saml.UNSOLICITED),
    ([(SCM_BEARER, "id-r1", None), (HOLDER_OF_KEY, "id-r1", None)], None, saml.INVALID),
    ([(HOLDER_OF_KEY, "id-r1", None)], None, saml.INVALID),
    ([], None, saml.NOT_CONFIRMED),
    ([(SCM_BEARER, "id-r1", "https://other-portal.example/acs/")], None, saml.WRONG_RECIPIENT),
    ([(SCM_BEARER, "id-r1", None)], [], saml.WRONG_AUDIENCE),
    ([(SCM_BEARER, "id-r1", None)], [["https://other-portal.example/"]], saml.WRONG_AUDIENCE),
    ([(SCM_BEARER, "id-r1", None)], [[]], saml.WRONG_AUDIENCE),
])
def test_every_subject_confirmation_is_bearer_for_this_request(partner, confirmations, audiences, reason):
    response, sp = confirmed(*confirmations, audiences=audiences)
    if reason is None:
        saml._answer_require_mine(response, idp=IdentityProvider(entity_id=IDP_ENTITY, sso_url=""), sp=sp,
                                  request_id="id-r1")
        return
    with pytest.raises(saml.SamlRefused) as refused:
        saml._answer_require_mine(response, idp=IdentityProvider(entity_id=IDP_ENTITY, sso_url=""), sp=sp,
                                  request_id="id-r1")
    assert refused.value.reason == reason


@pytest.mark.parametrize("relay_state", ["é", "ключ", "\u202e" * 40])
def test_a_relay_state_of_any_characters_is_refused_not_an_error(client, idp, ann, relay_state):
    idp.answer(email=ANN)
    form = at_idp(idp, start(client))
    acs_response = post_to_acs({**form, "RelayState": relay_state})
    assert acs_response.status_code == 303
    landed = finish(client, acs_response)
    assert refused_with(landed, saml.INVALID)
    assert signed_in_pk(client) is None
    assert failures() == [str(saml.INVALID)]


def test_an_in_response_to_of_any_length_and_characters_is_refused_not_an_error(client, idp, ann):
    idp.answer(email=ANN)
    form = at_idp(idp, start(client))
    forged, _ = rebound(form, "ü" * 5000)
    landed = finish(client, post_to_acs({**form, "SAMLResponse": forged}))
    assert refused_with(landed, saml.UNSOLICITED)


def test_the_request_is_looked_up_by_a_hash_of_the_answers_in_response_to(client, idp, ann):
    request_id, _ = request_of(start(client))
    assert cache.get(saml._request_key(request_id)) is not None
    assert request_id not in saml._request_key(request_id)


def test_a_time_that_does_not_parse_is_refused_not_an_error(client, idp, ann):
    idp.answer(email=ANN)
    form = at_idp(idp, start(client))
    xml = re.sub(r'NotOnOrAfter="[^"]+"', 'NotOnOrAfter="garbage"', saml_response_xml(form["SAMLResponse"]))
    acs_response = post_to_acs({**form, "SAMLResponse": base64_of(xml)})
    assert acs_response.status_code == 303
    landed = finish(client, acs_response)
    assert refused_with(landed, saml.UNSIGNED)  # the signed assertion was changed
    assert signed_in_pk(client) is None


@pytest.mark.parametrize("doctype", [
    '<!DOCTYPE foo [<!ATTLIST foo ID ID #IMPLIED>]>',
    '<!DOCTYPE samlp:Response>',
])
def test_an_answer_with_a_document_type_declaration_is_refused(client, idp, ann, doctype, monkeypatch):
    seen = []
    parse = Saml2Client.parse_authn_request_response
    monkeypatch.setattr(Saml2Client, "parse_authn_request_response",
                        lambda *args, **kwargs: seen.append(True) or parse(*args, **kwargs))
    idp.answer(email=ANN)
    form = at_idp(idp, start(client))
    xml = re.sub(r"^<\?xml[^>]*\?>\s*", "", saml_response_xml(form["SAMLResponse"]))
    landed = finish(client, post_to_acs({**form, "SAMLResponse": base64_of(doctype + xml)}))
    assert refused_with(landed, saml.INVALID)
    assert signed_in_pk(client) is None
    assert seen == []  # pysaml2 and xmlsec1 never saw it
    # Without it, the same answer signs in: the declaration alone was refused.
    finish(client, post_to_acs(form))
    assert signed_in_pk(client) == str(ann.pk)


def test_a_refusal_is_logged_without_the_answers_content(client, idp, ann, caplog):
    UserFactory(partner=ann.partner, display_email="bob@acme-saml.example")
    idp.answer(email=ANN)
    form = at_idp(idp, start(client))
    tampered = saml_response_xml(form["SAMLResponse"]).replace(ANN, "bob@acme-saml.example")
    with caplog.at_level(logging.INFO):
        finish(client, post_to_acs({**form, "SAMLResponse": base64_of(tampered)}))
    [refusal] = [record for record in caplog.records if record.name == "accounts.views.saml"]
    assert "pysaml2 refused it: SignatureError" in refusal.getMessage()
    assert "acme-saml.example" not in caplog.text and "<" not in refusal.getMessage()
    assert logging.getLogger("saml2").getEffectiveLevel() == logging.WARNING


def test_sign_ins_started_in_two_tabs_both_finish(client, idp, ann):
    idp.answer(email=ANN)
    first = at_idp(idp, start(client))
    second = at_idp(idp, start(client))  # the same browser, another tab
    finish(client, post_to_acs(first))
    assert signed_in_pk(client) == str(ann.pk)
    assert client.session[saml.SESSION_REQUESTS] == [in_response_to_of(second["SAMLResponse"])]


def test_a_browser_remembers_its_latest_sign_ins_only(client, idp, ann):
    idp.answer(email=ANN)
    oldest = at_idp(idp, start(client))
    for _ in range(saml.SESSION_REQUESTS_KEPT):
        start(client)
    landed = finish(client, post_to_acs(oldest))
    assert refused_with(landed, saml.OTHER_BROWSER)


# -- reading answers ---------------------------------------------------------------------------------------------


def saml_response_xml(encoded: str) -> str:
    return base64.b64decode(encoded).decode()


def base64_of(xml: str) -> str:
    return base64.b64encode(xml.encode()).decode()


def in_response_to_of(encoded: str) -> str:
    return samlp.response_from_string(saml_response_xml(encoded)).in_response_to


def assertion_id_of(encoded: str) -> str:
    return samlp.response_from_string(saml_response_xml(encoded)).assertion[0].id


def test_unusable_metadata_says_single_sign_on_is_unavailable(client, idp, ann):
    AccountSettings.objects.filter(partner=ann.partner).update(saml_idp_metadata_xml="<not-metadata/>")
    client.post("/accounts/login/", {"email": ANN})
    landed = client.get("/accounts/sso/start/", follow=True)
    assert landed.request["PATH_INFO"] == "/accounts/login/"
    assert str(errors.SSO_UNAVAILABLE) in text_of(landed)
