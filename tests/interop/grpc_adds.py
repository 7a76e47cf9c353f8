#!/usr/bin/python3
"""N calc.Calculator/Add calls from python3-grpcio (Debian's) over one channel, for
tests/integration/test_three_protocols.c. Run with /usr/bin/python3:

  grpc_adds.py HOST:PORT N WORK_DIR

Waits (at most 30 s) for WORK_DIR/go before its first call, so the test knows its own
calls are already running. Prints "grpc ok N" when every Add(i, 1) answered i + 1;
otherwise "FAIL: what" and exits 1.
"""
import os
import subprocess
import sys
import time

import grpc

ADDR, N, WORK = sys.argv[1], int(sys.argv[2]), sys.argv[3]
PROTO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "plugins", "calc")
subprocess.run(["protoc", "--python_out=" + WORK, "-I", PROTO_DIR, "calc.proto"], check=True)
sys.path.insert(0, WORK)
import calc_pb2 as pb  # noqa: E402

for _ in range(3000):
    if os.path.exists(os.path.join(WORK, "go")):
        break
    time.sleep(0.01)
else:
    print("FAIL: no go file in 30 s", flush=True)
    sys.exit(1)

ch = grpc.insecure_channel(ADDR)
add = ch.unary_unary("/calc.Calculator/Add", request_serializer=pb.AddRequest.SerializeToString,
                     response_deserializer=pb.AddReply.FromString)
for i in range(N):
    try:
        got = add(pb.AddRequest(a=i, b=1), timeout=10).sum
    except grpc.RpcError as e:
        print("FAIL: Add(%d, 1): %s: %s" % (i, e.code().name, e.details()), flush=True)
        sys.exit(1)
    if got != i + 1:
        print("FAIL: Add(%d, 1) = %d" % (i, got), flush=True)
        sys.exit(1)
ch.close()
print("grpc ok %d" % N, flush=True)
