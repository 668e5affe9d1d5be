"""The session store: a new key without asking first, a delete without reading first, Django's guarantees kept."""

import pytest
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.models import Session

from accounts import sessions
from accounts.sessions import SessionStore

pytestmark = pytest.mark.django_db


def test_a_new_key_already_taken_is_drawn_again_and_the_other_session_is_left_alone(monkeypatch):
    taken = SessionStore()
    taken["who"] = "someone else"
    taken.create()
    keys = iter([taken.session_key, "k" * 32])
    monkeypatch.setattr(sessions, "get_random_string", lambda length, chars: next(keys))

    store = SessionStore()
    store["who"] = "me"
    store.create()

    assert store.session_key == "k" * 32
    assert SessionStore(session_key=taken.session_key)["who"] == "someone else"
    assert SessionStore(session_key=store.session_key)["who"] == "me"


def test_cycling_the_key_keeps_the_data_and_removes_the_old_row():
    store = SessionStore()
    store["who"] = "me"
    store.create()
    old = store.session_key

    store.cycle_key()

    assert store.session_key != old
    assert not Session.objects.filter(session_key=old).exists()
    assert SessionStore(session_key=store.session_key)["who"] == "me"


def test_deleting_a_session_that_is_gone_is_no_error():
    SessionStore().delete("missing" * 4)


def test_saving_a_session_whose_row_was_deleted_meanwhile_is_an_update_error():
    store = SessionStore()
    store["who"] = "me"
    store.create()
    Session.objects.filter(session_key=store.session_key).delete()

    with pytest.raises(UpdateError):
        store.save()


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_a_taken_key_and_a_vanished_row_are_answered_the_same(monkeypatch):
    taken = SessionStore()
    taken.create()
    keys = iter([taken.session_key, "k" * 32])
    monkeypatch.setattr(sessions, "get_random_string", lambda length, chars: next(keys))
    store = SessionStore()
    store["who"] = "me"

    store.create()
    Session.objects.filter(session_key=store.session_key).delete()

    assert store.session_key == "k" * 32
    with pytest.raises(UpdateError):
        store.save()
