// The fuzzing build only (NET2VEC_FUZZ): stb_image compiled into the fuzz targets with
// coverage and sanitizer instrumentation. The executable's definitions take precedence over
// Debian's libstb.so, so read_image_file / read_label_png run this instrumented copy of the
// same header (libstb-dev) and libFuzzer sees inside the decoders.
#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>
