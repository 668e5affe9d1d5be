"""A real SMTP server for tests, in-process: aiosmtpd on 127.0.0.1 and a free port, in its own thread.

    server = MailServer().start()
    server.use(settings)                       # the pytest-django `settings` fixture: Django's SMTP backend
    send_mail("Welcome", "Activate: https://portal.example/a/1/", None, ["partner@example.net"])
    message = server.wait_for(1)[0]            # email.message.EmailMessage
    server.links(message)                      # ['https://portal.example/a/1/']
    server.stop()

Mail goes over a real SMTP conversation, so it also arrives from other processes (a Celery worker): give
them `email_url` (django-environ's EMAIL_URL form) or `host`/`port`, and `wait_for` the count.

Outages: `fail_next(n)` makes the next n messages fail at DATA with "451 4.3.0 Try again later", a temporary
error (smtplib raises `SMTPDataError`); `refused` counts the refusals, so retry logic can be checked
against a server that fails and then recovers.
"""

from __future__ import annotations

import email
import email.policy
import re
import threading
import time
from email.message import EmailMessage
from types import TracebackType
from typing import TYPE_CHECKING, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.conftest import free_port

if TYPE_CHECKING:
    from pytest_django.fixtures import Settings

TEMPORARY_FAILURE = "451 4.3.0 Try again later"
ACCEPTED = "250 Message accepted for delivery"
PORT_ATTEMPTS = 3
# Up to whitespace or a character that cannot end a URL in prose; trailing punctuation is trimmed after.
_URL = re.compile(r"https?://[^\s<>\"']+")
_TRAILING = ".,;:!?)]}"


class MailServer:
    """An SMTP server that keeps what it receives, parsed, and can be told to refuse messages for a while."""

    def __init__(self, *, hostname: str = "127.0.0.1", port: int | None = None) -> None:
        self.hostname = hostname
        self._requested_port = port
        self._controller: Controller | None = None
        # The SMTP handler runs in the controller's thread; tests read from theirs.
        self._changed = threading.Condition()
        self._messages: list[EmailMessage] = []
        self._envelopes: list[Envelope] = []
        self._fail_next = 0
        self._failure_reply = TEMPORARY_FAILURE
        self._refused = 0

    # -- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> Self:
        if self._controller is not None:
            raise RuntimeError(f"the SMTP server already listens on port {self.port}")
        attempts = 1 if self._requested_port else PORT_ATTEMPTS
        for attempt in range(1, attempts + 1):
            # A failed Controller cannot be restarted: each attempt gets a new one (and a new free port).
            controller = Controller(_Handler(self), hostname=self.hostname, port=self._requested_port or free_port())
            try:
                controller.start()
            except OSError:
                if attempt == attempts:
                    raise
                continue
            self._controller = controller
            break
        return self

    def stop(self) -> None:
        """Stop listening (idempotent); the messages received stay readable."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> Self:
        return self.start() if self._controller is None else self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def host(self) -> str:
        return self.hostname

    @property
    def port(self) -> int:
        if self._controller is None:
            raise RuntimeError("start() the SMTP server first")
        return self._controller.port

    @property
    def email_url(self) -> str:
        """The server as django-environ's EMAIL_URL (plain SMTP, no auth), for another process's settings."""
        return f"smtp://{self.host}:{self.port}"

    def use(self, settings: Settings) -> None:
        """Point Django's mail at this server through pytest-django's `settings` fixture.

        pytest-django installs the locmem backend for every test, so the SMTP backend has to be put back.
        TLS and credentials are cleared: this server offers neither, and Django would try AUTH with a user.
        """
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = self.host
        settings.EMAIL_PORT = self.port
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = ""
        settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_TIMEOUT = 10

    # -- what arrived ----------------------------------------------------------------------------------------

    @property
    def messages(self) -> list[EmailMessage]:
        """The accepted messages, oldest first (a copy: more may arrive while a test reads it)."""
        with self._changed:
            return list(self._messages)

    @property
    def envelopes(self) -> list[Envelope]:
        """The SMTP envelopes (`mail_from`, `rcpt_tos`) of the accepted messages, in the same order."""
        with self._changed:
            return list(self._envelopes)

    @property
    def refused(self) -> int:
        """How many messages `fail_next` refused since the start or the last `clear()`."""
        with self._changed:
            return self._refused

    def clear(self) -> None:
        """Forget the messages and refusals and cancel pending failures (for a server shared between tests)."""
        with self._changed:
            self._messages.clear()
            self._envelopes.clear()
            self._refused = 0
            self._fail_next = 0

    def wait_for(self, count: int, timeout: float = 10) -> list[EmailMessage]:
        """Wait until at least `count` messages were accepted; return them all. Raises TimeoutError."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self._messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    subjects = [message["Subject"] for message in self._messages]
                    raise TimeoutError(f"expected {count} message(s) within {timeout} s, got "
                                       f"{len(subjects)}: {subjects} ({self._refused} refused)")
                self._changed.wait(remaining)
            return list(self._messages)

    @staticmethod
    def body(message: EmailMessage) -> str:
        """The text/plain body (of a multipart/alternative message too)."""
        part = message.get_body(preferencelist=("plain",))
        if part is None:
            raise ValueError(f"message {message['Subject']!r} has no text/plain body")
        return part.get_content()

    @classmethod
    def links(cls, message: EmailMessage) -> list[str]:
        """The http(s) URLs in the text/plain body, in order; punctuation ending a sentence is not included."""
        return [url.rstrip(_TRAILING) for url in _URL.findall(cls.body(message))]

    # -- failure injection -----------------------------------------------------------------------------------

    def fail_next(self, count: int = 1, reply: str = TEMPORARY_FAILURE) -> None:
        """Refuse the next `count` messages at DATA with `reply` (a 4xx temporary failure by default)."""
        with self._changed:
            self._fail_next = count
            self._failure_reply = reply

    # -- the SMTP side -----------------------------------------------------------------------------------------

    def _receive(self, envelope: Envelope) -> str:
        with self._changed:
            if self._fail_next > 0:
                self._fail_next -= 1
                self._refused += 1
                return self._failure_reply
            # decode_data is off (aiosmtpd's default): content is the raw bytes, as sent.
            self._messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
            self._envelopes.append(envelope)
            self._changed.notify_all()
        return ACCEPTED


class _Handler:
    """aiosmtpd's handler. Not MailServer itself: aiosmtpd inspects every attribute of its handler for hooks,
    which would evaluate MailServer's properties (port) before the server listens."""

    def __init__(self, server: MailServer) -> None:
        self.server = server

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return self.server._receive(envelope)
