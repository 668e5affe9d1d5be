"""SAML 2.0 endpoints of an account: the portal's metadata, the assertion consumer service, and the GET after it.

The ACS is reached by a cross-site POST from the identity provider, without this browser's session cookie
(SameSite=Lax): it never reads or writes the session (a session saved there would replace the browser's with
an empty one). It checks the answer, keeps the result under a one-time token and redirects (303) to `done`, a
top-level GET that carries the cookie, where the answer is bound to the browser that asked for it.
"""

import logging

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from accounts import errors, saml, sso
from accounts.services.audit import audit_signin_failure
from partners.models import AuthMethod
from partners.selectors import saml_account_settings
from partners.services.saml import SamlMetadataInvalid

logger = logging.getLogger(__name__)


@require_GET
def metadata(request: HttpRequest, slug: str) -> HttpResponse:
    """The portal's SAML metadata for this account (public: it is what the identity provider is given)."""
    account = saml_account_settings(slug=slug)
    if account is None:
        raise Http404
    response = HttpResponse(saml.metadata_xml(account), content_type="application/samlmetadata+xml")
    response["Content-Disposition"] = f'inline; filename="portal-{account.partner.slug}-saml-metadata.xml"'
    return response


@csrf_exempt  # a cross-site POST by design: the signed answer, not a CSRF token, is what is checked
@never_cache
@require_POST
def acs(request: HttpRequest, slug: str) -> HttpResponse:
    """The identity provider's answer (HTTP-POST binding): checked here, handed to `done` by a one-time token."""
    account = saml_account_settings(slug=slug)
    try:
        if account is None or account.auth_method != AuthMethod.SSO:
            raise saml.SamlRefused(errors.SSO_UNAVAILABLE, f"no SAML single sign-on for {slug!r}")
        verified = saml.answer_check(
            account=account, saml_response=request.POST.get("SAMLResponse", ""),
            relay_state=request.POST.get("RelayState", ""),
        )
    except saml.SamlRefused as refused:
        # The detail names the check and at most an exception's type, never pysaml2's message: that one quotes
        # the whole answer, the person's address and attributes with it. Cut short all the same (%.300r), since
        # parts of it (an InResponseTo) are the sender's.
        logger.warning("SAML answer for %s refused: %.300r", slug, refused.detail)
        # Audited here, where it happened: the browser may never follow the redirect.
        audit_signin_failure(request=request, email="", method=AuthMethod.SSO, reason=str(refused.reason))
        token = saml.answer_store(reason=refused.reason)
    except SamlMetadataInvalid as exc:
        logger.warning("SAML answer for %s refused, metadata unusable: %s", slug, exc)
        audit_signin_failure(request=request, email="", method=AuthMethod.SSO, reason=str(saml.INVALID))
        token = saml.answer_store(reason=saml.INVALID)
    else:
        token = saml.answer_store(verified)
    # 303: the browser follows with a GET, a top-level navigation that carries its session cookie.
    response = HttpResponseRedirect(f"{reverse('accounts:saml_done', args=[slug])}?t={token}")
    response.status_code = 303
    return response


@never_cache
@require_GET
def done(request: HttpRequest, slug: str) -> HttpResponse:
    """Back from the ACS, now with this browser's session: the answer must be for the request this browser sent;
    then the address rule, an expecting flow (an invitation) or sign-in as for OpenID Connect."""
    taken = saml.answer_take(request.GET.get("t", ""))
    if taken is None:
        return sso.sign_in_refused(request, saml.UNSOLICITED)
    verified, reason = taken
    if verified is None:
        # Audited by the ACS already.
        messages.error(request, errors.SSO_FAILED.format(reason=reason))
        return redirect("accounts:login")
    request.sso_claimed_email = verified.email
    account = saml_account_settings(slug=slug)
    if account is None or account.partner_id != verified.partner_id:
        return sso.sign_in_refused(request, saml.OTHER_ACCOUNT)
    if not saml.session_request_matches(request, verified):
        return sso.sign_in_refused(request, saml.OTHER_BROWSER)
    return sso.sign_in_verified(request, email=verified.email, partner_id=verified.partner_id,
                                backend=sso.SAML_BACKEND)
