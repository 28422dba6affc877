# Finds the backends' SDKs.
#
# OpenVINO: its CMake config ships in the pip wheel; ask INRGAN_PYTHON where
# (openvino.utils.get_cmake_path()) unless OpenVINO_DIR is given.
# TensorRT: INRGAN_WITH_TENSORRT=OFF (default) | AUTO | ON; see FindTensorRT.cmake.
set(INRGAN_OPENVINO_STATUS "not built (INRGAN_WITH_OPENVINO=OFF)")
if(INRGAN_WITH_OPENVINO)
  if(NOT OpenVINO_DIR AND INRGAN_PYTHON)
    execute_process(
      COMMAND "${INRGAN_PYTHON}" -c "from openvino.utils import get_cmake_path; print(get_cmake_path())"
      OUTPUT_VARIABLE _ov_cmake OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _ov_rc ERROR_QUIET)
    if(_ov_rc EQUAL 0 AND EXISTS "${_ov_cmake}")
      set(OpenVINO_DIR "${_ov_cmake}" CACHE PATH "OpenVINO's CMake config (from the pip wheel)")
    endif()
  endif()
  find_package(OpenVINO QUIET COMPONENTS Runtime)
  if(NOT OpenVINO_FOUND)
    message(FATAL_ERROR "OpenVINO not found: pass -DINRGAN_PYTHON=<python with openvino installed> "
                        "or -DOpenVINO_DIR=<dir with OpenVINOConfig.cmake>, or -DINRGAN_WITH_OPENVINO=OFF")
  endif()
  set(INRGAN_OPENVINO_STATUS "built (${OpenVINO_VERSION}, ${OpenVINO_DIR})")
endif()

set(INRGAN_TENSORRT_STATUS "not built (INRGAN_WITH_TENSORRT=OFF)")
set(INRGAN_TENSORRT_FOUND OFF)
if(NOT INRGAN_WITH_TENSORRT STREQUAL "OFF")
  find_package(TensorRT)
  find_package(CUDAToolkit QUIET)
  if(TensorRT_FOUND AND CUDAToolkit_FOUND)
    set(INRGAN_TENSORRT_FOUND ON)
    set(INRGAN_TENSORRT_STATUS "built (${TensorRT_INCLUDE_DIR})")
  elseif(INRGAN_WITH_TENSORRT STREQUAL "ON")
    message(FATAL_ERROR "INRGAN_WITH_TENSORRT=ON but TensorRT (NvInfer.h, libnvinfer) or the CUDA toolkit was not found; "
                        "set TensorRT_ROOT, or use AUTO/OFF")
  else()
    set(INRGAN_TENSORRT_STATUS "not built (TensorRT or CUDA not found)")
  endif()
endif()

# ONNX Runtime: INRGAN_WITH_ONNXRUNTIME=OFF | AUTO (default) | ON; see FindOnnxRuntime.cmake.
set(INRGAN_ONNXRUNTIME_STATUS "not built (INRGAN_WITH_ONNXRUNTIME=OFF)")
set(INRGAN_ONNXRUNTIME_FOUND OFF)
if(NOT INRGAN_WITH_ONNXRUNTIME STREQUAL "OFF")
  find_package(OnnxRuntime)
  if(OnnxRuntime_FOUND)
    set(INRGAN_ONNXRUNTIME_FOUND ON)
    set(INRGAN_ONNXRUNTIME_STATUS "built (library ${OnnxRuntime_VERSION}, headers of C API ${OnnxRuntime_API_VERSION})")
  elseif(INRGAN_WITH_ONNXRUNTIME STREQUAL "ON")
    message(FATAL_ERROR "INRGAN_WITH_ONNXRUNTIME=ON but ${OnnxRuntime_NOT_FOUND_REASON}")
  else()
    set(INRGAN_ONNXRUNTIME_STATUS "not built (${OnnxRuntime_NOT_FOUND_REASON})")
  endif()
endif()

# ExecuTorch: INRGAN_WITH_EXECUTORCH=OFF | AUTO (default) | ON; see FindExecuTorch.cmake.
set(INRGAN_EXECUTORCH_STATUS "not built (INRGAN_WITH_EXECUTORCH=OFF)")
set(INRGAN_EXECUTORCH_FOUND OFF)
if(NOT INRGAN_WITH_EXECUTORCH STREQUAL "OFF")
  find_package(ExecuTorch MODULE)
  if(ExecuTorch_FOUND)
    set(INRGAN_EXECUTORCH_FOUND ON)
    set(INRGAN_EXECUTORCH_STATUS "built (${ExecuTorch_VERSION}, ${ExecuTorch_LIBRARY_DIR})")
  elseif(INRGAN_WITH_EXECUTORCH STREQUAL "ON")
    message(FATAL_ERROR "INRGAN_WITH_EXECUTORCH=ON but ${ExecuTorch_NOT_FOUND_REASON}")
  else()
    set(INRGAN_EXECUTORCH_STATUS "not built (${ExecuTorch_NOT_FOUND_REASON})")
  endif()
endif()
