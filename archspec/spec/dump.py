"""Spec -> YAML text that reads like a hand-written spec (table rows and items on one line each)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from archspec.errors import SpecError
from archspec.spec.load import PATH_MAX, PATH_VARIABLE, find_import, import_roots
from archspec.spec.locate import quoted
from archspec.spec.schema import ROW_ALIASES as ALIASES
from archspec.spec.schema import NetworkSpec


class _Dumper(yaml.SafeDumper):
    """Block style for the document, flow style for mappings and lists of scalars (one row per line)."""


def _represent_dict(dumper: yaml.SafeDumper, data: dict[str, Any]) -> yaml.Node:
    flat = all(not isinstance(v, dict | list) or (isinstance(v, list) and all(not isinstance(x, dict | list)
                                                                             for x in v)) for v in data.values())
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=flat and len(data) < 12)


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flat = all(not isinstance(v, dict | list) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flat)


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    style = ">" if "\n" in data else None  # long notes stay folded text, exactly as written
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(dict, _represent_dict)
_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(list, _represent_list)


def spec_to_data(network: NetworkSpec, written: Any = None, source_dir: Path | None = None,
                 target_dir: Path | None = None) -> dict[str, Any]:
    """Plain data of a spec, keys in the order (and spelling) of ``written`` where it has them;
    imports are rewritten relative to ``target_dir`` when given."""
    data = network.model_dump(mode="json", exclude_defaults=True)
    if network.scaling is not None:
        data["scaling"] = {k: v for k, v in network.scaling.model_dump(mode="json").items() if v not in ([], {})}
    if source_dir is not None and target_dir is not None and data.get("imports"):
        data["imports"] = [_import_from(target_dir, source_dir, path) for path in data["imports"]]
    return _like(data, written)


def _import_from(target_dir: Path, source_dir: Path, written: str) -> str:
    """How a spec in ``target_dir`` names the library that ``written`` names from ``source_dir``: as written when
    that finds the same file, else relative to ``target_dir``, as long as the folders a spec may import from
    there (see ``import_roots``) hold it."""
    found = find_import(written, import_roots(source_dir))
    if not isinstance(found, tuple):
        return written  # the spec could not have been loaded: nothing to keep
    real = found[1]
    roots = import_roots(target_dir)
    for candidate in (written, os.path.relpath(real, target_dir)):
        again = find_import(candidate, roots)
        if isinstance(again, tuple) and again[1] == real:
            return candidate
    raise SpecError(f"a spec in {quoted(str(target_dir), PATH_MAX)} cannot import the block library "
                    f"{quoted(written, PATH_MAX)} (it lies outside the folders a spec there may import from): write "
                    f"the spec beside it or add the library's folder to {PATH_VARIABLE}")


def _like(data: Any, written: Any) -> Any:
    """``data`` with mapping keys ordered and spelled as in ``written`` (recursively)."""
    if isinstance(data, dict) and isinstance(written, dict):
        out: dict[str, Any] = {}
        for key in written:
            name = next((k for k, aliases in ALIASES.items() if key in aliases and k in data), key)
            if name in data and name not in out and key not in out:
                out[key] = _like(data[name], written[key])
        for key, value in data.items():
            if key not in out and not any(alias in out for alias in ALIASES.get(key, ())):
                out[key] = value
        return out
    if isinstance(data, list) and isinstance(written, list) and len(data) == len(written):
        return [_like(d, w) for d, w in zip(data, written, strict=True)]
    return data


def dump_spec(network: NetworkSpec, written: Any = None, source_dir: Path | None = None,
              target_dir: Path | None = None) -> str:
    """YAML text of a spec."""
    data = spec_to_data(network, written, source_dir, target_dir)
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, width=1000, allow_unicode=True)
