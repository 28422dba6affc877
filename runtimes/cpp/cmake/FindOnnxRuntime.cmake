# Finds ONNX Runtime for the onnxruntime backend: the library from the `onnxruntime` Python
# wheel, the C/C++ API headers from a registry package that ships them (the wheel has none).
#
#   OnnxRuntime_LIBRARY      libonnxruntime.so.*; default: the wheel of INRGAN_PYTHON
#                            (onnxruntime/capi/libonnxruntime.so.<version>)
#   OnnxRuntime_INCLUDE_DIR  the directory with onnxruntime_cxx_api.h; default: fetched once
#                            with `npm pack` from the npm package INRGAN_ORT_HEADERS_PACKAGE,
#                            ONNX Runtime's official iOS framework (onnxruntime-c), whose
#                            Headers/ are the same C/C++ API on every platform, into
#                            INRGAN_DOWNLOAD_DIR. Nothing is committed to this repository.
#
# The C API is versioned (OrtGetApiBase()->GetApi(ORT_API_VERSION)): headers of an older
# ONNX Runtime work against a newer library; the backend refuses an older library at run time.
# Defines OnnxRuntime_FOUND, OnnxRuntime_VERSION (the library's), OnnxRuntime_API_VERSION (the
# headers') and the imported target OnnxRuntime::onnxruntime.
set(INRGAN_ORT_HEADERS_PACKAGE "com.github.asus4.onnxruntime@0.4.9" CACHE STRING
    "npm package@version whose iOS framework ships ONNX Runtime's C/C++ API headers")
set(INRGAN_DOWNLOAD_DIR "$ENV{HOME}/.cache/inrgan-export/downloads" CACHE PATH "Where fetched build inputs are kept")

set(_ort_why "")
if(NOT OnnxRuntime_LIBRARY AND INRGAN_PYTHON)
  execute_process(
    COMMAND "${INRGAN_PYTHON}" -c "import onnxruntime, pathlib; print(pathlib.Path(onnxruntime.__file__).parent / 'capi')"
    OUTPUT_VARIABLE _ort_capi OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _ort_rc ERROR_QUIET)
  if(_ort_rc EQUAL 0)
    file(GLOB _ort_libs "${_ort_capi}/libonnxruntime.so.*")
    list(FILTER _ort_libs EXCLUDE REGEX "providers")
    list(SORT _ort_libs)
    if(_ort_libs)
      list(GET _ort_libs -1 _ort_lib)
      set(OnnxRuntime_LIBRARY "${_ort_lib}" CACHE FILEPATH "libonnxruntime (from the onnxruntime wheel)")
    endif()
  endif()
endif()
if(NOT OnnxRuntime_LIBRARY)
  set(_ort_why "no libonnxruntime: pass -DINRGAN_PYTHON=<python with onnxruntime> or -DOnnxRuntime_LIBRARY=<path>")
endif()

if(NOT _ort_why AND NOT OnnxRuntime_INCLUDE_DIR)
  string(REGEX REPLACE "[@/]" "-" _ort_pkg_dir "${INRGAN_ORT_HEADERS_PACKAGE}")
  set(_ort_headers "${INRGAN_DOWNLOAD_DIR}/${_ort_pkg_dir}/Headers")
  set(_ort_member "package/Plugins/iOS~/onnxruntime.xcframework/ios-arm64_x86_64-simulator/onnxruntime.framework/Headers")
  if(NOT EXISTS "${_ort_headers}/onnxruntime_cxx_api.h")
    find_program(INRGAN_NPM npm)
    if(NOT INRGAN_NPM)
      set(_ort_why "no ONNX Runtime headers: npm (Debian package npm) is needed to fetch ${INRGAN_ORT_HEADERS_PACKAGE}, or pass -DOnnxRuntime_INCLUDE_DIR")
    else()
      set(_ort_tmp "${INRGAN_DOWNLOAD_DIR}/${_ort_pkg_dir}.partial")
      file(REMOVE_RECURSE "${_ort_tmp}")
      file(MAKE_DIRECTORY "${_ort_tmp}")
      message(STATUS "ONNX Runtime headers: npm pack ${INRGAN_ORT_HEADERS_PACKAGE} (once, into ${INRGAN_DOWNLOAD_DIR})")
      execute_process(COMMAND "${INRGAN_NPM}" pack --silent "${INRGAN_ORT_HEADERS_PACKAGE}"
                      WORKING_DIRECTORY "${_ort_tmp}" OUTPUT_VARIABLE _ort_tgz OUTPUT_STRIP_TRAILING_WHITESPACE
                      RESULT_VARIABLE _ort_rc ERROR_VARIABLE _ort_err)
      if(_ort_rc EQUAL 0)
        execute_process(COMMAND tar -xzf "${_ort_tgz}" "${_ort_member}" WORKING_DIRECTORY "${_ort_tmp}" RESULT_VARIABLE _ort_rc
                        ERROR_VARIABLE _ort_err)
      endif()
      if(_ort_rc EQUAL 0 AND EXISTS "${_ort_tmp}/${_ort_member}/onnxruntime_cxx_api.h")
        file(REMOVE_RECURSE "${INRGAN_DOWNLOAD_DIR}/${_ort_pkg_dir}")
        file(MAKE_DIRECTORY "${INRGAN_DOWNLOAD_DIR}/${_ort_pkg_dir}")
        file(RENAME "${_ort_tmp}/${_ort_member}" "${_ort_headers}")
        file(REMOVE_RECURSE "${_ort_tmp}")
      else()
        file(REMOVE_RECURSE "${_ort_tmp}")
        set(_ort_why "could not fetch ONNX Runtime headers from npm package ${INRGAN_ORT_HEADERS_PACKAGE}: ${_ort_err}")
      endif()
    endif()
  endif()
  if(NOT _ort_why)
    set(OnnxRuntime_INCLUDE_DIR "${_ort_headers}" CACHE PATH "ONNX Runtime C/C++ API headers")
  endif()
endif()

if(NOT _ort_why)
  file(STRINGS "${OnnxRuntime_INCLUDE_DIR}/onnxruntime_c_api.h" _ort_api REGEX "^#define ORT_API_VERSION [0-9]+")
  string(REGEX REPLACE ".* ([0-9]+)$" "\\1" OnnxRuntime_API_VERSION "${_ort_api}")
  string(REGEX MATCH "[0-9]+\\.[0-9]+\\.[0-9]+$" OnnxRuntime_VERSION "${OnnxRuntime_LIBRARY}")
  string(REGEX MATCH "^[0-9]+\\.([0-9]+)" _ort_minor "${OnnxRuntime_VERSION}")
  if(OnnxRuntime_VERSION AND CMAKE_MATCH_1 LESS OnnxRuntime_API_VERSION)
    set(_ort_why "libonnxruntime ${OnnxRuntime_VERSION} is older than the headers' C API version ${OnnxRuntime_API_VERSION}")
  endif()
endif()

if(NOT _ort_why)
  set(OnnxRuntime_FOUND TRUE)
  if(NOT TARGET OnnxRuntime::onnxruntime)
    # the wheel's file is libonnxruntime.so.1.<minor>.<patch> but its soname is libonnxruntime.so.1,
    # which the wheel does not have: link through a file of that name in the build tree, so the
    # build tree's RPATH finds it at run time
    add_library(OnnxRuntime::onnxruntime SHARED IMPORTED)
    set(_ort_link "${OnnxRuntime_LIBRARY}")  # an unversioned file (e.g. an Android AAR's) is linked as it is
    if(OnnxRuntime_VERSION)
      string(REGEX MATCH "^[0-9]+" _ort_major "${OnnxRuntime_VERSION}")
      set(_ort_link "${CMAKE_BINARY_DIR}/onnxruntime/libonnxruntime.so.${_ort_major}")
      file(MAKE_DIRECTORY "${CMAKE_BINARY_DIR}/onnxruntime")
      file(CREATE_LINK "${OnnxRuntime_LIBRARY}" "${_ort_link}" SYMBOLIC)
      set_target_properties(OnnxRuntime::onnxruntime PROPERTIES IMPORTED_SONAME "libonnxruntime.so.${_ort_major}")
    endif()
    set_target_properties(OnnxRuntime::onnxruntime PROPERTIES IMPORTED_LOCATION "${_ort_link}"
                          INTERFACE_INCLUDE_DIRECTORIES "${OnnxRuntime_INCLUDE_DIR}")
  endif()
else()
  set(OnnxRuntime_FOUND FALSE)
  set(OnnxRuntime_NOT_FOUND_REASON "${_ort_why}")
endif()
