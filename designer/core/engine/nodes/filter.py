"""Filter: keep objects by label and confidence. Attributes and events pass untouched."""

from __future__ import annotations

from designer.core.engine.frame import Frame
from designer.core.engine.runtime import NodeRuntime
from designer.core.skill.catalog.process import FilterParams


class FilterRuntime(NodeRuntime[FilterParams]):
    def process(self, frame: Frame) -> Frame:
        labels = set(self.params.labels)
        threshold = self.params.confidence_threshold / 100.0
        frame.objects = [
            obj
            for obj in frame.objects
            if (not labels or obj.label in labels) and obj.confidence >= threshold
        ]
        return frame
