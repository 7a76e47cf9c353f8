#!/usr/bin/python3
"""`make run`'s gRPC client: python3-grpcio (Debian's) calling the demo's calc servers over
their gRPC port (protocols: [native, grpc] in conf/demo-s*.yaml), and `make run-tls`'s over
TLS (conf/tls/server.yaml). Run with /usr/bin/python3:

  grpc_demo.py HOST:PORT [CA [CERT KEY]]

With CA (a PEM file) the channel is TLS, the server's certificate checked against CA; with
CERT and KEY too, the client shows that certificate (mTLS).

calc's message classes are made by protoc --python_out into a temporary folder (Debian has
no grpc_tools). Prints each call as a user would see it; exits 1 when an answer is not the
one expected.
"""
import os
import subprocess
import sys
import tempfile

import grpc

ADDR = sys.argv[1]
PROTO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "plugins", "calc")

with tempfile.TemporaryDirectory() as work:
    subprocess.run(["protoc", "--python_out=" + work, "-I", PROTO_DIR, "calc.proto"], check=True)
    sys.path.insert(0, work)
    import calc_pb2  # noqa: E402

    if len(sys.argv) > 2:
        def read(path):
            with open(path, "rb") as f:
                return f.read()
        mtls = len(sys.argv) > 4
        ch = grpc.secure_channel(ADDR, grpc.ssl_channel_credentials(
            root_certificates=read(sys.argv[2]),
            private_key=read(sys.argv[4]) if mtls else None,
            certificate_chain=read(sys.argv[3]) if mtls else None))
    else:
        ch = grpc.insecure_channel(ADDR)

    def method(name, req, rep):
        return ch.unary_unary("/calc.Calculator/" + name,
                              request_serializer=req.SerializeToString,
                              response_deserializer=rep.FromString)

    add = method("Add", calc_pb2.AddRequest, calc_pb2.AddReply)
    div = method("Div", calc_pb2.DivRequest, calc_pb2.DivReply)
    total = add(calc_pb2.AddRequest(a=2, b=3), timeout=5).sum
    print("grpc%s %s calc.Calculator/Add(2, 3) = %d" % (" (TLS)" if len(sys.argv) > 2 else "",
                                                         ADDR, total))
    try:
        div(calc_pb2.DivRequest(a=1, b=0), timeout=5)
        print("grpc: Div(1, 0) answered; expected INVALID_ARGUMENT", file=sys.stderr)
        sys.exit(1)
    except grpc.RpcError as e:
        print("grpc %s calc.Calculator/Div(1, 0): %s: %s" % (ADDR, e.code().name, e.details()))
        if e.code() != grpc.StatusCode.INVALID_ARGUMENT:
            sys.exit(1)
    ch.close()
    sys.exit(0 if total == 5 else 1)
