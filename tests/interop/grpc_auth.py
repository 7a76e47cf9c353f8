#!/usr/bin/python3
"""python3-grpcio (Debian's) calls with and without `authorization` metadata against a
plexusd whose chain is auth_token then acl, for tests/integration/test_auth.c. Run with
/usr/bin/python3:

  grpc_auth.py [--ca CA.pem] HOST:PORT WORK_DIR CASE...

With --ca the channel is TLS, the server's certificate checked against CA.pem.

Each CASE is METHOD,TOKEN,CODE[,ID]: TOKEN "-" sends no authorization; CODE is the
grpc.StatusCode name expected (OK, UNAUTHENTICATED, PERMISSION_DENIED); for an OK
Whoami, ID is the id expected; for a refusal, the details are printed. Every case
prints "ok CASE: details"; the first unexpected answer prints "FAIL CASE: what" and
exits 1.
"""
import os
import subprocess
import sys

import grpc

ARGS = sys.argv[1:]
CA = None
if ARGS[0] == "--ca":
    CA, ARGS = ARGS[1], ARGS[2:]
ADDR, WORK, CASES = ARGS[0], ARGS[1], ARGS[2:]
PROTO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "plugins", "calc")
subprocess.run(["protoc", "--python_out=" + WORK, "-I", PROTO_DIR, "calc.proto"], check=True)
sys.path.insert(0, WORK)
import calc_pb2 as pb  # noqa: E402

TYPES = {"Whoami": (pb.WhoamiRequest, pb.WhoamiReply), "Echo": (pb.EchoMsg, pb.EchoMsg)}

if CA:
    with open(CA, "rb") as f:
        ch = grpc.secure_channel(ADDR, grpc.ssl_channel_credentials(root_certificates=f.read()))
else:
    ch = grpc.insecure_channel(ADDR)
for case in CASES:
    parts = case.split(",")
    name, token, want = parts[0], parts[1], parts[2]
    req, rep = TYPES[name]
    call = ch.unary_unary("/calc.Calculator/" + name, request_serializer=req.SerializeToString,
                          response_deserializer=rep.FromString)
    md = [] if token == "-" else [("authorization", "Bearer " + token)]
    try:
        got = call(req(), metadata=md, timeout=10)
        code, details = "OK", got.id if name == "Whoami" else ""
    except grpc.RpcError as e:
        code, details = e.code().name, e.details()
    if code != want:
        print("FAIL %s: %s: %s" % (case, code, details), flush=True)
        sys.exit(1)
    if code == "OK" and len(parts) > 3 and details != parts[3]:
        print("FAIL %s: id %r" % (case, details), flush=True)
        sys.exit(1)
    print("ok %s: %s" % (case, details), flush=True)
ch.close()
print("grpc auth ok %d" % len(CASES), flush=True)
