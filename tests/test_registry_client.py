"""RegistryClient details against the real registry: tag pagination, HEAD answers, manifest bytes."""

from __future__ import annotations

import asyncio

import pytest

from core.errors import NotFound
from core.registry import RegistrySession
from core.tlsconfig import TLSOptions
from tests.support import skopeo
from tests.support.fault_proxy import Fault, FaultProxy
from tests.support.repos import unique_repo


def test_tag_listing_follows_link_pagination(seeded_release, plain_registry) -> None:
    """The proxy pages the real registry's answer the way distribution 3 does (2.8 ignores ``n``)."""
    repo = unique_repo("tags")
    dst = f"{plain_registry.host}/{repo}"
    for tag in ("a", "b", "c", "d", "e"):
        skopeo.copy(seeded_release.release_ref, f"{dst}:{tag}", src_opts=skopeo.options(tls_verify=False),
                    dst_opts=skopeo.options(tls_verify=False))

    proxy = FaultProxy(upstream=plain_registry.url).start()
    proxy.add(Fault("paginate-tags", method="GET", path="/tags/list", times=-1))

    async def listing() -> tuple[list[str], list[str]]:
        async with RegistrySession(tls=TLSOptions(insecure_hosts=(proxy.host,))) as session:
            client = session.client(proxy.host)
            pages: list[str] = []
            original = client.request

            async def spy(method, url, **kwargs):  # records the URLs, still talks to the real registry
                pages.append(url)
                return await original(method, url, **kwargs)

            client.request = spy  # type: ignore[method-assign]
            client_tags = await client.list_tags(repo, page_size=2)
            return client_tags, pages

    try:
        tags, pages = asyncio.run(listing())
    finally:
        proxy.stop()
    assert sorted(tags) == ["a", "b", "c", "d", "e"]
    assert len(pages) == 3 and "n=2" in pages[0] and "last=" in pages[1]


def test_missing_repository_tags_is_not_found(plain_registry) -> None:
    async def listing() -> list[str]:
        async with RegistrySession(tls=TLSOptions(insecure_hosts=(plain_registry.host,))) as session:
            return await session.client(plain_registry.host).list_tags("no/such/repo")

    with pytest.raises(NotFound, match="no/such/repo"):
        asyncio.run(listing())


def test_manifest_digest_is_computed_from_the_bytes(seeded_release) -> None:
    async def fetch():
        async with RegistrySession(tls=TLSOptions(insecure_hosts=(seeded_release.host,))) as session:
            client = session.client(seeded_release.host)
            repo, tag = seeded_release.release_ref.split("/", 1)[1].rsplit(":", 1)
            manifest = await client.get_manifest(repo, tag)
            head = await client.manifest_digest(repo, tag, push_scope=False)
            return manifest, head

    manifest, head = asyncio.run(fetch())
    assert manifest.digest == head == skopeo.digest(seeded_release.release_ref, tls_verify=False)
