// A filter checked against one resource's schema, and its two evaluators.
//
// CheckFilter resolves field names, applies the caller's field access and
// converts every literal to the column representation of
// model/object_schema.h. The result is evaluated either inside the database
// (ToSql, used by List) or in memory (Matches, used for point decisions such
// as criteria-based sharing and restriction rules). The two evaluators agree
// exactly, including SQL's three-valued logic for NULLs:
//   strings and enum names  byte order (PostgreSQL COLLATE "C", SQLite BINARY)
//   integers, timestamps    64-bit integers
//   doubles                 IEEE doubles
//   integer column vs a decimal literal (employee_count > 2.5)
//                           both sides as doubles: the SQL casts the column
//   booleans                0/1, only = and !=
//   enums                   value names, only = and !=
//
// Type errors are INVALID_ARGUMENT "filter: ... at offset N". A field that
// does not exist, is not a stored field, or is refused by `can_filter` gives
// the same message: "filter: field 'x' is unknown or not readable ...".
// A field the caller may read but that is encrypted at rest (sensitive;
// store/field_encryption.h) is refused: INVALID_ARGUMENT "filter:
// contacts.personal_phone is encrypted at rest and cannot be filtered or
// sorted on". Its column holds ciphertext; in memory and in SQL the
// predicate could not mean the same. Exception: a field with a blind index
// (FieldSchema::blind_index), when the caller passes a BlindIndexer, may
// be compared with = and != to a string: the SQL compares the index column
// (model::BlindIndexColumn) with the literal's index, and Matches compares
// the normalised values (model::BlindIndexInput), which agree (the index
// is a keyed hash of that normalised value). Other operators on it are
// refused, naming the two that work.
//
// Thread-safety: CheckedFilter is immutable and cheap to copy (shared tree).
#ifndef CRM_QUERY_CHECKED_FILTER_H_
#define CRM_QUERY_CHECKED_FILTER_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/object_schema.h"
#include "model/record.h"
#include "model/sql.h"
#include "query/field_access.h"
#include "query/filter.h"

namespace crm::query {

struct CheckedComparison {
  int field_index = -1;  // into ObjectSchema::fields() and Record::values
  std::string column;
  model::FieldKind kind = model::FieldKind::kString;
  CompareOp op = CompareOp::kEq;
  // int64_t (integers, bools 0/1, timestamps in microseconds), double, or
  // std::string (strings, enum value names).
  model::SqlValue value;
  // An integer column compared with a decimal literal: compare as doubles.
  bool column_as_double = false;
  // A blind-indexed field (see the file comment): `column` is its index
  // column and `value` the literal's index; Matches compares
  // BlindIndexInput of the record's value with `blind_input`.
  bool blind_index = false;
  std::string blind_input;
};

struct CheckedNode {
  FilterExpr::Kind kind = FilterExpr::Kind::kComparison;
  CheckedComparison comparison;       // kComparison
  std::vector<CheckedNode> children;  // kAnd, kOr (2+), kNot (1)
};

class CheckedFilter {
 public:
  // The empty filter: matches every record, ToSql gives an empty fragment.
  CheckedFilter() = default;
  CheckedFilter(std::string collection, CheckedNode root);

  bool empty() const { return root_ == nullptr; }
  // The collection whose schema the filter was checked against.
  const std::string& collection() const { return collection_; }
  // nullptr when empty().
  const CheckedNode* root() const { return root_.get(); }

 private:
  std::string collection_;
  std::shared_ptr<const CheckedNode> root_;
};

// The blind index of a normalised value (model::BlindIndexInput) of a
// blind-indexed field; supplied by the store, which holds the keys
// (store::FieldEncryption::BlindIndex). An error fails the check.
using BlindIndexer = std::function<absl::StatusOr<std::string>(
    const model::ObjectSchema&, const model::FieldSchema&,
    absl::string_view normalized)>;

// Checks a parsed filter against `schema`. Only stored fields
// (schema.fields()) for which can_filter returns true may be used.
// `blind_index` null: no equality on blind-indexed fields (they are
// refused like other encrypted fields), e.g. for policy criteria, which
// are compiled without keys.
absl::StatusOr<CheckedFilter> CheckFilter(
    const FilterExpr& expr, const model::ObjectSchema& schema,
    const FieldAccess& can_filter, const BlindIndexer* blind_index = nullptr);

// ParseFilter then CheckFilter; an empty filter gives an empty CheckedFilter.
absl::StatusOr<CheckedFilter> ParseAndCheckFilter(
    absl::string_view text, const model::ObjectSchema& schema,
    const FieldAccess& can_filter, const BlindIndexer* blind_index = nullptr);

// The WHERE predicate, e.g. ("industry" = ?) AND (NOT ("employee_count" > ?)).
// Every literal is a bound parameter. Columns are qualified with
// `table_alias` ("t"."industry") when it is non-empty (it must be a
// validated identifier). Empty filter -> empty fragment.
model::SqlFragment ToSql(const CheckedFilter& filter,
                         absl::string_view table_alias = "");

// True if `record` (of the schema the filter was checked against) satisfies
// the filter, with the same result the SQL would give. A record whose values
// are missing or of an unexpected type compares as SQL NULL (unknown), so it
// never matches a comparison nor its negation. Empty filter -> true.
bool Matches(const CheckedFilter& filter, const model::Record& record);

}  // namespace crm::query

#endif  // CRM_QUERY_CHECKED_FILTER_H_
