"""docker-registry serving a certificate that cannot verify (no SAN, expired), for the CA tests."""

from __future__ import annotations

import ssl
import time
import urllib.error
import urllib.request

from tui.sandbox.registry import LocalRegistry


class UnverifiedStartRegistry(LocalRegistry):
    """LocalRegistry's readiness probe verifies TLS, which such a certificate cannot pass: wait for
    any answer on /v2/ instead (an HTTP error, e.g. 401, is an answer too)."""

    def _wait_ready(self, timeout: float) -> None:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.url}/v2/", timeout=1, context=context)
                return
            except urllib.error.HTTPError:
                return
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"docker-registry on {self.host} did not start")
