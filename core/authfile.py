"""Registry credentials files: pull secrets, containers-auth.json and ~/.docker/config.json.

All three share one shape, ``{"auths": {"host[:port]": {"auth": base64("user:password")}}}``.
Secrets are kept in :class:`Credential` objects whose ``repr`` hides them.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import AuthFileError
from .userfiles import read_user_file


@dataclass(frozen=True)
class Credential:
    username: str
    password: str = field(repr=False)

    def __repr__(self) -> str:
        return f"Credential(username={self.username!r}, password='***')"

    @property
    def auth(self) -> str:
        return encode_auth(self.username, self.password)


def encode_auth(username: str, password: str) -> str:
    return base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


def decode_auth(value: Any, *, where: str) -> Credential:
    """Decode one ``auth`` field; errors name the entry, never the value."""
    if not isinstance(value, str) or not value:
        raise AuthFileError(f"{where}: 'auth' must be a non-empty base64 string")
    try:
        decoded = base64.b64decode(value.strip() + "=" * (-len(value.strip()) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise AuthFileError(f"{where}: 'auth' is not valid base64") from None
    try:
        text = decoded.decode("utf-8")
    except UnicodeDecodeError:
        raise AuthFileError(f"{where}: 'auth' does not decode to UTF-8 text") from None
    if ":" not in text:
        raise AuthFileError(f"{where}: 'auth' must encode 'user:password' but has no ':'")
    user, _, password = text.partition(":")
    if not user:
        raise AuthFileError(f"{where}: 'auth' has an empty user name")
    return Credential(user, password)


def normalise_registry_key(key: str) -> str:
    """Auth keys may be URLs (``https://index.docker.io/v1/``) or ``host/path``; keep ``host[:port]``."""
    value = key.strip()
    for scheme in ("https://", "http://"):
        if value.startswith(scheme):
            value = value[len(scheme):]
    host = value.split("/", 1)[0]
    if host in ("index.docker.io", "registry-1.docker.io"):
        return "docker.io"
    return host


@dataclass
class AuthFile:
    """A parsed auth file. ``entries`` keeps every entry verbatim so a rewrite loses nothing."""

    path: Path | None
    data: dict[str, Any]

    @property
    def auths(self) -> dict[str, Any]:
        auths: dict[str, Any] = self.data["auths"]  # an object: parse_auth_data checked it
        return auths

    def registries(self) -> list[str]:
        return list(self.auths)

    def lookup(self, registry: str, repository: str | None = None) -> Credential | None:
        """Most specific match first: ``host/repo/path`` keys, then ``host``."""
        candidates: list[str] = []
        if repository:
            parts = repository.split("/")
            for i in range(len(parts), 0, -1):
                candidates.append(f"{registry}/{'/'.join(parts[:i])}")
        candidates.append(registry)
        normalised = {self._key(k): k for k in self.auths}
        for candidate in candidates:
            key = normalised.get(candidate)
            if key is None:
                continue
            entry = self.auths[key]
            if isinstance(entry, dict) and entry.get("auth"):
                return decode_auth(entry["auth"], where=f"{self._where()} entry {key!r}")
            if isinstance(entry, dict) and entry.get("username") and entry.get("password"):
                return Credential(str(entry["username"]), str(entry["password"]))
        return None

    def _key(self, key: str) -> str:
        value = key.strip()
        for scheme in ("https://", "http://"):
            if value.startswith(scheme):
                value = value[len(scheme):]
        value = value.rstrip("/")
        if value.endswith("/v1") or value.endswith("/v2"):
            value = value[:-3]
        host, sep, rest = value.partition("/")
        return normalise_registry_key(host) + (f"/{rest}" if sep else "")

    def _where(self) -> str:
        return str(self.path) if self.path else "credentials"


def parse_auth_data(text: str | bytes, *, source: str = "credentials") -> AuthFile:
    """Validate the shape of an auth file; every entry's ``auth`` must decode."""
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        line = getattr(exc, "lineno", None)
        where = f" (line {line})" if line else ""
        raise AuthFileError(f"{source} is not valid JSON{where}: expected {{\"auths\": {{...}}}}") from None
    except RecursionError:  # json reports absurd nesting so, not as ValueError
        raise AuthFileError(f"{source} is nested too deeply to be an auth file: expected {{\"auths\": {{...}}}}") from None
    if not isinstance(data, dict):
        raise AuthFileError(f"{source}: expected a JSON object with an 'auths' object")
    auths = data.get("auths")
    if auths is None:
        raise AuthFileError(f"{source} has no 'auths' object; a pull secret looks like {{\"auths\": {{...}}}}")
    if not isinstance(auths, dict):
        raise AuthFileError(f"{source}: 'auths' must be an object mapping registry names to entries")
    for key, entry in auths.items():
        if not isinstance(entry, dict):
            raise AuthFileError(f"{source} entry {key!r} must be an object with an 'auth' field")
        if "auth" in entry:
            decode_auth(entry["auth"], where=f"{source} entry {key!r}")
        elif not (entry.get("username") and entry.get("password")) and not entry.get("identitytoken"):
            raise AuthFileError(f"{source} entry {key!r} has no 'auth' field")
    return AuthFile(path=None, data=data)


def load_auth_file(path: str | os.PathLike[str]) -> AuthFile:
    p = Path(path).expanduser()
    raw = read_user_file(p, "credentials file", AuthFileError, inside="the auth.json or pull secret file")
    auth = parse_auth_data(raw, source=str(p))
    auth.path = p
    return auth


def default_auth_locations() -> list[Path]:
    """Where podman, skopeo and oc look, in their order."""
    paths: list[Path] = []
    if os.environ.get("REGISTRY_AUTH_FILE"):
        paths.append(Path(os.environ["REGISTRY_AUTH_FILE"]))
    if os.environ.get("XDG_RUNTIME_DIR"):
        paths.append(Path(os.environ["XDG_RUNTIME_DIR"]) / "containers" / "auth.json")
    docker_config = os.environ.get("DOCKER_CONFIG")
    if docker_config:
        paths.append(Path(docker_config) / "config.json")
    paths.append(Path.home() / ".docker" / "config.json")
    return paths


def find_default_auth_file() -> Path | None:
    for candidate in default_auth_locations():
        if candidate.is_file():
            return candidate
    return None


def load_auth(path: str | os.PathLike[str] | None) -> AuthFile:
    """The file given with ``-a``, else the first of the usual locations, else an empty one."""
    if path:
        return load_auth_file(path)
    found = find_default_auth_file()
    if found is not None:
        return load_auth_file(found)
    return AuthFile(path=None, data={"auths": {}})
