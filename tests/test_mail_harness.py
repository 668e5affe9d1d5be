"""The SMTP server harness (tests/mail.py) itself: real SMTP from Django's backend and from other processes.

Mail tests rely on these promises: what Django sends arrives parsed, with its envelope; links are read from the
text/plain body; `fail_next` makes sends fail with a temporary error exactly as often as asked, then the server
recovers; `wait_for` sees mail from another process. No Django database is involved, only settings.
"""

from __future__ import annotations

import smtplib
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import environ
import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives, send_mail
from pytest_django.fixtures import Settings

from tests.mail import MailServer

pytestmark = pytest.mark.integration


@pytest.fixture
def server() -> Iterator[MailServer]:
    with MailServer() as started:
        yield started


def test_django_smtp_backend_delivers_to_the_server(server: MailServer, settings: Settings) -> None:
    server.use(settings)

    sent = send_mail("Welcome to the portal", "Hello partner,\n\nActivate your account at "
                     "https://portal.example/accounts/activate/abc123/.\n", None, ["partner@example.net"])

    assert sent == 1
    [message] = server.messages
    assert message["Subject"] == "Welcome to the portal"
    assert message["From"] == settings.DEFAULT_FROM_EMAIL
    assert message["To"] == "partner@example.net"
    assert "Hello partner," in server.body(message)
    assert server.links(message) == ["https://portal.example/accounts/activate/abc123/"]
    [envelope] = server.envelopes
    assert envelope.rcpt_tos == ["partner@example.net"]
    assert mail.outbox == []  # over the wire, not into pytest-django's locmem outbox


def test_links_are_read_from_the_text_part_only(server: MailServer, settings: Settings) -> None:
    server.use(settings)
    message = EmailMultiAlternatives(
        "Your invitation",
        "Accept: https://portal.example/invite/1/?next=%2Fhome&x=1, or read the guide "
        "(https://docs.example/guide).\nQuestions? Reply to this email.",
        to=["partner@example.net"],
    )
    message.attach_alternative('<a href="https://portal.example/html-only/">Accept</a>', "text/html")
    message.send()

    [received] = server.messages
    assert received.get_content_type() == "multipart/alternative"
    assert server.links(received) == ["https://portal.example/invite/1/?next=%2Fhome&x=1",
                                      "https://docs.example/guide"]


def test_a_message_without_a_text_part_has_no_links_to_read(server: MailServer, settings: Settings) -> None:
    server.use(settings)
    message = mail.EmailMessage("HTML only", "<p>https://portal.example/</p>", to=["partner@example.net"])
    message.content_subtype = "html"
    message.send()

    with pytest.raises(ValueError, match="no text/plain body"):
        server.links(server.messages[0])


def test_a_temporary_failure_is_raised_once_then_the_server_recovers(server: MailServer,
                                                                     settings: Settings) -> None:
    server.use(settings)
    server.fail_next(1)

    with pytest.raises(smtplib.SMTPDataError) as refused:
        send_mail("Attempt 1", "body", None, ["partner@example.net"])
    sent = send_mail("Attempt 2", "body", None, ["partner@example.net"])

    assert isinstance(refused.value, smtplib.SMTPResponseException)
    assert refused.value.smtp_code == 451
    assert refused.value.smtp_error == b"4.3.0 Try again later"
    assert sent == 1
    assert server.refused == 1
    assert [message["Subject"] for message in server.messages] == ["Attempt 2"]


def test_fail_next_counts_down_over_several_messages(server: MailServer, settings: Settings) -> None:
    server.use(settings)
    server.fail_next(2)
    outcomes = []

    for attempt in range(1, 4):
        try:
            send_mail(f"Attempt {attempt}", "body", None, ["partner@example.net"])
            outcomes.append("sent")
        except smtplib.SMTPResponseException as exc:
            outcomes.append(exc.smtp_code)

    assert outcomes == [451, 451, "sent"]
    assert server.refused == 2
    assert [message["Subject"] for message in server.messages] == ["Attempt 3"]


def test_wait_for_sees_mail_sent_by_another_process(server: MailServer) -> None:
    # Like a Celery worker: another process, its own SMTP connection, a little later than the test expects.
    script = textwrap.dedent("""
        import smtplib, sys, time
        from email.message import EmailMessage
        time.sleep(0.3)
        message = EmailMessage()
        message["Subject"], message["From"], message["To"] = "From a worker", "portal@example.test", "p@example.net"
        message.set_content("Reset: https://portal.example/reset/xyz/")
        with smtplib.SMTP(sys.argv[1], int(sys.argv[2]), timeout=10) as client:
            client.send_message(message)
    """)
    worker = subprocess.Popen([sys.executable, "-c", script, server.host, str(server.port)])
    try:
        [message] = server.wait_for(1, timeout=10)
    finally:
        assert worker.wait(timeout=10) == 0

    assert message["Subject"] == "From a worker"
    assert server.links(message) == ["https://portal.example/reset/xyz/"]


def test_wait_for_times_out_saying_what_arrived(server: MailServer, settings: Settings) -> None:
    server.use(settings)
    send_mail("Only one", "body", None, ["partner@example.net"])

    with pytest.raises(TimeoutError, match=r"expected 2 message\(s\) within 0.2 s, got 1: \['Only one'\]"):
        server.wait_for(2, timeout=0.2)


def test_clear_forgets_messages_refusals_and_pending_failures(server: MailServer, settings: Settings) -> None:
    server.use(settings)
    send_mail("Before", "body", None, ["partner@example.net"])
    server.fail_next(1)
    with pytest.raises(smtplib.SMTPDataError):
        send_mail("Refused", "body", None, ["partner@example.net"])
    server.fail_next(5)

    server.clear()
    send_mail("After", "body", None, ["partner@example.net"])

    assert [message["Subject"] for message in server.messages] == ["After"]
    assert server.refused == 0


def test_email_url_configures_another_process_for_this_server(server: MailServer) -> None:
    config = environ.Env.email_url_config(server.email_url)

    assert config["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert (config["EMAIL_HOST"], config["EMAIL_PORT"]) == ("127.0.0.1", server.port)
    assert not config.get("EMAIL_USE_TLS") and not config.get("EMAIL_USE_SSL")


def test_stop_closes_the_port() -> None:
    server = MailServer().start()
    port = server.port
    server.stop()
    server.stop()  # idempotent

    with pytest.raises(ConnectionRefusedError):
        smtplib.SMTP("127.0.0.1", port, timeout=2)
