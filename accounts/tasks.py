"""Celery tasks of accounts: thin wrappers around the services."""

from celery import shared_task

from accounts.services.passwords import password_reset_request


@shared_task(name="accounts.password_reset_request")
def password_reset_request_task(*, email: str, client_ip: str = "", user_agent: str = "") -> None:
    """Look up the address of a reset request and mail it a link, or why there is none (or nothing)."""
    password_reset_request(email=email, client_ip=client_ip, user_agent=user_agent)
