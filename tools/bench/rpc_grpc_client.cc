// plexus-rpc-grpc-client PORT [...]: the gRPC C++ async peer client: C channels (one TCP
// connection each) with D calls in flight each, completions on one CompletionQueue thread.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include "calc.grpc.pb.h"
#include "rpc_peer.h"

namespace {

struct Call {
    int conn = 0;
    int64_t sent_at = 0;
    std::unique_ptr<grpc::ClientContext> ctx; // gRPC wants a fresh context per call
    calc::AddReply reply;
    grpc::Status status;
    std::unique_ptr<grpc::ClientAsyncResponseReader<calc::AddReply>> rpc;
};

gpr_timespec Deadline(int64_t t_ns)
{
    int64_t left = t_ns - px_peer_now_ns();
    if (left < 0)
        left = 0;
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_nanos(left, GPR_TIMESPAN));
}

} // namespace

int main(int argc, char **argv)
{
    px_peer_args a;
    int rc = px_peer_parse(argc, argv, &a);
    if (rc != 0)
        return rc;
    std::string target = "127.0.0.1:" + std::to_string(a.port);
    std::vector<std::unique_ptr<calc::Calculator::Stub>> stubs;
    for (int i = 0; i < a.connections; i++) {
        grpc::ChannelArguments args;
        // A channel argument of its own and a local subchannel pool: each channel gets
        // its own TCP connection instead of sharing one subchannel.
        args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
        args.SetInt("plexus.bench.channel", i);
        auto ch = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
        // Generous: under callgrind or the malloc shim the server takes seconds to answer.
        if (!ch->WaitForConnected(gpr_time_add(gpr_now(GPR_CLOCK_REALTIME),
                                               gpr_time_from_seconds(60, GPR_TIMESPAN)))) {
            std::fprintf(stderr, "plexus-rpc-grpc-client: cannot connect to %s\n", target.c_str());
            return 1;
        }
        stubs.push_back(calc::Calculator::NewStub(ch));
    }
    calc::AddRequest req;
    req.set_a(1);
    req.set_b(2);
    req.set_tag("0123456789abcdef");

    grpc::CompletionQueue cq;
    uint64_t sent = 0, outstanding = 0;
    bool stop = false;
    auto start = [&](Call *c) {
        c->ctx = std::make_unique<grpc::ClientContext>();
        c->sent_at = px_peer_now_ns();
        c->rpc = stubs[c->conn]->AsyncAdd(c->ctx.get(), req, &cq);
        c->rpc->Finish(&c->reply, &c->status, c);
        sent++;
        outstanding++;
    };

    px_peer_result r{};
    px_hist_reset(&r.hist);
    int64_t t0 = px_peer_now_ns();
    int64_t t_measure = t0 + static_cast<int64_t>(a.warmup_s * 1e9);
    int64_t t_end = t_measure + static_cast<int64_t>(a.duration_s * 1e9);
    bool cpu_taken = a.warmup_s <= 0;
    double cpu0 = cpu_taken ? px_peer_cpu_s() : 0;
    std::vector<Call> calls(static_cast<size_t>(a.connections) * a.inflight);
    for (size_t i = 0; i < calls.size(); i++) {
        calls[i].conn = static_cast<int>(i / a.inflight);
        if (!a.calls || sent < a.calls)
            start(&calls[i]);
    }
    int64_t end = t_end;
    while (outstanding > 0) {
        void *tag = nullptr;
        bool ok = false;
        int64_t wake = !cpu_taken ? t_measure : t_end;
        auto st = cq.AsyncNext(&tag, &ok, Deadline(stop ? t_end + 5000000000LL : wake));
        int64_t now = px_peer_now_ns();
        if (!cpu_taken && now >= t_measure) {
            cpu0 = px_peer_cpu_s();
            cpu_taken = true;
        }
        if (!stop && now >= t_end)
            stop = true;
        if (st == grpc::CompletionQueue::TIMEOUT) {
            if (stop && now >= t_end + 5000000000LL)
                break; // calls that never end: give up
            continue;
        }
        if (st == grpc::CompletionQueue::SHUTDOWN)
            break;
        Call *c = static_cast<Call *>(tag);
        outstanding--;
        r.calls_total++;
        if (now >= t_measure && now < t_end) {
            if (ok && c->status.ok())
                px_hist_add(&r.hist, static_cast<uint64_t>(now - c->sent_at));
            else
                r.errors++;
        }
        if (a.calls && sent >= a.calls && outstanding == 0 && !stop) {
            end = now;
            stop = true;
        }
        if (!stop && (!a.calls || sent < a.calls))
            start(c);
    }
    // A CompletionQueue must be shut down and drained before it goes away.
    for (Call &c : calls)
        if (c.ctx)
            c.ctx->TryCancel();
    cq.Shutdown();
    void *tag = nullptr;
    bool ok = false;
    while (cq.Next(&tag, &ok))
        ;
    if (end > t_end)
        end = t_end;
    r.client_cpu_s = cpu_taken ? px_peer_cpu_s() - cpu0 : 0;
    r.measured_s = end > t_measure ? static_cast<double>(end - t_measure) / 1e9 : 0;
    px_peer_print_json(&a, "calc.Calculator/Add", "grpc-protobuf", &r);
    return r.hist.n > 0 ? 0 : 1;
}
