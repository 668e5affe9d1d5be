"""Sign-in, single sign-on, two-factor and passwords."""

from django.urls import path

from accounts import sso
from accounts.views import api_tokens, notifications, passkeys, passwords, profile, saml, signin, two_factor

app_name = "accounts"

urlpatterns = [
    path("login/", signin.login_email, name="login"),
    path("login/password/", signin.login_password, name="login_password"),
    path("login/verify/", signin.login_verify, name="login_verify"),
    path("logout/", signin.logout, name="logout"),
    path("sso/start/", sso.SSOStartView.as_view(), name="sso_start"),
    path("sso/callback/", sso.SSOCallbackView.as_view(), name="sso_callback"),
    path("saml/<slug:slug>/metadata/", saml.metadata, name="saml_metadata"),
    path("saml/<slug:slug>/acs/", saml.acs, name="saml_acs"),
    path("saml/<slug:slug>/done/", saml.done, name="saml_done"),
    path("security/", two_factor.security, name="security"),
    path("notifications/", notifications.notifications, name="notifications"),
    path("time-zone/", profile.time_zone, name="time_zone"),
    path("time-zone/propose/", profile.time_zone_propose, name="time_zone_propose"),
    path("language/", profile.language, name="language"),
    path("api-tokens/", api_tokens.api_tokens, name="api_tokens"),
    path("api-tokens/<int:pk>/revoke/", api_tokens.api_token_revoke_view, name="api_token_revoke"),
    path("two-factor/setup/", two_factor.setup, name="two_factor_setup"),
    path("two-factor/later/", two_factor.skip_setup, name="two_factor_skip"),
    path("two-factor/backup-codes/", two_factor.backup_codes, name="two_factor_backup_codes"),
    path("two-factor/backup-codes/renew/", two_factor.backup_codes_renew, name="two_factor_backup_codes_renew"),
    # Passkeys and security keys (WebAuthn): the JSON steps of each ceremony, under two-factor/ so that someone
    # who must enrol can reach them (accounts.middleware), and the passwordless and second-factor sign-in steps.
    path("two-factor/passkeys/", passkeys.passkey_list, name="passkeys"),
    path("two-factor/passkeys/<int:pk>/remove/", passkeys.passkey_remove, name="passkey_remove"),
    path("two-factor/passkeys/register/begin/", passkeys.PasskeyRegisterBegin.as_view(),
         name="passkey_register_begin"),
    path("two-factor/passkeys/register/complete/", passkeys.PasskeyRegisterComplete.as_view(),
         name="passkey_register_complete"),
    path("login/verify/passkey/begin/", passkeys.PasskeyVerifyBegin.as_view(), name="passkey_verify_begin"),
    path("login/verify/passkey/complete/", passkeys.PasskeyVerifyComplete.as_view(),
         name="passkey_verify_complete"),
    path("login/passkey/begin/", passkeys.PasskeySignInBegin.as_view(), name="passkey_signin_begin"),
    path("login/passkey/complete/", passkeys.PasskeySignInComplete.as_view(), name="passkey_signin_complete"),
    path("password/reset/", passwords.reset_request, name="password_reset"),
    # The link's secret rides after "#" (never sent to a server); the form's URL holds none.
    path("password/reset/link/", passwords.reset_link, name="password_reset_link"),
    path("password/reset/set-password/", passwords.reset_confirm, name="password_reset_confirm"),
    path("password/reset/<uidb64>/<token>/", passwords.reset_link_retired, name="password_reset_retired"),
    path("password/change/", passwords.change, name="password_change"),
]
