"""A skill compiled once: its problems, typed nodes with parents and children, order, camera and
resolved models. The validator, the canvas, the engine and the package parts read this form,
never raw parameter dicts.

Fast enough to run on every edit (a 500-node skill in a few milliseconds): one pass over
nodes, one over links, one topological sort.
"""

from __future__ import annotations

import difflib
import posixpath
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from designer.core.secrets import has_secrets, mask_secrets
from designer.core.skill.catalog import Data, NodeSpec, Params, Role, get_spec
from designer.core.skill.document import NODE_ID_RE, Node, Skill
from designer.core.skill.fields import PLACEHOLDER_RE, Mark
from designer.core.skill.problems import Problem, error, warning
from designer.core.skill.validate import (
    ModelLookup,
    ModelSummary,
    check_params,
    check_settings,
    check_unknown_fields,
    edge_label,
    edge_problem,
    path_escape,
)


@dataclass(eq=False)
class CompiledNode:
    """One node of a known type, its parameters parsed (None when they are invalid)."""

    id: str
    spec: NodeSpec
    raw: Node
    params: Params | None
    parents: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    model: ModelSummary | None = None  # what the model library says of the model it names
    upstream: frozenset[Data] = frozenset()  # what arrives at its input from every node before it
    #: The labels objects arriving at its input can have (the labels of every model upstream that
    #: detects or classifies, in their class order); None when some of them cannot be known (a
    #: model named by file, a custom gRPC server, a model missing from the library).
    upstream_labels: tuple[str, ...] | None = None

    @property
    def title(self) -> str:
        return f"{self.spec.title} {self.id!r}"

    def provides(self) -> frozenset[Data]:
        return self.spec.provided(self)

    def marked(self, mark: str) -> Iterator[tuple[str, object]]:
        """(parameter, value as written) of each parameter carrying ``mark`` that is set."""
        for name in self.spec.fields_marked(mark):
            value = self.raw.params.get(name)
            if value not in (None, ""):
                yield name, value


@dataclass(eq=False)
class CompiledSkill:
    skill: Skill  # canonical: nodes by id, links by endpoints
    problems: list[Problem]
    nodes: dict[str, CompiledNode]  # known node types, in topological order (nodes on cycles last)
    order: list[str]  # every node id that is not on or behind a cycle, topologically sorted

    @property
    def ok(self) -> bool:
        return not any(p.is_error for p in self.problems)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def camera(self) -> CompiledNode | None:
        return next((n for n in self.nodes.values() if n.spec.role is Role.SOURCE), None)

    def with_role(self, *roles: Role) -> list[CompiledNode]:
        return [n for n in self.nodes.values() if n.spec.role in roles]

    def loopback_endpoints(self) -> list[tuple[str, str, str]]:
        """(node id, parameter, value) of each per-device address that names this machine's
        loopback (127.x, localhost, ::1): on a device it means the device itself, which is seldom
        what was meant when a skill was tried against a server on the designer's machine. An
        address the packager fills in itself (a container's endpoint) is left out."""
        found = []
        for node in self.nodes.values():
            rewritten: set[str] = set()
            if node.spec.deploy is not None and node.params is not None:
                container = node.spec.deploy(node).get("container") or {}
                rewritten.add(str(container.get("endpoint_param", "")))
            for name, value in node.marked(Mark.DEPLOY):
                if name not in rewritten and isinstance(value, str) and _is_loopback(value):
                    found.append((node.id, name, value))
        return found

    def downstream(self, node_id: str) -> list[str]:
        """The nodes after ``node_id``, breadth first: the order frames reach them."""
        order: list[str] = []
        frontier = list(self.nodes[node_id].children)
        while frontier:
            current = frontier.pop(0)
            if current not in order:
                order.append(current)
                frontier.extend(self.nodes[current].children)
        return order


def validate_skill(skill: Skill, models: ModelLookup | None = None, *, target: bool = False) -> list[Problem]:
    """Every problem of a skill, errors and warnings, in a stable order (see ``compile_skill``)."""
    return compile_skill(skill, models, target=target).problems


def compile_skill(skill: Skill, models: ModelLookup | None = None, *, target: bool = False) -> CompiledSkill:
    """Check and compile a skill.

    By default the skill is checked for this machine's preview: an acceleration the model
    library cannot use here is a warning (the preview falls back to the CPU). With ``target``
    the skill is checked for its device instead, where this machine's providers do not matter
    (the package exporter adds the target's operator checks).
    """
    # The saved file's order (nodes by id, links by endpoints): a skill lists the same problems
    # in the same order however its nodes were added, before and after a save.
    skill = skill.canonical()
    problems = check_settings(skill) + check_unknown_fields(skill)
    nodes, kinds = _compile_nodes(skill, problems)
    link_problems, children = _link(skill, nodes, kinds)
    problems += link_problems
    order, left = _topological_order(list(kinds), children)
    for node_id in sorted(_on_cycles(left, children)):
        problems.append(error("cycle", f"Node {node_id!r} is on a cycle; frames must flow one way.", node_id))
    ordered = [i for i in order if i in nodes] + [i for i in nodes if i not in set(order)]
    compiled = CompiledSkill(skill, problems, {i: nodes[i] for i in ordered}, order)
    problems += _check_roles(compiled)
    for node in (compiled.nodes[i] for i in order if i in nodes):
        problems += _resolve_models(node, models, skill.settings.acceleration, target)
        problems += _check_needs(node, compiled)
        problems += _check_labels(node, compiled)
        for check in node.spec.checks:
            problems += check(node, skill)
    problems += _check_shared_outputs(compiled)
    problems += _check_output_paths(compiled)
    # A message may quote a value a user typed: a URL's password never reaches a screen.
    compiled.problems = [
        replace(p, message=mask_secrets(p.message)) if has_secrets(p.message) else p for p in problems
    ]
    return compiled


def _compile_nodes(
    skill: Skill, problems: list[Problem]
) -> tuple[dict[str, CompiledNode], dict[str, NodeSpec | None]]:
    """Each node's id, type and parameters checked; the nodes of known types parsed."""
    nodes: dict[str, CompiledNode] = {}
    kinds: dict[str, NodeSpec | None] = {}
    id_counts = Counter(n.id for n in skill.nodes)
    for node in skill.nodes:
        if node.id in kinds:
            continue
        spec = kinds[node.id] = get_spec(node.type)
        if id_counts[node.id] > 1:
            problems.append(
                error(
                    "duplicate-node-id",
                    f"{id_counts[node.id]} nodes share the id {node.id!r}; ids must be unique.",
                    node.id,
                )
            )
        if not NODE_ID_RE.match(node.id):
            problems.append(
                error(
                    "node-id-invalid",
                    f"Node id {node.id!r} must be 1-64 letters, digits, '.', '_' or '-'.",
                    node.id,
                )
            )
        if spec is None:
            problems.append(
                error(
                    "unknown-node-type",
                    f"Unknown node type {node.type!r}: it is kept as a placeholder and cannot run. "
                    "Replace it, or update Skill Designer.",
                    node.id,
                )
            )
            continue
        node_problems, params = check_params(spec, node.id, node.params)
        problems += node_problems
        nodes[node.id] = CompiledNode(node.id, spec, node, params)
    return nodes, kinds


def _link(
    skill: Skill, nodes: dict[str, CompiledNode], kinds: dict[str, NodeSpec | None]
) -> tuple[list[Problem], dict[str, list[str]]]:
    """Links checked one by one, then fan-in; parents and children filled in. Returns the
    problems and the children of every node, of known type or not."""
    problems: list[Problem] = []
    names = {n.id: f"{n.name or n.type} ({n.id})" for n in skill.nodes}
    seen: set[tuple] = set()
    children: dict[str, list[str]] = defaultdict(list)
    parents: dict[str, list[str]] = defaultdict(list)
    for edge in skill.edges:
        problem = edge_problem(edge, kinds, names.__getitem__)
        if problem is None and edge.key() in seen:
            problem = warning("edge-duplicate", f"Link {edge_label(edge)} appears twice.", edge.target.node)
        if problem is not None:
            problems.append(problem)
            continue
        seen.add(edge.key())
        children[edge.source.node].append(edge.target.node)
        parents[edge.target.node].append(edge.source.node)
    for node_id, sources in parents.items():
        if len(sources) > 1:
            problems.append(
                error(
                    "fan-in",
                    f"Node {node_id!r} has {len(sources)} input links (from {', '.join(sorted(sources))}); "
                    "a node takes one input link: remove all but one.",
                    node_id,
                )
            )
    for node in nodes.values():
        node.parents, node.children = parents[node.id], children[node.id]
    return problems, children


def _topological_order(ids: list[str], children: dict[str, list[str]]) -> tuple[list[str], set[str]]:
    """Kahn's algorithm; returns the order and the nodes left on (or behind) cycles."""
    indegree = Counter({i: 0 for i in ids})
    for targets in children.values():
        for t in targets:
            indegree[t] += 1
    ready = [i for i in ids if indegree[i] == 0]
    order = []
    while ready:
        current = ready.pop()
        order.append(current)
        for t in children.get(current, ()):
            indegree[t] -= 1
            if indegree[t] == 0:
                ready.append(t)
    return order, set(ids) - set(order)


def _on_cycles(left: set[str], children: dict[str, list[str]]) -> set[str]:
    """The nodes Kahn's sort left that are on a cycle themselves, not merely downstream of one:
    those from which a path leads back to the node (strongly connected, Kosaraju)."""
    order: list[str] = []
    seen: set[str] = set()
    for start in sorted(left):
        if start in seen:
            continue
        seen.add(start)
        stack = [(start, iter(children.get(start, ())))]
        while stack:
            node, targets = stack[-1]
            for target in targets:
                if target in left and target not in seen:
                    seen.add(target)
                    stack.append((target, iter(children.get(target, ()))))
                    break
            else:
                order.append(node)
                stack.pop()
    parents: dict[str, list[str]] = defaultdict(list)
    for source in left:
        for target in children.get(source, ()):
            if target in left:
                parents[target].append(source)
    cyclic: set[str] = set()
    assigned: set[str] = set()
    for root in reversed(order):
        if root in assigned:
            continue
        component, frontier = {root}, [root]
        assigned.add(root)
        while frontier:
            for source in parents[frontier.pop()]:
                if source not in assigned:
                    assigned.add(source)
                    component.add(source)
                    frontier.append(source)
        if len(component) > 1 or root in children.get(root, ()):
            cyclic |= component
    return cyclic


def _check_roles(compiled: CompiledSkill) -> list[Problem]:
    """One camera, something to process and something to export, each linked."""
    problems = []
    cameras = sorted(n.id for n in compiled.with_role(Role.SOURCE))
    if not cameras:
        problems.append(error("no-camera", "Add a Camera Input: every skill starts with one."))
    for extra in cameras[1:]:
        problems.append(
            error("multiple-cameras", "A skill has exactly one Camera Input; remove this one.", extra)
        )
    process = compiled.with_role(Role.MODEL, Role.TRANSFORM)
    exports = compiled.with_role(Role.EXPORT)
    if not process:
        problems.append(
            error("no-process-node", "Add at least one Process node (a model, filter or gRPC node).")
        )
    if not exports:
        problems.append(error("no-export-node", "Add at least one Export node, such as an Insights Log."))
    for node_id in cameras:
        if not compiled.nodes[node_id].children:
            problems.append(error("camera-unconnected", "Link the Camera Input to a Process node.", node_id))
    for node in sorted(process + exports, key=lambda n: (n.spec.role is Role.EXPORT, n.id)):
        if not node.parents:
            problems.append(error("input-unconnected", f"{node.title} has no input link.", node.id))
        if not node.children and node.spec.role is not Role.EXPORT:
            problems.append(
                error(
                    "output-unconnected",
                    f"{node.title} leads nowhere: link its output to another node.",
                    node.id,
                )
            )
    return problems


def _resolve_models(
    node: CompiledNode, models: ModelLookup | None, acceleration: str, target: bool
) -> list[Problem]:
    """Each model a node names (parameters marked MODEL) looked up in the library; its summary
    kept on the node for the rules and parts that follow."""
    if models is None:
        return []
    problems: list[Problem] = []
    for name, model_id in node.marked(Mark.MODEL):
        if not isinstance(model_id, str) or PLACEHOLDER_RE.search(model_id):
            continue
        try:
            summary = models.describe(model_id)
        except Exception as exc:  # a broken library is a problem to show, not a crash
            message = f"Cannot look up model {model_id!r} in the model library: {exc}"
            problems.append(error("model-library-error", message, node.id, name))
            continue
        if summary is None:
            message = (
                f"Model {model_id!r} is not in the model library ({_known_models(models)}): "
                "add it with `skill-designer models add`, or choose another."
            )
            problems.append(error("model-missing", message, node.id, name))
            continue
        node.model = summary
        if not summary.accelerations:
            message = f"Model {model_id!r} cannot run on {acceleration} (it runs on nothing here)."
            problems.append(error("acceleration-unsupported", message, node.id, name))
        elif acceleration not in summary.accelerations and not target:
            message = (
                f"This machine cannot run model {model_id!r} on {acceleration} "
                f"(here: {', '.join(sorted(summary.accelerations))}): the preview runs it on the CPU. "
                "Export checks it for the device."
            )
            problems.append(warning("preview-on-cpu", message, node.id, name))
        # A model's form may suit some devices only (an INT8 or float16 optimized entry): the
        # library says why for the accelerations it does not suit; checked for the device.
        note = getattr(summary, "target_notes", {}).get(acceleration) if target else None
        if note:
            problems.append(warning("model-form-target", f"Model {model_id!r}: {note}", node.id, name))
    return problems


def _check_needs(node: CompiledNode, compiled: CompiledSkill) -> list[Problem]:
    """What the node's input needs (a tracker before a line, boxes before a classifier) comes
    from some node upstream, however many hops away. Nodes are visited in topological order,
    so every parent's ``upstream`` is already known."""
    upstream: frozenset[Data] = frozenset()
    for parent_id in node.parents:
        parent = compiled.nodes.get(parent_id)
        if parent is not None:
            upstream |= parent.upstream | parent.provides()
    node.upstream = upstream
    return [
        warning(need.code, need.message, node.id)
        for need in node.spec.needs()
        if need.data not in upstream and need.applies(node)
    ]


def _labels_out(node: CompiledNode) -> tuple[str, ...] | None:
    """The labels objects can have after ``node``: a node that makes boxes or classes adds its
    model's labels (unknown without a library model that has labels); others pass theirs on."""
    if not node.provides() & {Data.BOXES, Data.CLASSES}:
        return node.upstream_labels
    own = tuple(getattr(node.model, "labels", ()) or ()) if node.model is not None else ()
    if not own or node.upstream_labels is None:
        return None
    return tuple(dict.fromkeys(node.upstream_labels + own))


def _check_labels(node: CompiledNode, compiled: CompiledSkill) -> list[Problem]:
    """Labels a node is set to keep, count or mask (parameters marked LABELS) that no model
    upstream has: such a node silently matches nothing. Visited in topological order."""
    known: tuple[str, ...] | None = ()
    for parent_id in node.parents:
        parent = compiled.nodes.get(parent_id)
        out = _labels_out(parent) if parent is not None else None
        known = None if known is None or out is None else tuple(dict.fromkeys(known + out))
    node.upstream_labels = known
    if not node.upstream_labels:
        return []
    problems = []
    for name, value in node.marked(Mark.LABELS):
        if not isinstance(value, list):
            continue
        for label in value:
            if not isinstance(label, str) or PLACEHOLDER_RE.search(label):
                continue
            if label.strip() in node.upstream_labels:
                continue
            close = difflib.get_close_matches(label.strip(), node.upstream_labels, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else "choose one of the upstream model's labels."
            message = (
                f"No model before this node has the label {label.strip()!r}, so it never matches: {hint}"
            )
            problems.append(warning("label-unknown", message, node.id, name))
    return problems


def _check_shared_outputs(compiled: CompiledSkill) -> list[Problem]:
    """Two nodes writing one file (parameters marked WRITES) interleave their lines into garbage."""
    problems = []
    first: dict[str, CompiledNode] = {}
    for node_id in sorted(compiled.nodes):
        node = compiled.nodes[node_id]
        for name, path in node.marked(Mark.WRITES):
            if not isinstance(path, str) or PLACEHOLDER_RE.search(path):
                continue
            key = posixpath.normpath(path.replace("\\", "/"))
            if key not in first:
                first[key] = node
                continue
            message = (
                f"{first[key].title} already writes {path!r}; two writers on one file corrupt it: "
                "choose another file."
            )
            problems.append(error("output-file-shared", message, node.id, name))
    return problems


def _check_output_paths(compiled: CompiledSkill) -> list[Problem]:
    """A file or folder a node writes (parameters marked WRITES, WRITES_FOLDER) belongs in the
    run's output folder: an absolute path or one climbing out with ``..`` writes elsewhere, which a
    package refuses on the device (``path_escape``); here it is a warning."""
    problems = []
    for node in compiled.nodes.values():
        for mark in (Mark.WRITES, Mark.WRITES_FOLDER):
            for name, value in node.marked(mark):
                if not isinstance(value, str) or PLACEHOLDER_RE.search(value):
                    continue
                reason = path_escape(value)
                if reason is not None:
                    message = (
                        f"{value!r} {reason}: it is written outside the run's output folder; a "
                        "package refuses it on the device. Use a path relative to the output folder."
                    )
                    problems.append(warning("output-outside", message, node.id, name))
    return problems


def _is_loopback(value: str) -> bool:
    """Whether an address (host:port, scheme://host:port/path) names the loopback interface."""
    from urllib.parse import urlsplit

    text = value.strip()
    host = urlsplit(text if "://" in text else f"//{text}").hostname or ""
    return host == "localhost" or host.startswith("127.") or host == "::1"


def _known_models(models: ModelLookup) -> str:
    """The ids a library holds, for a message about one that is missing."""
    try:
        ids = sorted(entry.id for entry in models.list())  # type: ignore[attr-defined]
    except Exception:  # a lookup without list(), or a library that cannot be read now
        return "its models cannot be listed"
    return "it has " + ", ".join(ids) if ids else "it is empty"
