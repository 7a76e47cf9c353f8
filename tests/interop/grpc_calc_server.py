#!/usr/bin/python3
"""calc.Calculator served by python3-grpcio (Debian's), a gRPC server Plexus did not
write, for tests/integration/test_grpc_client.c. Run with /usr/bin/python3:

  grpc_calc_server.py WORK_DIR [PORT [CERT KEY [CA]]]

calc's message classes are made by protoc --python_out into WORK_DIR; the port the
server got (127.0.0.1, PORT or else port 0) is written to WORK_DIR/port once it serves.
With CERT and KEY (PEM files) it serves TLS (grpc.ssl_server_credentials) instead of
cleartext; with CA too it requires a client certificate that chains to CA (mTLS). Add, Div
(INVALID_ARGUMENT "division by zero" with the request's metadata as trailing
metadata), Echo (the message back, the request's metadata as initial metadata),
Sleep (bounded by the call's deadline), Whoami ("python-grpcio"). Stops on SIGTERM.
"""
import os
import signal
import subprocess
import sys
import threading
import time

import grpc

WORK = sys.argv[1]
PROTO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "plugins", "calc")
subprocess.run(["protoc", "--python_out=" + WORK, "-I", PROTO_DIR, "calc.proto"], check=True)
sys.path.insert(0, WORK)
import calc_pb2 as pb  # noqa: E402


def user_meta(ctx):
    return tuple((m.key, m.value) for m in ctx.invocation_metadata()
                 if m.key not in ("user-agent",) and not m.key.startswith("grpc-"))


def add(req, ctx):
    return pb.AddReply(sum=req.a + req.b)


def div(req, ctx):
    if req.b == 0:
        ctx.set_trailing_metadata(user_meta(ctx))
        ctx.abort(grpc.StatusCode.INVALID_ARGUMENT, "division by zero")
    q = abs(req.a) // abs(req.b) * (1 if (req.a < 0) == (req.b < 0) else -1)
    return pb.DivReply(quotient=q, remainder=req.a - q * req.b)


def echo(req, ctx):
    ctx.send_initial_metadata(user_meta(ctx))
    return req


def sleep(req, ctx):
    end = time.monotonic() + req.ms / 1000.0
    while time.monotonic() < end and ctx.is_active():
        time.sleep(0.005)
    return pb.SleepReply(slept_ms=req.ms)


def whoami(req, ctx):
    return pb.WhoamiReply(id="python-grpcio")


def handler(fn, req):
    return grpc.unary_unary_rpc_method_handler(fn, request_deserializer=req.FromString,
                                               response_serializer=lambda m: m.SerializeToString())


def main():
    from concurrent import futures
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("calc.Calculator", {
        "Add": handler(add, pb.AddRequest),
        "Div": handler(div, pb.DivRequest),
        "Echo": handler(echo, pb.EchoMsg),
        "Sleep": handler(sleep, pb.SleepRequest),
        "Whoami": handler(whoami, pb.WhoamiRequest),
    }),))
    addr = "127.0.0.1:%s" % (sys.argv[2] if len(sys.argv) > 2 else "0")
    if len(sys.argv) > 4:
        def read(path):
            with open(path, "rb") as f:
                return f.read()
        ca = read(sys.argv[5]) if len(sys.argv) > 5 else None
        creds = grpc.ssl_server_credentials([(read(sys.argv[4]), read(sys.argv[3]))],
                                            root_certificates=ca,
                                            require_client_auth=ca is not None)
        port = server.add_secure_port(addr, creds)
    else:
        port = server.add_insecure_port(addr)
    server.start()
    with open(os.path.join(WORK, "port.tmp"), "w") as f:
        f.write("%d\n" % port)
    os.rename(os.path.join(WORK, "port.tmp"), os.path.join(WORK, "port"))
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: done.set())
    done.wait()
    server.stop(0)


main()
