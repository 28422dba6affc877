# `cmake --install BUILD --prefix P` puts the headers, the static library, inrgan-render and a
# CMake package config into P, so another project can use
#
#   find_package(inrgan CONFIG REQUIRED)     # with CMAKE_PREFIX_PATH=P (or inrgan_DIR)
#   target_link_libraries(app PRIVATE inrgan::inrgan)
#
# The library is static, so the config also finds what it links: nlohmann-json, OpenSSL's
# libcrypto, libpng, and OpenVINO (and TensorRT + CUDA, ONNX Runtime, ExecuTorch when built with them); see
# inrganConfig.cmake.in for how OpenVINO is found.
include(CMakePackageConfigHelpers)
set(INRGAN_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/inrgan)

install(TARGETS inrgan EXPORT inrganTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/inrgan DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# the installed tool keeps the run path to OpenVINO's libraries (inside the venv's wheel)
set_target_properties(inrgan-render PROPERTIES INSTALL_RPATH_USE_LINK_PATH ON)
install(TARGETS inrgan-render RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(EXPORT inrganTargets NAMESPACE inrgan:: DESTINATION ${INRGAN_CMAKE_DIR})

# values the config needs at the consumer's configure time
set(INRGAN_CONFIG_WITH_OPENVINO ${INRGAN_WITH_OPENVINO})
set(INRGAN_CONFIG_WITH_TENSORRT ${INRGAN_TENSORRT_FOUND})
set(INRGAN_CONFIG_OPENVINO_DIR "${OpenVINO_DIR}")
set(INRGAN_CONFIG_WITH_ONNXRUNTIME ${INRGAN_ONNXRUNTIME_FOUND})
set(INRGAN_CONFIG_ONNXRUNTIME_LIBRARY "${OnnxRuntime_LIBRARY}")
set(INRGAN_CONFIG_ONNXRUNTIME_INCLUDE_DIR "${OnnxRuntime_INCLUDE_DIR}")
set(INRGAN_CONFIG_WITH_EXECUTORCH ${INRGAN_EXECUTORCH_FOUND})
set(INRGAN_CONFIG_EXECUTORCH_ROOT "${ExecuTorch_ROOT}")
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/inrganConfig.cmake.in
  ${PROJECT_BINARY_DIR}/inrganConfig.cmake INSTALL_DESTINATION ${INRGAN_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/inrganConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/inrganConfig.cmake ${PROJECT_BINARY_DIR}/inrganConfigVersion.cmake
              ${PROJECT_SOURCE_DIR}/cmake/FindTensorRT.cmake
              ${PROJECT_SOURCE_DIR}/cmake/FindOnnxRuntime.cmake
              ${PROJECT_SOURCE_DIR}/cmake/FindExecuTorch.cmake
        DESTINATION ${INRGAN_CMAKE_DIR})
