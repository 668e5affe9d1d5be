"""Invitation links as mails carry them, /invite/#CODE, and opening them the way the link's page does.

The code is in the link's fragment, which no HTTP client sends: a test client, like a browser, opens
`/invite/` and then posts the code (what static/js/invite.js does); the acceptance page is then
`/invite/accept/` for that client's session.
"""

import re

OPEN = "/invite/"
ACCEPT = "/invite/accept/"
RENEW = "/invite/renew/"
LINK = re.compile(r"https?://[^/\s]+/invite/#([\w-]+)")


def mailed_codes(body: str) -> list[str]:
    """The codes of the invitation links in a mail body, in order."""
    return LINK.findall(body)


def mailed_code(body: str) -> str:
    """The code of the one invitation link in a mail body."""
    [code] = mailed_codes(body)
    return code


def invite_open(client, code: str, **extra):
    """Open an invitation in `client`: post the code as the link's page does, and follow to where it leads (the
    acceptance page, the expired or the unavailable page)."""
    assert client.get(OPEN).status_code == 200  # the link's page itself, token-free
    return client.post(OPEN, {"code": code}, follow=True, **extra)


def opened(client, code: str) -> str:
    """Open an invitation in `client` and return the path its acceptance page is at."""
    invite_open(client, code)
    return ACCEPT
