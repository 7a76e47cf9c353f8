#!/usr/bin/python3
"""python3-grpcio (Debian's) calls with and without `authorization` metadata against a
plexusd whose chain is auth_token then acl, for tests/integration/test_auth.c. Run with
/usr/bin/python3:

  grpc_auth.py HOST:PORT WORK_DIR CASE...

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

ADDR, WORK, CASES = sys.argv[1], sys.argv[2], sys.argv[3:]
PROTO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "plugins", "calc")
subprocess.run(["protoc", "--python_out=" + WORK, "-I", PROTO_DIR, "calc.proto"], check=True)
sys.path.insert(0, WORK)
import calc_pb2 as pb  # noqa: E402

TYPES = {"Whoami": (pb.WhoamiRequest, pb.WhoamiReply), "Echo": (pb.EchoMsg, pb.EchoMsg)}

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
