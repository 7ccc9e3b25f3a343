"""The copy engine against the real distribution registry, with skopeo as referee."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.authfile import AuthFile, load_auth_file, parse_auth_data
from core.copier import CopyFailed, CopyOptions, CopyResult, CopyTask, copy_images
from core.endpoints import parse_location
from core.errors import AuthenticationFailed, Cancelled, NotFound, TLSVerifyError
from core.events import BlobMounted, BlobProgress, BlobStarted, Event, ImageDone
from core.registry import RegistrySession
from core.tlsconfig import TLSOptions
from tests.conftest import auth_entry
from tests.support import skopeo
from tests.support.constants import USER
from tests.support.repos import unique_repo
from tui.sandbox.content import make_layer, new_builder

pytestmark = pytest.mark.timeout(120)


@dataclass
class SourceImages:
    host: str
    app: str          # tag ref, 3 layers
    app_digest: str
    sibling: str      # shares two layers with app
    multi: str        # OCI index amd64 + arm64
    multi_digest: str
    layer_sizes: dict[str, int]


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory, plain_registry) -> SourceImages:
    """Written by skopeo (not by us), so the engine reads what another implementation pushed."""
    folder = tmp_path_factory.mktemp("engine-src")
    builder = new_builder(folder)
    base, runtime = make_layer(501, 96 * 1024), make_layer(502, 64 * 1024)
    app = builder.image([base, runtime, make_layer(503, 4096)])
    sibling = builder.image([base, runtime, make_layer(504, 2048)])
    amd = builder.image([base, make_layer(505, 1024)])
    arm = builder.image([make_layer(506, 8192), make_layer(507, 1024)], arch="arm64")
    multi = builder.index([(amd, "amd64"), (arm, "arm64")])
    host = plain_registry.host
    refs = {}
    for name, manifest in (("app", app), ("sibling", sibling), ("multi", multi)):
        asyncio.run(builder.name(name, manifest))
        refs[name] = f"{host}/engine-src/{name}:v1"
        skopeo.copy(f"oci:{folder}:{name}", refs[name], dst_opts=skopeo.options(tls_verify=False))
    sizes = {layer.digest: layer.size for layer in (base, runtime)}
    return SourceImages(host, refs["app"], app.digest, refs["sibling"], refs["multi"], multi.digest, sizes)


def mirror(tasks: list[tuple[str, str]], *, auth: AuthFile | None = None, tls: TLSOptions | None = None,
           options: CopyOptions | None = None,
           on_event: Callable[[Event], None] | None = None) -> tuple[CopyResult, list[Event]]:
    """Copy; plain-HTTP test registries are allowed per host, TLS ones stay verified."""
    events: list[Event] = []
    plain_hosts = tuple({parse_location(x).ref.registry for pair in tasks for x in pair
                         if not _is_tls_host(parse_location(x).ref.registry)})
    tls = tls or TLSOptions()
    tls = TLSOptions(ca_files=tls.ca_files, insecure=tls.insecure, certs_dirs=tls.certs_dirs,
                     insecure_hosts=tls.insecure_hosts + plain_hosts)

    async def go() -> CopyResult:
        async with RegistrySession(auth=auth, tls=tls) as session:
            copy = [CopyTask(parse_location(s), parse_location(d)) for s, d in tasks]
            return await copy_images(copy, session, options or CopyOptions(), on_event=on_event or events.append)

    return asyncio.run(go()), events


PLAIN = {"tls_verify": False}
TLS_HOSTS: set[str] = set()


def _is_tls_host(host: str) -> bool:
    return host in TLS_HOSTS


@pytest.fixture(scope="module", autouse=True)
def _tls_hosts(tls_registry, token_registry) -> None:
    TLS_HOSTS.update({tls_registry.host, token_registry.host})


def test_single_image_tag_to_tag_reads_back_with_skopeo(images: SourceImages, plain_registry) -> None:
    dst = f"{plain_registry.host}/{unique_repo('single')}:copied"
    result, _ = mirror([(images.app, dst)])
    assert result.ok and result.images_done == 1
    assert skopeo.digest(dst, **PLAIN) == images.app_digest
    assert skopeo.inspect(dst, **PLAIN)["Layers"] == skopeo.inspect(images.app, **PLAIN)["Layers"]


def test_digest_to_tag(images: SourceImages, plain_registry) -> None:
    src = f"{images.host}/engine-src/app@{images.app_digest}"
    dst = f"{plain_registry.host}/{unique_repo('bydigest')}:pinned"
    result, _ = mirror([(src, dst)])
    assert result.ok
    assert skopeo.digest(dst, **PLAIN) == images.app_digest


def test_manifest_list_whole_keeps_its_digest(images: SourceImages, plain_registry) -> None:
    dst = f"{plain_registry.host}/{unique_repo('multi')}:v1"
    result, _ = mirror([(images.multi, dst)])
    assert result.ok
    assert skopeo.digest(dst, **PLAIN) == images.multi_digest
    raw = skopeo.inspect(dst, raw=True, **PLAIN)
    for child in raw["manifests"]:  # every platform landed, pullable by its own digest
        assert skopeo.digest(f"{dst.rsplit(':', 1)[0]}@{child['digest']}", **PLAIN) == child["digest"]


def test_manifest_list_filtered_to_one_platform(images: SourceImages, plain_registry) -> None:
    dst = f"{plain_registry.host}/{unique_repo('filtered')}:arm"
    result, _ = mirror([(images.multi, dst)], options=CopyOptions(filter_by_os="linux/arm64"))
    assert result.ok
    raw = skopeo.inspect(dst, raw=True, **PLAIN)
    assert "manifests" not in raw and raw["mediaType"].endswith("manifest.v1+json")
    assert skopeo.inspect(dst, **PLAIN)["Architecture"] == "arm64"


def test_keep_manifest_list_filters_inside_the_list(images: SourceImages, plain_registry) -> None:
    dst = f"{plain_registry.host}/{unique_repo('keep')}:amd"
    result, _ = mirror([(images.multi, dst)], options=CopyOptions(filter_by_os="linux/amd64", keep_manifest_list=True))
    assert result.ok
    raw = skopeo.inspect(dst, raw=True, **PLAIN)
    assert [m["platform"]["architecture"] for m in raw["manifests"]] == ["amd64"]


def test_shared_layers_are_read_once_and_second_run_moves_nothing(images: SourceImages, tls_registry, auth_file,
                                                                   tls_options, pki) -> None:
    """Across registries: each unique blob crosses once; sibling repositories get it by mount."""
    repo_a, repo_b = unique_repo("shared-a"), unique_repo("shared-b")
    host = tls_registry.host
    tasks = [(images.app, f"{host}/{repo_a}:v1"), (images.sibling, f"{host}/{repo_b}:v1"),
             (images.app, f"{host}/{repo_b}:also-app")]
    auth, tls = load_auth_file(str(auth_file)), tls_options
    result, events = mirror(tasks, auth=auth, tls=tls)
    assert result.ok and result.images_done == 3
    started = Counter(e.digest for e in events if isinstance(e, BlobStarted))
    assert started and max(started.values()) == 1, "a blob was transferred twice"
    for digest in images.layer_sizes:  # shared base layers: read once, mounted into the sibling repo
        assert started[digest] == 1
    assert any(isinstance(e, BlobMounted) for e in events)
    assert result.bytes_copied == sum(size for digest, size in _sizes(result).items() if started[digest])

    again, events = mirror(tasks, auth=auth, tls=tls)
    assert again.ok and again.bytes_copied == 0 and again.blobs_copied == 0
    assert not any(isinstance(e, BlobStarted) for e in events)
    expected = [images.app_digest, skopeo.digest(images.sibling, **PLAIN), images.app_digest]
    assert [skopeo.digest(dst, authfile=auth_file, cert_dir=pki.dir) for _, dst in tasks] == expected


def _sizes(result: CopyResult) -> dict[str, int]:
    return {digest: size for plan in result.images for digest, size in plan.blobs().items()}


def test_mount_from_source_repository_in_the_same_registry(images: SourceImages, plain_registry) -> None:
    dst = f"{plain_registry.host}/{unique_repo('mounted')}:v1"
    result, events = mirror([(images.app, dst)])
    assert result.ok
    assert result.bytes_copied == 0 and result.blobs_mounted >= 3
    assert skopeo.digest(dst, **PLAIN) == images.app_digest


def test_unknown_image_is_a_clear_error_and_skip_missing_skips_it(images: SourceImages, plain_registry) -> None:
    missing = f"{images.host}/engine-src/does-not-exist:v9"
    dst = f"{plain_registry.host}/{unique_repo('missing')}:v9"
    with pytest.raises(CopyFailed) as info:
        mirror([(missing, dst)])
    assert isinstance(info.value.error, NotFound)
    assert "does-not-exist" in str(info.value)

    ok_dst = f"{plain_registry.host}/{unique_repo('present')}:v1"
    result, _ = mirror([(missing, dst), (images.app, ok_dst)], options=CopyOptions(skip_missing=True))
    assert result.ok and result.images_skipped_missing == 1 and result.images_done == 1


def test_tls_htpasswd_registry_with_ca_file(images: SourceImages, tls_registry, auth_file: Path, tls_options, pki) -> None:
    dst = f"{tls_registry.host}/{unique_repo('tls')}:v1"
    auth = load_auth_file(str(auth_file))
    result, _ = mirror([(images.app, dst)], auth=auth, tls=TLSOptions(ca_files=tls_options.ca_files))
    # plain source needs insecure only for that host; the CA file covers the TLS mirror
    assert result.ok
    assert skopeo.digest(dst, authfile=auth_file, cert_dir=pki.dir) == images.app_digest


def test_wrong_password_is_a_clear_error(images: SourceImages, tls_registry, token_registry, tls_options) -> None:
    for registry in (tls_registry, token_registry):
        auth = parse_auth_data(json.dumps({"auths": {registry.host: auth_entry(USER, "wrong-password")}}))
        with pytest.raises(CopyFailed) as info:
            mirror([(images.app, f"{registry.host}/{unique_repo('wrongpw')}:v1")], auth=auth,
                   tls=TLSOptions(ca_files=tls_options.ca_files))
        error = info.value.error
        assert isinstance(error, AuthenticationFailed)
        assert registry.host in str(error) and "wrong-password" not in str(error)


def test_untrusted_tls_is_refused_without_the_ca(images: SourceImages, tls_registry, auth_file) -> None:
    auth = load_auth_file(str(auth_file))
    with pytest.raises(CopyFailed) as info:
        mirror([(images.app, f"{tls_registry.host}/{unique_repo('untrusted')}:v1")], auth=auth, tls=TLSOptions())
    assert isinstance(info.value.error, TLSVerifyError)


def test_certs_d_directory_is_trusted(images: SourceImages, tls_registry, auth_file, pki, tmp_path: Path) -> None:
    host_dir = tmp_path / "certs.d" / tls_registry.host
    host_dir.mkdir(parents=True)
    (host_dir / "ca.crt").write_bytes(pki.ca_file.read_bytes())
    dst = f"{tls_registry.host}/{unique_repo('certsd')}:v1"
    result, _ = mirror([(images.app, dst)], auth=load_auth_file(str(auth_file)),
                       tls=TLSOptions(certs_dirs=(str(tmp_path / "certs.d"),)))
    assert result.ok


def test_token_auth_asks_for_the_narrowest_scopes(images: SourceImages, token_registry, token_issuer, auth_file,
                                                  tls_options) -> None:
    auth = load_auth_file(str(auth_file))
    first = unique_repo("tok-a")
    second = unique_repo("tok-b")
    host = token_registry.host
    mirror([(images.app, f"{host}/{first}:v1")], auth=auth, tls=tls_options)
    token_issuer.requests.clear()
    result, events = mirror([(f"{host}/{first}:v1", f"{host}/{second}:v1")], auth=auth, tls=tls_options)
    assert result.ok and result.bytes_copied == 0
    assert any(isinstance(e, BlobMounted) for e in events)
    scopes = {s for r in token_issuer.requests for s in r.scopes}
    assert f"repository:{first}:pull" in scopes
    assert f"repository:{second}:pull,push" in scopes
    assert not any(s.startswith(f"repository:{first}:") and "push" in s for s in scopes), scopes
    assert all(r.user == USER for r in token_issuer.requests)
    cert_dir = tls_options.ca_files[0].rsplit("/", 1)[0]
    assert skopeo.digest(f"{host}/{second}:v1", authfile=auth_file, cert_dir=cert_dir) == images.app_digest


def test_anonymous_token_pulls_public_repositories(images: SourceImages, token_registry, auth_file, tls_options,
                                                   plain_registry) -> None:
    host = token_registry.host
    public = f"{host}/public/{unique_repo('anon')}:v1"
    mirror([(images.app, public)], auth=load_auth_file(str(auth_file)), tls=tls_options)
    dst = f"{plain_registry.host}/{unique_repo('from-anon')}:v1"
    result, _ = mirror([(public, dst)], auth=None, tls=tls_options)
    assert result.ok
    assert skopeo.digest(dst, **PLAIN) == images.app_digest


def test_image_done_events_name_every_image(images: SourceImages, plain_registry) -> None:
    dst = f"{plain_registry.host}/{unique_repo('events')}:v1"
    _, events = mirror([(images.app, dst)])
    done = [e for e in events if isinstance(e, ImageDone)]
    assert len(done) == 1 and dst in str(done[0])


class _SinkBug(RuntimeError):
    """A front end's own bug, raised from its event sink while a blob moves."""


def test_an_unexpected_error_while_a_blob_moves_is_that_error_never_a_cancel(
        images: SourceImages, tls_registry, auth_file: Path, tls_options, pki) -> None:
    """Nobody cancelled: the run ends with the error itself (the wizard then says "unexpected error"),
    not with Cancelled, which a front end shows as "cancelled by the user"; nothing gets tagged.
    Another registry than the source's, so the layers' bytes really move (no mount)."""
    dst = f"{tls_registry.host}/{unique_repo('sink-bug')}:v1"
    moved: list[int] = []

    def sink(event: Event) -> None:
        if isinstance(event, BlobProgress):
            moved.append(event.delta)
            raise _SinkBug("the progress view broke")

    with pytest.raises(_SinkBug) as caught:
        mirror([(images.app, dst)], auth=load_auth_file(str(auth_file)),
               tls=TLSOptions(ca_files=tls_options.ca_files), on_event=sink)
    assert not isinstance(caught.value, Cancelled) and moved
    inspect = skopeo.run("inspect", "--raw", f"--authfile={auth_file}", f"--cert-dir={pki.dir}", f"docker://{dst}",
                         check=False)
    assert inspect.returncode != 0 and "manifest unknown" in inspect.stderr
