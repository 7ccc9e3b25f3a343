import base64
import json

import pytest

from core.authfile import Credential, encode_auth, load_auth, load_auth_file, parse_auth_data
from core.errors import AuthFileError

SECRET = "s3cr3t-Passw0rd"


def _file(tmp_path, data, name="auth.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_lookup_by_host_and_most_specific_path(tmp_path):
    path = _file(tmp_path, {"auths": {
        "mirror.example.com:8443": {"auth": encode_auth("admin", SECRET)},
        "mirror.example.com:8443/team/app": {"auth": encode_auth("team", "other")},
        "https://index.docker.io/v1/": {"auth": encode_auth("hub", "hubpw")},
    }})
    auth = load_auth_file(path)
    assert auth.lookup("mirror.example.com:8443").username == "admin"
    assert auth.lookup("mirror.example.com:8443", "team/app/sub").username == "team"
    assert auth.lookup("docker.io").username == "hub"
    assert auth.lookup("quay.io") is None


def test_credential_repr_hides_password():
    cred = Credential("admin", SECRET)
    assert SECRET not in repr(cred)
    assert base64.b64decode(cred.auth).decode() == f"admin:{SECRET}"


@pytest.mark.parametrize("content,fragment", [
    ("not json", "not valid JSON"),
    ("[]", "JSON object"),
    ('{"x": 1}', "no 'auths'"),
    ('{"auths": []}', "'auths' must be an object"),
    ('{"auths": {"r.io": "x"}}', "must be an object"),
    ('{"auths": {"r.io": {"auth": "!!!"}}}', "not valid base64"),
    (json.dumps({"auths": {"r.io": {"auth": base64.b64encode(b"nocolon").decode()}}}), "no ':'"),
    ('{"auths": {"r.io": {"email": "a@b"}}}', "no 'auth'"),
])
def test_bad_files_give_precise_errors(tmp_path, content, fragment):
    with pytest.raises(AuthFileError) as info:
        load_auth_file(_file(tmp_path, content))
    assert fragment in str(info.value)


def test_error_never_contains_the_secret():
    value = base64.b64encode(SECRET.encode()).decode()  # no colon inside
    with pytest.raises(AuthFileError) as info:
        parse_auth_data(json.dumps({"auths": {"r.io": {"auth": value}}}))
    assert value not in str(info.value) and SECRET not in str(info.value)


def test_missing_file_and_default_locations(tmp_path, monkeypatch):
    with pytest.raises(AuthFileError, match="does not exist"):
        load_auth_file(tmp_path / "nope.json")
    path = _file(tmp_path, {"auths": {"a.io": {"auth": encode_auth("u", "p")}}})
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(path))
    assert load_auth(None).lookup("a.io").username == "u"
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(tmp_path / "absent.json"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DOCKER_CONFIG", raising=False)
    assert load_auth(None).registries() == []
