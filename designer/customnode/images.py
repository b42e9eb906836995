"""Image codec of the contract: numpy / BMP / JPEG bytes <-> H x W x 3 uint8 arrays.

Arrays handed in and out are BGR (OpenCV's order). ``color_format`` describes
the channel order of the pixels on the wire: the raw bytes for NUMPY, the
array that decoding the file gives for BMP and JPEG.
"""

from __future__ import annotations

import cv2
import numpy as np

from designer.customnode import custom_node_pb2 as pb2
from designer.customnode.errors import ImageCodecError

_EXTENSIONS: dict[int, str] = {pb2.IMAGE_TYPE_BMP: ".bmp", pb2.IMAGE_TYPE_JPEG: ".jpg"}
_JPEG_START = b"\xff\xd8\xff"
_JPEG_END = b"\xff\xd9"
_BMP_START = b"BM"
_PNG_START = b"\x89PNG\r\n\x1a\n"


def check_frame(image: object) -> np.ndarray:
    """Return ``image`` if it is an H x W x 3 uint8 array, else raise ImageCodecError."""
    if not isinstance(image, np.ndarray):
        raise ImageCodecError(f"expected a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or image.size == 0:
        raise ImageCodecError(
            f"expected an H x W x 3 uint8 array, got shape {image.shape} dtype {image.dtype}"
        )
    return image


def encode_image(
    image: np.ndarray,
    image_type: int = pb2.IMAGE_TYPE_NUMPY,
    *,
    color_format: pb2.ColorFormat = pb2.COLOR_FORMAT_BGR,
    jpeg_quality: int = 90,
    with_pixels: bool = True,
) -> pb2.Image:
    """Encode a BGR frame as the contract's Image; ``with_pixels=False`` sends properties only."""
    check_frame(image)
    message = pb2.Image()
    message.properties.height, message.properties.width = image.shape[:2]
    message.properties.color_format = color_format
    if with_pixels:
        message.image_pointer = encode_pixels(image, image_type, color_format, jpeg_quality)
    return message


def encode_pixels(
    image: np.ndarray,
    image_type: int = pb2.IMAGE_TYPE_NUMPY,
    color_format: int = pb2.COLOR_FORMAT_BGR,
    jpeg_quality: int = 90,
) -> bytes:
    """The ``image_pointer`` bytes of a BGR frame (for filling a message in place)."""
    if color_format == pb2.COLOR_FORMAT_RGB:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    elif color_format != pb2.COLOR_FORMAT_BGR:
        raise ImageCodecError(f"unknown color_format {color_format}")
    if image_type == pb2.IMAGE_TYPE_NUMPY:
        return np.ascontiguousarray(image).tobytes()
    if image_type in _EXTENSIONS:
        jpeg = image_type == pb2.IMAGE_TYPE_JPEG
        params = [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)] if jpeg else []
        ok, buffer = cv2.imencode(_EXTENSIONS[image_type], image, params)
        if not ok:
            height, width = image.shape[:2]
            raise ImageCodecError(f"OpenCV could not encode a {width}x{height} frame")
        return buffer.tobytes()  # real bytes: POSS sent the ndarray, which protobuf may refuse
    raise ImageCodecError(f"unknown image_type {image_type}; expected 0 (NUMPY), 1, or 2")


def decode_image(
    image: pb2.Image,
    image_type: int | None = None,
    *,
    default_size: tuple[int, int] | None = None,
) -> np.ndarray:
    """Decode the contract's Image into a BGR array.

    The encoding is sniffed from the bytes (BMP / JPEG / PNG signatures, else
    raw bytes of exactly height x width x 3), because servers do not always
    answer in the encoding they asked for; ``image_type`` only breaks the tie
    when raw pixels happen to start like a file signature. ``default_size``
    ``(height, width)`` stands in for properties a server left at 0 x 0.
    """
    data = image.image_pointer
    height, width = image.properties.height, image.properties.width
    if height == 0 and width == 0 and default_size is not None:
        if not data.startswith((_BMP_START, _JPEG_START, _PNG_START)):
            height, width = default_size
    if not data:
        raise ImageCodecError("the image carries no bytes")
    raw_size = height * width * 3 if height > 0 and width > 0 else 0
    if image_type == pb2.IMAGE_TYPE_NUMPY and len(data) == raw_size:
        array = _raw(data, height, width)
    elif data.startswith((_BMP_START, _JPEG_START, _PNG_START)):
        try:
            array = _decode_file(data)
        except ImageCodecError:
            if len(data) != raw_size:
                raise
            array = _raw(data, height, width)
    elif len(data) == raw_size:
        array = _raw(data, height, width)
    else:
        raise ImageCodecError(
            f"{len(data)} bytes are neither a BMP/JPEG file nor raw pixels of the declared "
            f"{width}x{height}x3 frame ({raw_size} bytes)"
        )
    if raw_size and array.shape[:2] != (height, width):
        raise ImageCodecError(
            f"image decodes to {array.shape[1]}x{array.shape[0]} but its properties say {width}x{height}"
        )
    if image.properties.color_format == pb2.COLOR_FORMAT_RGB:
        array = cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
    elif image.properties.color_format != pb2.COLOR_FORMAT_BGR:
        raise ImageCodecError(f"unknown color_format {image.properties.color_format}")
    return array


def decode_request_image(request: pb2.ProcessRequest) -> np.ndarray | None:
    """The request frame as a BGR array, or None when the client sent no pixels."""
    if not request.frame.image.image_pointer:
        return None
    return decode_image(request.frame.image)


def _raw(data: bytes, height: int, width: int) -> np.ndarray:
    # frombuffer is read-only and shares the message's memory; copy so callers may draw on it
    return np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3).copy()


def _decode_file(data: bytes) -> np.ndarray:
    # OpenCV happily returns a half-grey picture for a truncated JPEG: check the ends first
    if data.startswith(_JPEG_START) and not data.rstrip(b"\x00").endswith(_JPEG_END):
        raise ImageCodecError(f"truncated JPEG ({len(data)} bytes, no end-of-image marker)")
    if data.startswith(_BMP_START):
        declared = int.from_bytes(data[2:6], "little") if len(data) >= 6 else 0
        if len(data) < max(declared, 54):
            raise ImageCodecError(f"truncated BMP ({len(data)} of {declared} bytes)")
    array = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if array is None:
        raise ImageCodecError(f"corrupt image file ({len(data)} bytes): OpenCV cannot decode it")
    return array
