#!/usr/bin/python3
"""A python3-grpcio client (Debian's) against plexusd's proto_grpc, for
tests/integration/test_grpc_interop.c. Run with /usr/bin/python3 (it has grpc):

  grpc_calc_client.py CALC_PORT FXMETA_PORT SERVER_ID WORK_DIR

calc's message classes are made at run time by protoc --python_out into WORK_DIR
(grpc_tools is not in Debian). Every check prints "ok NAME"; the first failure prints
"FAIL NAME: what" and exits 1. The last phase holds a call in flight on the calc
port, writes WORK_DIR/grpc_inflight and waits for WORK_DIR/native_done (written by
the C test after its native calls on the same port) before it collects the answer.
"""
import concurrent.futures
import os
import subprocess
import sys
import time

import grpc

CALC_PORT, FXMETA_PORT, SERVER_ID, WORK = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
PROTO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "plugins", "calc")
subprocess.run(["protoc", "--python_out=" + WORK, "-I", PROTO_DIR, "calc.proto"], check=True)
sys.path.insert(0, WORK)
import calc_pb2 as pb  # noqa: E402


def fail(name, what):
    print("FAIL %s: %s" % (name, what), flush=True)
    sys.exit(1)


def ok(name):
    print("ok " + name, flush=True)


def method(ch, name, req, rep):
    return ch.unary_unary("/calc.Calculator/" + name, request_serializer=req.SerializeToString,
                          response_deserializer=rep.FromString)


def expect_error(name, fn, code, details=None):
    try:
        fn()
    except grpc.RpcError as e:
        if e.code() != code:
            fail(name, "status %s (%s), expected %s" % (e.code(), e.details(), code))
        if details is not None and details not in (e.details() or ""):
            fail(name, "message %r lacks %r" % (e.details(), details))
        ok(name)
        return e
    fail(name, "succeeded, expected %s" % code)


def main():
    ch = grpc.insecure_channel("127.0.0.1:" + CALC_PORT)
    add = method(ch, "Add", pb.AddRequest, pb.AddReply)
    div = method(ch, "Div", pb.DivRequest, pb.DivReply)
    echo = method(ch, "Echo", pb.EchoMsg, pb.EchoMsg)
    sleep = method(ch, "Sleep", pb.SleepRequest, pb.SleepReply)
    whoami = method(ch, "Whoami", pb.WhoamiRequest, pb.WhoamiReply)

    # every calc method
    r = add(pb.AddRequest(a=2147483647, b=2147483647, tag="x" * 16), timeout=10)
    if r.sum != 4294967294:
        fail("add", "sum %d" % r.sum)
    ok("add")
    r = div(pb.DivRequest(a=-7, b=2), timeout=10)
    if (r.quotient, r.remainder) != (-3, -1):
        fail("div", "%d r %d" % (r.quotient, r.remainder))
    ok("div")
    msg = pb.EchoMsg(f_double=1.5, f_float=-2.25, f_int32=-1, f_int64=-(2**62), f_uint32=2**32 - 1,
                     f_uint64=2**64 - 1, f_sint32=-3, f_sint64=-(2**40), f_fixed32=7, f_fixed64=8,
                     f_sfixed32=-9, f_sfixed64=-10, f_bool=True, f_string="h\u00e9llo",
                     f_bytes=bytes(range(256)), r_int32=[1, -2, 3], r_string=["a", "", "c"],
                     inner=pb.Inner(id=1, name="n", children=[pb.Inner(id=2)]),
                     r_inner=[pb.Inner(id=3), pb.Inner(id=4)], color=pb.BLUE,
                     r_color=[pb.RED, pb.GREEN], c_number=42, attrs={"x": 1, "y": -2})
    if echo(msg, timeout=10) != msg:
        fail("echo", "the message came back changed")
    ok("echo")
    r = sleep(pb.SleepRequest(ms=5), timeout=10)
    if r.slept_ms != 5:
        fail("sleep", "slept %d" % r.slept_ms)
    ok("sleep")
    r = whoami(pb.WhoamiRequest(), timeout=10)
    if r.id != SERVER_ID:
        fail("whoami", "id %r" % r.id)
    ok("whoami")

    # errors carry their canonical codes and the handler's message
    expect_error("div_by_zero", lambda: div(pb.DivRequest(a=1, b=0), timeout=10),
                 grpc.StatusCode.INVALID_ARGUMENT, "division by zero")
    expect_error("sleep_too_long", lambda: sleep(pb.SleepRequest(ms=4000000000), timeout=10),
                 grpc.StatusCode.INVALID_ARGUMENT, "exceeds")
    nope = ch.unary_unary("/calc.Calculator/Nope", request_serializer=lambda b: b,
                          response_deserializer=lambda b: b)
    expect_error("unknown_method", lambda: nope(b"", timeout=10), grpc.StatusCode.UNIMPLEMENTED)
    other = ch.unary_unary("/no.Such/Method", request_serializer=lambda b: b,
                           response_deserializer=lambda b: b)
    expect_error("unknown_service", lambda: other(b"", timeout=10), grpc.StatusCode.UNIMPLEMENTED)
    bad = ch.unary_unary("/calc.Calculator/Add", request_serializer=lambda b: b,
                         response_deserializer=lambda b: b)
    expect_error("undecodable", lambda: bad(b"\xff\xff\xff", timeout=10),
                 grpc.StatusCode.INVALID_ARGUMENT)
    # a reply of many DATA frames, past the client's first window (flow control)
    large = pb.EchoMsg(f_bytes=bytes(range(256)) * 3600)
    if echo(large, timeout=20) != large:
        fail("large", "the 900 KB message came back changed")
    ok("large")
    big = pb.EchoMsg(f_bytes=b"z" * (1025 * 1024))  # the server's max_frame is 1MiB
    expect_error("too_big", lambda: echo(big, timeout=10), grpc.StatusCode.RESOURCE_EXHAUSTED,
                 "exceeds max_frame")

    # deadlines: timeout= is sent as grpc-timeout
    expect_error("deadline", lambda: sleep(pb.SleepRequest(ms=3000), timeout=0.2),
                 grpc.StatusCode.DEADLINE_EXCEEDED)

    # metadata both ways: invocation metadata in, the handler's (Echo copies it) out as
    # initial metadata; on an error it comes as trailing metadata
    md = [("tenant", "acme"), ("trace-id", "t-1"), ("tenant", "second"),
          ("blob-bin", b"\x00\x01\xfe\xff\x80")]
    r, call = echo.with_call(pb.EchoMsg(f_int32=1), metadata=md, timeout=10)
    got = [(m.key, m.value) for m in call.initial_metadata()]
    if got != md:
        fail("meta_out", "initial metadata %r" % got)
    ok("meta_out")
    fxch = grpc.insecure_channel("127.0.0.1:" + FXMETA_PORT)
    fxdiv = method(fxch, "Div", pb.DivRequest, pb.DivReply)
    e = expect_error("meta_error", lambda: fxdiv(pb.DivRequest(a=1, b=1), metadata=md, timeout=10),
                     grpc.StatusCode.FAILED_PRECONDITION, "fails, with metadata")
    got = [(m.key, m.value) for m in e.trailing_metadata()]
    if not all(x in got for x in md):
        fail("meta_error", "trailing metadata %r" % got)
    ok("meta_error_trailers")
    fxwho = method(fxch, "Whoami", pb.WhoamiRequest, pb.WhoamiReply)
    r = fxwho(pb.WhoamiRequest(), metadata=[("k", "v"), ("b-bin", b"\x01\x02")], timeout=10)
    if r.id != "k=v;b-bin=0102":
        fail("meta_in", "the handler saw %r" % r.id)
    ok("meta_in")
    fxch.close()

    # 1,000 calls at once over one channel (one HTTP/2 connection)
    futs = [add.future(pb.AddRequest(a=i, b=i), timeout=60) for i in range(1000)]
    for i, f in enumerate(futs):
        if f.result().sum != 2 * i:
            fail("concurrent", "call %d answered %d" % (i, f.result().sum))
    ok("concurrent_1000")

    # a gRPC call in flight while the C test makes native calls on the same port
    held = sleep.future(pb.SleepRequest(ms=1500), timeout=60)
    open(os.path.join(WORK, "grpc_inflight"), "w").close()
    done = os.path.join(WORK, "native_done")
    for _ in range(6000):  # bounded: at most 60 s
        if os.path.exists(done):
            break
        time.sleep(0.01)
    else:
        fail("mixed", "the native calls did not finish")
    if held.result().slept_ms != 1500:
        fail("mixed", "the held call answered %r" % held.result())
    ok("mixed_with_native")
    ch.close()
    print("all ok", flush=True)


main()
