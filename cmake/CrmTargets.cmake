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
    DISCOVERY_TIMEOUT 60)
  # The tests' environment is set here, not in PROPERTIES above: GoogleTest's
  # discovery script (CMake 3.25) reparses PROPERTIES with
  # cmake_parse_arguments, which splits a list value on ';' however it is
  # escaped, so "ENVIRONMENT A=1;B=2;C=3" became ENVIRONMENT A=1 and a bogus
  # property B=2 with value C=3: only the first variable reached the tests.
  # Instead a file that ctest includes after the discovered tests sets the
  # whole list on every test of this binary (${name}_TESTS is the list the
  # discovery file defines). Check: ctest --show-only=json-v1.
  set(env "CRM_TEST_PG_DIR=${CMAKE_BINARY_DIR}/pg"
          "CRM_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
          "CRM_BINARY_DIR=${CMAKE_BINARY_DIR}")
  set(env_file "${CMAKE_CURRENT_BINARY_DIR}/${name}_environment.cmake")
  file(WRITE "${env_file}"
    "if(DEFINED ${name}_TESTS)\n"
    "  set_tests_properties(\${${name}_TESTS} PROPERTIES ENVIRONMENT [==[${env}]==])\n"
    "endif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${env_file}")
endfunction()
