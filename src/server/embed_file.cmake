# Writes OUT: a C++ file defining `const char* const n2v::detail::<SYMBOL>` with the
# content of IN, so the binary serves it from any directory.
file(READ ${IN} CONTENT)
file(WRITE ${OUT} "// Generated from ${IN} by embed_file.cmake. Do not edit.\nnamespace n2v::detail {\nextern const char* const ${SYMBOL};\nconst char* const ${SYMBOL} = R\"n2v_embed(${CONTENT})n2v_embed\";\n}  // namespace n2v::detail\n")
