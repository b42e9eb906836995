"""The image codec node authors and the client share."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from designer.customnode import ImageCodecError, decode_image, encode_image, pb2

from .conftest import make_image


@pytest.mark.parametrize("color_format", [pb2.COLOR_FORMAT_BGR, pb2.COLOR_FORMAT_RGB])
@pytest.mark.parametrize("image_type", [pb2.IMAGE_TYPE_NUMPY, pb2.IMAGE_TYPE_BMP])
def test_lossless_encodings_round_trip_exactly(image_type, color_format):
    image = make_image()
    message = encode_image(image, image_type, color_format=color_format)
    assert (message.properties.height, message.properties.width) == (48, 64)
    np.testing.assert_array_equal(decode_image(message), image)


def test_numpy_encoding_is_the_raw_c_order_bytes_in_the_declared_colour_order():
    image = make_image()
    assert encode_image(image).image_pointer == image.tobytes()
    rgb = encode_image(image, color_format=pb2.COLOR_FORMAT_RGB).image_pointer
    assert rgb == image[:, :, ::-1].tobytes()


def test_file_encodings_are_real_files_opencv_reads():
    image = make_image()
    bmp = encode_image(image, pb2.IMAGE_TYPE_BMP).image_pointer
    jpeg = encode_image(image, pb2.IMAGE_TYPE_JPEG).image_pointer
    assert isinstance(bmp, bytes) and bmp.startswith(b"BM")
    assert jpeg.startswith(b"\xff\xd8\xff")
    decoded = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert np.abs(decoded.astype(int) - image).mean() < 4  # lossy, but the same picture


def test_properties_only_when_pixels_are_not_wanted():
    message = encode_image(make_image(), pb2.IMAGE_TYPE_JPEG, with_pixels=False)
    assert message.image_pointer == b""
    assert (message.properties.height, message.properties.width) == (48, 64)


def test_a_non_contiguous_view_is_packed_tightly():
    image = make_image()[:, ::-1]
    np.testing.assert_array_equal(decode_image(encode_image(image)), image)


@pytest.mark.parametrize(
    "bad",
    [np.zeros((4, 4), np.uint8), np.zeros((4, 4, 3), np.float32), np.zeros((4, 4, 4), np.uint8)],
)
def test_frames_that_are_not_hxwx3_uint8_are_refused(bad):
    with pytest.raises(ImageCodecError, match="H x W x 3 uint8"):
        encode_image(bad)


def test_truncated_jpeg_is_an_error_not_a_half_grey_picture():
    message = encode_image(make_image(), pb2.IMAGE_TYPE_JPEG)
    message.image_pointer = message.image_pointer[: len(message.image_pointer) // 2]
    with pytest.raises(ImageCodecError, match="truncated JPEG"):
        decode_image(message)


def test_truncated_bmp_is_an_error():
    message = encode_image(make_image(), pb2.IMAGE_TYPE_BMP)
    message.image_pointer = message.image_pointer[:-100]
    with pytest.raises(ImageCodecError, match="truncated BMP"):
        decode_image(message)


def test_corrupt_jpeg_is_an_error():
    message = encode_image(make_image(), pb2.IMAGE_TYPE_JPEG)
    data = message.image_pointer
    message.image_pointer = data[:3] + b"\x00" * (len(data) - 5) + data[-2:]
    with pytest.raises(ImageCodecError):
        decode_image(message)


def test_raw_bytes_of_the_wrong_size_are_an_error_naming_both_sizes():
    message = encode_image(make_image())
    message.image_pointer = message.image_pointer[:-3]
    with pytest.raises(ImageCodecError, match=r"64x48x3 frame \(9216 bytes\)"):
        decode_image(message)


def test_an_encoded_picture_of_another_size_than_declared_is_an_error():
    message = encode_image(make_image(), pb2.IMAGE_TYPE_BMP)
    message.properties.width = 32
    with pytest.raises(ImageCodecError, match="decodes to 64x48"):
        decode_image(message)


def test_the_encoding_is_sniffed_so_a_server_may_answer_in_another_one():
    message = encode_image(make_image(), pb2.IMAGE_TYPE_BMP)
    np.testing.assert_array_equal(decode_image(message, pb2.IMAGE_TYPE_NUMPY), make_image())


def test_raw_pixels_that_happen_to_start_like_a_bmp_still_decode():
    image = make_image()
    image[0, 0] = (ord("B"), ord("M"), 0)
    np.testing.assert_array_equal(decode_image(encode_image(image)), image)
