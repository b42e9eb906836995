"""Send Insights to IoT Edge Module: to another module on the device, through edgeHub.

The client comes from the module's IoT Edge environment (or, for local debugging
and tests, ``EdgeHubConnectionString`` + ``EdgeModuleCACertificateFile``). Messages
go to the output named by ``edge_output_name``, the rule the package exporter uses
to write the matching route ``FROM /messages/modules/<this>/outputs/<output> INTO
BrokeredEndpoint("/modules/<module>/inputs/<input>")``.
"""

from __future__ import annotations

from designer.core.engine.nodes.iothub import EDGE_DEBUG_ENV, EDGE_ENV, IotClientExport, in_edge_environment
from designer.core.skill.catalog.exports import IotEdgeParams, edge_output_name


class IotEdgeRuntime(IotClientExport[IotEdgeParams]):
    def connect(self) -> None:
        if not in_edge_environment():
            raise self.fail(
                "not running as an IoT Edge module: none of the IoT Edge variables "
                f"({', '.join(EDGE_ENV)}, or {' + '.join(EDGE_DEBUG_ENV)} for local debugging) are set"
            )
        self.from_edge_environment()
        self.output = edge_output_name(self.params.module_name, self.params.module_input)
        self.endpoint = f"the IoT Edge hub (output '{self.output}')"

    def update(self, params: IotEdgeParams) -> bool:
        if params.model_copy(update={"delay_buffer_s": self.params.delay_buffer_s}) != self.params:
            return False
        self.params = params
        return True
