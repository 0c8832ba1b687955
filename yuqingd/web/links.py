"""Signed action links: who may do what to which incident, until when.

A link is ``<base>/l/<token>``; the token is the base64url of ``person, incident, action,
channel, expiry`` and an HMAC-SHA256 over it with the install's key. The key is the systemd
credential ``http-link-key`` when the unit loads one, else ``http-link.key`` in the state
directory, created 0600 on first start (32 random bytes). Whoever holds a link acts as the
person it was made for, and as nobody else: the person is inside the signed part.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from yuqingd.secrets import CREDENTIALS_ENV

KEY_FILE = "http-link.key"
KEY_CREDENTIAL = "http-link-key"
ACTIONS = ("ack", "report")


class LinkError(Exception):
    """A link that does not open a page."""


class Tampered(LinkError):
    """Not signed by this install's key (altered, truncated or made up): HTTP 403."""


class Expired(LinkError):
    """Signed, but past its lifetime: HTTP 410."""

    def __init__(self, link: Link):
        super().__init__("expired")
        self.link = link


@dataclass(frozen=True)
class Link:
    person: str
    incident: str
    action: str
    channel: str
    expires: float  # epoch seconds


def load_key(state_dir: Path) -> bytes:
    """The install's signing key: the systemd credential, else the state directory's file
    (created on first use, 0600)."""
    folder = os.environ.get(CREDENTIALS_ENV)
    if folder and (Path(folder) / KEY_CREDENTIAL).is_file():
        return (Path(folder) / KEY_CREDENTIAL).read_bytes().strip()
    path = state_dir / KEY_FILE
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
    return path.read_bytes().strip()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Links:
    """Makes and checks the links of one install."""

    def __init__(self, key: bytes, base_url: str, lifetime: float):
        self._key = key
        self.base_url = base_url.rstrip("/")
        self.lifetime = lifetime

    def _sign(self, body: str, purpose: str = "link") -> str:
        return _b64(hmac.new(self._key, f"{purpose}:{body}".encode(), hashlib.sha256).digest())

    def token(self, link: Link) -> str:
        body = _b64(json.dumps([link.person, link.incident, link.action, link.channel,
                                int(link.expires)], ensure_ascii=False).encode())
        return f"{body}.{self._sign(body)}"

    def make(self, *, person: str, incident: str, action: str, channel: str, at: float) -> str:
        """The URL of a new link, valid for ``lifetime`` from ``at``."""
        link = Link(person, incident, action, channel, at + self.lifetime)
        return f"{self.base_url}/l/{self.token(link)}"

    def check(self, token: str, now: float) -> Link:
        """The link ``token`` names; raises Tampered or Expired."""
        body, _, signature = token.partition(".")
        if not hmac.compare_digest(signature.encode(), self._sign(body).encode()):
            raise Tampered(token)
        try:
            person, incident, action, channel, expires = json.loads(_unb64(body))
        except (ValueError, binascii.Error, TypeError) as exc:  # signed by us: cannot happen
            raise Tampered(token) from exc
        link = Link(str(person), str(incident), str(action), str(channel), float(expires))
        if now >= link.expires:
            raise Expired(link)
        return link

    def csrf(self, token: str) -> str:
        """The form field a page's POST must carry back (tied to the link)."""
        return self._sign(token, "csrf")

    def csrf_ok(self, token: str, value: str) -> bool:
        return hmac.compare_digest(value.encode(), self.csrf(token).encode())
