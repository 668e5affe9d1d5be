"""SCIM 2.0 service provider (RFC 7643/7644) at /scim/v2/: a directory connection of kind SCIM, pushed to by the
partner's identity provider."""
