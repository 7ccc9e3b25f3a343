"""The pull secret plus the mirror registry's login: validate, merge, write safely, test, remember.

Procedure section 3.2: the pull secret from console.redhat.com gets one more ``auths`` entry, whose
``auth`` is base64 of ``user:password``, so the same file can read Red Hat's registries and push to
the mirror. Nothing here ever puts a password (or an ``auth`` value) into a message.
"""

from __future__ import annotations

import asyncio
import copy
import fcntl
import json
import os
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .authfile import AuthFile, decode_auth, encode_auth, normalise_registry_key
from .errors import (
    AccessDenied,
    AuthenticationFailed,
    AuthFileError,
    ErrorCode,
    InputError,
    LocalStorageError,
    MirrorError,
    RegistryUnreachable,
    TLSVerifyError,
)
from .fsio import PRIVATE, atomic_write
from .reference import DOCKER_HUB, DOCKER_HUB_API, is_registry_host
from .registry import RegistryClient, RetryPolicy
from .tlsconfig import TLSOptions
from .userfiles import read_user_file

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

KEYRING_SERVICE = "mirror-wizard"
# auths entries that are no image registry. The console's pull secret carries cloud.openshift.com: the
# token the cluster uses to upload telemetry and Insights reports; a registry login there always fails.
NON_REGISTRY_AUTHS = {"cloud.openshift.com": "telemetry"}
PULL_SECRET_SHAPE = '{"auths": {"registry.example.com": {"auth": "<base64 of user:password>"}}}'


# -- the pull secret --------------------------------------------------------------------------------


def parse_pull_secret_text(text: str | bytes, where: str) -> dict[str, Any]:
    """Validate a pull secret given as text (a file's content, or pasted into the wizard)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise AuthFileError(f"{where} is not UTF-8 text; a pull secret is JSON like {PULL_SECRET_SHAPE}") from None
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise AuthFileError(f"{where} is empty; paste or download the pull secret from console.redhat.com")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        # The position only, never the text around it: that could be a secret.
        raise AuthFileError(f"{where} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
                            hint="download the pull secret again, or check the edit you made there") from None
    except RecursionError:  # json reports absurd nesting so, not as ValueError
        raise AuthFileError(f"{where} is nested too deeply to be a pull secret like {PULL_SECRET_SHAPE}") from None
    if not isinstance(data, dict):
        raise AuthFileError(f"{where} holds JSON {type(data).__name__}, not an object like {PULL_SECRET_SHAPE}")
    if "auths" not in data:
        raise AuthFileError(f"{where} has no \"auths\" object; a pull secret looks like {PULL_SECRET_SHAPE}")
    auths = data["auths"]
    if not isinstance(auths, dict):
        raise AuthFileError(f"{where}: \"auths\" must be an object mapping registry names to entries")
    for registry, entry in auths.items():
        label = f"{where} entry {registry!r}"
        if not str(registry).strip():
            raise AuthFileError(f"{where} has an \"auths\" entry with an empty registry name; remove it or name the "
                                "registry (HOST or HOST:PORT)")
        if not isinstance(entry, dict):
            raise AuthFileError(f"{label} must be an object with an \"auth\" field")
        if "auth" in entry:
            decode_auth(entry["auth"], where=label)  # not base64 / no ':' / empty user: one precise message
        elif not (entry.get("username") and entry.get("password")) and not entry.get("identitytoken"):
            raise AuthFileError(f"{label} has no \"auth\" field (base64 of user:password)")
    return data


def load_pull_secret(path: str | os.PathLike[str]) -> dict[str, Any]:
    p = Path(path).expanduser()
    raw = read_user_file(p, "pull secret", AuthFileError, inside="the JSON file",
                         missing_hint="download it from console.redhat.com/openshift/install/pull-secret")
    return parse_pull_secret_text(raw, str(p))


def add_registry_credential(data: dict[str, Any], registry: str, username: str, password: str,
                            email: str | None = None) -> dict[str, Any]:
    """A copy of ``data`` with ``registry``'s login set (replacing any earlier one for it)."""
    registry = (registry or "").strip()
    if not is_registry_host(registry):
        raise InputError(f"mirror registry {registry!r} is not HOST or HOST:PORT",
                         hint="e.g. mirror.example.com:8443 — no https://, no path")
    if not username or not username.strip():
        raise InputError("the mirror registry's user name is empty")
    if ":" in username:
        # auth is "user:password" split at the first ':', so a user name cannot hold one.
        raise InputError("the user name cannot contain ':' (the auth value is base64 of user:password)")
    if not password:
        raise InputError(f"the password for {username}@{registry} is empty")
    result = copy.deepcopy(data) if data else {}
    auths = result.setdefault("auths", {})
    if not isinstance(auths, dict):
        raise AuthFileError("\"auths\" must be an object mapping registry names to entries")
    previous = auths.get(registry)
    if not isinstance(previous, dict):
        previous = {}
    entry: dict[str, Any] = {"auth": encode_auth(username.strip(), password)}
    chosen_email = email if email is not None else previous.get("email")
    if chosen_email:
        entry["email"] = chosen_email
    auths[registry] = entry
    return result


MAX_LINK_HOPS = 40  # the kernel's own limit on links in one lookup


def _link_follow_refused(link: Path, link_stat: os.stat_result) -> bool:
    """The kernel's protected-symlink rule (fs.protected_symlinks): in a sticky, world-writable folder
    (/tmp), a link is followed only by its owner, or when the folder's owner also owns the link. We apply
    it ourselves, whatever the sysctl says, because we resolve the link to replace its target."""
    try:
        folder = os.stat(link.parent if str(link.parent) else ".")
    except OSError:
        return False
    sticky_shared = bool(folder.st_mode & stat.S_ISVTX) and bool(folder.st_mode & stat.S_IWOTH)
    return sticky_shared and link_stat.st_uid not in (os.geteuid(), folder.st_uid)


def resolve_link(path: Path) -> Path:
    """Where writing ``path`` should land: through symlinks (a chain too, or one whose target does not exist
    yet) to the real file, so replacing it keeps the link — e.g. ~/.docker/config.json pointing elsewhere.

    A link planted by another user in a shared sticky folder is refused, as the kernel refuses to follow
    it (protected symlinks): otherwise ``-o /tmp/x.json`` could be turned into a write wherever the link's
    owner wants, with our rights."""
    current = Path(os.path.abspath(path))
    for _ in range(MAX_LINK_HOPS):
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            return current
        except OSError:
            return current  # the write reports it
        if not stat.S_ISLNK(st.st_mode):
            return current
        if _link_follow_refused(current, st):
            raise InputError(f"cannot write {path}: {current} is a symbolic link another user owns in the shared "
                             f"folder {current.parent}; refusing to follow it (the kernel's protected-symlink "
                             "rule) — remove it or write somewhere else")
        target = Path(os.readlink(current))
        # the parent may be reached through folder links: resolve it, then continue with the name
        current = Path(os.path.realpath(current.parent)) / target if not target.is_absolute() else target
        current = Path(os.path.normpath(current))
    raise InputError(f"cannot write {path}: it is a symlink loop; point it at a real file or remove it")


def other_spellings(data: dict[str, Any], registry: str) -> list[str]:
    """Other ``auths`` keys for the same host (``https://HOST``, ``HOST/v2/``, ...): next to the new entry
    they make which login a tool uses depend on the tool. A key with a repository path is a scoped login,
    not a duplicate."""
    wanted = normalise_registry_key(registry)
    found = []
    for key in (data.get("auths") or {}):
        host, repository = _split_key(str(key))
        if key != registry and repository is None and host == wanted:
            found.append(str(key))
    return found


def write_auth_file(path: str | os.PathLike[str], data: dict[str, Any]) -> Path:
    """Write JSON through :func:`core.fsio.atomic_write` (a reader sees the old file or the new one; the
    temporary file is ``O_EXCL | O_NOFOLLOW``, mode 0600 from its creation). A symlink is written through
    (see :func:`resolve_link`): the temporary file goes next to its target and replaces the target."""
    given = Path(path).expanduser()
    target = resolve_link(given)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        where = f" (the target of the link {given})" if target != given else ""
        raise InputError(f"cannot write {target}{where}: directory {folder} does not exist")
    if target.is_dir():
        raise InputError(f"cannot write {given}: it is a directory")
    body = json.dumps(data, indent=2) + "\n"
    atomic_write(target, body, mode=PRIVATE, make_parents=False)
    return given


LOCK_WAIT_SECONDS = 30.0


@contextmanager
def auth_file_lock(path: str | os.PathLike[str], *, wait: float = LOCK_WAIT_SECONDS) -> Iterator[Path]:
    """Hold an exclusive lock for a read-change-write of the auth file ``path``; yields where it lands.

    The lock is an ``flock`` on the folder that holds the (link-resolved) file, not on the file itself:
    the file is replaced by a rename on every write, so a lock on its old inode would guard nothing, and a
    lock file next to it could be planted by someone else. Waits up to ``wait`` seconds for another
    mirror-wizard writing the same folder, then says so."""
    target = resolve_link(Path(path).expanduser())
    folder = target.parent if str(target.parent) else Path(".")
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise InputError(f"cannot write {target}: directory {folder} does not exist") from None
    except OSError as exc:
        raise InputError(f"cannot write {target}: cannot open directory {folder} ({exc.strerror or exc})") from None
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LocalStorageError(f"another program holds the lock on {folder} for more than "
                                            f"{wait:g}s; try again when it has finished") from None
                time.sleep(0.05)
        yield target
    finally:
        os.close(fd)  # closing releases the lock


@dataclass
class AddedLogin:
    path: Path          # what was written (as given: a link stays a link)
    data: dict[str, Any]  # the whole file as written
    replaced: bool      # the registry had a login there before
    kept: list[str] = field(default_factory=list)  # entries only the file written over had, kept


def merge_over_existing(target: Path, data: dict[str, Any], registry: str) -> tuple[dict[str, Any], list[str], bool]:
    """``data`` laid over the auth file already at ``target`` (when there is one): every entry only that file
    has is kept, as are its other top-level keys (``credHelpers`` …); ``data``'s entries (the file loaded
    plus ``registry``'s new login) replace their namesakes. Returns the merged file, the kept entries and
    whether that file had a login for ``registry`` already.

    A file that is there but cannot be read as an auth file is refused, never written over: it may hold
    logins this run knows nothing of."""
    if not target.exists():
        return data, [], False
    where = str(target)
    raw = read_user_file(target, "auth file", AuthFileError, inside="the auth file to save over")
    if not raw.strip() or _no_logins(raw):  # an empty file, or "{}": nothing there to keep
        existing: dict[str, Any] = {"auths": {}}
    else:
        existing = parse_pull_secret_text(raw, where)
    merged = copy.deepcopy(existing)
    auths: dict[str, Any] = merged["auths"]
    new_auths: dict[str, Any] = data.get("auths", {})
    kept = [key for key in auths if key not in new_auths and key != registry]
    for key, entry in new_auths.items():
        auths[key] = copy.deepcopy(entry)
    for key, value in data.items():
        if key != "auths":
            merged[key] = copy.deepcopy(value)
    return merged, kept, registry in existing["auths"]


def _no_logins(raw: str | bytes) -> bool:
    """``{}``: a file that holds no login (what `echo {} > file` leaves)."""
    try:
        return bool(json.loads(raw) == {})
    except (ValueError, UnicodeDecodeError, RecursionError):
        return False


def save_login(output: str | os.PathLike[str], data: dict[str, Any], registry: str) -> AddedLogin:
    """Write ``data`` (a pull secret holding ``registry``'s login) to ``output``, merged into what is there
    already (:func:`merge_over_existing`), under the lock, atomically, mode 0600. The wizard's save."""
    with auth_file_lock(output) as target:
        merged, kept, replaced = merge_over_existing(target, data, registry.strip())
        written = write_auth_file(output, merged)
    return AddedLogin(written, merged, replaced, kept)


def add_login_to_file(pull_secret: str | os.PathLike[str], output: str | os.PathLike[str], registry: str,
                      username: str, password: str, email: str | None = None) -> AddedLogin:
    """``credentials add``: the pull secret plus ``registry``'s login, written to ``output`` (merged into
    the auth file already there: its other entries are kept).

    The pull secret is read again under the lock on ``output``: when both are the same file (the admin
    adds logins in place), two runs at once each see the other's entry, and none is lost."""
    with auth_file_lock(output) as target:
        data = load_pull_secret(pull_secret)
        merged = add_registry_credential(data, registry, username, password, email=email)
        merged, kept, _ = merge_over_existing(target, merged, registry.strip())
        written = write_auth_file(output, merged)
    return AddedLogin(written, merged, registry.strip() in data.get("auths", {}), kept)


# -- the keyring ------------------------------------------------------------------------------------


@dataclass
class KeyringStatus:
    usable: bool
    backend: str
    message: str


def _backend_name(backend: object) -> str:
    return f"{type(backend).__module__}.{type(backend).__name__}"


def keyring_key(registry: str, username: str) -> str:
    return f"{username}@{registry}"


def _chosen_keyring() -> tuple[KeyringStatus, KeyringBackend | None]:
    """Which keyring backend ``keyring`` picked, whether it can really store a password, and the backend
    itself when it can."""
    import keyring  # lazy: 17-25 ms on top of --help, 40 ms alone (python3 -X importtime -c 'import keyring')
    from keyring.backends import fail, null  # lazy: with keyring above; only the keyring commands need it

    try:
        backend = keyring.get_keyring()
    except Exception as exc:  # a broken keyring configuration file, an odd plugin
        return KeyringStatus(False, "none", f"keyring could not choose a backend ({type(exc).__name__})"), None
    name = _backend_name(backend)
    if isinstance(backend, fail.Keyring):
        return KeyringStatus(False, name, "no keyring backend is available on this machine (no Secret Service, "
                                          "KWallet or keyrings.alt); the password is not kept"), None
    if isinstance(backend, null.Keyring):
        return KeyringStatus(False, name, "the keyring is switched off (null backend); the password is not kept"), None
    if not getattr(backend, "backends", True):  # a chainer with nothing to chain
        return (KeyringStatus(False, name, "no keyring backend is available on this machine; the password is not kept"),
                None)
    try:
        # Reading a key that does not exist proves the backend answers (a locked or absent D-Bus fails here).
        backend.get_password(KEYRING_SERVICE, "mirror-wizard-probe")
    except Exception as exc:
        return KeyringStatus(False, name, f"the keyring ({type(backend).__name__}) does not answer: "
                                          f"{type(exc).__name__}; the password is not kept"), None
    message = ""
    file_path = getattr(backend, "file_path", None)
    if type(backend).__name__ == "PlaintextKeyring":
        message = f"note: this keyring keeps passwords unencrypted in {file_path}"
    return KeyringStatus(True, name, message), backend


def keyring_status() -> KeyringStatus:
    """Which keyring backend ``keyring`` picked and whether it can really store a password."""
    return _chosen_keyring()[0]


def _scrub(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text


def remember_password(registry: str, username: str, password: str) -> KeyringStatus:
    """Store the password under service ``mirror-wizard``, key ``USER@REGISTRY``; never raises for a
    missing or failing keyring — the status says what happened."""
    if not is_registry_host(registry):
        raise InputError(f"mirror registry {registry!r} is not HOST or HOST:PORT")
    if not username or not password:
        raise InputError("both a user name and a password are needed to remember a login")
    status, backend = _chosen_keyring()
    if backend is None:
        return status
    try:
        backend.set_password(KEYRING_SERVICE, keyring_key(registry, username), password)
    except Exception as exc:
        detail = _scrub(str(exc), password)[:200]
        return KeyringStatus(False, status.backend,
                             f"the keyring refused to store the password ({type(exc).__name__}: {detail})")
    return KeyringStatus(True, status.backend, status.message)


def recall_password(registry: str, username: str) -> str | None:
    """The remembered password, or None (nothing stored, or no usable keyring)."""
    backend = _chosen_keyring()[1]
    if backend is None:
        return None
    try:
        return backend.get_password(KEYRING_SERVICE, keyring_key(registry, username))
    except Exception:
        return None


def forget_password(registry: str, username: str) -> bool:
    """Remove a remembered password; True when one was removed."""
    backend = _chosen_keyring()[1]
    if backend is None:
        return False
    try:
        backend.delete_password(KEYRING_SERVICE, keyring_key(registry, username))
    except Exception:
        return False
    return True


# -- login checks -----------------------------------------------------------------------------------


class LoginState(StrEnum):
    """A registry login as tested (also importable as core.access.LoginState)."""

    OK = "ok"
    WRONG_CREDENTIALS = "wrong-credentials"
    UNREACHABLE = "unreachable"
    TLS_UNTRUSTED = "tls-untrusted"
    DENIED = "denied"
    ERROR = "error"
    SKIPPED = "skipped"
    UNUSED = "unused"
    TESTING = "testing"  # not answered yet: a front end shows the row while the test runs


_LOGIN_LABELS = {LoginState.WRONG_CREDENTIALS: "wrong credentials", LoginState.TLS_UNTRUSTED: "TLS not trusted",
                 LoginState.DENIED: "access denied"}


def login_state_of(exc: MirrorError) -> LoginState:
    """The login state an engine error means."""
    if isinstance(exc, AuthenticationFailed):
        return LoginState.WRONG_CREDENTIALS
    if isinstance(exc, AccessDenied):
        return LoginState.DENIED
    if isinstance(exc, TLSVerifyError):
        return LoginState.TLS_UNTRUSTED
    if isinstance(exc, RegistryUnreachable):
        return LoginState.UNREACHABLE
    return LoginState.ERROR


@dataclass
class LoginResult:
    registry: str
    state: LoginState
    message: str
    # For an unreachable registry found out by a direct look (core.usecases.logins.probe): the host dialled
    # (a mirror set may send the registry elsewhere) and what the look found ("unresolvable", "refused").
    host: str | None = None
    reach: str | None = None
    # From the engine error behind a failed check: its code and its message without the (CLI) hint, so a
    # front end can give its own advice for the code instead of matching the message's words.
    code: ErrorCode | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        self.state = LoginState(self.state)  # a front end may pass the value ("unused"): one vocabulary

    @property
    def ok(self) -> bool:
        return self.state == LoginState.OK

    @property
    def skipped(self) -> bool:
        return self.state == LoginState.SKIPPED

    @property
    def label(self) -> str:
        return _LOGIN_LABELS.get(self.state, self.state.value)


def _split_key(key: str) -> tuple[str, str | None]:
    """Auth keys may be ``host``, ``host/namespace`` or a URL; the host to contact and the repository scope."""
    value = key.strip()
    for scheme in ("https://", "http://"):
        value = value.removeprefix(scheme)
    value = value.rstrip("/")
    host, _, rest = value.partition("/")
    host = normalise_registry_key(host)
    if rest in ("v1", "v2", ""):
        rest = ""
    return host, rest or None


async def _check_one(auth: AuthFile, key: str, tls: TLSOptions, timeout: float) -> LoginResult:
    host, repository = _split_key(key)
    if not is_registry_host(host):
        return LoginResult(key, LoginState.ERROR, f"{key!r} is not a registry name (HOST or HOST:PORT)")
    try:
        credential = auth.lookup(host, repository)
    except MirrorError as exc:  # an undecodable auth value
        return LoginResult(key, LoginState.ERROR, str(exc))
    if credential is None:
        return LoginResult(key, LoginState.ERROR, f"the auth file has no user name and password for {key}")
    client: RegistryClient | None = None
    try:
        client = RegistryClient(host, credential=credential, tls=tls,
                                retry=RetryPolicy(attempts=2, base_delay=0.2, max_delay=1.0),
                                api_host=DOCKER_HUB_API if host == DOCKER_HUB else host)
        await asyncio.wait_for(client.check_login(repository), timeout)
    except TimeoutError:  # asyncio.wait_for raises the builtin from 3.11
        return LoginResult(key, LoginState.UNREACHABLE, f"{host} did not answer within {timeout:g}s")
    except MirrorError as exc:  # wrong login, denied, untrusted TLS, unreachable; a bad CA file, a protocol break
        return LoginResult(key, login_state_of(exc), str(exc), code=exc.code, reason=exc.message)
    except Exception as exc:  # never let one odd registry hide the others' results
        return LoginResult(key, LoginState.ERROR, f"{host}: unexpected {type(exc).__name__}")
    finally:
        if client is not None:
            await client.aclose()
    return LoginResult(key, LoginState.OK, f"logged in as {credential.username}")


def non_registry_purpose(key: str) -> str | None:
    """What a known non-registry auths entry is for (e.g. "telemetry"), None for a registry."""
    host, _ = _split_key(key)
    return NON_REGISTRY_AUTHS.get(host)


def _skipped(key: str, purpose: str) -> LoginResult:
    return LoginResult(key, LoginState.SKIPPED, f"skipped: not an image registry ({purpose})")


async def check_logins(auth: AuthFile, registries: list[str] | None, tls: TLSOptions, *,
                       timeout: float = 30.0) -> list[LoginResult]:
    """Log in to each registry (all of the file's when None), concurrently; one result per registry,
    in the order asked. Never raises for a registry's answer.

    With None, entries that are no registry (cloud.openshift.com) are reported as skipped, not tried;
    a name given explicitly is always tried.
    """
    if registries is not None:
        keys = list(registries)
        return list(await asyncio.gather(*(_check_one(auth, key, tls, timeout) for key in keys)))
    keys = list(auth.registries())

    async def one(key: str) -> LoginResult:
        purpose = non_registry_purpose(key)
        return _skipped(key, purpose) if purpose else await _check_one(auth, key, tls, timeout)

    return list(await asyncio.gather(*(one(key) for key in keys)))


__all__ = [
    "KEYRING_SERVICE",
    "AddedLogin",
    "KeyringStatus",
    "LoginResult",
    "LoginState",
    "add_login_to_file",
    "add_registry_credential",
    "auth_file_lock",
    "check_logins",
    "forget_password",
    "keyring_status",
    "load_pull_secret",
    "login_state_of",
    "non_registry_purpose",
    "other_spellings",
    "parse_pull_secret_text",
    "recall_password",
    "remember_password",
    "resolve_link",
    "save_login",
    "write_auth_file",
]
