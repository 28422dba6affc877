# Finds ExecuTorch's prebuilt C++ runtime for the executorch backend: the `executorch` Python
# wheel ships it (libexecutorch.so with the Module API and the data loaders, the CPU kernels,
# the XNNPACK delegate, the thread pool), its headers and a CMake package
# (share/cmake/executorch-config.cmake). None of these libraries needs libtorch or libc10.
#
#   ExecuTorch_ROOT   the package root (the directory with share/cmake/executorch-config.cmake
#                     and lib/); default: the wheel of INRGAN_PYTHON, located without importing
#                     it (importing executorch imports torch)
#
# The package defines imported targets only on CMake >= 3.28 and otherwise hands out paths and
# variables, so the targets are made here from those variables, the same on every CMake:
#   ExecuTorch::runtime     libexecutorch (include directories, compile definitions)
#   ExecuTorch::xnnpack     the XNNPACK delegate   } registration-only libraries: linked with
#   ExecuTorch::kernels     the CPU kernels        } --no-as-needed, or the linker drops them
#                                                    and loading a program fails ("backend
#                                                    XnnpackBackend is not registered",
#                                                    "missing operator")
# Defines ExecuTorch_FOUND, ExecuTorch_VERSION, ExecuTorch_LIBRARY_DIR, ExecuTorch_NOT_FOUND_REASON.
set(_et_why "")
if(NOT ExecuTorch_ROOT AND INRGAN_PYTHON)
  execute_process(
    COMMAND "${INRGAN_PYTHON}" -c "import importlib.util as u; s = u.find_spec('executorch'); print(list(s.submodule_search_locations)[0] if s else '')"
    OUTPUT_VARIABLE _et_root OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _et_rc ERROR_QUIET)
  if(_et_rc EQUAL 0 AND _et_root AND EXISTS "${_et_root}/share/cmake/executorch-config.cmake")
    set(ExecuTorch_ROOT "${_et_root}" CACHE PATH "ExecuTorch package root (from the executorch wheel)")
  endif()
endif()
if(NOT ExecuTorch_ROOT)
  set(_et_why "no ExecuTorch package: pass -DINRGAN_PYTHON=<python with the executorch wheel> or -DExecuTorch_ROOT=<package root>")
endif()

if(NOT _et_why)
  find_package(executorch CONFIG QUIET NO_DEFAULT_PATH PATHS "${ExecuTorch_ROOT}/share/cmake")
  if(NOT EXECUTORCH_FOUND OR NOT EXECUTORCH_RUNTIME_LIBRARY_DIR)
    set(_et_why "the ExecuTorch package at ${ExecuTorch_ROOT} has no prebuilt C++ runtime (libexecutorch)")
  endif()
endif()

if(NOT _et_why)
  get_filename_component(ExecuTorch_LIBRARY_DIR "${EXECUTORCH_RUNTIME_LIBRARY_DIR}" REALPATH)
  set(ExecuTorch_VERSION "${EXECUTORCH_BUILD_VERSION}")
  foreach(_et_part runtime:libexecutorch xnnpack:libexecutorch_backend_xnnpack kernels:libexecutorch_kernels_optimized
                   threadpool:libexecutorch_threadpool)
    string(REPLACE ":" ";" _et_pair "${_et_part}")
    list(GET _et_pair 1 _et_file)
    if(NOT EXISTS "${ExecuTorch_LIBRARY_DIR}/${_et_file}.so")
      set(_et_why "the ExecuTorch package at ${ExecuTorch_ROOT} lacks lib/${_et_file}.so")
      break()
    endif()
  endforeach()
endif()

if(NOT _et_why)
  set(ExecuTorch_FOUND TRUE)
  if(NOT TARGET ExecuTorch::runtime)
    add_library(ExecuTorch::runtime SHARED IMPORTED)
    set_target_properties(ExecuTorch::runtime PROPERTIES
      IMPORTED_LOCATION "${ExecuTorch_LIBRARY_DIR}/libexecutorch.so"
      INTERFACE_INCLUDE_DIRECTORIES "${EXECUTORCH_INCLUDE_DIRS}"
      # the shipped libraries are compiled with these; the c10 headers need the first
      INTERFACE_COMPILE_DEFINITIONS "${EXECUTORCH_COMPILE_DEFINITIONS}")
    add_library(ExecuTorch::threadpool SHARED IMPORTED)
    set_target_properties(ExecuTorch::threadpool PROPERTIES
      IMPORTED_LOCATION "${ExecuTorch_LIBRARY_DIR}/libexecutorch_threadpool.so"
      INTERFACE_LINK_LIBRARIES ExecuTorch::runtime)
    foreach(_et_part xnnpack:libexecutorch_backend_xnnpack kernels:libexecutorch_kernels_optimized)
      string(REPLACE ":" ";" _et_pair "${_et_part}")
      list(GET _et_pair 0 _et_name)
      list(GET _et_pair 1 _et_file)
      add_library(ExecuTorch::${_et_name} SHARED IMPORTED)
      set_target_properties(ExecuTorch::${_et_name} PROPERTIES
        IMPORTED_LOCATION "${ExecuTorch_LIBRARY_DIR}/${_et_file}.so"
        INTERFACE_LINK_LIBRARIES "ExecuTorch::runtime;ExecuTorch::threadpool")
      if(CMAKE_SYSTEM_NAME STREQUAL "Linux" OR CMAKE_SYSTEM_NAME STREQUAL "Android")
        # registers itself from a static initializer: nothing references it, keep it anyway
        set_property(TARGET ExecuTorch::${_et_name} APPEND PROPERTY INTERFACE_LINK_OPTIONS
                     "LINKER:--push-state,--no-as-needed,${ExecuTorch_LIBRARY_DIR}/${_et_file}.so,--pop-state")
      endif()
    endforeach()
  endif()
else()
  set(ExecuTorch_FOUND FALSE)
  set(ExecuTorch_NOT_FOUND_REASON "${_et_why}")
endif()
