"""The models of accounts: the portal's user, and the second factors it signs in with."""

from accounts.models.devices import (
    BackupCode,
    BackupCodeDevice,
    TOTPDevice,
    backup_code_hash,
    backup_code_hashes,
    random_totp_key,
)
from accounts.models.tokens import ApiToken, ApiTokenScope
from accounts.models.user import ENDED_BY_DIRECTORY, PARTNER_ROLES, VENDOR_ROLES, AccessEnded, Role, User, UserManager

__all__ = [
    "ENDED_BY_DIRECTORY",
    "PARTNER_ROLES",
    "VENDOR_ROLES",
    "AccessEnded",
    "ApiToken",
    "ApiTokenScope",
    "BackupCode",
    "BackupCodeDevice",
    "Role",
    "TOTPDevice",
    "User",
    "UserManager",
    "backup_code_hash",
    "backup_code_hashes",
    "random_totp_key",
]
