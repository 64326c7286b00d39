"""Who may use the station, and whether a write came from its own pages. Pure functions.

Access: the configured token, given as `Authorization: Bearer <token>`, as the password of HTTP
basic auth (any user name), or once as `?token=` on a page, which sets a session cookie holding
an HMAC of the token (never the token itself). Writes carry a CSRF token that only the station's
own pages know (an HMAC under a key made at start), and a cross-origin `Origin` is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

COOKIE = "alarmfilter_review"


@dataclass(frozen=True)
class Access:
    token: str
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    @classmethod
    def generate(cls) -> Access:
        return cls(secrets.token_urlsafe(18))

    @property
    def cookie_value(self) -> str:
        return hmac.new(self.key, b"session:" + self.token.encode(), hashlib.sha256).hexdigest()

    @property
    def csrf(self) -> str:
        return hmac.new(self.key, b"csrf:" + self.token.encode(), hashlib.sha256).hexdigest()[:40]

    def token_ok(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.token.encode())

    def allowed(self, headers: Mapping[str, str], cookies: Mapping[str, str]) -> bool:
        """A request carrying the token (header or basic auth) or the session cookie.

        >>> a = Access("s3cret")
        >>> a.allowed({}, {}), a.allowed({"authorization": "Bearer s3cret"}, {})
        (False, True)
        >>> basic = "Basic " + base64.b64encode(b"nurse:s3cret").decode()
        >>> a.allowed({"authorization": basic}, {}), a.allowed({}, {COOKIE: a.cookie_value})
        (True, True)
        >>> a.allowed({"authorization": "Bearer wrong"}, {COOKIE: "x"})
        False
        """
        cookie = cookies.get(COOKIE)
        if cookie is not None and hmac.compare_digest(cookie.encode(), self.cookie_value.encode()):
            return True
        auth = headers.get("authorization", "")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer":
            return self.token_ok(value.strip())
        if scheme.lower() == "basic":
            try:
                _user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return False
            return self.token_ok(password)
        return False

    def write_ok(self, csrf: str | None, origin: str | None, host: str | None) -> bool:
        """A form post from one of our pages: the CSRF token matches and any Origin is this host.

        >>> a = Access("s3cret")
        >>> a.write_ok(a.csrf, None, "127.0.0.1:8765"), a.write_ok(a.csrf, "http://127.0.0.1:8765", "127.0.0.1:8765")
        (True, True)
        >>> a.write_ok(None, None, "h"), a.write_ok(a.csrf, "http://evil.example", "127.0.0.1:8765")
        (False, False)
        """
        if csrf is None or not hmac.compare_digest(csrf.encode(), self.csrf.encode()):
            return False
        if origin is not None and origin != "null":
            return origin.split("://", 1)[-1] == (host or "")
        return True
