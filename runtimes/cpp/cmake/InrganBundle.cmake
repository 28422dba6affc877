# INRGAN_BUNDLE_BACKENDS=ON: `cmake --install` copies the shared libraries of the backends that
# were built into P/lib, and their licences into P/share/licenses/<backend>/.
#
# What is copied (by InrganBundleInstall.cmake, at install time):
#   * every library the installed tools load at start, found by file(GET_RUNTIME_DEPENDENCIES)
#     on the built tools, that lives in a backend's library folder (system libraries --
#     libc, libstdc++, libcrypto, libpng -- are left to the system); each under the name the
#     loader asks for (libonnxruntime.so.1 as a link to the wheel's libonnxruntime.so.1.x.y);
#   * what OpenVINO loads itself at run time, which no NEEDED entry names: its CPU, AUTO,
#     HETERO and BATCH plugins and the IR and ONNX frontends (OpenVINO looks for both next to
#     libopenvino.so; plugins.xml too where a distribution has one -- the wheels compile the
#     plugin list in), libtbbbind/libhwloc and libtbbmalloc that oneTBB opens when present,
#     and whatever these need in turn.
# The copied libraries are left as they are: the wheels built them with RUNPATH $ORIGIN, so
# they find each other in P/lib. The tools get RPATH $ORIGIN/../lib (InrganInstall.cmake).
# The package config links the copies in P/lib (INRGAN_CONFIG_BUNDLED_TARGETS below).

# the file an imported target links, at configure time
function(_inrgan_imported_file out target)
  set(_file "")
  foreach(_cfg RELEASE RELWITHDEBINFO MINSIZEREL NOCONFIG DEBUG "")
    if(_cfg)
      get_target_property(_file ${target} IMPORTED_LOCATION_${_cfg})
    else()
      get_target_property(_file ${target} IMPORTED_LOCATION)
    endif()
    if(_file)
      break()
    endif()
  endforeach()
  if(NOT _file)
    message(FATAL_ERROR "INRGAN_BUNDLE_BACKENDS: cannot tell which file ${target} links; configure with -DINRGAN_BUNDLE_BACKENDS=OFF")
  endif()
  set(${out} "${_file}" PARENT_SCOPE)
endfunction()

# licence files of a pip wheel: <pkg>/LICENSE*, ThirdPartyNotices*, and the dist-info's
# licence files (<dist>-<version>.dist-info/LICENSE*, licenses/**) next to the package
function(_inrgan_bundle_licenses backend pkgdir)
  get_filename_component(_site "${pkgdir}" DIRECTORY)
  get_filename_component(_dist "${pkgdir}" NAME)
  file(GLOB _files LIST_DIRECTORIES false
       "${pkgdir}/LICEN[CS]E*" "${pkgdir}/COPYING*" "${pkgdir}/NOTICE*" "${pkgdir}/ThirdPartyNotices*"
       "${_site}/${_dist}-*.dist-info/LICEN[CS]E*" "${_site}/${_dist}-*.dist-info/COPYING*" "${_site}/${_dist}-*.dist-info/NOTICE*")
  file(GLOB _dirs LIST_DIRECTORIES true "${_site}/${_dist}-*.dist-info/licenses")
  set(_dest ${CMAKE_INSTALL_DATADIR}/licenses/${backend})
  if(_files)
    install(FILES ${_files} DESTINATION ${_dest})
  endif()
  foreach(_d IN LISTS _dirs)
    if(IS_DIRECTORY "${_d}")
      install(DIRECTORY "${_d}/" DESTINATION ${_dest})
      list(APPEND _files "${_d}")
    endif()
  endforeach()
  if(NOT _files)
    message(WARNING "INRGAN_BUNDLE_BACKENDS: no licence files of ${backend} found in ${pkgdir} or its wheel's "
                    "dist-info; the install bundles ${backend}'s libraries without them")
  endif()
endfunction()

set(_inrgan_dirs "")        # backend=folder of its libraries (and links to them)
set(_inrgan_modules "")     # backend=library loaded at run time that no NEEDED entry names
set(_inrgan_required "")    # file names that must be among the modules
set(INRGAN_CONFIG_BUNDLED_TARGETS "")
set(_libdir "\${PACKAGE_PREFIX_DIR}/${CMAKE_INSTALL_LIBDIR}")

if(INRGAN_WITH_OPENVINO)
  _inrgan_imported_file(_ov_lib openvino::runtime)
  get_filename_component(_ov_lib "${_ov_lib}" REALPATH)
  get_filename_component(_ov_dir "${_ov_lib}" DIRECTORY)
  get_target_property(_ov_soname openvino::runtime IMPORTED_SONAME_RELEASE)
  if(NOT _ov_soname)
    get_filename_component(_ov_soname "${_ov_lib}" NAME)
  endif()
  list(APPEND _inrgan_dirs "openvino=${_ov_dir}")
  set(_ov_globs libopenvino_intel_cpu_plugin.so libopenvino_auto_plugin.so libopenvino_hetero_plugin.so
                libopenvino_auto_batch_plugin.so libopenvino_ir_frontend.so* libopenvino_onnx_frontend.so*
                libtbbbind*.so* libtbbmalloc.so*)
  foreach(_glob IN LISTS _ov_globs)
    file(GLOB _found "${_ov_dir}/${_glob}")
    list(FILTER _found EXCLUDE REGEX "\\.(pc|cmake)$")
    foreach(_f IN LISTS _found)
      list(APPEND _inrgan_modules "openvino=${_f}")
    endforeach()
  endforeach()
  list(APPEND _inrgan_required libopenvino_intel_cpu_plugin.so "libopenvino_ir_frontend.so*" "libopenvino_onnx_frontend.so*")
  if(EXISTS "${_ov_dir}/plugins.xml")  # OpenVINO archives list their plugins there; the wheels compile the list in
    install(FILES "${_ov_dir}/plugins.xml" DESTINATION ${CMAKE_INSTALL_LIBDIR})
  endif()
  get_filename_component(_ov_pkg "${_ov_dir}" DIRECTORY)  # <site-packages>/openvino/libs -> openvino
  _inrgan_bundle_licenses(openvino "${_ov_pkg}")
  string(APPEND INRGAN_CONFIG_BUNDLED_TARGETS
    "if(NOT TARGET openvino::runtime)\n"
    "  add_library(openvino::runtime SHARED IMPORTED)\n"
    "  set_target_properties(openvino::runtime PROPERTIES IMPORTED_LOCATION \"${_libdir}/${_ov_soname}\" IMPORTED_SONAME \"${_ov_soname}\")\n"
    "endif()\n")
endif()

if(INRGAN_ONNXRUNTIME_FOUND)
  _inrgan_imported_file(_ort_link OnnxRuntime::onnxruntime)  # build/onnxruntime/libonnxruntime.so.1 (a link)
  get_filename_component(_ort_name "${_ort_link}" NAME)
  get_filename_component(_ort_link_dir "${_ort_link}" DIRECTORY)
  get_filename_component(_ort_real "${_ort_link}" REALPATH)
  get_filename_component(_ort_dir "${_ort_real}" DIRECTORY)
  list(APPEND _inrgan_dirs "onnxruntime=${_ort_link_dir}" "onnxruntime=${_ort_dir}")
  get_filename_component(_ort_pkg "${_ort_dir}" DIRECTORY)  # <site-packages>/onnxruntime/capi -> onnxruntime
  _inrgan_bundle_licenses(onnxruntime "${_ort_pkg}")
  string(APPEND INRGAN_CONFIG_BUNDLED_TARGETS
    "if(NOT TARGET OnnxRuntime::onnxruntime)\n"
    "  add_library(OnnxRuntime::onnxruntime SHARED IMPORTED)\n"
    "  set_target_properties(OnnxRuntime::onnxruntime PROPERTIES IMPORTED_LOCATION \"${_libdir}/${_ort_name}\" IMPORTED_SONAME \"${_ort_name}\")\n"
    "endif()\n")
endif()

if(INRGAN_EXECUTORCH_FOUND)
  list(APPEND _inrgan_dirs "executorch=${ExecuTorch_LIBRARY_DIR}")
  _inrgan_bundle_licenses(executorch "${ExecuTorch_ROOT}")
  # as FindExecuTorch.cmake makes them; the delegate and the kernels register themselves from
  # static initializers, so they stay linked (--no-as-needed) although nothing references them
  string(APPEND INRGAN_CONFIG_BUNDLED_TARGETS "if(NOT TARGET ExecuTorch::runtime)\n")
  foreach(_et runtime:libexecutorch threadpool:libexecutorch_threadpool xnnpack:libexecutorch_backend_xnnpack
              kernels:libexecutorch_kernels_optimized)
    string(REPLACE ":" ";" _et "${_et}")
    list(GET _et 0 _et_name)
    list(GET _et 1 _et_file)
    set(_et_deps "")
    if(_et_name STREQUAL "threadpool")
      set(_et_deps ExecuTorch::runtime)
    elseif(NOT _et_name STREQUAL "runtime")
      set(_et_deps "ExecuTorch::runtime;ExecuTorch::threadpool")
    endif()
    string(APPEND INRGAN_CONFIG_BUNDLED_TARGETS
      "  add_library(ExecuTorch::${_et_name} SHARED IMPORTED)\n"
      "  set_target_properties(ExecuTorch::${_et_name} PROPERTIES IMPORTED_LOCATION \"${_libdir}/${_et_file}.so\"\n"
      "                        IMPORTED_SONAME \"${_et_file}.so\" INTERFACE_LINK_LIBRARIES \"${_et_deps}\")\n")
    if(_et_name MATCHES "^(xnnpack|kernels)$")
      string(APPEND INRGAN_CONFIG_BUNDLED_TARGETS
        "  set_property(TARGET ExecuTorch::${_et_name} APPEND PROPERTY INTERFACE_LINK_OPTIONS\n"
        "               \"LINKER:--push-state,--no-as-needed,${_libdir}/${_et_file}.so,--pop-state\")\n")
    endif()
  endforeach()
  string(APPEND INRGAN_CONFIG_BUNDLED_TARGETS "endif()\n")
endif()

if(INRGAN_TENSORRT_FOUND)
  message(STATUS "inrgan: INRGAN_BUNDLE_BACKENDS does not bundle TensorRT or CUDA; the target machine provides them")
endif()

set(_inrgan_scan "")
foreach(_tool IN LISTS INRGAN_INSTALLED_TOOLS)
  list(APPEND _inrgan_scan "$<TARGET_FILE:${_tool}>")
endforeach()
install(CODE "
set(INRGAN_BUNDLE_EXECUTABLES \"${_inrgan_scan}\")
set(INRGAN_BUNDLE_DIRS \"${_inrgan_dirs}\")
set(INRGAN_BUNDLE_MODULES \"${_inrgan_modules}\")
set(INRGAN_BUNDLE_REQUIRED \"${_inrgan_required}\")
set(INRGAN_BUNDLE_LIBDIR \"${CMAKE_INSTALL_LIBDIR}\")
set(INRGAN_BUNDLE_DATADIR \"${CMAKE_INSTALL_DATADIR}\")
include(\"${CMAKE_CURRENT_LIST_DIR}/InrganBundleInstall.cmake\")
")
