# Shared compile settings and helpers for the project's own targets.

set(CRM_WARNINGS -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers)
if(CRM_WERROR)
  list(APPEND CRM_WARNINGS -Werror)
endif()
set(CRM_SANITIZER_FLAGS)
if(CRM_SANITIZE)
  # -fno-sanitize=vptr: Debian's libsoci does not export the typeinfo of its
  # internal polymorphic classes, so the vptr check cannot link.
  set(CRM_SANITIZER_FLAGS -fsanitize=address,undefined -fno-sanitize=vptr -fno-omit-frame-pointer
      -fno-sanitize-recover=undefined)
  add_compile_options(${CRM_SANITIZER_FLAGS})
  add_link_options(${CRM_SANITIZER_FLAGS})
endif()

# crm_library(NAME SOURCES... DEPS ...): a static library for one folder.
function(crm_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  if(NOT ARG_SOURCES)
    # A folder with headers only (or not yet any sources).
    add_library(${name} INTERFACE)
    target_include_directories(${name} INTERFACE ${PROJECT_SOURCE_DIR})
    target_link_libraries(${name} INTERFACE ${ARG_DEPS})
    return()
  endif()
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_compile_options(${name} PRIVATE ${CRM_WARNINGS})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
endfunction()

# crm_test(NAME SOURCES... DEPS ... [LABELS ...]): one GoogleTest binary,
# registered with ctest test by test.
include(GoogleTest)
function(crm_test name)
  cmake_parse_arguments(ARG "POSTGRES" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_compile_options(${name} PRIVATE ${CRM_WARNINGS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  # Every test binary may use PostgreSQL: the ctest fixture "pg" starts one
  # throwaway cluster for the whole run (tests/pg/pg_cluster.sh) and stops it
  # at the end. Tests find it through CRM_TEST_PG_DIR.
  gtest_discover_tests(${name}
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
    PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT}
               FIXTURES_REQUIRED pg
               ENVIRONMENT "CRM_TEST_PG_DIR=${CMAKE_BINARY_DIR}/pg;CRM_SOURCE_DIR=${PROJECT_SOURCE_DIR};CRM_BINARY_DIR=${CMAKE_BINARY_DIR}"
    DISCOVERY_TIMEOUT 60)
endfunction()
