# Tests beyond the per-file cmocka drivers: the install + out-of-tree plugin build.
# Needs the whole build (cmake --install copies every target), so run it after `make`.
find_program(PX_BASH bash REQUIRED)
add_test(NAME integration.out_of_tree_calc
  COMMAND ${PX_BASH} ${CMAKE_CURRENT_SOURCE_DIR}/integration/out_of_tree.sh
          ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR} "${PX_SANITIZE}")
set_tests_properties(integration.out_of_tree_calc PROPERTIES
  ENVIRONMENT "${PX_TEST_ENV}" TIMEOUT 300 LABELS integration)
