# px_add_module(NAME SOURCES... [LIBS ...]): a module .so named NAME.so (no "lib"
# prefix), linked against libplexus, written to the shared module directory and
# installed with the standard modules. In-tree the top-level CMakeLists.txt sets
# PX_MODULE_OUTPUT_DIR and PX_INSTALL_MODULEDIR; a project that got this file from
# find_package(plexus) gets the defaults below.
include(GNUInstallDirs)

function(px_add_module name)
  cmake_parse_arguments(M "" "" "SOURCES;LIBS" ${ARGN})
  if(DEFINED PX_MODULE_OUTPUT_DIR)
    set(out_dir ${PX_MODULE_OUTPUT_DIR})
  else()
    set(out_dir ${CMAKE_CURRENT_BINARY_DIR})
  endif()
  if(DEFINED PX_INSTALL_MODULEDIR)
    set(install_dir ${PX_INSTALL_MODULEDIR})
  else()
    set(install_dir ${CMAKE_INSTALL_LIBDIR}/plexus/modules)
  endif()
  # Installed modules find libplexus.so next to them ($prefix/lib) or, out of tree,
  # where the plexus package that built them lives.
  set(rpath "$ORIGIN")
  if(NOT IS_ABSOLUTE "${install_dir}" AND NOT IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
    file(RELATIVE_PATH rel "/prefix/${install_dir}" "/prefix/${CMAKE_INSTALL_LIBDIR}")
    set(rpath "$ORIGIN/${rel}")
  endif()
  if(DEFINED PLEXUS_LIBRARY_DIR)
    list(APPEND rpath ${PLEXUS_LIBRARY_DIR})
  endif()
  add_library(${name} MODULE ${M_SOURCES} ${M_UNPARSED_ARGUMENTS})
  target_link_libraries(${name} PRIVATE plexus::plexus ${M_LIBS})
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    C_VISIBILITY_PRESET hidden
    LIBRARY_OUTPUT_DIRECTORY ${out_dir}
    INSTALL_RPATH "${rpath}")
  install(TARGETS ${name} LIBRARY DESTINATION ${install_dir})
endfunction()
