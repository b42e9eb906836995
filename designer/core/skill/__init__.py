"""The skill model: file format, node catalog, validation, parameters and KAN import."""

from designer.core.skill.catalog import CATALOG, SPECS, Group, NodeSpec, Role, get_spec
from designer.core.skill.compiled import CompiledNode, CompiledSkill, compile_skill, validate_skill
from designer.core.skill.document import Edge, Layout, Node, PortRef, Position, Settings, Skill, Tag
from designer.core.skill.files import (
    SkillFileError,
    dump_skill,
    load_skill,
    parse_skill,
    save_skill,
)
from designer.core.skill.params import ParamError, find_placeholders, substitute
from designer.core.skill.problems import Problem, Severity
from designer.core.skill.validate import has_errors

__all__ = [
    "CATALOG",
    "SPECS",
    "CompiledNode",
    "CompiledSkill",
    "Edge",
    "Group",
    "Layout",
    "Node",
    "NodeSpec",
    "ParamError",
    "PortRef",
    "Position",
    "Problem",
    "Role",
    "Settings",
    "Severity",
    "Skill",
    "SkillFileError",
    "Tag",
    "compile_skill",
    "dump_skill",
    "find_placeholders",
    "get_spec",
    "has_errors",
    "load_skill",
    "parse_skill",
    "save_skill",
    "substitute",
    "validate_skill",
]
