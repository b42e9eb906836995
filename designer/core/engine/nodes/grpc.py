"""gRPC Custom Processing: a frame goes to the user's server and its answer comes back.

Endpoint nodes dial their URL; container nodes are reached at their local
preview endpoint (the user runs the container, or any server, locally).
"""

from __future__ import annotations

import time

from designer.core.engine.frame import (
    EventMeta,
    Frame,
    ObjectMeta,
    event_from_dict,
    insights_meta,
    object_from_dict,
)
from designer.core.engine.runtime import NodeRuntime
from designer.core.skill.catalog.process import GrpcContainerParams, GrpcEndpointParams
from designer.customnode.client import CustomNodeClient, FrameData, ProcessResult
from designer.customnode.errors import CustomNodeError, DeadlineExceededError, ServerUnreachableError

BOX_TOLERANCE = 1e-3  # boxes travel as float32 on the wire
LOSSLESS_RETRY_S = 10.0  # how long a lossless run retries a server that stalls or drops
_TRANSIENT = (ServerUnreachableError, DeadlineExceededError)  # worth retrying the same frame


def _endpoint(params: GrpcEndpointParams | GrpcContainerParams) -> str:
    if isinstance(params, GrpcContainerParams):
        return params.local_endpoint
    return params.endpoint_url


def docker_run_line(params: GrpcContainerParams) -> str:
    """The command that starts a container node's image the way the preview reaches it.

    Environment variables are passed by name only (``-e NAME``: Docker takes the value from
    the shell), so a secret in them is never printed.
    """
    env = "".join(f" -e {row.name}" for row in params.env)
    return f"docker run --rm -p {params.port}:{params.port}{env} {params.container_image}"


def container_hint(node_id: str, params: GrpcContainerParams) -> str:
    """What a user must know when a container node's endpoint does not answer."""
    return (
        f"node {node_id} is the container '{params.container_name}', which run does not start: "
        f"start it first ({docker_run_line(params)}), or pass --start-containers"
    )


def _same_box(a: ObjectMeta, b: ObjectMeta) -> bool:
    if a.label != b.label or a.bbox is None or b.bbox is None:
        return False
    return all(
        abs(x - y) <= BOX_TOLERANCE
        for x, y in zip(
            (a.bbox.l, a.bbox.t, a.bbox.w, a.bbox.h), (b.bbox.l, b.bbox.t, b.bbox.w, b.bbox.h), strict=True
        )
    )


def merge_objects(upstream: list[ObjectMeta], returned: list[ObjectMeta]) -> list[ObjectMeta]:
    """Returned objects that are upstream ones (same label and box) update them; others are added.

    So a server that annotates the boxes it was sent (a tracker, a classifier)
    does not duplicate them, and a detector's new boxes are appended.
    """
    merged = list(upstream)
    for obj in returned:
        match = next((i for i, old in enumerate(merged) if _same_box(old, obj)), None)
        if match is None:
            merged.append(obj)
            continue
        old = merged[match]
        known = {(a.name, a.label) for a in old.attributes}
        old.attributes.extend(a for a in obj.attributes if (a.name, a.label) not in known)
        old.tracking_info = obj.tracking_info or old.tracking_info
        old.confidence = obj.confidence
    return merged


class GrpcRuntime(NodeRuntime[GrpcEndpointParams | GrpcContainerParams]):
    _answered = False  # the server answered a frame in this run
    _given_up = False  # a lossless retry window ran out; frames fail at once until it answers

    def open(self) -> None:
        """Create the client; it connects lazily, so a server that is down now may come up later."""
        self._reported: set[str] = set()
        try:
            self.client = CustomNodeClient(
                _endpoint(self.params),
                instance_id=self.context.instance_id,
                skill_id=self.context.skill_id,
                device_id=self.context.device_id,
                timeout=self.params.timeout_s,
            )
        except (CustomNodeError, ValueError) as exc:
            raise self.fail(str(exc)) from None

    def process(self, frame: Frame) -> Frame:
        result = self._call(
            FrameData(
                image=frame.image,
                frame_id=frame.frame_id,
                timestamp=frame.timestamp,
                insights_meta=insights_meta(frame),
            )
        )
        if result.image is not None:
            result.image.flags.writeable = False
            frame.image = result.image
        for fix in result.fixes:  # each kind once a run: a server does the same on every frame
            if fix not in self._reported:
                self._reported.add(fix)
                self.context.warn(self.node_id, f"the server's answer was fixed: {fix} (reported once)")
        if result.insights_meta is not None:
            returned = [object_from_dict(o) for o in result.insights_meta.get("objects_meta", [])]
            events = [event_from_dict(e) for e in result.insights_meta.get("events_meta", [])]
            stamped: list[ObjectMeta | EventMeta] = [*returned, *events]
            for item in stamped:  # no timestamp on the wire: the frame's, not 1970
                if not item.timestamp:
                    item.timestamp = frame.timestamp
            frame.objects = merge_objects(frame.objects, returned)
            frame.events.extend(events)
            frame.other_meta.update(result.insights_meta.get("other_meta") or {})
        return frame

    def _call(self, data: FrameData) -> ProcessResult:
        """One exchange; in a lossless run, a server that answered before and now stalls or drops
        is retried (with the client's backoff) for up to LOSSLESS_RETRY_S before the frame fails.

        A server that never answered, or one already given up on, fails frames at once, so a
        dead server does not hold every frame of a file for the retry window.
        """
        give_up = time.monotonic() + LOSSLESS_RETRY_S
        while True:
            try:
                result = self.client.process(data)
            except _TRANSIENT as exc:
                retry = (
                    self.context.lossless
                    and self._answered
                    and not self._given_up
                    and time.monotonic() < give_up
                    and not self.context.stopping.is_set()
                )
                if not retry:
                    self._given_up = self._answered
                    message = str(exc)
                    if isinstance(self.params, GrpcContainerParams) and isinstance(
                        exc, ServerUnreachableError
                    ):
                        message += f" ({container_hint(self.node_id, self.params)})"
                    raise self.fail(message) from None
                self.context.stopping.wait(max(self.client.reconnect_in, 0.05))
                continue
            except CustomNodeError as exc:
                raise self.fail(str(exc)) from None
            self._answered, self._given_up = True, False
            return result

    def update(self, params: GrpcEndpointParams | GrpcContainerParams) -> bool:
        changed = _endpoint(params) != _endpoint(self.params) or params.timeout_s != self.params.timeout_s
        self.params = params
        return not changed

    def close(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            client.close()
