# Finds TensorRT's C++ API: NvInfer.h and libnvinfer (TensorRT_ROOT or the system paths).
# Defines TensorRT_FOUND, TensorRT_INCLUDE_DIR and the imported target TensorRT::nvinfer.
find_path(TensorRT_INCLUDE_DIR NvInfer.h
  HINTS ${TensorRT_ROOT} $ENV{TensorRT_ROOT} PATH_SUFFIXES include include/x86_64-linux-gnu)
find_library(TensorRT_LIBRARY nvinfer
  HINTS ${TensorRT_ROOT} $ENV{TensorRT_ROOT} PATH_SUFFIXES lib lib64 lib/x86_64-linux-gnu)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(TensorRT REQUIRED_VARS TensorRT_LIBRARY TensorRT_INCLUDE_DIR)
if(TensorRT_FOUND AND NOT TARGET TensorRT::nvinfer)
  add_library(TensorRT::nvinfer UNKNOWN IMPORTED)
  set_target_properties(TensorRT::nvinfer PROPERTIES
    IMPORTED_LOCATION "${TensorRT_LIBRARY}" INTERFACE_INCLUDE_DIRECTORIES "${TensorRT_INCLUDE_DIR}")
endif()
mark_as_advanced(TensorRT_INCLUDE_DIR TensorRT_LIBRARY)
