#pragma once
// SQL that turns a catalog of the latest schema back into an older version's file, as an older
// net2vec left it, for the tests of migration on open, merge and --reproduce. Each migration's
// undo is written once, here: a new sql/NNN file adds its undo to kUndo (the test
// OlderSchema.UndoesEveryMigration fails until it does).

#include <stdexcept>
#include <string>

namespace n2v::test {

// kUndo[v] takes a version-(v + 1) file to version v (what sql/00(v+1)_*.sql added, dropped).
inline const char* const kUndo[] = {
    nullptr,  // 0: no catalog
    nullptr,  // 1 <- 2 (sql/002_reference_spaces.sql rebuilt a table): not undone
    "ALTER TABLE embedding DROP COLUMN filter_iou_val;",                                  // 2 <- 3
    "DROP TABLE predicted_mask;",                                                        // 3 <- 4
    "DROP INDEX probe_set_by_hash; ALTER TABLE probe_set DROP COLUMN content_hash;",     // 4 <- 5
    "DROP TABLE filter_top_image; ALTER TABLE run DROP COLUMN top_images;",              // 5 <- 6
    "ALTER TABLE embedding DROP COLUMN score_val_low; ALTER TABLE embedding DROP COLUMN score_val_high;"
    "ALTER TABLE embedding DROP COLUMN score_val_p; ALTER TABLE embedding DROP COLUMN score_val_null_mean;"
    "ALTER TABLE embedding DROP COLUMN best_filter_val_low; ALTER TABLE embedding DROP COLUMN best_filter_val_high;"
    "ALTER TABLE embedding DROP COLUMN best_filter_val_p; ALTER TABLE embedding DROP COLUMN best_filter_val_null_mean;"
    "ALTER TABLE image_iou DROP COLUMN learned_inter; ALTER TABLE image_iou DROP COLUMN learned_union;"
    "ALTER TABLE image_iou DROP COLUMN single_inter; ALTER TABLE image_iou DROP COLUMN single_union;",  // 6 <- 7
    "ALTER TABLE run DROP COLUMN model_sha256;",                                          // 7 <- 8
};
inline constexpr int kNewestUndone = static_cast<int>(sizeof(kUndo) / sizeof(kUndo[0]));  // 8

// SQL taking a file of schema `from` (the latest, as Catalog::open writes it) to `to` (>= 2),
// ending with its PRAGMA user_version.
inline std::string downgrade_sql(int from, int to) {
  if (from > kNewestUndone || to < 2 || to > from)
    throw std::logic_error("downgrade_sql(" + std::to_string(from) + ", " + std::to_string(to) +
                           "): tests/support/older_schema.h undoes versions 2 to " + std::to_string(kNewestUndone) +
                           "; a new migration adds its undo there");
  std::string sql;
  for (int v = from - 1; v >= to; --v) sql += kUndo[v];
  return sql + " PRAGMA user_version = " + std::to_string(to) + ";";
}

}  // namespace n2v::test
