from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ImageType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IMAGE_TYPE_NUMPY: _ClassVar[ImageType]
    IMAGE_TYPE_BMP: _ClassVar[ImageType]
    IMAGE_TYPE_JPEG: _ClassVar[ImageType]

class ProcessRequestType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FRAME_WITH_IMAGE: _ClassVar[ProcessRequestType]
    FRAME_WITHOUT_IMAGE: _ClassVar[ProcessRequestType]

class ProcessResponseType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IMAGE_ONLY: _ClassVar[ProcessResponseType]
    INSIGHTS_META_ONLY: _ClassVar[ProcessResponseType]
    IMAGE_AND_INSIGHTS_META: _ClassVar[ProcessResponseType]
    EMPTY: _ClassVar[ProcessResponseType]

class ColorFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COLOR_FORMAT_BGR: _ClassVar[ColorFormat]
    COLOR_FORMAT_RGB: _ClassVar[ColorFormat]

class RoiType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LINE: _ClassVar[RoiType]
    POLYGON: _ClassVar[RoiType]
IMAGE_TYPE_NUMPY: ImageType
IMAGE_TYPE_BMP: ImageType
IMAGE_TYPE_JPEG: ImageType
FRAME_WITH_IMAGE: ProcessRequestType
FRAME_WITHOUT_IMAGE: ProcessRequestType
IMAGE_ONLY: ProcessResponseType
INSIGHTS_META_ONLY: ProcessResponseType
IMAGE_AND_INSIGHTS_META: ProcessResponseType
EMPTY: ProcessResponseType
COLOR_FORMAT_BGR: ColorFormat
COLOR_FORMAT_RGB: ColorFormat
LINE: RoiType
POLYGON: RoiType

class HandshakeRequest(_message.Message):
    __slots__ = ("seq", "instance_id", "skill_id", "device_id")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    SKILL_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    seq: int
    instance_id: str
    skill_id: str
    device_id: str
    def __init__(self, seq: _Optional[int] = ..., instance_id: _Optional[str] = ..., skill_id: _Optional[str] = ..., device_id: _Optional[str] = ...) -> None: ...

class HandshakeResponse(_message.Message):
    __slots__ = ("ack", "image_type", "process_request_type", "process_response_type")
    ACK_FIELD_NUMBER: _ClassVar[int]
    IMAGE_TYPE_FIELD_NUMBER: _ClassVar[int]
    PROCESS_REQUEST_TYPE_FIELD_NUMBER: _ClassVar[int]
    PROCESS_RESPONSE_TYPE_FIELD_NUMBER: _ClassVar[int]
    ack: int
    image_type: ImageType
    process_request_type: ProcessRequestType
    process_response_type: ProcessResponseType
    def __init__(self, ack: _Optional[int] = ..., image_type: _Optional[_Union[ImageType, str]] = ..., process_request_type: _Optional[_Union[ProcessRequestType, str]] = ..., process_response_type: _Optional[_Union[ProcessResponseType, str]] = ...) -> None: ...

class ProcessRequest(_message.Message):
    __slots__ = ("seq", "frame")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    FRAME_FIELD_NUMBER: _ClassVar[int]
    seq: int
    frame: Frame
    def __init__(self, seq: _Optional[int] = ..., frame: _Optional[_Union[Frame, _Mapping]] = ...) -> None: ...

class ProcessResponse(_message.Message):
    __slots__ = ("ack", "image", "insights_meta")
    ACK_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    INSIGHTS_META_FIELD_NUMBER: _ClassVar[int]
    ack: int
    image: Image
    insights_meta: InsightsMeta
    def __init__(self, ack: _Optional[int] = ..., image: _Optional[_Union[Image, _Mapping]] = ..., insights_meta: _Optional[_Union[InsightsMeta, _Mapping]] = ...) -> None: ...

class Frame(_message.Message):
    __slots__ = ("image", "insights_meta", "timestamp", "roi", "frame_id", "datetime")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    INSIGHTS_META_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    ROI_FIELD_NUMBER: _ClassVar[int]
    FRAME_ID_FIELD_NUMBER: _ClassVar[int]
    DATETIME_FIELD_NUMBER: _ClassVar[int]
    image: Image
    insights_meta: InsightsMeta
    timestamp: Timestamp
    roi: Roi
    frame_id: str
    datetime: str
    def __init__(self, image: _Optional[_Union[Image, _Mapping]] = ..., insights_meta: _Optional[_Union[InsightsMeta, _Mapping]] = ..., timestamp: _Optional[_Union[Timestamp, _Mapping]] = ..., roi: _Optional[_Union[Roi, _Mapping]] = ..., frame_id: _Optional[str] = ..., datetime: _Optional[str] = ...) -> None: ...

class Image(_message.Message):
    __slots__ = ("image_pointer", "properties")
    IMAGE_POINTER_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    image_pointer: bytes
    properties: ImageProperties
    def __init__(self, image_pointer: _Optional[bytes] = ..., properties: _Optional[_Union[ImageProperties, _Mapping]] = ...) -> None: ...

class ImageProperties(_message.Message):
    __slots__ = ("height", "width", "color_format")
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    COLOR_FORMAT_FIELD_NUMBER: _ClassVar[int]
    height: int
    width: int
    color_format: ColorFormat
    def __init__(self, height: _Optional[int] = ..., width: _Optional[int] = ..., color_format: _Optional[_Union[ColorFormat, str]] = ...) -> None: ...

class InsightsMeta(_message.Message):
    __slots__ = ("objects_meta", "events_meta", "other_meta")
    class OtherMetaEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    OBJECTS_META_FIELD_NUMBER: _ClassVar[int]
    EVENTS_META_FIELD_NUMBER: _ClassVar[int]
    OTHER_META_FIELD_NUMBER: _ClassVar[int]
    objects_meta: _containers.RepeatedCompositeFieldContainer[ObjectMeta]
    events_meta: _containers.RepeatedCompositeFieldContainer[EventMeta]
    other_meta: _containers.ScalarMap[str, str]
    def __init__(self, objects_meta: _Optional[_Iterable[_Union[ObjectMeta, _Mapping]]] = ..., events_meta: _Optional[_Iterable[_Union[EventMeta, _Mapping]]] = ..., other_meta: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ObjectMeta(_message.Message):
    __slots__ = ("timestamp", "label", "confidence", "inference_id", "attributes", "bbox", "tracking_info")
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    INFERENCE_ID_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    BBOX_FIELD_NUMBER: _ClassVar[int]
    TRACKING_INFO_FIELD_NUMBER: _ClassVar[int]
    timestamp: Timestamp
    label: str
    confidence: float
    inference_id: str
    attributes: _containers.RepeatedCompositeFieldContainer[ObjectMetaAttribute]
    bbox: BBox
    tracking_info: TrackingInfo
    def __init__(self, timestamp: _Optional[_Union[Timestamp, _Mapping]] = ..., label: _Optional[str] = ..., confidence: _Optional[float] = ..., inference_id: _Optional[str] = ..., attributes: _Optional[_Iterable[_Union[ObjectMetaAttribute, _Mapping]]] = ..., bbox: _Optional[_Union[BBox, _Mapping]] = ..., tracking_info: _Optional[_Union[TrackingInfo, _Mapping]] = ...) -> None: ...

class ObjectMetaAttribute(_message.Message):
    __slots__ = ("timestamp", "name", "label", "confidence", "inference_id")
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    INFERENCE_ID_FIELD_NUMBER: _ClassVar[int]
    timestamp: Timestamp
    name: str
    label: str
    confidence: float
    inference_id: str
    def __init__(self, timestamp: _Optional[_Union[Timestamp, _Mapping]] = ..., name: _Optional[str] = ..., label: _Optional[str] = ..., confidence: _Optional[float] = ..., inference_id: _Optional[str] = ...) -> None: ...

class BBox(_message.Message):
    __slots__ = ("l", "t", "w", "h")
    L_FIELD_NUMBER: _ClassVar[int]
    T_FIELD_NUMBER: _ClassVar[int]
    W_FIELD_NUMBER: _ClassVar[int]
    H_FIELD_NUMBER: _ClassVar[int]
    l: float
    t: float
    w: float
    h: float
    def __init__(self, l: _Optional[float] = ..., t: _Optional[float] = ..., w: _Optional[float] = ..., h: _Optional[float] = ...) -> None: ...

class TrackingInfo(_message.Message):
    __slots__ = ("timestamp", "tracking_id", "speed", "direction")
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    TRACKING_ID_FIELD_NUMBER: _ClassVar[int]
    SPEED_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    timestamp: Timestamp
    tracking_id: str
    speed: float
    direction: Direction
    def __init__(self, timestamp: _Optional[_Union[Timestamp, _Mapping]] = ..., tracking_id: _Optional[str] = ..., speed: _Optional[float] = ..., direction: _Optional[_Union[Direction, _Mapping]] = ...) -> None: ...

class Direction(_message.Message):
    __slots__ = ("x", "y")
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    x: float
    y: float
    def __init__(self, x: _Optional[float] = ..., y: _Optional[float] = ...) -> None: ...

class EventMeta(_message.Message):
    __slots__ = ("timestamp", "type", "event_id", "related_ids", "properties")
    class PropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    RELATED_IDS_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    timestamp: Timestamp
    type: str
    event_id: str
    related_ids: _containers.RepeatedScalarFieldContainer[str]
    properties: _containers.ScalarMap[str, str]
    def __init__(self, timestamp: _Optional[_Union[Timestamp, _Mapping]] = ..., type: _Optional[str] = ..., event_id: _Optional[str] = ..., related_ids: _Optional[_Iterable[str]] = ..., properties: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Point(_message.Message):
    __slots__ = ("x", "y")
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    x: float
    y: float
    def __init__(self, x: _Optional[float] = ..., y: _Optional[float] = ...) -> None: ...

class Roi(_message.Message):
    __slots__ = ("name", "type", "id", "value")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: RoiType
    id: str
    value: str
    def __init__(self, name: _Optional[str] = ..., type: _Optional[_Union[RoiType, str]] = ..., id: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class Timestamp(_message.Message):
    __slots__ = ("seconds", "nanos")
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    NANOS_FIELD_NUMBER: _ClassVar[int]
    seconds: int
    nanos: int
    def __init__(self, seconds: _Optional[int] = ..., nanos: _Optional[int] = ...) -> None: ...
