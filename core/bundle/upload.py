"""The far side's way in: the bundle checked, an incremental bundle's base found in the mirror, its releases read."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..bundle_sign import check_sums_signature
from ..errors import BundleError
from ..reference import parse_repository
from ..registry import RegistrySession
from ..release import choose_record, load_recorded_release, load_release_from_dir, releases_in_dir
from ..text import plural

if TYPE_CHECKING:
    from ..registry import RegistrySession
    from ..release import ReleaseInfo
from .check import check_bundle_before_upload
from .model import Message
from .record import omitted_blobs, read_bundle_manifest

# -- incremental bundles on the far side -----------------------------------------------------------------

async def check_base_in_registry(session: Any, directory: Path, target: str,
                                 to_release_image: str | None = None) -> int:
    """An incremental bundle left layers out; the mirror must already hold each of them (uploaded from
    the base bundle). Returns how many were checked; BundleError names what is missing."""
    omitted = omitted_blobs(directory)
    if not omitted:
        return 0
    base = read_bundle_manifest(directory).get("base") or {}
    repo = parse_repository(target)
    client = session.client(repo.registry)
    found = await asyncio.gather(*(client.blob_exists(repo.repository, d, push_scope=False) for d in sorted(omitted)))
    missing = [d for d, ok in zip(sorted(omitted), found, strict=True) if not ok]
    if missing:
        versions = ", ".join(str(r.get("version")) for r in base.get("releases") or []) or "?"
        raise BundleError(f"{target} lacks {plural(len(missing), 'layer')} this incremental bundle leaves to its base "
                          f"(bundle {base.get('id')}, release {versions}), e.g. {missing[0]}; upload the base "
                          "bundle to this mirror first, then this one")
    return len(omitted)


async def load_release_for_upload(session: RegistrySession, directory: str | os.PathLike[str], release: str | None,
                                  target: str, to_release_image: str | None = None,
                                  on_problem: Message | None = None, *, verify: bool = True,
                                  signer: str | None = None) -> ReleaseInfo:
    """The far side's way in: check the bundle, check an incremental bundle's base is in the mirror,
    then read the release as core.release.load_release_from_dir does (a layer left to the base is not
    'missing' there, since the registry already has it)."""
    directory = Path(directory)
    if verify:  # a dry run or a runbook reads the medium's record only: no hashing of every byte
        await asyncio.to_thread(check_bundle_before_upload, directory, on_problem, signer=signer)
    elif signer is not None:  # no hashing, but who wrote the medium is cheap to check and always asked for

        try:
            check_sums_signature(directory, signer)
        except BundleError as exc:
            raise BundleError(f"{directory} failed its check, nothing was uploaded: {exc}") from None
    if not omitted_blobs(directory):
        return await load_release_from_dir(session, directory, release)
    await check_base_in_registry(session, directory, target, to_release_image)
    return await load_recorded_release(session, directory, choose_record(directory, release))


async def releases_in_bundle(directory: str | os.PathLike[str]) -> list[Any]:
    """Every release a to-dir run recorded in DIR, read from the layout (no registry is contacted)."""
    directory = Path(directory)
    async with RegistrySession() as session:
        return [await load_recorded_release(session, directory, record) for record in releases_in_dir(directory)]
