"""Our client against a server written the way POSS users write them: no SDK at all.

Plain generated stubs and a servicer class that decodes with OpenCV and
answers in JPEG or BMP. POSS's generated code registered only Handshake and
Process, so the client's streaming attempt must fall back to unary.
"""

from __future__ import annotations

from concurrent import futures

import cv2
import grpc
import numpy as np
import pytest

from designer.customnode import custom_node_pb2, custom_node_pb2_grpc

from .conftest import make_frame, make_image


class PossFlipDetector(custom_node_pb2_grpc.CustomNodeHandlerServicer):
    def __init__(self, image_type, extension):
        self.image_type = image_type
        self.extension = extension
        self.seqs = []

    def Handshake(self, request, context):
        return custom_node_pb2.HandshakeResponse(
            ack=request.seq,
            image_type=self.image_type,
            process_request_type=custom_node_pb2.FRAME_WITH_IMAGE,
            process_response_type=custom_node_pb2.IMAGE_AND_INSIGHTS_META,
        )

    def Process(self, request, context):
        self.seqs.append(request.seq)
        buffer = np.frombuffer(request.frame.image.image_pointer, dtype=np.uint8)
        image = cv2.flip(cv2.imdecode(buffer, cv2.IMREAD_COLOR), 1)
        _, encoded = cv2.imencode(self.extension, image)
        height, width = image.shape[:2]
        car = custom_node_pb2.ObjectMeta(
            label="car",
            confidence=0.9,
            bbox=custom_node_pb2.BBox(l=0.1, t=0.2, w=0.3, h=0.4),
        )
        return custom_node_pb2.ProcessResponse(
            ack=request.seq,
            image=custom_node_pb2.Image(
                image_pointer=encoded.tobytes(),
                properties=custom_node_pb2.ImageProperties(height=height, width=width),
            ),
            insights_meta=custom_node_pb2.InsightsMeta(objects_meta=[car]),
        )


def poss_generated_handler(servicer):
    """What POSS's grpcio-tools output registered: the two unary methods, nothing else."""
    handlers = {
        "Handshake": grpc.unary_unary_rpc_method_handler(
            servicer.Handshake,
            request_deserializer=custom_node_pb2.HandshakeRequest.FromString,
            response_serializer=custom_node_pb2.HandshakeResponse.SerializeToString,
        ),
        "Process": grpc.unary_unary_rpc_method_handler(
            servicer.Process,
            request_deserializer=custom_node_pb2.ProcessRequest.FromString,
            response_serializer=custom_node_pb2.ProcessResponse.SerializeToString,
        ),
    }
    return grpc.method_handlers_generic_handler("custom_node.CustomNodeHandler", handlers)


@pytest.fixture(params=["poss-stubs", "our-stubs"])
def poss_server(request):
    """Start a POSS-style node; ``our-stubs`` registers it with today's generated code,
    whose base servicer answers ProcessStream with UNIMPLEMENTED."""
    servers = []

    def start(image_type, extension):
        node = PossFlipDetector(image_type, extension)
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        if request.param == "poss-stubs":
            server.add_generic_rpc_handlers((poss_generated_handler(node),))
        else:
            custom_node_pb2_grpc.add_CustomNodeHandlerServicer_to_server(node, server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        servers.append(server)
        return node, f"127.0.0.1:{port}"

    yield start
    for server in servers:
        server.stop(None)


@pytest.mark.parametrize(
    ("image_type", "extension"),
    [(custom_node_pb2.IMAGE_TYPE_JPEG, ".jpg"), (custom_node_pb2.IMAGE_TYPE_BMP, ".bmp")],
    ids=["jpeg", "bmp"],
)
def test_client_falls_back_to_unary_and_reads_the_answers(poss_server, connect, image_type, extension):
    node, endpoint = poss_server(image_type, extension)
    client = connect(endpoint)

    results = [client.process(make_frame(f"f{i}")) for i in range(3)]

    assert client.transport == "unary"
    assert node.seqs == [2, 3, 4]  # the stream attempt did not eat a seq
    for result in results:
        expected = make_image()[:, ::-1]
        if extension == ".bmp":
            np.testing.assert_array_equal(result.image, expected)
        else:
            assert np.abs(result.image.astype(int) - expected).mean() < 4
        (car,) = result.insights_meta["objects_meta"]
        assert (car["label"], car["confidence"], car["bbox"]) == (
            "car",
            0.9,
            {"l": 0.1, "t": 0.2, "w": 0.3, "h": 0.4},
        )
