# Run by `cmake --install` (and `make install`) after the files are in place: makes the
# installed library usable by default, or says what is needed.
#   - libdir searched by the dynamic linker (/usr/local/lib on Debian): run ldconfig when root,
#     so `cc app.c $(pkg-config --cflags --libs skylog) && ./a.out` works at once;
#   - anywhere else: print the PKG_CONFIG_PATH and rpath/LD_LIBRARY_PATH a program needs.
# Nothing happens under DESTDIR (a package is being staged: its own scripts run ldconfig).
# Expects SKYLOG_INSTALL_LIBDIR (CMAKE_INSTALL_LIBDIR, set by an install(CODE) before this).
if(NOT "$ENV{DESTDIR}" STREQUAL "")
  return()
endif()
if(IS_ABSOLUTE "${SKYLOG_INSTALL_LIBDIR}")
  set(_libdir "${SKYLOG_INSTALL_LIBDIR}")
else()
  set(_libdir "${CMAKE_INSTALL_PREFIX}/${SKYLOG_INSTALL_LIBDIR}")
endif()
file(REAL_PATH "${_libdir}" _libdir)

# The directories the dynamic linker searches: ld.so.conf's, as ldconfig reads them, and the
# trusted ones it always searches.
set(_ld_dirs /lib /usr/lib /lib64 /usr/lib64)
find_program(_ldconfig ldconfig PATHS /sbin /usr/sbin NO_CACHE)
if(_ldconfig)
  execute_process(COMMAND "${_ldconfig}" -v -N -X OUTPUT_VARIABLE _out ERROR_QUIET)
  string(REGEX MATCHALL "(^|\n)/[^:\n]*:" _lines "${_out}")
  foreach(_l IN LISTS _lines)
    string(REGEX REPLACE "^\n?(.*):$" "\\1" _d "${_l}")
    list(APPEND _ld_dirs "${_d}")
  endforeach()
endif()
set(_searched FALSE)
foreach(_d IN LISTS _ld_dirs)
  if(EXISTS "${_d}")
    file(REAL_PATH "${_d}" _d)
    if(_d STREQUAL _libdir)
      set(_searched TRUE)
    endif()
  endif()
endforeach()

if(_searched)
  execute_process(COMMAND id -u OUTPUT_VARIABLE _uid OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(_ldconfig AND _uid STREQUAL "0")
    message(STATUS "skylog: ldconfig (libskylog is in ${_libdir}, a system library directory)")
    execute_process(COMMAND "${_ldconfig}" RESULT_VARIABLE _rc)
    if(NOT _rc EQUAL 0)
      message(WARNING "skylog: ldconfig failed (${_rc}): run it as root before using libskylog")
    endif()
  else()
    message(STATUS "skylog: run 'sudo ldconfig' so that programs find ${_libdir}/libskylog.so")
  endif()
else()
  message(STATUS "skylog: ${_libdir} is not searched by the dynamic linker: link programs "
                 "with -Wl,-rpath,${_libdir} (or set LD_LIBRARY_PATH=${_libdir})")
endif()

find_program(_pkgconfig pkg-config NO_CACHE)
if(_pkgconfig)
  execute_process(COMMAND "${_pkgconfig}" --variable pc_path pkg-config
                  OUTPUT_VARIABLE _pc_path OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  string(REPLACE ":" ";" _pc_path "${_pc_path};$ENV{PKG_CONFIG_PATH}")
  set(_found FALSE)
  foreach(_d IN LISTS _pc_path)
    if(_d AND EXISTS "${_d}")
      file(REAL_PATH "${_d}" _d)
    endif()
    if(_d STREQUAL "${_libdir}/pkgconfig")
      set(_found TRUE)
    endif()
  endforeach()
  if(NOT _found)
    message(STATUS "skylog: pkg-config does not search ${_libdir}/pkgconfig: set "
                   "PKG_CONFIG_PATH=${_libdir}/pkgconfig")
  endif()
endif()
