// The access policy's say over which fields a query may use.
#ifndef CRM_QUERY_FIELD_ACCESS_H_
#define CRM_QUERY_FIELD_ACCESS_H_

#include <functional>

#include "model/object_schema.h"

namespace crm::query {

// Returns true if the caller may filter (or sort) on `field`. Supplied by
// the access policy; a field it refuses is reported exactly like a field
// that does not exist, so a hidden field's existence does not leak. Must be
// callable concurrently if the query is checked concurrently.
using FieldAccess = std::function<bool(const model::FieldSchema&)>;

// Allows every stored field (system callers, policy rules, tests).
inline FieldAccess AllFields() {
  return [](const model::FieldSchema&) { return true; };
}

}  // namespace crm::query

#endif  // CRM_QUERY_FIELD_ACCESS_H_
