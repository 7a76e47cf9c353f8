// plexus-rpc-grpc-server PORT: the gRPC C++ async peer: calc.Calculator/Add served from one
// CompletionQueue thread (the CallData pattern of gRPC's async examples).
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include <grpcpp/grpcpp.h>
#include "calc.grpc.pb.h"

namespace {

// Calls posted before any arrives: one per call in flight in the largest scenario is
// plenty, so the server never waits for a posted request.
constexpr int kPosted = 256;

class CallData {
  public:
    CallData(calc::Calculator::AsyncService *svc, grpc::ServerCompletionQueue *cq)
        : svc_(svc), cq_(cq), responder_(&ctx_)
    {
        svc_->RequestAdd(&ctx_, &req_, &responder_, cq_, cq_, this);
    }

    void Proceed(bool ok)
    {
        if (finishing_ || !ok) {
            delete this;
            return;
        }
        new CallData(svc_, cq_); // the next call of this method
        rep_.set_sum(static_cast<int64_t>(req_.a()) + req_.b());
        finishing_ = true;
        responder_.Finish(rep_, grpc::Status::OK, this);
    }

  private:
    calc::Calculator::AsyncService *svc_;
    grpc::ServerCompletionQueue *cq_;
    grpc::ServerContext ctx_;
    calc::AddRequest req_;
    calc::AddReply rep_;
    grpc::ServerAsyncResponseWriter<calc::AddReply> responder_;
    bool finishing_ = false;
};

} // namespace

int main(int argc, char **argv)
{
    long port = argc == 2 ? std::strtol(argv[1], nullptr, 10) : 0;
    if (port <= 0 || port > 65535) {
        std::fprintf(stderr, "usage: plexus-rpc-grpc-server PORT (listens on 127.0.0.1:PORT)\n");
        return 2;
    }
    // SIGTERM / SIGINT are taken by a thread with sigwait: every gRPC thread inherits the mask.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    calc::Calculator::AsyncService svc;
    grpc::ServerBuilder builder;
    int bound = 0;
    builder.AddListeningPort("127.0.0.1:" + std::to_string(port), grpc::InsecureServerCredentials(),
                             &bound);
    builder.RegisterService(&svc);
    std::unique_ptr<grpc::ServerCompletionQueue> cq = builder.AddCompletionQueue();
    std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
    if (!server || bound == 0) {
        std::fprintf(stderr, "plexus-rpc-grpc-server: cannot listen on 127.0.0.1:%ld\n", port);
        return 1;
    }
    std::thread stopper([&] {
        int sig = 0;
        sigwait(&stop_signals, &sig);
        server->Shutdown();
        cq->Shutdown();
    });
    for (int i = 0; i < kPosted; i++)
        new CallData(&svc, cq.get());
    void *tag = nullptr;
    bool ok = false;
    while (cq->Next(&tag, &ok))
        static_cast<CallData *>(tag)->Proceed(ok);
    stopper.join();
    return 0;
}
