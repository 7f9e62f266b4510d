# CRM_FUZZ=ON: the libFuzzer build (fuzz/, scripts/fuzz.sh).
#
# Every project library is compiled with coverage instrumentation for
# libFuzzer (-fsanitize=fuzzer-no-link) and with ASan+UBSan, so a finding
# anywhere in the project's code under a fuzz target is reported; only the
# fuzz targets link libFuzzer's main (-fsanitize=fuzzer, fuzz/CMakeLists.txt).
# Debian's Abseil, protobuf and gRPC are built with g++ and stay
# uninstrumented; they link fine with clang++ (both use libstdc++).
# Use a separate build directory: scripts/fuzz.sh configures build-fuzz.
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR
    "CRM_FUZZ=ON needs clang (libFuzzer): configure a separate build with "
    "-DCMAKE_CXX_COMPILER=clang++-14, or run scripts/fuzz.sh")
endif()
if(CRM_SANITIZE)
  message(FATAL_ERROR "CRM_FUZZ=ON already enables ASan+UBSan; drop CRM_SANITIZE")
endif()
# -fno-sanitize-recover: any undefined behaviour aborts, so libFuzzer records
# it as a crash with its reproducer. -fno-sanitize=vptr as in CRM_SANITIZE
# (Debian's libraries do not export every typeinfo the check needs).
set(CRM_FUZZ_SANITIZERS -fsanitize=address,undefined -fno-sanitize=vptr
    -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
add_compile_options(-fsanitize=fuzzer-no-link ${CRM_FUZZ_SANITIZERS})
add_link_options(${CRM_FUZZ_SANITIZERS})
