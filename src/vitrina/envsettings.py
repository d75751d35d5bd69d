"""Settings from the environment, and the effective settings with their secrets masked.

`VITRINA_<KEY>` sets a top-level setting (`VITRINA_DSN`, `VITRINA_DATA_DIR`) and
`VITRINA_<SECTION>__<KEY>` one of a section (`VITRINA_TRANSPORT__KAFKA`), over the TOML file.
A value is read by the type of its field: `true`/`false` for a switch, a number for a number,
TOML syntax for a list or a table (`VITRINA_ALERTS__WEBHOOKS='["https://..."]'`).

Other `VITRINA_*` variables are not settings (a deployment's own, like
VITRINA_GRAFANA_PASSWORD or a client's VITRINA_API_KEY): a name without `__` that is no
top-level key is ignored; a `__` name that no section knows is warned about once, since it
is most likely a misspelt setting.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

PREFIX = "VITRINA_"
MASK = "****"
log = logging.getLogger(__name__)
_warned: set[str] = set()


class EnvError(ValueError):
    """A variable whose value does not fit its setting's type."""


def _bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise EnvError(f"{name}={raw!r}: expected true or false")


def _toml_value(name: str, raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError as exc:
        raise EnvError(f"{name}={raw!r}: expected a TOML value ({exc})") from None


def parse_value(name: str, raw: str, kind: Any) -> Any:
    """`raw` as a value of the type `kind` (a field's resolved annotation)."""
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    if typing.get_origin(kind) in (types.UnionType, typing.Union):  # `X | None`: empty is None
        return None if raw == "" else parse_value(name, raw, args[0])
    if kind is bool:
        return _bool(name, raw)
    try:
        if kind is int:
            return int(raw)
        if kind is float:
            return float(raw)
    except ValueError:
        raise EnvError(f"{name}={raw!r}: expected a number") from None
    if kind is Path:
        return Path(raw)
    if kind is str:
        return raw
    return _toml_value(name, raw)  # lists, tables


def _warn_once(name: str, why: str) -> None:
    if name not in _warned:
        _warned.add(name)
        log.warning("%s is not a vitrina setting (%s); ignored", name, why)


def env_overrides(environ: Mapping[str, str], top: Mapping[str, Any], sections: Mapping[str, Any]) -> dict[str, Any]:
    """The settings the environment sets, shaped like the TOML file's data: {key: value,
    section: {key: value}}. `top`: the top-level keys and their types; `sections`: section
    name -> its dataclass, or a type for a table of values (`retention`: dict[str, int])."""
    out: dict[str, Any] = {}
    for name, raw in sorted(environ.items()):
        if not name.startswith(PREFIX):
            continue
        rest = name[len(PREFIX) :].lower()
        section, sep, key = rest.partition("__")
        if not sep:
            if rest in top:
                out[rest] = parse_value(name, raw, top[rest])
            continue  # a deployment's own variable
        where = sections.get(section)
        if where is None or not key or not re.fullmatch(r"[a-z0-9_]+", key):
            _warn_once(name, f"no section [{section}]")
            continue
        kind = _field_types(where).get(key) if dataclasses.is_dataclass(where) else typing.get_args(where)[1]
        if kind is None:
            _warn_once(name, f"[{section}] has no setting {key}")
            continue
        out.setdefault(section, {})[key] = parse_value(name, raw, kind)
    return out


def _field_types(cls: Any) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def merged(data: dict[str, Any], env: Mapping[str, Any]) -> dict[str, Any]:
    """The file's data with the environment's settings over it (section by section)."""
    out = dict(data)
    for key, value in env.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


# -- masking -------------------------------------------------------------------------------------

SECRET_NAME = re.compile(r"secret|password|passwd|token|(^|_)key($|_|s$)|credential", re.IGNORECASE)
# Names that look like a secret's but are not one: where a key file is, not a key.
NOT_SECRET = {"keys_file"}


def mask_url(url: str, whole_path: bool = False) -> str:
    """A URL with its password (and a token-like user without one) replaced by the mask; its
    query's values too, where S3 and webhook credentials often are; with `whole_path` its
    path as well (a webhook's path is often its token: Slack's /services/T/B/SECRET)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    if not parts.scheme or not parts.netloc:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user, has_password, _ = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{host}" if has_password else f"{MASK}@{host}"
    query = "&".join(f"{p.partition('=')[0]}={MASK}" if "=" in p else p for p in parts.query.split("&")) if parts.query else ""
    path = f"/{MASK}" if whole_path and parts.path not in ("", "/") else parts.path
    return urlunsplit((parts.scheme, netloc, path, query, ""))


def masked(value: Any, name: str = "") -> Any:
    """`value` (settings as plain data) with every secret masked: a field named like a secret
    whole, and in any string that is a URL its credentials."""
    if isinstance(value, dict):
        return {k: masked(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [masked(v, name) for v in value]
    if name not in NOT_SECRET and SECRET_NAME.search(name) and value not in (None, "", ()):
        return MASK
    if isinstance(value, str) and "://" in value:
        return mask_url(value, whole_path="webhook" in name)
    return value
