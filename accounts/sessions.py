"""Django's database sessions, without the reads and transactions the database does not need.

Signing in gives the session a new key (against session fixation). Django's database store asks
whether a random 32-character key is already taken before inserting it, reads the old row before
deleting it, and wraps each write in a transaction of its own. The insert's unique key answers the
first question (a clash raises CreateError and `create` draws another key); a delete needs no read;
and a single statement outside a transaction is one already (inside one, the write keeps its
savepoint, so that a clash never breaks the caller's transaction). A sign-in writes its session in
three statements instead of eleven.
"""

from contextlib import nullcontext

from django.contrib.sessions.backends.base import VALID_KEY_CHARS, CreateError, UpdateError
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import DatabaseError, IntegrityError, connections, router, transaction
from django.utils.crypto import get_random_string


class SessionStore(DatabaseSessionStore):
    def _get_new_session_key(self) -> str:
        return get_random_string(32, VALID_KEY_CHARS)

    def save(self, must_create: bool = False) -> None:
        if self.session_key is None:
            return self.create()
        obj = self.create_model_instance(self._get_session(no_load=must_create))
        using = router.db_for_write(self.model, instance=obj)
        in_transaction = connections[using].in_atomic_block
        try:
            with transaction.atomic(using=using) if in_transaction else nullcontext():
                obj.save(force_insert=must_create, force_update=not must_create, using=using)
        except IntegrityError:
            if must_create:
                raise CreateError from None
            raise
        except DatabaseError:
            if not must_create:
                raise UpdateError from None
            raise

    def delete(self, session_key=None) -> None:
        if session_key is None:
            if self.session_key is None:
                return
            session_key = self.session_key
        # One DELETE, in the caller's transaction if any (a queryset's delete would open one for itself).
        sessions = self.model.objects.filter(session_key=session_key)
        sessions._raw_delete(router.db_for_write(self.model))
