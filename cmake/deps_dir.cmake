# NET2VEC_DEPS_DIR: Debian packages unpacked with `dpkg -x` (tools/gpu-check --prepare), for a
# machine that has the libraries' runtime files but not their development files (docs/GPU.md).
#   - <dir>/usr/include comes first in every target's include path (-isystem, before the
#     system's own folders), so a header carried there wins over an installed one;
#   - sqlite3.h from there when it is there; the library is the system's libsqlite3.so.0
#     (what the runtime package installs; libsqlite3.so comes only with the -dev package);
#   - CLI11 (header-only) and stb (headers + Debian's libstb.so.0, which holds stb's
#     implementation) as imported targets made here: the packages' CLI11Config.cmake and
#     stb.pc would name /usr.
# A component the folder does not hold is looked for on the system as usual.

get_filename_component(NET2VEC_DEPS_DIR "${NET2VEC_DEPS_DIR}" ABSOLUTE BASE_DIR "${CMAKE_SOURCE_DIR}")
set(_n2v_deps_inc "${NET2VEC_DEPS_DIR}/usr/include")
if(NOT IS_DIRECTORY "${_n2v_deps_inc}")
  message(FATAL_ERROR "NET2VEC_DEPS_DIR=${NET2VEC_DEPS_DIR} has no usr/include: "
                      "unpack the packages there first (tools/gpu-check --prepare)")
endif()
include_directories(BEFORE SYSTEM "${_n2v_deps_inc}")
set(_n2v_deps_found "")

if(EXISTS "${_n2v_deps_inc}/sqlite3.h")
  # FindSQLite3 only looks for libsqlite3.so: name the runtime library ourselves.
  set(SQLite3_INCLUDE_DIR "${_n2v_deps_inc}" CACHE PATH "sqlite3.h (NET2VEC_DEPS_DIR)" FORCE)
  if(NOT SQLite3_LIBRARY)
    find_library(NET2VEC_SQLITE3_RUNTIME NAMES libsqlite3.so.0 sqlite3)
    if(NOT NET2VEC_SQLITE3_RUNTIME)
      message(FATAL_ERROR "NET2VEC_DEPS_DIR: sqlite3.h is there but no libsqlite3.so.0 on this system")
    endif()
    set(SQLite3_LIBRARY "${NET2VEC_SQLITE3_RUNTIME}" CACHE FILEPATH "SQLite library" FORCE)
  endif()
  list(APPEND _n2v_deps_found "sqlite3.h")
endif()

if(EXISTS "${_n2v_deps_inc}/CLI/CLI.hpp")
  add_library(CLI11::CLI11 INTERFACE IMPORTED)
  set_target_properties(CLI11::CLI11 PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_n2v_deps_inc}")
  list(APPEND _n2v_deps_found "CLI11")
endif()

if(EXISTS "${_n2v_deps_inc}/stb/stb_image.h")
  find_library(NET2VEC_STB_LIBRARY NAMES libstb.so.0 stb
               PATHS "${NET2VEC_DEPS_DIR}/usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}"
                     "${NET2VEC_DEPS_DIR}/usr/lib"
               NO_DEFAULT_PATH)
  if(NOT NET2VEC_STB_LIBRARY)
    message(FATAL_ERROR "NET2VEC_DEPS_DIR: stb headers but no libstb.so.0 (Debian's libstb0) in ${NET2VEC_DEPS_DIR}/usr/lib")
  endif()
  # The same name pkg_check_modules(STB ... IMPORTED_TARGET stb) gives, for the users of stb.
  add_library(PkgConfig::STB INTERFACE IMPORTED)
  set_target_properties(PkgConfig::STB PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${_n2v_deps_inc}/stb"
    INTERFACE_LINK_LIBRARIES "${NET2VEC_STB_LIBRARY}")
  list(APPEND _n2v_deps_found "stb")
endif()

string(JOIN ", " _n2v_deps_list ${_n2v_deps_found})
message(STATUS "NET2VEC_DEPS_DIR ${NET2VEC_DEPS_DIR}: include path first; from it: ${_n2v_deps_list}")
