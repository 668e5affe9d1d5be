"""Secrets at rest: Fernet encryption, key rotation, and loud failures on wrong or missing keys."""

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from core import crypto


@pytest.fixture
def old_key():
    return Fernet.generate_key().decode()


@pytest.fixture
def new_key():
    return Fernet.generate_key().decode()


def test_encrypted_text_decrypts_back():
    token = crypto.encrypt("bind-secret")

    assert token != "bind-secret"
    assert "bind-secret" not in token
    assert crypto.decrypt(token) == "bind-secret"


def test_each_encryption_is_randomised():
    assert crypto.encrypt("bind-secret") != crypto.encrypt("bind-secret")


def test_unicode_text_roundtrips():
    assert crypto.decrypt(crypto.encrypt("pässwört-🔑")) == "pässwört-🔑"


def test_old_ciphertext_still_decrypts_after_adding_a_new_key(settings, old_key, new_key):
    settings.FIELD_ENCRYPTION_KEYS = [old_key]
    token = crypto.encrypt("bind-secret")

    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]

    assert crypto.decrypt(token) == "bind-secret"


def test_new_encryptions_use_the_first_key(settings, old_key, new_key):
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]

    token = crypto.encrypt("bind-secret")

    assert Fernet(new_key.encode()).decrypt(token.encode()) == b"bind-secret"


def test_rotate_reencrypts_under_the_new_key(settings, old_key, new_key):
    settings.FIELD_ENCRYPTION_KEYS = [old_key]
    token = crypto.encrypt("bind-secret")
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]

    rotated = crypto.rotate(token)

    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    assert crypto.decrypt(rotated) == "bind-secret"
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(token)


def test_wrong_key_raises_decryption_error(settings, old_key, new_key):
    settings.FIELD_ENCRYPTION_KEYS = [old_key]
    token = crypto.encrypt("bind-secret")

    settings.FIELD_ENCRYPTION_KEYS = [new_key]

    with pytest.raises(crypto.DecryptionError, match="FIELD_ENCRYPTION_KEY"):
        crypto.decrypt(token)


def test_tampered_ciphertext_raises_decryption_error():
    token = crypto.encrypt("bind-secret")
    tampered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]

    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(tampered)


def test_rotate_with_wrong_key_raises_decryption_error(settings, old_key, new_key):
    settings.FIELD_ENCRYPTION_KEYS = [old_key]
    token = crypto.encrypt("bind-secret")
    settings.FIELD_ENCRYPTION_KEYS = [new_key]

    with pytest.raises(crypto.DecryptionError):
        crypto.rotate(token)


def test_missing_keys_raise_improperly_configured(settings):
    settings.FIELD_ENCRYPTION_KEYS = []

    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEY is not set"):
        crypto.encrypt("bind-secret")


def test_malformed_key_raises_improperly_configured(settings):
    settings.FIELD_ENCRYPTION_KEYS = ["not-a-fernet-key"]

    with pytest.raises(ImproperlyConfigured, match="Fernet keys"):
        crypto.decrypt("anything")


def test_changing_the_keys_clears_the_cached_cipher(settings):
    crypto.encrypt("warm the cache")

    settings.FIELD_ENCRYPTION_KEYS = []

    with pytest.raises(ImproperlyConfigured):
        crypto.encrypt("bind-secret")
