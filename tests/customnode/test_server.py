"""The server SDK: lifecycle, TLS, and what a half-written node looks like to a client."""

from __future__ import annotations

import datetime as dt
import ipaddress

import grpc
import pytest

from designer.customnode import (
    CustomNode,
    CustomNodeClient,
    CustomNodeServer,
    HandshakeRefusedError,
    ProcessFailedError,
    ServerTls,
    ServerUnreachableError,
    pb2,
)
from designer.customnode.samples import FakeDetection

from .conftest import make_frame


def self_signed_certificate() -> tuple[bytes, bytes]:
    """A throwaway certificate for 127.0.0.1 and localhost (PEM chain, PEM key)."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem


def test_tls_server_and_grpcs_client(serve, connect, tmp_path):
    chain, key = self_signed_certificate()
    (tmp_path / "node.crt").write_bytes(chain)
    (tmp_path / "node.key").write_bytes(key)
    tls = ServerTls.from_files(tmp_path / "node.crt", tmp_path / "node.key")
    server = serve(FakeDetection(), tls=tls)

    client = connect(f"grpcs://127.0.0.1:{server.port}", root_certificates=chain)
    labels = [o["label"] for o in client.process(make_frame()).insights_meta["objects_meta"]]
    assert labels == ["car"]

    untrusting = connect(f"grpcs://127.0.0.1:{server.port}")  # system roots only
    with pytest.raises(ServerUnreachableError, match=f"grpcs://127.0.0.1:{server.port}"):
        untrusting.process(make_frame())
    plain = connect(f"127.0.0.1:{server.port}")  # TLS server, plaintext client
    with pytest.raises(ServerUnreachableError):
        plain.process(make_frame())


def test_a_busy_port_is_a_clear_error(serve):
    busy = serve(FakeDetection())
    with pytest.raises(OSError, match=f"127.0.0.1:{busy.port}"):
        CustomNodeServer(busy.port, FakeDetection(), host="127.0.0.1").start()


def test_start_stop_and_wait(connect):
    with CustomNodeServer(0, FakeDetection(), host="127.0.0.1") as server:
        assert server.port > 0 and server.address == f"127.0.0.1:{server.port}"
        assert server.wait(timeout=0.05) is False  # still serving
        client = connect(server)
        client.process(make_frame())
    assert server.wait(timeout=0.05) is True
    with pytest.raises(ServerUnreachableError):
        eventual = connect(server)
        eventual.process(make_frame())


def test_a_node_that_forgot_handshake_is_refused_with_the_reason(serve, connect):
    class HalfWritten(CustomNode):
        pass

    client = connect(serve(HalfWritten()))
    with pytest.raises(HandshakeRefusedError, match="HalfWritten must implement Handshake"):
        client.process(make_frame())


class Refuses(CustomNode):
    """Rejects frames the usual gRPC way: a status code set on the context."""

    def Handshake(self, request, context):
        return pb2.HandshakeResponse(ack=request.seq, process_response_type=pb2.INSIGHTS_META_ONLY)

    def Process(self, request, context):
        context.set_code(grpc.StatusCode.INVALID_ARGUMENT)
        context.set_details("I refuse this frame")
        return pb2.ProcessResponse()


@pytest.mark.parametrize("streaming", [False, True])
def test_a_status_code_set_by_the_node_reads_the_same_on_both_transports(streaming):
    with CustomNodeServer(0, Refuses(), host="127.0.0.1") as server:
        client = CustomNodeClient(f"127.0.0.1:{server.port}", streaming=streaming)
        try:
            with pytest.raises(ProcessFailedError, match="INVALID_ARGUMENT: I refuse this frame"):
                client.process(make_frame())
        finally:
            client.close()


class RefusesFrameTwo(CustomNode):
    """Refuses one frame (seq 3, the second frame); counts its handshakes."""

    def __init__(self) -> None:
        self.handshakes = 0

    def Handshake(self, request, context):
        self.handshakes += 1
        return pb2.HandshakeResponse(ack=request.seq, process_response_type=pb2.EMPTY)

    def Process(self, request, context):
        if request.seq == 3:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "not this one")
        return pb2.ProcessResponse(ack=request.seq)


def test_a_refused_frame_keeps_the_unary_connection():
    node = RefusesFrameTwo()
    with CustomNodeServer(0, node, host="127.0.0.1") as server:
        client = CustomNodeClient(f"127.0.0.1:{server.port}", streaming=False)
        try:
            client.process(make_frame("1"))
            with pytest.raises(ProcessFailedError, match="not this one"):
                client.process(make_frame("2"))
            client.process(make_frame("3"))  # acked as seq 4: no reconnect, no new handshake
        finally:
            client.close()
    assert node.handshakes == 1
