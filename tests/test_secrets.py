"""Known passwords and tokens must appear in no output, log, written file or exception text."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import auth_entry
from tests.support.constants import PASSWORD, USER
from tests.support.repos import unique_repo

pytestmark = pytest.mark.timeout(300)
WRONG = "Wrong-Secret-9x7"


def secrets_of(token_issuer) -> list[str]:
    known = [PASSWORD, WRONG, base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode(),
             base64.b64encode(f"{USER}:{WRONG}".encode()).decode()]
    # A JWT's signature part is unique to it; its header is shared by all tokens.
    return known + [token.rsplit(".", 1)[1] for token in token_issuer.issued]


def run(args: list[str], cwd: Path, stdin: str | None = None) -> str:
    out = subprocess.run([sys.executable, "-m", "tui.cli", *args], capture_output=True, text=True, cwd=cwd,
                         input=stdin, timeout=120, env={**os.environ, "COLUMNS": "120"})
    return out.stdout + out.stderr


@pytest.fixture()
def wrong_auth(tmp_path: Path, tls_registry, token_registry) -> Path:
    path = tmp_path / "wrong.json"
    path.write_text(json.dumps({"auths": {tls_registry.host: auth_entry(USER, WRONG),
                                          token_registry.host: auth_entry(USER, WRONG)}}))
    return path


def test_no_secret_in_any_output(tmp_path: Path, seeded_release, tls_registry, token_registry, token_issuer,
                                 auth_file: Path, wrong_auth: Path, pki) -> None:
    src = seeded_release.component_refs["cli"]
    ca = str(pki.ca_file)
    outputs = []
    for registry in (tls_registry, token_registry):
        dst = f"{registry.host}/{unique_repo('secret')}:v1"
        outputs.append(run(["image", "mirror", "-a", str(auth_file), "--ca-file", ca, "--insecure", src, dst], tmp_path))
        outputs.append(run(["image", "mirror", "-a", str(auth_file), "--ca-file", ca, "--insecure", "--json", src, dst], tmp_path))
        wrong = run(["image", "mirror", "-a", str(wrong_auth), "--ca-file", ca, "--insecure", src, dst + "x"], tmp_path)
        assert "rejected the user name or password" in wrong
        outputs.append(wrong)
    assert token_issuer.issued, "no token was issued: the token path was not exercised"
    written = [p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file() and p.name != "wrong.json"]
    for text in outputs + written:
        for secret in secrets_of(token_issuer):
            assert secret not in text, f"a secret leaked into: {text[:200]!r}"


def test_credential_repr_hides_the_password() -> None:
    from core.authfile import Credential

    assert PASSWORD not in repr(Credential(USER, PASSWORD)) and PASSWORD not in str(Credential(USER, PASSWORD))
