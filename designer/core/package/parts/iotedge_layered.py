"""``deploy/iotedge/layered.json``: the skill as a layered IoT Edge deployment
(``az iot edge deployment create --layered``): it adds the skill's modules and routes to what a
device already runs (its base deployment, other skills, the module an IoT Edge Module export
sends to) where ``deployment.json`` (``set-modules``) replaces everything on the device."""

from __future__ import annotations

from designer.core.package.context import ExportContext
from designer.core.package.parts import PartOutput, iotedge
from designer.core.skill.compiled import CompiledSkill

MODULES = "properties.desired.modules."
ROUTES = "properties.desired.routes."


def layered(compiled: CompiledSkill, context: ExportContext) -> dict:
    modules, routes = iotedge.modules_and_routes(compiled, context)
    return {
        "modulesContent": {
            "$edgeAgent": {MODULES + name: module for name, module in sorted(modules.items())},
            "$edgeHub": {ROUTES + name: route for name, route in sorted(routes.items())},
        }
    }


def part(compiled: CompiledSkill, context: ExportContext) -> PartOutput:
    return PartOutput({"deploy/iotedge/layered.json": iotedge.dump(layered(compiled, context))})
