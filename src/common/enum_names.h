#pragma once
// The names of an enum's values, one table per enum: value -> name (enum_name) and
// name -> value (parse_enum, whose error lists the names accepted). A table gives each value's
// name first; further rows with the same value are aliases, accepted by parse_enum and shown
// in parentheses after the name in its error:
//
//   constexpr EnumName<Task> kTaskNames[] = {{Task::kSegmentation, "segmentation"},
//                                            {Task::kSegmentation, "seg"}, ...};
//   parse_enum(kTaskNames, "seg", "task") == Task::kSegmentation
//   parse_enum(kTaskNames, "x", "task") throws kInvalidArgument
//     "unknown task 'x' (expected segmentation (seg) or classification (cls))"
//
// The value type needs only ==, so std::optional<E> serves where one name means "none"
// ("auto" for a device that is chosen later).

#include <cctype>
#include <cstddef>
#include <string>
#include <string_view>

#include "common/error.h"

namespace n2v {

template <typename E>
struct EnumName {
  E value;
  const char* name;
};

enum class NameCase { kExact, kIgnore };  // kIgnore: "3CosMul" matches "3cosmul"

// The name of `value` (its table's first row for it); "unknown" when the table lacks it.
template <typename E, size_t N>
const char* enum_name(const EnumName<E> (&table)[N], const E& value) {
  for (const EnumName<E>& row : table)
    if (row.value == value) return row.name;
  return "unknown";
}

// "a, b (b2) or c": every value's name, its aliases in parentheses, in table order.
template <typename E, size_t N>
std::string enum_name_list(const EnumName<E> (&table)[N]) {
  std::string out;
  size_t values = 0, last = 0;  // `last`: where the last value's entry starts in `out`
  for (size_t i = 0; i < N; ++i) {
    size_t first = 0;
    while (!(table[first].value == table[i].value)) ++first;
    if (first != i) continue;  // an alias: listed with its value below
    std::string entry = table[i].name;
    std::string aliases;
    for (size_t j = i + 1; j < N; ++j)
      if (table[j].value == table[i].value) aliases += (aliases.empty() ? "" : ", ") + std::string(table[j].name);
    if (!aliases.empty()) entry += " (" + aliases + ")";
    if (values > 0) out += ", ";
    last = out.size();
    out += entry;
    ++values;
  }
  if (values > 1) out.replace(last - 2, 2, " or ");
  return out;
}

// The value named `text`; throws kInvalidArgument "unknown <what> '<text>' (expected <list>)".
template <typename E, size_t N>
E parse_enum(const EnumName<E> (&table)[N], std::string_view text, std::string_view what,
             NameCase name_case = NameCase::kExact) {
  const auto same = [&](std::string_view name) {
    if (name.size() != text.size()) return false;
    for (size_t i = 0; i < name.size(); ++i) {
      const auto a = static_cast<unsigned char>(name[i]), b = static_cast<unsigned char>(text[i]);
      if (name_case == NameCase::kIgnore ? std::tolower(a) != std::tolower(b) : a != b) return false;
    }
    return true;
  };
  for (const EnumName<E>& row : table)
    if (same(row.name)) return row.value;
  N2V_THROW(kInvalidArgument, "unknown " << what << " '" << text << "' (expected " << enum_name_list(table) << ")");
}

}  // namespace n2v
