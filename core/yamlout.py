"""YAML the way admins paste it: block style, keys in the order we built them, ``---`` between documents."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml


class _Dumper(yaml.SafeDumper):
    pass


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # Multi-line strings (PEM bundles) as literal blocks, so a CA in a ConfigMap stays readable.
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str_representer)


def dump_yaml(data: Any) -> str:
    """One YAML document, block style, insertion order kept."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=4096)


def dump_documents(documents: Iterable[Any]) -> str:
    """Several documents separated by ``---``, as ``oc apply -f`` reads them."""
    return "---\n".join(dump_yaml(document) for document in documents)
