# Thin wrapper over CMake: `make run` starts the demo, `make test` runs every test.
# Both install missing Debian packages first (tools/install-deps.sh is a no-op when
# everything is present), then configure and build into $(BUILD).
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= 2

.PHONY: all deps build run test clean

all: build

deps:
	bash tools/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)
	cmake --build $(BUILD) -j$(JOBS)

run: build
	BUILD=$(abspath $(BUILD)) bash tools/run-demo.sh

test: build
	ctest --test-dir $(BUILD) --output-on-failure

clean:
	rm -rf $(BUILD)
