# Locates every third-party dependency and wraps the ones without CMake
# configs in imported targets. See docs of each pitfall in TOOLCHAIN notes.
find_package(Threads REQUIRED)
find_package(Protobuf REQUIRED)          # CMake's own module: protobuf has no config
find_package(gRPC CONFIG REQUIRED)       # needs protobuf-compiler-grpc installed
find_package(absl CONFIG REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(PostgreSQL REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(GTest CONFIG REQUIRED)
find_package(benchmark CONFIG QUIET)
find_package(prometheus-cpp CONFIG REQUIRED)  # libprometheus-cpp-dev
find_package(PkgConfig REQUIRED)
pkg_check_modules(MAXMINDDB REQUIRED IMPORTED_TARGET libmaxminddb)
pkg_check_modules(ARGON2 REQUIRED IMPORTED_TARGET libargon2)

# SOCI ships neither a CMake config nor a pkg-config file.
find_path(SOCI_INCLUDE_DIR soci/soci.h REQUIRED)
find_path(BOOST_INCLUDE_DIR boost/fusion/include/vector.hpp REQUIRED)
foreach(component core postgresql sqlite3)
  find_library(SOCI_${component}_LIBRARY NAMES soci_${component} REQUIRED)
  add_library(SOCI::${component} UNKNOWN IMPORTED)
  set_target_properties(SOCI::${component} PROPERTIES
    IMPORTED_LOCATION ${SOCI_${component}_LIBRARY}
    INTERFACE_INCLUDE_DIRECTORIES "${SOCI_INCLUDE_DIR};${BOOST_INCLUDE_DIR}")
endforeach()
target_link_libraries(SOCI::postgresql INTERFACE SOCI::core PostgreSQL::PostgreSQL)
target_link_libraries(SOCI::sqlite3 INTERFACE SOCI::core SQLite::SQLite3)
