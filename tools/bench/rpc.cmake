# The RPC comparison (`make bench`, tools/bench/run.sh): the raw libev baseline, the gRPC
# C++ async peer (optional), the pending-calls probe and the malloc-counting shim.
set(PX_RPC_HIST ${PROJECT_SOURCE_DIR}/tools/plexus/bench_hist.c)
set(PX_RPC_BIN ${CMAKE_BINARY_DIR}/bin)

# (3) raw libev with 4-byte length frames: the physical limit.
add_executable(plexus_rpc_raw_server rpc_raw_server.c rpc_raw_buf.c)
target_link_libraries(plexus_rpc_raw_server PRIVATE ${EV_LIBRARY})
target_include_directories(plexus_rpc_raw_server PRIVATE ${EV_INCLUDE_DIR})
add_executable(plexus_rpc_raw_client rpc_raw_client.c rpc_raw_buf.c rpc_peer.c ${PX_RPC_HIST})
target_link_libraries(plexus_rpc_raw_client PRIVATE ${EV_LIBRARY} m)
target_include_directories(plexus_rpc_raw_client PRIVATE ${EV_INCLUDE_DIR}
  ${PROJECT_SOURCE_DIR}/tools/plexus)

# 100k pending calls: a server that never answers Sleep, and the client that measures.
add_executable(plexus_rpc_hold rpc_hold.c)
# rpc_hold writes native frames itself (px_frame.h, internal) and loads no module: the
# static core. rpc_pending is an SDK client: libplexus.so.
target_link_libraries(plexus_rpc_hold PRIVATE plexus_static calc_proto)
add_executable(plexus_rpc_pending rpc_pending.c rpc_peer.c ${PX_RPC_HIST})
target_link_libraries(plexus_rpc_pending PRIVATE plexus calc_proto m)
target_include_directories(plexus_rpc_pending PRIVATE ${PROJECT_SOURCE_DIR}/tools/plexus)

# LD_PRELOAD=libpx_malloc_count.so: heap allocations per process (and the codec's share).
add_library(px_malloc_count MODULE malloc_count.c)
target_link_libraries(px_malloc_count PRIVATE ${CMAKE_DL_LIBS})
set_target_properties(px_malloc_count PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${PX_RPC_BIN})

# TLS: the certificates of a run, made by the tests' helper (the openssl CLI), and
# handshakes per second with OpenSSL itself as the client.
add_executable(plexus_rpc_certs rpc_certs.c ${PROJECT_SOURCE_DIR}/tests/support/px_certs.c
  ${PROJECT_SOURCE_DIR}/tests/support/px_proc.c)
target_include_directories(plexus_rpc_certs PRIVATE ${PROJECT_SOURCE_DIR}/tests/support)
target_link_libraries(plexus_rpc_certs PRIVATE plexus Threads::Threads)
add_executable(plexus_rpc_handshake rpc_handshake.c)
target_link_libraries(plexus_rpc_handshake PRIVATE PkgConfig::OPENSSL)

set(PX_RPC_TARGETS plexus_rpc_raw_server plexus_rpc_raw_client plexus_rpc_hold
  plexus_rpc_pending plexus_rpc_certs plexus_rpc_handshake)

# (4) gRPC C++ async, from Debian's libgrpc++-dev and protobuf-compiler-grpc (`make bench
# PEERS=1` installs them). Absent: the peer is skipped and run.sh says so.
find_program(PX_PROTOC protoc)
find_program(PX_GRPC_CPP_PLUGIN grpc_cpp_plugin)
pkg_check_modules(PX_GRPCPP IMPORTED_TARGET grpc++ protobuf)
include(CheckLanguage)
check_language(CXX)
if(PX_PROTOC AND PX_GRPC_CPP_PLUGIN AND PX_GRPCPP_FOUND AND CMAKE_CXX_COMPILER)
  enable_language(CXX)
  # The project's C-only warning flag, kept for C here and dropped for the C++ peer.
  get_directory_property(px_opts COMPILE_OPTIONS)
  list(TRANSFORM px_opts REPLACE "^-Wstrict-prototypes$" "$<$<COMPILE_LANGUAGE:C>:-Wstrict-prototypes>")
  set_directory_properties(PROPERTIES COMPILE_OPTIONS "${px_opts}")
  set(PX_GRPC_GEN ${CMAKE_CURRENT_BINARY_DIR}/grpc_gen)
  set(PX_CALC_PROTO ${PROJECT_SOURCE_DIR}/plugins/calc/calc.proto)
  add_custom_command(
    OUTPUT ${PX_GRPC_GEN}/calc.pb.cc ${PX_GRPC_GEN}/calc.pb.h
           ${PX_GRPC_GEN}/calc.grpc.pb.cc ${PX_GRPC_GEN}/calc.grpc.pb.h
    COMMAND ${CMAKE_COMMAND} -E make_directory ${PX_GRPC_GEN}
    COMMAND ${PX_PROTOC} -I${PROJECT_SOURCE_DIR}/plugins/calc --cpp_out=${PX_GRPC_GEN}
            --grpc_out=${PX_GRPC_GEN} --plugin=protoc-gen-grpc=${PX_GRPC_CPP_PLUGIN}
            ${PX_CALC_PROTO}
    DEPENDS ${PX_CALC_PROTO}
    COMMENT "protoc --grpc_out calc.proto"
    VERBATIM)
  add_library(px_grpc_calc STATIC ${PX_GRPC_GEN}/calc.pb.cc ${PX_GRPC_GEN}/calc.grpc.pb.cc)
  target_include_directories(px_grpc_calc PUBLIC ${PX_GRPC_GEN})
  target_link_libraries(px_grpc_calc PUBLIC PkgConfig::PX_GRPCPP)
  target_compile_options(px_grpc_calc PRIVATE -w) # generated code: not ours to warn about
  add_executable(plexus_rpc_grpc_server rpc_grpc_server.cc)
  target_link_libraries(plexus_rpc_grpc_server PRIVATE px_grpc_calc)
  add_executable(plexus_rpc_grpc_client rpc_grpc_client.cc rpc_peer.c ${PX_RPC_HIST})
  target_link_libraries(plexus_rpc_grpc_client PRIVATE px_grpc_calc m)
  target_include_directories(plexus_rpc_grpc_client PRIVATE ${PROJECT_SOURCE_DIR}/tools/plexus)
  list(APPEND PX_RPC_TARGETS plexus_rpc_grpc_server plexus_rpc_grpc_client)
else()
  message(STATUS "gRPC peer of the RPC bench skipped: needs protoc, grpc_cpp_plugin, grpc++ "
                 "and a C++ compiler (make bench PEERS=1 installs them)")
endif()

# Built only by `make bench` (target plexus_rpc_bench), never by the default build that
# `make test` runs: the gRPC peer is optional and slow to compile.
foreach(t ${PX_RPC_TARGETS})
  string(REPLACE "_" "-" out ${t})
  set_target_properties(${t} PROPERTIES OUTPUT_NAME ${out} RUNTIME_OUTPUT_DIRECTORY ${PX_RPC_BIN}
    EXCLUDE_FROM_ALL ON)
endforeach()
set_target_properties(px_malloc_count PROPERTIES EXCLUDE_FROM_ALL ON)
if(TARGET px_grpc_calc)
  set_target_properties(px_grpc_calc PROPERTIES EXCLUDE_FROM_ALL ON)
endif()

# One target that builds everything `make bench` runs.
add_custom_target(plexus_rpc_bench DEPENDS ${PX_RPC_TARGETS} px_malloc_count plexusd plexus_cli
  codec_protobuf codec_json service_calc lb_random failover_failfast timeout_fixed
  filter_deadline_floor filter_access_log filter_metrics) # BENCH_FILTERS's chains, plexus-metrics
if(TARGET proto_grpc) # the plexus-grpc target: plexusd serving calc over gRPC
  add_dependencies(plexus_rpc_bench proto_grpc)
endif()
if(TARGET proto_http) # the HTTP/1.1 comparison under wrk (rpc_http.sh)
  add_dependencies(plexus_rpc_bench proto_http)
endif()
if(TARGET codec_binary)
  add_dependencies(plexus_rpc_bench codec_binary)
endif()
