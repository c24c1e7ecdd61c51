# ctest fixture model_keras_nsfwjs_setup: writes the converted nsfwjs networks and their tfjs
# reference activations into OUT for test_model_keras's KerasFidelity tests.
#   cmake -DNODE=... -DNPM=... -DTOOLS=<src>/tools/nsfwjs -DOUT=<build>/keras_models -P prepare_nsfwjs.cmake
# 1. `npm ci` in tools/nsfwjs when its node_modules lacks the pinned packages;
# 2. node convert.mjs --out OUT; 3. node reference.mjs --out OUT (tfjs CPU, ~2 minutes).
# Steps 2-3 are skipped when their outputs are newer than the scripts and package-lock.json.
# (Without node/npm at configure time, CMakeLists.txt registers a skipping test instead.)

foreach(var NODE NPM TOOLS OUT)
  if(NOT ${var})
    message(FATAL_ERROR "prepare_nsfwjs.cmake: -D${var}=... is required")
  endif()
endforeach()

if(NOT EXISTS "${TOOLS}/node_modules/nsfwjs/package.json"
   OR NOT EXISTS "${TOOLS}/node_modules/@tensorflow/tfjs/package.json")
  message("model_keras: npm ci in ${TOOLS}")
  execute_process(COMMAND "${NPM}" ci --no-audit --no-fund
                  WORKING_DIRECTORY "${TOOLS}" RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "model_keras: npm ci failed in ${TOOLS} (${rc})")
  endif()
endif()

file(MAKE_DIRECTORY "${OUT}")
set(inputs "${TOOLS}/convert.mjs" "${TOOLS}/reference.mjs" "${TOOLS}/lib.mjs" "${TOOLS}/package-lock.json")

# True when every output exists and is newer than every input.
function(up_to_date result)
  set(${result} TRUE PARENT_SCOPE)
  foreach(out ${ARGN})
    if(NOT EXISTS "${out}")
      set(${result} FALSE PARENT_SCOPE)
      return()
    endif()
    foreach(in ${inputs})
      if("${in}" IS_NEWER_THAN "${out}")
        set(${result} FALSE PARENT_SCOPE)
        return()
      endif()
    endforeach()
  endforeach()
endfunction()

set(weights "${OUT}/nsfwjs_mobilenet_v2.safetensors" "${OUT}/nsfwjs_inception_v3.safetensors")
set(references "${OUT}/reference_mobilenet_v2.safetensors" "${OUT}/reference_inception_v3.safetensors")

up_to_date(fresh ${weights})
if(NOT fresh)
  execute_process(COMMAND "${NODE}" "${TOOLS}/convert.mjs" --out "${OUT}" RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "model_keras: convert.mjs failed (${rc})")
  endif()
endif()
up_to_date(fresh ${references})
if(NOT fresh)
  execute_process(COMMAND "${NODE}" "${TOOLS}/reference.mjs" --out "${OUT}" RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "model_keras: reference.mjs failed (${rc})")
  endif()
else()
  message("model_keras: ${OUT} is up to date")
endif()
