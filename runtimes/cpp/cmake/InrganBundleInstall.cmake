# Run by `cmake --install` (see InrganBundle.cmake): copies the backends' shared libraries into
# the prefix's library folder and lists them in <datadir>/inrgan/bundled-libraries.txt
# ("<backend> <file>" per line).
#
# Inputs: INRGAN_BUNDLE_EXECUTABLES (the built tools, scanned with their build-tree run paths),
# INRGAN_BUNDLE_DIRS (backend=folder: a dependency found there belongs to that backend),
# INRGAN_BUNDLE_MODULES (backend=file loaded at run time without a NEEDED entry),
# INRGAN_BUNDLE_REQUIRED (file name patterns that must be among the modules),
# INRGAN_BUNDLE_LIBDIR, INRGAN_BUNDLE_DATADIR (relative to the prefix).
cmake_policy(PUSH)
cmake_policy(VERSION 3.18)  # an install script runs without the project's policies (IN_LIST)
set(_lib "${CMAKE_INSTALL_PREFIX}/${INRGAN_BUNDLE_LIBDIR}")
if(IS_ABSOLUTE "${CMAKE_INSTALL_PREFIX}")
  set(_lib_on_disk "$ENV{DESTDIR}${_lib}")
else()
  set(_lib_on_disk "${_lib}")
endif()

foreach(_pattern IN LISTS INRGAN_BUNDLE_REQUIRED)
  set(_hit OFF)
  foreach(_pair IN LISTS INRGAN_BUNDLE_MODULES)
    get_filename_component(_name "${_pair}" NAME)
    string(REPLACE "." "\\." _re "${_pattern}")
    string(REPLACE "*" ".*" _re "${_re}")
    if(_name MATCHES "^${_re}$")
      set(_hit ON)
    endif()
  endforeach()
  if(NOT _hit)
    message(FATAL_ERROR "INRGAN_BUNDLE_BACKENDS: ${_pattern} not found next to the backend's libraries "
                        "(${INRGAN_BUNDLE_DIRS}); configure with -DINRGAN_BUNDLE_BACKENDS=OFF to install without them")
  endif()
endforeach()

set(_modules "")
foreach(_pair IN LISTS INRGAN_BUNDLE_MODULES)
  string(REGEX REPLACE "^[^=]*=" "" _file "${_pair}")
  list(APPEND _modules "${_file}")
endforeach()

file(GET_RUNTIME_DEPENDENCIES
  EXECUTABLES ${INRGAN_BUNDLE_EXECUTABLES}
  MODULES ${_modules}
  RESOLVED_DEPENDENCIES_VAR _resolved
  UNRESOLVED_DEPENDENCIES_VAR _unresolved
  CONFLICTING_DEPENDENCIES_PREFIX _conflict
  PRE_EXCLUDE_REGEXES "^ld-linux" "^linux-vdso")
if(_unresolved)
  message(FATAL_ERROR "INRGAN_BUNDLE_BACKENDS: the tools need ${_unresolved}, which cannot be found")
endif()
foreach(_name IN LISTS _conflict_FILENAMES)  # one name found in two folders: take the first, as the loader does
  list(GET _conflict_${_name} 0 _first)
  list(APPEND _resolved "${_first}")
endforeach()

# the backend a file belongs to: the one whose folder holds it (by real path, so a link into
# the build tree counts for the folder it sits in)
function(_inrgan_backend_of out file)
  set(_which "")
  get_filename_component(_dir "${file}" DIRECTORY)
  get_filename_component(_real_dir "${_dir}" REALPATH)
  foreach(_pair IN LISTS INRGAN_BUNDLE_DIRS)
    string(REGEX MATCH "^[^=]*" _backend "${_pair}")
    string(REGEX REPLACE "^[^=]*=" "" _folder "${_pair}")
    get_filename_component(_folder "${_folder}" REALPATH)
    if(_real_dir STREQUAL _folder)
      set(_which "${_backend}")
      break()
    endif()
  endforeach()
  set(${out} "${_which}" PARENT_SCOPE)
endfunction()

set(_listing "")
set(_done "")
foreach(_pair IN LISTS INRGAN_BUNDLE_MODULES _resolved)
  if(_pair MATCHES "^[a-z]+=/")
    string(REGEX MATCH "^[^=]*" _backend "${_pair}")
    string(REGEX REPLACE "^[^=]*=" "" _file "${_pair}")
  else()
    set(_file "${_pair}")
    _inrgan_backend_of(_backend "${_file}")
    if(NOT _backend)
      if(NOT _file MATCHES "^/(usr/)?lib(32|64|x32)?/")
        message(WARNING "INRGAN_BUNDLE_BACKENDS: not bundled (not a backend's library): ${_file}")
      endif()
      continue()
    endif()
  endif()
  get_filename_component(_name "${_file}" NAME)   # the name the loader asks for
  if(_name IN_LIST _done)
    continue()
  endif()
  list(APPEND _done "${_name}")
  get_filename_component(_real "${_file}" REALPATH)
  get_filename_component(_real_name "${_real}" NAME)
  file(INSTALL DESTINATION "${_lib}" TYPE SHARED_LIBRARY FILES "${_real}"
       PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
  string(APPEND _listing "${_backend} ${_real_name}\n")
  if(NOT _name STREQUAL _real_name)  # e.g. libonnxruntime.so.1 -> libonnxruntime.so.1.32.0
    message(STATUS "Installing: ${_lib}/${_name} -> ${_real_name}")
    file(CREATE_LINK "${_real_name}" "${_lib_on_disk}/${_name}" SYMBOLIC)
    list(APPEND CMAKE_INSTALL_MANIFEST_FILES "${_lib}/${_name}")
    string(APPEND _listing "${_backend} ${_name}\n")
  endif()
endforeach()

set(_listing_file "${CMAKE_INSTALL_PREFIX}/${INRGAN_BUNDLE_DATADIR}/inrgan/bundled-libraries.txt")
if(IS_ABSOLUTE "${CMAKE_INSTALL_PREFIX}")
  file(WRITE "$ENV{DESTDIR}${_listing_file}" "${_listing}")
else()
  file(WRITE "${_listing_file}" "${_listing}")
endif()
list(APPEND CMAKE_INSTALL_MANIFEST_FILES "${_listing_file}")
message(STATUS "Installing: ${_listing_file}")
cmake_policy(POP)
