#pragma once
// Internal to src/probe: the CSV reader of BRODEN's tables (probe_set.cpp), shared with the
// probe check, which reads category.csv and c_*.csv itself.

#include <map>
#include <string>
#include <vector>

namespace n2v::detail {

struct CsvRow {
  int line = 0;  // 1-based line in the file
  std::vector<std::string> fields;
};

struct CsvFile {
  std::string path;
  CsvRow header;
  std::vector<CsvRow> rows;
};

// The first non-blank line is the header; CRLF, a UTF-8 BOM, blank lines and a missing final
// newline are handled. Throws kNotFound / kIo / kCorrupt naming the file and line.
CsvFile read_csv(const std::string& path);
// Header names -> column positions (empty names ignored); kCorrupt for a duplicate.
std::map<std::string, int> header_columns(const CsvFile& file);

}  // namespace n2v::detail
