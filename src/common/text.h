#pragma once
// Small string helpers shared by the readers and the command lines.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace n2v {

std::vector<std::string> split(std::string_view text, char sep);
std::string_view trim(std::string_view text);
// The fields of `text` between runs of spaces and tabs, as views into it ("" has none).
std::vector<std::string_view> tokens(std::string_view text);
// Strict numbers: the whole string must be the number ("12x" fails).
std::optional<long long> parse_int(std::string_view text);
std::optional<double> parse_double(std::string_view text);
// Comma-separated integers ("1,2,4"); throws kInvalidArgument naming `what` otherwise.
std::vector<int> parse_int_list(std::string_view text, std::string_view what);
// The words of `text` (runs of characters outside `separators`) joined with '_':
// join_words("  ice  cream ", " \t") == "ice_cream". Concept names become lemmas this way.
std::string join_words(std::string_view text, std::string_view separators);
// The parts with `separator` between them: join({"a", "b"}, ", ") == "a, b".
std::string join(const std::vector<std::string>& parts, std::string_view separator = ", ");
// ASCII letters lowered, every other byte as it is (names, file formats: no locale).
std::string ascii_lower(std::string_view text);
// "1.5 s", "3 min 2 s": for summaries and progress lines.
std::string format_duration(double seconds);

}  // namespace n2v
