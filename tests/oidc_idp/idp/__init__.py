"""A tiny OpenID Connect provider for the portal's sign-in tests (django-oauth-toolkit with OIDC enabled)."""
