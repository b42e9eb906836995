"""What an edit means for a running preview: new parameters for the running engine, or a restart.

Qt-free on purpose: it compares two Skills, so it is tested without a window. A parameter
change reaches the engine at once (``Engine.update_params``); anything that changes the graph,
the source or the model a node loads needs a new run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from designer.core.skill import Role, Skill, get_spec
from designer.core.skill.fields import Mark


@dataclass
class SkillChange:
    restart: str = ""  # why the run must start again; empty when parameters suffice
    params: dict[str, dict] = field(default_factory=dict)  # node id -> changed values

    @property
    def empty(self) -> bool:
        return not self.restart and not self.params


def classify(old: Skill, new: Skill) -> SkillChange:
    """How to bring a run of ``old`` to ``new``: the reason for a restart, or the changed values."""
    if (old.settings.fps, old.settings.acceleration) != (new.settings.fps, new.settings.acceleration):
        return SkillChange(restart="the skill's frame rate or acceleration changed")
    old_nodes = {n.id: n for n in old.nodes}
    new_nodes = {n.id: n for n in new.nodes}
    if {i: n.type for i, n in old_nodes.items()} != {i: n.type for i, n in new_nodes.items()}:
        return SkillChange(restart="nodes were added, removed or replaced")
    if {e.key() for e in old.edges} != {e.key() for e in new.edges}:
        return SkillChange(restart="links changed")
    change = SkillChange()
    for node_id, node in new_nodes.items():
        before = old_nodes[node_id].params
        if before == node.params:
            continue
        spec = get_spec(node.type)
        if spec is None or spec.role is Role.SOURCE:
            return SkillChange(restart=f"the camera changed (node {node_id})")
        defaults = spec.defaults()
        values = {k: v for k, v in node.params.items() if before.get(k, defaults.get(k)) != v}
        values.update({k: defaults[k] for k in before.keys() - node.params.keys() if k in defaults})
        # Parameters marked RESTART swap what a node loads: a new run is clearer than a silent reopen.
        swapped = sorted(values.keys() & set(spec.fields_marked(Mark.RESTART)))
        if swapped:
            return SkillChange(restart=f"node {node_id} must reopen ({', '.join(swapped)} changed)")
        if values:
            change.params[node_id] = values
    return change
