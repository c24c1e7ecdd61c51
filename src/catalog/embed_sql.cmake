# Writes OUT, a C++ file holding the migration scripts FILES (sql/NNN_name.sql) as raw
# string literals, ordered by their number: n2v::detail::migrations().
set(body "// Generated from sql/*.sql by embed_sql.cmake. Do not edit.\n#include <string_view>\n#include <vector>\n#include <utility>\nnamespace n2v::detail {\nstd::vector<std::pair<int, std::string_view>> migrations() {\n  return {\n")
string(REPLACE "|" ";" FILES "${FILES}")
foreach(f ${FILES})
  get_filename_component(name ${f} NAME)
  string(SUBSTRING ${name} 0 3 num)
  math(EXPR num "${num}")
  file(READ ${f} sql)
  string(APPEND body "    {${num}, R\"n2vsql(${sql})n2vsql\"},\n")
endforeach()
string(APPEND body "  };\n}\n}  // namespace n2v::detail\n")
file(WRITE ${OUT}.tmp "${body}")
configure_file(${OUT}.tmp ${OUT} COPYONLY)
