"""A small Docker token issuer (the ``auth.token`` realm of distribution) for tests.

It signs ES256 JWTs whose ``x5c`` header carries a self-signed certificate the registry trusts through
``rootcertbundle``. Basic credentials are checked; anonymous callers get ``pull`` only on ``public/``
repositories. Every request is recorded so tests can assert which scopes a client asked for.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import ssl
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class TokenRequest:
    user: str | None
    scopes: list[str]
    service: str | None


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up mid-answer is normal (it gave up on a 401): no traceback on stderr,
    where the tests read the command's own output."""

    def handle_error(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, ssl.SSLError)):
            return
        super().handle_error(request, client_address)


@dataclass
class TokenIssuer:
    folder: Path
    users: dict[str, str]
    service: str
    issuer: str
    tls: tuple[Path, Path] | None = None
    requests: list[TokenRequest] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mirror-wizard test token signer")])
        self._cert = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        self.rootcertbundle = self.folder / "token-signer.crt"
        self.rootcertbundle.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))
        self._x5c = base64.b64encode(self._cert.public_bytes(serialization.Encoding.DER)).decode()
        self._server: ThreadingHTTPServer | None = None

    # -- tokens ---------------------------------------------------------------------------------
    def sign(self, user: str | None, access: list[dict]) -> str:
        header = {"typ": "JWT", "alg": "ES256", "x5c": [self._x5c]}
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": user or "", "aud": self.service, "exp": now + 300,
                  "nbf": now - 10, "iat": now, "jti": uuid.uuid4().hex, "access": access}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        der = self._key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        token = f"{signing_input}.{_b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"
        self.issued.append(token)
        return token

    def grant(self, user: str | None, scopes: list[str]) -> list[dict]:
        access = []
        for scope in scopes:
            parts = scope.split(":")
            if len(parts) < 3 or parts[0] != "repository":
                continue
            name, actions = ":".join(parts[1:-1]), parts[-1].split(",")
            allowed = actions if user else [a for a in actions if a == "pull" and name.startswith("public/")]
            if allowed:
                access.append({"type": "repository", "name": name, "actions": allowed})
        return access

    # -- server ---------------------------------------------------------------------------------
    @property
    def realm(self) -> str:
        assert self._server is not None
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self._server.server_address[1]}/token"

    def registry_auth_config(self) -> dict:
        return {"token": {"realm": self.realm, "service": self.service, "issuer": self.issuer,
                          "rootcertbundle": str(self.rootcertbundle)}}

    def start(self) -> None:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server naming
                url = urlparse(self.path)
                if url.path != "/token":
                    self.send_error(404)
                    return
                query = parse_qs(url.query)
                user = None
                header = self.headers.get("Authorization", "")
                if header.startswith("Basic "):
                    try:
                        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
                    except (ValueError, UnicodeDecodeError):
                        user, password = "", ""
                    if issuer.users.get(user) != password:
                        issuer.requests.append(TokenRequest(user, query.get("scope", []), None))
                        body = b'{"errors":[{"code":"UNAUTHORIZED","message":"wrong user or password"}]}'
                        self.send_response(401)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Content-Length", str(len(body)))
                        self.end_headers()
                        self.wfile.write(body)
                        return
                scopes = [s for value in query.get("scope", []) for s in value.split(" ")]
                issuer.requests.append(TokenRequest(user, scopes, (query.get("service") or [None])[0]))
                token = issuer.sign(user, issuer.grant(user, scopes))
                body = json.dumps({"token": token, "access_token": token, "expires_in": 300,
                                   "issued_at": dt.datetime.now(dt.UTC).isoformat()}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        server = _QuietServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        if self.tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(self.tls[0]), str(self.tls[1]))
            server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        threading.Thread(target=server.serve_forever, name="token-issuer", daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
