# Tests beyond the per-file cmocka drivers: the install + out-of-tree plugin build.
# Needs the whole build (cmake --install copies every target), so run it after `make`.
find_program(PX_BASH bash REQUIRED)
add_test(NAME integration.out_of_tree_calc
  COMMAND ${PX_BASH} ${CMAKE_CURRENT_SOURCE_DIR}/integration/out_of_tree.sh
          ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR} "${PX_SANITIZE}")
set_tests_properties(integration.out_of_tree_calc PROPERTIES
  ENVIRONMENT "${PX_TEST_ENV}" TIMEOUT 300 LABELS "integration;packaging")

# The example codec plugins/codec_msgpack, built out of tree against a staged install
# with CMake and with its plain Makefile, then run through the conformance driver.
add_test(NAME integration.out_of_tree_msgpack
  COMMAND ${PX_BASH} ${CMAKE_CURRENT_SOURCE_DIR}/integration/out_of_tree_msgpack.sh
          ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR} "${PX_SANITIZE}")
set_tests_properties(integration.out_of_tree_msgpack PROPERTIES
  ENVIRONMENT "${PX_TEST_ENV}" TIMEOUT 600 LABELS "integration;packaging")

# The example filter plugins/filter_tenant (it reads the request metadata and adds
# response metadata), built out of tree against a staged install and run in front of
# calc with the staged plexusd and plexus call -H.
add_test(NAME integration.out_of_tree_filter
  COMMAND ${PX_BASH} ${CMAKE_CURRENT_SOURCE_DIR}/integration/out_of_tree_filter.sh
          ${CMAKE_BINARY_DIR} ${PROJECT_SOURCE_DIR} "${PX_SANITIZE}")
set_tests_properties(integration.out_of_tree_filter PROPERTIES
  ENVIRONMENT "${PX_TEST_ENV}" TIMEOUT 300 LABELS "integration;packaging")

# An install moved to another folder after `cmake --install` still finds its own modules:
# plexusd serves calc with no modules.path, plexus calls it, plexus bench codec runs.
add_test(NAME integration.relocated_install
  COMMAND ${PX_BASH} ${CMAKE_CURRENT_SOURCE_DIR}/integration/relocated_install.sh
          ${CMAKE_BINARY_DIR} ${PROJECT_SOURCE_DIR} "${PX_SANITIZE}")
set_tests_properties(integration.relocated_install PROPERTIES
  ENVIRONMENT "${PX_TEST_ENV}" TIMEOUT 300 LABELS "integration;packaging")

# `plexus bench codec` reaches plexus-codec-bench, which loads every codec of this
# build and measures each on the whole corpus: a short run, checked for a row per
# standard codec, the reference rows, the targets table and no failed cell.
if(TARGET plexus_cli AND TARGET plexus_codec_bench)
  add_test(NAME integration.bench_codec
    COMMAND ${PX_BASH} -c [[
      out=$("$0" bench codec -n 5 -r 1) || { echo "plexus bench codec exited $?"; exit 1; }
      echo "$out"
      for row in '| protobuf ' '| json ' '| protobuf-c (raw) ' 'codec_protobuf decode / raw protobuf-c unpack'; do
        grep -qF -- "$row" <<< "$out" || { echo "missing in the output: $row"; exit 1; }
      done
      if grep -q 'failed' <<< "$out"; then echo "a codec failed on the corpus"; exit 1; fi]]
      $<TARGET_FILE:plexus_cli>)
  set_tests_properties(integration.bench_codec PROPERTIES
    ENVIRONMENT "${PX_TEST_ENV}" TIMEOUT 300 LABELS integration)
endif()

# test_partition runs in a network namespace of its own and cuts a server off with
# iptables; it exits 77 (skipped) only where namespaces or iptables are unavailable.
if(TEST integration.test_partition)
  set_tests_properties(integration.test_partition PROPERTIES SKIP_RETURN_CODE 77)
endif()

# Under ASan test_codec_alloc refuses every allocation of every corpus sample in turn
# (about 14,500 decodes, a few of them of 100-400 KiB documents): minutes on a busy machine.
if(TARGET test_codec_alloc)
  set_tests_properties(unit.test_codec_alloc PROPERTIES TIMEOUT 900)
endif()

# test_filter also checks the access_log module's line format (its access_line.c).
if(TARGET test_filter)
  target_sources(test_filter PRIVATE ${PROJECT_SOURCE_DIR}/modules/filter_access_log/access_line.c)
  target_include_directories(test_filter PRIVATE ${PROJECT_SOURCE_DIR}/modules/filter_access_log)
endif()

# test_cli checks `--version` of every command against the project's version.
if(TARGET test_cli)
  target_compile_definitions(test_cli PRIVATE PX_VERSION="${PROJECT_VERSION}")
endif()

# test_bench_template checks plexus bench's request templates (a file of the CLI).
if(TARGET test_bench_template)
  target_sources(test_bench_template PRIVATE ${PROJECT_SOURCE_DIR}/tools/plexus/bench_template.c)
  target_include_directories(test_bench_template PRIVATE ${PROJECT_SOURCE_DIR}/tools/plexus)
endif()

# The manual pages (docs/man): no groff warning, the project's version, every option of
# plexusd and plexus (from their getopt tables) in its page and its --help, every key
# of docs/CONFIG.md in plexus.yaml.5. Skipped (77) where groff is not installed.
if(TARGET plexus_cli AND TARGET plexusd)
  add_test(NAME integration.man_pages
    COMMAND ${PX_BASH} ${CMAKE_CURRENT_SOURCE_DIR}/integration/man_pages.sh
            ${CMAKE_BINARY_DIR} ${PROJECT_SOURCE_DIR} ${PROJECT_VERSION})
  set_tests_properties(integration.man_pages PROPERTIES
    ENVIRONMENT "${PX_TEST_ENV}" TIMEOUT 120 LABELS "integration;packaging" SKIP_RETURN_CODE 77)
endif()

# A program embedding a server (tests/embed: its own service, px_server_run, a call to
# itself, a log hook), built out of tree against a staged install; the staged plexusd's
# linkage and timestamped log lines.
add_test(NAME integration.out_of_tree_embed
  COMMAND ${PX_BASH} ${CMAKE_CURRENT_SOURCE_DIR}/integration/out_of_tree_embed.sh
          ${CMAKE_BINARY_DIR} ${PROJECT_SOURCE_DIR} "${PX_SANITIZE}")
set_tests_properties(integration.out_of_tree_embed PROPERTIES
  ENVIRONMENT "${PX_TEST_ENV}" TIMEOUT 300 LABELS "integration;packaging")

# docs/WRITING-SERVICES.md run as written: examples/kv (a service module, a client, a
# test) built against a staged install, its ctest run, then served by the staged plexusd
# and called with plexus call and its C client, each answer checked.
add_test(NAME integration.out_of_tree_kv
  COMMAND ${PX_BASH} ${CMAKE_CURRENT_SOURCE_DIR}/integration/out_of_tree_kv.sh
          ${CMAKE_BINARY_DIR} ${PROJECT_SOURCE_DIR} "${PX_SANITIZE}")
set_tests_properties(integration.out_of_tree_kv PROPERTIES
  ENVIRONMENT "${PX_TEST_ENV}" TIMEOUT 300 LABELS "integration;packaging")

# test_auth_token checks auth_token's token file and its lookup (token_file.c,
# token_check.c: libcrypto), test_acl acl's rules (acl_rules.c).
if(TARGET test_auth_token)
  target_sources(test_auth_token PRIVATE
    ${PROJECT_SOURCE_DIR}/modules/filter_auth_token/token_file.c
    ${PROJECT_SOURCE_DIR}/modules/filter_auth_token/token_check.c)
  target_include_directories(test_auth_token PRIVATE ${PROJECT_SOURCE_DIR}/modules/filter_auth_token)
  target_link_libraries(test_auth_token PRIVATE PkgConfig::LIBCRYPTO)
endif()
if(TARGET test_acl)
  target_sources(test_acl PRIVATE ${PROJECT_SOURCE_DIR}/modules/filter_acl/acl_rules.c)
  target_include_directories(test_acl PRIVATE ${PROJECT_SOURCE_DIR}/modules/filter_acl)
endif()

# test_naming_file_parse checks naming file's parsers (nf_list.c, nf_plain.c, nf_yaml.c; the
# core's YAML reader they use is in plexus_internal).
if(TARGET test_naming_file_parse)
  set(NF ${PROJECT_SOURCE_DIR}/modules/naming_file)
  target_sources(test_naming_file_parse PRIVATE ${NF}/nf_list.c ${NF}/nf_plain.c ${NF}/nf_yaml.c)
  target_include_directories(test_naming_file_parse PRIVATE ${NF} ${PROJECT_SOURCE_DIR}/core/config)
endif()
