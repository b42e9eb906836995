"""Moving secrets out of a skill before it is packaged.

A package is copied to registries, fleets and support tickets: it must hold no secret.
Every value a secret could hide in is replaced by an ``${ENV_NAME}`` reference that the
device fills from its environment: fields the catalog marks secret (``Mark.SECRET``),
connection strings (``AccountKey=``, ``SharedAccessKey=`` ...), SAS tokens (a query with
``sig=``), credentials inside URLs (``user:password@``) and secret query keys
(``password=``, ``token=`` ...), and the environment variables of a container a node deploys
(its spec's deploy hook names them) whose name says secret, also inside a JSON parameter (Docker
create options' ``Env`` rows ``NAME=VALUE``). The caller hears about each one moved.

A ``$param`` default is written into the package too: ``secret_defaults`` finds each default that
would put a secret there (it feeds a secret field, a URL's password, a secret query key...).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from designer.core.secrets import SECRET_QUERY_KEYS
from designer.core.skill.catalog import get_spec
from designer.core.skill.document import Skill
from designer.core.skill.fields import PLACEHOLDER_RE, Mark, has_mark, is_secret, placeholders_in

ENV_REF_RE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")
CONNECTION_STRING_RE = re.compile(
    r"(?i)(^|;)\s*(AccountKey|SharedAccessKey|SharedAccessSignature|SharedAccessKeyName|Password|Pwd|"
    r"ClientSecret)\s*="
)
URL_USERINFO_RE = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#]*)@(?P<rest>.*)$")
SECRET_ENV_NAME_RE = re.compile(
    r"(?i)(PASS|PWD|SECRET|TOKEN|(^|_)KEY($|_)|KEYS?$|CONNECTION_?STRING|(^|_)CONN_?STR|SAS|"
    r"CREDENTIAL|APIKEY|API_KEY|(^|_)AUTH|PRIVATE|SIGNATURE)"
)
ENV_ROW_RE = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_.-]*)=(?P<value>.*)$", re.DOTALL)


@dataclass(frozen=True)
class MovedSecret:
    """One secret replaced by ``${env}``: where it was and what it was."""

    env: str
    node: str
    param: str
    what: str
    used_by: str = "runtime"

    def warning(self) -> str:
        return f"node {self.node}, {self.param}: {self.what} moved out of the package to ${{{self.env}}}"


def env_name(*parts: str) -> str:
    """An environment variable name from node / parameter names: upper case, '_' for the rest."""
    name = re.sub(r"[^A-Za-z0-9]+", "_", "_".join(p for p in parts if p)).strip("_").upper()
    return name if name and not name[0].isdigit() else f"S_{name}"


def _is_reference(value: str) -> bool:
    """Already a per-deployment value: nothing secret is written."""
    stripped = value.strip()
    return bool(PLACEHOLDER_RE.fullmatch(stripped) or ENV_REF_RE.fullmatch(stripped))


class _Mover:
    def __init__(self) -> None:
        self.moved: list[MovedSecret] = []
        self.used: set[str] = set()

    def take(self, base: str, node: str, param: str, what: str, used_by: str) -> str:
        name, n = base, 2
        while name in self.used:
            name, n = f"{base}_{n}", n + 1
        self.used.add(name)
        self.moved.append(MovedSecret(name, node, param, what, used_by))
        return f"${{{name}}}"

    def scrub(self, value: str, base: str, node: str, param: str, used_by: str) -> str:
        """A string with every secret part replaced by a reference."""
        if not value or _is_reference(value):
            return value
        if CONNECTION_STRING_RE.search(value):
            return self.take(base, node, param, "a connection string", used_by)
        match = URL_USERINFO_RE.match(value)
        if match and match["userinfo"]:
            user, sep, password = match["userinfo"].partition(":")
            userinfo = (
                user
                if _is_reference(user) or not user
                else self.take(f"{base}_USER", node, param, "the user name in a URL", used_by)
            )
            if sep:
                userinfo += ":" + (
                    password
                    if _is_reference(password) or not password
                    else self.take(f"{base}_PASSWORD", node, param, "the password in a URL", used_by)
                )
            value = f"{match['scheme']}{userinfo}@{match['rest']}"
        if "?" in value and "://" in value:
            head, _, tail = value.partition("?")
            query, hash_sep, fragment = tail.partition("#")
            pairs = parse_qsl(query, keep_blank_values=True)
            if any(k.lower() == "sig" for k, _ in pairs):
                query = self.take(f"{base}_SAS", node, param, "a SAS token", used_by)
            else:
                parts = []
                for item in query.split("&"):
                    key, eq, val = item.partition("=")
                    if eq and val and key.lower() in SECRET_QUERY_KEYS and not _is_reference(val):
                        val = self.take(env_name(base, key), node, param, f"the {key!r} in a URL", used_by)
                    parts.append(f"{key}{eq}{val}")
                query = "&".join(parts)
            value = f"{head}?{query}{hash_sep}{fragment}"
        return value


def _scrub_nested(mover: _Mover, value: Any, base: str, node: str, param: str, used_by: str) -> Any:
    if isinstance(value, str):
        return mover.scrub(value, base, node, param, used_by)
    if isinstance(value, list):
        return [_scrub_nested(mover, v, base, node, param, used_by) for v in value]
    if isinstance(value, dict):
        return {
            k: _scrub_nested(mover, v, env_name(base, str(k)), node, param, used_by) for k, v in value.items()
        }
    return value


def move_secrets(
    skill: Skill, containers: Mapping[str, tuple[str, str]] | None = None
) -> tuple[Skill, list[MovedSecret]]:
    """A copy of the skill without secrets, and the list of what moved where.

    ``containers``: node id -> (the parameter holding a container's environment rows, the
    container's name), from the nodes' deploy hooks: those values are the container's.
    """
    mover = _Mover()
    containers = containers or {}
    nodes = []
    for node in sorted(skill.nodes, key=lambda n: n.id):
        params = dict(node.params)
        for name in sorted(params):
            params[name] = _moved(mover, node, name, params[name], containers.get(node.id))
        nodes.append(node.model_copy(update={"params": params}))
    order = {n.id: i for i, n in enumerate(skill.nodes)}
    nodes.sort(key=lambda n: order[n.id])
    return skill.model_copy(update={"nodes": nodes}), mover.moved


def _moved(mover: _Mover, node: Any, name: str, value: Any, container: tuple[str, str] | None) -> Any:
    """One parameter's value with its secrets replaced by references."""
    spec = get_spec(node.type)
    info = spec.params.model_fields.get(name) if spec is not None else None
    if info is not None and is_secret(info) and isinstance(value, str) and value and not _is_reference(value):
        title = info.title or name
        return mover.take(env_name(node.id, name), node.id, name, f"the {title.lower()}", "runtime")
    if container is not None and name == container[0] and isinstance(value, list):
        return _container_env(mover, node.id, container[1], value)
    used_by = f"container:{container[1]}" if container is not None else "runtime"
    if info is not None and has_mark(info, Mark.JSON) and isinstance(value, str):
        return _json_text(mover, value, env_name(node.id, name), node.id, name, used_by)
    return _scrub_nested(mover, value, env_name(node.id, name), node.id, name, "runtime")


def _json_text(mover: _Mover, text: str, base: str, node: str, param: str, used_by: str) -> str:
    """A JSON parameter (Docker create options) with its secrets moved: strings scrubbed, and
    ``NAME=VALUE`` rows (an ``Env`` list) whose name says secret moved whole. Written back compact
    only when something moved, so a secret-free value keeps its own spelling."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return mover.scrub(text, base, node, param, used_by)
    before = len(mover.moved)
    data = _json_value(mover, data, base, node, param, used_by)
    if len(mover.moved) == before:
        return text
    return json.dumps(data, sort_keys=False, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _json_value(mover: _Mover, value: Any, base: str, node: str, param: str, used_by: str) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            where = env_name(base, str(key))
            if (
                isinstance(item, str)
                and item
                and not _is_reference(item)
                and SECRET_ENV_NAME_RE.search(str(key))
            ):
                out[key] = mover.take(where, node, f"{param} {key}", f"the {key!r} in {param}", used_by)
            else:
                out[key] = _json_value(mover, item, where, node, param, used_by)
        return out
    if isinstance(value, list):
        return [_json_value(mover, item, base, node, param, used_by) for item in value]
    if isinstance(value, str):
        row = ENV_ROW_RE.match(value)
        if row and row["value"] and not _is_reference(row["value"]):
            name = row["name"]
            if SECRET_ENV_NAME_RE.search(name):
                ref = mover.take(
                    env_name(base, name), node, f"{param} Env {name}", f"environment variable {name}", used_by
                )
                return f"{name}={ref}"
            return f"{name}={mover.scrub(row['value'], env_name(base, name), node, param, used_by)}"
        return mover.scrub(value, base, node, param, used_by)
    return value


def _container_env(mover: _Mover, node_id: str, container: Any, rows: list) -> list:
    """Environment rows of a gRPC container: secret-named values and secret parts move out."""
    used_by = f"container:{container}"
    out = []
    for row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("value"), str):
            out.append(row)
            continue
        name, value = str(row.get("name", "")), row["value"]
        base = env_name(str(container), name)
        if value and not _is_reference(value) and SECRET_ENV_NAME_RE.search(name):
            value = mover.take(base, node_id, f"env {name}", f"environment variable {name}", used_by)
        else:
            value = mover.scrub(value, base, node_id, f"env {name}", used_by)
        out.append({**row, "value": value})
    return out


def _fill_one(value: Any, name: str, default: str) -> Any:
    if isinstance(value, str):
        return value.replace(f"$param({name})", default)
    if isinstance(value, list):
        return [_fill_one(v, name, default) for v in value]
    if isinstance(value, dict):
        return {k: _fill_one(v, name, default) for k, v in value.items()}
    return value


def _moves(node: Any, name: str, value: Any, container: tuple[str, str] | None) -> int:
    mover = _Mover()
    _moved(mover, node, name, value, container)
    return len(mover.moved)


def _secret_hits(
    skill: Skill, defaults: Mapping[str, str], containers: Mapping[str, tuple[str, str]]
) -> list[tuple[str, str, str]]:
    """(parameter, node id, field) of each default that, filled in, adds a secret to move out."""
    hits: list[tuple[str, str, str]] = []
    for node in skill.nodes:
        container = containers.get(node.id)
        for field_name, value in sorted(node.params.items()):
            named = set(placeholders_in(value))
            base: int | None = None
            for param, default in sorted(defaults.items()):
                if param not in named:
                    continue
                base = _moves(node, field_name, value, container) if base is None else base
                if _moves(node, field_name, _fill_one(value, param, default), container) > base:
                    hits.append((param, node.id, field_name))
    return hits


def secret_defaults(
    skill: Skill, defaults: Mapping[str, str], containers: Mapping[str, tuple[str, str]] | None = None
) -> list[str]:
    """Each ``$param`` default that would write a secret into the package, as a message naming the
    parameter and the node and field it feeds: filled in, the value holds something ``move_secrets``
    would move out (a secret field, a URL's password, a secret query key, a secret env row)."""
    return [
        f"default for {param!r}: $param({param}) feeds a secret (node {node}, {field_name}); a "
        "default is written in clear into the package: give the value on the device instead "
        "(--param, or its SKILL_PARAM_ environment variable)"
        for param, node, field_name in _secret_hits(skill, defaults, containers or {})
    ]


def secret_params(skill: Skill, containers: Mapping[str, tuple[str, str]] | None = None) -> set[str]:
    """The ``$param`` names that feed a secret (any value given them would be moved out): deploy
    files should give them from a secret store, not a plain configuration."""
    from designer.core.skill.params import find_placeholders

    probe = dict.fromkeys(find_placeholders(skill), "Probe0")
    return {param for param, _, _ in _secret_hits(skill, probe, containers or {})}


def fill_env_references(value: Any, environ: dict[str, str], names: set[str]) -> Any:
    """Replace ``${NAME}`` for the given names (strings, lists, dicts, recursively)."""
    if isinstance(value, str):
        return ENV_REF_RE.sub(lambda m: environ[m[1]] if m[1] in names else m[0], value)
    if isinstance(value, list):
        return [fill_env_references(v, environ, names) for v in value]
    if isinstance(value, dict):
        return {k: fill_env_references(v, environ, names) for k, v in value.items()}
    return value
