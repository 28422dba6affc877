# `cmake --install BUILD --prefix P` puts the headers, the static library, inrgan-render (and
# inrgan-bench) and a CMake package config into P, so another project can use
#
#   find_package(inrgan CONFIG REQUIRED)     # with CMAKE_PREFIX_PATH=P (or inrgan_DIR)
#   target_link_libraries(app PRIVATE inrgan::inrgan)
#
# INRGAN_BUNDLE_BACKENDS=ON (default): the backends' shared libraries that were built in
# (OpenVINO core, its CPU plugins, IR/ONNX frontends and TBB; libonnxruntime with its soname
# link; ExecuTorch's runtime, kernels, XNNPACK delegate and thread pool) are installed into
# P/lib with their licences in P/share/licenses/<backend>/; the tools find them through RPATH
# $ORIGIN/../lib and the package config links them from P, so P works wherever it is moved and
# without the Python environment the build used (see InrganBundle.cmake). OFF: nothing of the
# backends is installed and the tools keep absolute run paths to them (distributions that
# provide them); the config then finds them as the build did.
#
# The library is static, so the config also finds what it links: nlohmann-json, OpenSSL's
# libcrypto, libpng (system packages), and the backends; see inrganConfig.cmake.in.
include(CMakePackageConfigHelpers)
set(INRGAN_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/inrgan)

install(TARGETS inrgan EXPORT inrganTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/inrgan DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

set(INRGAN_INSTALLED_TOOLS inrgan-render)
if(TARGET inrgan-bench)
  list(APPEND INRGAN_INSTALLED_TOOLS inrgan-bench)
endif()
if(INRGAN_BUNDLE_BACKENDS)
  file(RELATIVE_PATH _inrgan_bin_to_lib "/p/${CMAKE_INSTALL_BINDIR}" "/p/${CMAKE_INSTALL_LIBDIR}")
  set_target_properties(${INRGAN_INSTALLED_TOOLS} PROPERTIES
    INSTALL_RPATH "$ORIGIN/${_inrgan_bin_to_lib}" INSTALL_RPATH_USE_LINK_PATH OFF)
else()
  # the installed tools keep the run paths to the backends' libraries (e.g. inside a venv's wheels)
  set_target_properties(${INRGAN_INSTALLED_TOOLS} PROPERTIES INSTALL_RPATH_USE_LINK_PATH ON)
endif()
install(TARGETS ${INRGAN_INSTALLED_TOOLS} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(EXPORT inrganTargets NAMESPACE inrgan:: DESTINATION ${INRGAN_CMAKE_DIR})
if(INRGAN_BUNDLE_BACKENDS)
  include(InrganBundle)
endif()

# values the config needs at the consumer's configure time
set(INRGAN_CONFIG_WITH_OPENVINO ${INRGAN_WITH_OPENVINO})
set(INRGAN_CONFIG_WITH_TENSORRT ${INRGAN_TENSORRT_FOUND})
set(INRGAN_CONFIG_OPENVINO_DIR "${OpenVINO_DIR}")
set(INRGAN_CONFIG_WITH_ONNXRUNTIME ${INRGAN_ONNXRUNTIME_FOUND})
set(INRGAN_CONFIG_ONNXRUNTIME_LIBRARY "${OnnxRuntime_LIBRARY}")
set(INRGAN_CONFIG_ONNXRUNTIME_INCLUDE_DIR "${OnnxRuntime_INCLUDE_DIR}")
set(INRGAN_CONFIG_WITH_EXECUTORCH ${INRGAN_EXECUTORCH_FOUND})
set(INRGAN_CONFIG_EXECUTORCH_ROOT "${ExecuTorch_ROOT}")
set(INRGAN_CONFIG_BUNDLED ${INRGAN_BUNDLE_BACKENDS})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/inrganConfig.cmake.in
  ${PROJECT_BINARY_DIR}/inrganConfig.cmake INSTALL_DESTINATION ${INRGAN_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/inrganConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/inrganConfig.cmake ${PROJECT_BINARY_DIR}/inrganConfigVersion.cmake
              ${PROJECT_SOURCE_DIR}/cmake/FindTensorRT.cmake
              ${PROJECT_SOURCE_DIR}/cmake/FindOnnxRuntime.cmake
              ${PROJECT_SOURCE_DIR}/cmake/FindExecuTorch.cmake
        DESTINATION ${INRGAN_CMAKE_DIR})

# the release archive: `cpack --config BUILD/CPackConfig.cmake` (or runtimes/cpp/package.sh)
# writes inrgan-runtime-<version>-linux-<arch>.tar.gz, the install tree under one top folder
string(TOLOWER "${CMAKE_SYSTEM_NAME}" _inrgan_system)
set(_inrgan_arch "${CMAKE_SYSTEM_PROCESSOR}")
if(_inrgan_arch MATCHES "^(AMD64|amd64)$")
  set(_inrgan_arch x86_64)
elseif(_inrgan_arch MATCHES "^(arm64|ARM64)$")
  set(_inrgan_arch aarch64)
endif()
set(CPACK_PACKAGE_NAME inrgan-runtime)
set(CPACK_PACKAGE_VENDOR inrgan-export)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "inrgan C++ runtime: inrgan-render, the inrgan library and the backends it runs on")
set(CPACK_PACKAGE_FILE_NAME "inrgan-runtime-${PROJECT_VERSION}-${_inrgan_system}-${_inrgan_arch}")
set(CPACK_GENERATOR TGZ)
set(CPACK_INCLUDE_TOPLEVEL_DIRECTORY ON)
set(CPACK_PACKAGE_DIRECTORY "${PROJECT_BINARY_DIR}/package")
set(CPACK_ARCHIVE_THREADS 0)  # all cores (CMake >= 3.18 for xz/zstd; ignored by gzip)
include(CPack)
