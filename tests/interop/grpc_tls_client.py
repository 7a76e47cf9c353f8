#!/usr/bin/python3
"""A python3-grpcio client (Debian's) calling plexusd's proto_grpc over TLS, for
tests/integration/test_tls_interop.c. Run with /usr/bin/python3:

  grpc_tls_client.py HOST:PORT WORK_DIR CA [CERT KEY]

The channel is grpc.secure_channel with grpc.ssl_channel_credentials(CA) (the server's
certificate must chain to CA and name HOST), and with CERT and KEY also the client's
certificate (mTLS). gRPC requires h2 by ALPN: a server that does not select it fails
the channel. Calls Add(2, 3), Whoami and Div(1, 0); prints "add 5", "whoami ID",
"div INVALID_ARGUMENT: MESSAGE". A call that fails where it should not prints
"error CODE: DETAILS" and exits 2 (the test reads the words).
"""
import os
import subprocess
import sys

import grpc

ADDR, WORK, CA = sys.argv[1], sys.argv[2], sys.argv[3]
CERT, KEY = (sys.argv[4], sys.argv[5]) if len(sys.argv) > 5 else (None, None)
PROTO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "plugins", "calc")
subprocess.run(["protoc", "--python_out=" + WORK, "-I", PROTO_DIR, "calc.proto"], check=True)
sys.path.insert(0, WORK)
import calc_pb2 as pb  # noqa: E402


def read(path):
    with open(path, "rb") as f:
        return f.read()


creds = grpc.ssl_channel_credentials(root_certificates=read(CA),
                                     private_key=read(KEY) if KEY else None,
                                     certificate_chain=read(CERT) if CERT else None)
ch = grpc.secure_channel(ADDR, creds)


def method(name, req, rep):
    return ch.unary_unary("/calc.Calculator/" + name, request_serializer=req.SerializeToString,
                          response_deserializer=rep.FromString)


try:
    print("add %d" % method("Add", pb.AddRequest, pb.AddReply)(pb.AddRequest(a=2, b=3),
                                                               timeout=10).sum, flush=True)
    print("whoami %s" % method("Whoami", pb.WhoamiRequest, pb.WhoamiReply)(
        pb.WhoamiRequest(), timeout=10).id, flush=True)
except grpc.RpcError as e:
    print("error %s: %s" % (e.code().name, e.details()), flush=True)
    sys.exit(2)
try:
    method("Div", pb.DivRequest, pb.DivReply)(pb.DivRequest(a=1, b=0), timeout=10)
    print("div answered", flush=True)
except grpc.RpcError as e:
    print("div %s: %s" % (e.code().name, e.details()), flush=True)
ch.close()
