# Installing the SDK: libplexus.so, the public headers, PlexusModule.cmake and
# PlexusProtobuf.cmake, a CMake package (find_package(plexus) -> plexus::plexus,
# plexus::protobuf-c, px_add_module, px_protobuf_generate) and plexus.pc.
# The standard modules and the tools install themselves where they are defined.
include(CMakePackageConfigHelpers)

set(PX_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/plexus)

install(TARGETS plexus EXPORT plexusTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/core/include/plexus
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h")
install(EXPORT plexusTargets NAMESPACE plexus:: FILE plexusTargets.cmake
  DESTINATION ${PX_INSTALL_CMAKEDIR})

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/plexusConfig.cmake.in
  ${PROJECT_BINARY_DIR}/plexusConfig.cmake
  INSTALL_DESTINATION ${PX_INSTALL_CMAKEDIR}
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR CMAKE_INSTALL_LIBDIR PX_INSTALL_MODULEDIR)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/plexusConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/plexusConfig.cmake
  ${PROJECT_BINARY_DIR}/plexusConfigVersion.cmake
  ${PROJECT_SOURCE_DIR}/cmake/PlexusModule.cmake
  ${PROJECT_SOURCE_DIR}/cmake/PlexusProtobuf.cmake
  DESTINATION ${PX_INSTALL_CMAKEDIR})

# plexus.pc locates its prefix from its own directory, so a staged or moved install
# (cmake --install --prefix ...) still points at the right include and lib dirs.
set(PX_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
if(NOT IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  file(RELATIVE_PATH PX_PC_UP "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
  string(REGEX REPLACE "/$" "" PX_PC_UP "${PX_PC_UP}")
  set(PX_PC_PREFIX "\${pcfiledir}/${PX_PC_UP}")
endif()
foreach(v LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${v}}")
    set(PX_PC_${v} "${CMAKE_INSTALL_${v}}")
  else()
    set(PX_PC_${v} "\${prefix}/${CMAKE_INSTALL_${v}}")
  endif()
endforeach()
if(IS_ABSOLUTE "${PX_INSTALL_MODULEDIR}")
  set(PX_PC_MODULEDIR "${PX_INSTALL_MODULEDIR}")
else()
  set(PX_PC_MODULEDIR "\${prefix}/${PX_INSTALL_MODULEDIR}")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/plexus.pc.in ${PROJECT_BINARY_DIR}/plexus.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/plexus.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# The manual pages, written by hand in man(7) (docs/man; tests/integration/man_pages.sh).
install(FILES ${PROJECT_SOURCE_DIR}/docs/man/plexus.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${PROJECT_SOURCE_DIR}/docs/man/plexus.yaml.5 DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)
install(FILES ${PROJECT_SOURCE_DIR}/docs/man/plexusd.8 DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
