"""What the target systems accept, checked with their own published schemas (vendored in
``tests/data/deploy-schemas/``, see its README) plus the rules those schemas do not carry and the
systems apply anyway (IoT Edge twin keys and route grammar, Kubernetes object names, labels, image
references). Each ``check_*`` returns a list of problems, ``[]`` when the target accepts the file."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

SCHEMAS = Path(__file__).resolve().parents[2] / "data" / "deploy-schemas"
K8S_VERSIONS = ("1.25.0", "1.37.0")  # the oldest and newest kubernetes-validate knows

TWIN_KEY_RE = re.compile(r"^[^.$# ]+$")
MODULE_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]+$")
ROUTE_RE = re.compile(r"^FROM\s+\S+(\s+WHERE\s+.+?)?\s+INTO\s+\S.*$", re.IGNORECASE)
# A Docker image reference (distribution/reference's grammar, simplified but strict about case).
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN = (
    r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::\d+)?/)"
)
IMAGE_RE = re.compile(
    rf"^{_DOMAIN}?{_COMPONENT}(?:/{_COMPONENT})*(?::[\w][\w.-]{{0,127}})?(?:@sha256:[a-f0-9]{{64}})?$"
)
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
LABEL_NAME = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)


def _json(name: str) -> dict:
    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))


DEPLOYMENT = _json("azure-iot-edge-deployment-2.0.json")
EDGE_AGENT = _json("azure-iot-edgeagent-deployment-1.1.json")
EDGE_HUB = {
    "1.1": _json("azure-iot-edgehub-deployment-1.1.json"),
    "1.2": _json("azure-iot-edgehub-deployment-1.2.json"),
}
SKILL_CRD = yaml.safe_load((SCHEMAS / "symphony-skills-crd-0.48.21.yaml").read_text(encoding="utf-8"))


def _errors(schema: dict, instance: Any, where: str) -> list[str]:
    validator = jsonschema.Draft4Validator(schema)
    return [
        f"{where}: {'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(instance)
    ]


def _joined_create_options(settings: dict, where: str, problems: list[str]) -> dict:
    keys = sorted(k for k in settings if k.startswith("createOptions"))
    expected = ["createOptions"] + [f"createOptions{i:02d}" for i in range(1, len(keys))]
    if keys and keys != expected[: len(keys)]:
        problems.append(f"{where}: createOptions parts {keys} are not createOptions, createOptions01...")
    if len(keys) > 8:
        problems.append(f"{where}: {len(keys)} createOptions parts (IoT Edge joins at most 8)")
    for key in keys:
        if len(settings[key]) > 512:
            problems.append(f"{where}: {key} is {len(settings[key])} characters (at most 512)")
    text = "".join(settings[k] for k in keys) or "{}"
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        problems.append(f"{where}: createOptions is not JSON once joined: {exc}")
        return {}


def _module_rules(name: str, module: dict, where: str, problems: list[str]) -> None:
    if not MODULE_NAME_RE.match(name):
        problems.append(f"{where}: module name {name!r} is not a valid IoT Edge module name")
    image = module.get("settings", {}).get("image", "")
    if not IMAGE_RE.match(image):
        problems.append(f"{where}: image {image!r} is not a Docker image reference")
    _joined_create_options(module.get("settings", {}), where, problems)


def _route_rules(name: str, route: Any, where: str, problems: list[str]) -> None:
    text = route["route"] if isinstance(route, dict) else route
    if not TWIN_KEY_RE.match(name):
        problems.append(f"{where}: route name {name!r} may not contain '.', '$', '#' or spaces")
    if not ROUTE_RE.match(text):
        problems.append(f"{where}: route {text!r} is not FROM <source> [WHERE <condition>] INTO <sink>")


def check_iotedge(manifest: dict, where: str = "deployment.json") -> list[str]:
    """A whole ``set-modules`` deployment: the deployment, edgeAgent and edgeHub schemas and the rules."""
    problems = _errors(DEPLOYMENT, manifest, where)
    content = manifest.get("modulesContent", {})
    problems += _errors(EDGE_AGENT, {"$edgeAgent": content.get("$edgeAgent")}, where)
    hub = content.get("$edgeHub", {})
    version = hub.get("properties.desired", {}).get("schemaVersion", "1.1")
    problems += _errors(EDGE_HUB[version], {"$edgeHub": hub}, where)
    agent = content.get("$edgeAgent", {}).get("properties.desired", {})
    for name, module in agent.get("modules", {}).items():
        _module_rules(name, module, f"{where}: module {name}", problems)
    if "${" in json.dumps(manifest):
        problems.append(f"{where}: holds an unfilled ${{...}}")
    for name, route in hub.get("properties.desired", {}).get("routes", {}).items():
        _route_rules(name, route, where, problems)
    return problems


def _sub_schema(schema: dict, *path: str) -> dict:
    """A piece of a schema that can be validated alone (its ``definitions`` carried along)."""
    node: Any = schema
    for key in path:
        node = node[key]
    return {**copy.deepcopy(node), "definitions": schema.get("definitions", {})}


def check_layered(manifest: dict, where: str = "layered.json") -> list[str]:
    """A layered deployment (``az iot edge deployment create --layered``): only
    ``properties.desired.modules.<name>`` and ``properties.desired.routes.<name>`` paths, each
    checked against the edgeAgent / edgeHub schemas' module and route definitions."""
    problems: list[str] = []
    content = manifest.get("modulesContent")
    if not isinstance(content, dict) or set(content) - {"$edgeAgent", "$edgeHub"}:
        return [f"{where}: modulesContent must hold $edgeAgent and $edgeHub only"]
    desired = ["properties", "properties.desired", "properties"]
    module_schema = _sub_schema(
        EDGE_AGENT, "properties", "$edgeAgent", *desired, "modules", "patternProperties", "^[a-zA-Z0-9_-]+$"
    )
    routes_schema = _sub_schema(EDGE_HUB["1.2"], "properties", "$edgeHub", *desired, "routes")
    for key, value in content.get("$edgeAgent", {}).items():
        prefix = "properties.desired.modules."
        if not key.startswith(prefix):
            problems.append(f"{where}: $edgeAgent.{key}: a layered deployment may only add modules")
            continue
        name = key[len(prefix) :]
        problems += _errors(module_schema, value, f"{where}: module {name}")
        _module_rules(name, value, f"{where}: module {name}", problems)
    for key, value in content.get("$edgeHub", {}).items():
        prefix = "properties.desired.routes."
        if not key.startswith(prefix):
            problems.append(f"{where}: $edgeHub.{key}: a layered deployment may only add routes")
            continue
        name = key[len(prefix) :]
        problems += _errors(routes_schema, {name: value}, f"{where}: route {name}")
        _route_rules(name, value, where, problems)
    return problems


def _labels(labels: dict, where: str, problems: list[str]) -> None:
    for key, value in (labels or {}).items():
        if not LABEL_NAME.match(key) or len(key.split("/")[-1]) > 63:
            problems.append(f"{where}: label name {key!r} is not valid")
        if not isinstance(value, str) or len(value) > 63 or not LABEL_VALUE.match(value):
            problems.append(f"{where}: label value {value!r} is not valid (63 of [A-Za-z0-9_.-])")


def _k8s_rules(doc: dict, where: str, problems: list[str]) -> None:
    if "${" in json.dumps(doc):
        problems.append(
            f"{where}: {doc.get('kind')} holds an unfilled ${{...}} (Kubernetes never expands it)"
        )
    meta = doc.get("metadata", {})
    name = meta.get("name", "")
    pattern = DNS1035_LABEL if doc.get("kind") == "Service" else DNS1123_SUBDOMAIN
    if not pattern.match(name) or len(name) > (63 if doc.get("kind") == "Service" else 253):
        problems.append(f"{where}: {doc.get('kind')} name {name!r} is not valid")
    _labels(meta.get("labels", {}), where, problems)
    template = doc.get("spec", {}).get("template", {})
    _labels(template.get("metadata", {}).get("labels", {}), where, problems)
    for box in template.get("spec", {}).get("containers", []):
        if not IMAGE_RE.match(box.get("image", "")):
            problems.append(
                f"{where}: container {box.get('name')}: image {box.get('image')!r} is not an image reference"
            )


def check_kubernetes(text: str | bytes, where: str = "k8s") -> list[str]:
    """Every document, for the oldest and newest Kubernetes, strictly (unknown fields refused)."""
    problems: list[str] = []
    for doc in yaml.safe_load_all(text):
        if doc is None:
            continue
        for version in K8S_VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                problems.append(f"{where} ({version}): {doc.get('kind')} {exc.message}")
        _k8s_rules(doc, where, problems)
    return problems


def _openapi_to_jsonschema(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _openapi_to_jsonschema(v) for k, v in node.items() if not k.startswith("x-kubernetes-")}
    if isinstance(node, list):
        return [_openapi_to_jsonschema(v) for v in node]
    return node


def check_kan(resource: dict, where: str = "skill.yaml") -> list[str]:
    """The Skill resource against the CRD KAN's Symphony installs, and the API server's own rules."""
    version = next(v for v in SKILL_CRD["spec"]["versions"] if v["name"] == "v1")
    schema = _openapi_to_jsonschema(version["schema"]["openAPIV3Schema"])
    problems = _errors(schema, resource, where)
    if resource.get("apiVersion") != "ai.symphony/v1" or resource.get("kind") != "Skill":
        problems.append(f"{where}: not an ai.symphony/v1 Skill")
    meta = resource.get("metadata", {})
    if not DNS1123_SUBDOMAIN.match(meta.get("name", "")):
        problems.append(f"{where}: metadata.name {meta.get('name')!r} is not a DNS-1123 subdomain")
    _labels(meta.get("labels", {}), where, problems)
    return problems
