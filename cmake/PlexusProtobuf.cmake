# Messages for Plexus: the target plexus::protobuf-c (libprotobuf-c, headers and library,
# what the public headers and generated code need) and
#   px_protobuf_generate(TARGET tgt PROTOS a.proto ... [IMPORT_DIRS dir ...] [OUT_DIR dir])
# which runs protoc-c on each .proto at build time, adds the generated a.pb-c.c to tgt,
# puts their folder on tgt's PUBLIC include path and links tgt PUBLIC to
# plexus::protobuf-c. IMPORT_DIRS (default: the current source folder) are protoc-c's -I
# folders: a .proto's output path is its path under the one that holds it. OUT_DIR
# defaults to <current binary folder>/gen. PLEXUS_PROTOC_C names the compiler (found
# on PATH by default). find_package(plexus) includes this file; so does the Plexus build.

# Without libprotobuf-c there is no plexus::protobuf-c; the includer says what is missing.
if(NOT TARGET plexus::protobuf-c)
  find_package(PkgConfig QUIET)
  if(PkgConfig_FOUND)
    pkg_check_modules(PLEXUS_PROTOBUFC QUIET IMPORTED_TARGET libprotobuf-c)
  endif()
  if(TARGET PkgConfig::PLEXUS_PROTOBUFC)
    add_library(plexus::protobuf-c INTERFACE IMPORTED)
    target_link_libraries(plexus::protobuf-c INTERFACE PkgConfig::PLEXUS_PROTOBUFC)
  endif()
endif()

function(px_protobuf_generate)
  cmake_parse_arguments(G "" "TARGET;OUT_DIR" "PROTOS;IMPORT_DIRS" ${ARGN})
  if(NOT G_TARGET OR NOT G_PROTOS OR G_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "usage: px_protobuf_generate(TARGET tgt PROTOS a.proto ... "
                        "[IMPORT_DIRS dir ...] [OUT_DIR dir]) (got: ${ARGN})")
  endif()
  if(NOT TARGET ${G_TARGET})
    message(FATAL_ERROR "px_protobuf_generate: no target '${G_TARGET}' (add_library it first)")
  endif()
  if(NOT TARGET plexus::protobuf-c)
    message(FATAL_ERROR "px_protobuf_generate: pkg-config cannot find libprotobuf-c "
                        "(apt-get install libprotobuf-c-dev)")
  endif()
  if(NOT PLEXUS_PROTOC_C)
    find_program(PLEXUS_PROTOC_C protoc-c)
    if(NOT PLEXUS_PROTOC_C)
      message(FATAL_ERROR "px_protobuf_generate: protoc-c is not on PATH "
                          "(apt-get install protobuf-c-compiler, or set PLEXUS_PROTOC_C)")
    endif()
  endif()
  if(NOT G_OUT_DIR)
    set(G_OUT_DIR ${CMAKE_CURRENT_BINARY_DIR}/gen)
  endif()
  get_filename_component(out ${G_OUT_DIR} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_BINARY_DIR})
  if(NOT G_IMPORT_DIRS)
    set(G_IMPORT_DIRS ${CMAKE_CURRENT_SOURCE_DIR})
  endif()
  set(dirs)
  set(flags)
  foreach(d ${G_IMPORT_DIRS})
    get_filename_component(d ${d} ABSOLUTE)
    list(APPEND dirs ${d})
    list(APPEND flags -I${d})
  endforeach()
  foreach(proto ${G_PROTOS})
    get_filename_component(abs ${proto} ABSOLUTE)
    set(rel "")
    foreach(d ${dirs})
      file(RELATIVE_PATH r ${d} ${abs})
      if(NOT r MATCHES "^\\.\\./")
        set(rel ${r})
        break()
      endif()
    endforeach()
    if(rel STREQUAL "")
      message(FATAL_ERROR "px_protobuf_generate: ${abs} is in none of the IMPORT_DIRS (${dirs})")
    endif()
    string(REGEX REPLACE "\\.proto$" "" stem ${rel})
    add_custom_command(
      OUTPUT ${out}/${stem}.pb-c.c ${out}/${stem}.pb-c.h
      COMMAND ${CMAKE_COMMAND} -E make_directory ${out}
      COMMAND ${PLEXUS_PROTOC_C} --c_out=${out} ${flags} ${abs}
      DEPENDS ${abs}
      COMMENT "protoc-c ${rel}"
      VERBATIM)
    target_sources(${G_TARGET} PRIVATE ${out}/${stem}.pb-c.c ${out}/${stem}.pb-c.h)
  endforeach()
  target_include_directories(${G_TARGET} PUBLIC $<BUILD_INTERFACE:${out}>)
  target_link_libraries(${G_TARGET} PUBLIC plexus::protobuf-c)
endfunction()
