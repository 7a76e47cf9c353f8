# Thin wrapper over CMake: `make run` starts the demo (`make run CONF=zk`: its
# ZooKeeper variant), `make run-tls` the TLS one,
# `make test` runs every test.
# Both install missing Debian packages first (tools/install-deps.sh is a no-op when
# everything is present), then configure and build into $(BUILD).
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= 2

.PHONY: all deps build run run-tls test test-asan test-tsan bench fuzz test-fuzz clean

all: build

deps:
	bash tools/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)
	cmake --build $(BUILD) -j$(JOBS)

# CONF=zk: the variant of conf/zk/, servers registered in a ZooKeeper it starts.
run: build
	BUILD=$(abspath $(BUILD)) bash tools/$(if $(filter zk,$(CONF)),run-zk-demo.sh,run-demo.sh)

# mTLS: certificates made into build/tls-demo (tools/demo/mkcerts.sh), plexusd with
# conf/tls/server.yaml, calls by plexus, curl and python3-grpcio, then the server stopped.
run-tls: build
	BUILD=$(abspath $(BUILD)) bash tools/run-tls-demo.sh

# The suite three times: a normal build (with valgrind memcheck over the integration
# client and servers), ASan+UBSan, and TSan; then a short pass of every fuzz target.
# JOBS tests at a time, but those whose checks depend on timing run alone (RUN_SERIAL in
# tests/CMakeLists.txt). The sanitizer passes leave out the tests labelled packaging
# (out-of-tree builds, a relocated install, the manual pages: how Plexus is built and
# installed, which the normal pass checks; their calls are other tests' calls), and
# the TSan pass those labelled single_thread (no second thread to race with).
test: build
	ctest --test-dir $(BUILD) -j$(JOBS) --output-on-failure
	$(MAKE) --no-print-directory test-asan test-tsan test-fuzz

test-asan: deps
	cmake -S . -B $(BUILD)-asan -DCMAKE_BUILD_TYPE=Debug -DPX_SANITIZE=address
	cmake --build $(BUILD)-asan -j$(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(BUILD)-asan -j$(JOBS) -LE packaging --output-on-failure

test-tsan: deps
	cmake -S . -B $(BUILD)-tsan -DCMAKE_BUILD_TYPE=Debug -DPX_SANITIZE=thread
	cmake --build $(BUILD)-tsan -j$(JOBS)
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$(CURDIR)/tests/tsan.supp \
	  ctest --test-dir $(BUILD)-tsan -j$(JOBS) -LE 'packaging|single_thread' --output-on-failure

# The RPC comparison (tools/bench/run.sh) on a Release build of its own; PEERS=1 first
# installs the optional gRPC peer and perf. Timings are noisy: see docs/PERFORMANCE.md.
bench: deps
	$(if $(filter 1,$(PEERS)),bash tools/bench/install-peers.sh)
	cmake -S . -B $(BUILD)-bench -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD)-bench -j$(JOBS) --target plexus_rpc_bench
	bash tools/bench/run.sh $(BUILD)-bench

# libFuzzer targets (tests/fuzz, built with clang into $(BUILD)-fuzz): `make fuzz` runs
# each for FUZZ_SECONDS, `make test-fuzz` is the short smoke pass `make test` ends with.
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 10

fuzz: deps
	BUILD=$(abspath $(BUILD))-fuzz JOBS=$(JOBS) bash tools/fuzz.sh $(FUZZ_SECONDS)

test-fuzz: deps
	BUILD=$(abspath $(BUILD))-fuzz JOBS=$(JOBS) bash tools/fuzz.sh $(FUZZ_SMOKE_SECONDS)

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-tsan $(BUILD)-fuzz $(BUILD)-bench
