#include "records/record_audit.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "audit/diff.h"

namespace crm::records {
namespace {

bool Stamped(const std::string& name) {
  return name == "create_time" || name == "update_time" || name == "source";
}

std::string Text(const model::SqlValue& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return audit::JsonString(*s);
  return model::DebugString(v);
}

}  // namespace

crm::v1::AuditEvent RecordWriteEvent(const Deps& deps,
                                     const model::ObjectSchema& schema,
                                     absl::string_view action,
                                     const std::string& id,
                                     const model::Record* before,
                                     const model::Record* after,
                                     const std::string& grant) {
  crm::v1::AuditEvent event;
  event.set_action(std::string(action));
  event.set_resource(schema.ResourceName(id));
  event.set_outcome(crm::v1::ALLOWED);
  event.set_reason(grant);
  if (after == nullptr) return event;  // a delete: the record, not its values
  for (size_t i = 0; i < schema.fields().size(); ++i) {
    const model::FieldSchema& field = schema.fields()[i];
    if (Stamped(field.name)) continue;
    const model::SqlValue& now = after->values[i];
    const bool changed =
        before == nullptr
            ? !(std::holds_alternative<std::monostate>(now) ||
                now == model::SqlValue(std::string()) ||
                now == model::SqlValue(int64_t{0}) ||
                now == model::SqlValue(0.0))
            : before->values[i] != now;
    if (!changed) continue;
    auto* change = event.add_changes();
    change->set_field(field.name);
    const bool tracked =
        !field.sensitive && deps.audit_tracked_fields != nullptr &&
        deps.audit_tracked_fields->contains(
            absl::StrCat(schema.collection(), ".", field.name));
    change->set_values_recorded(tracked);
    if (tracked) {
      if (before != nullptr) change->set_before(Text(before->values[i]));
      change->set_after(Text(now));
    }
  }
  return event;
}

absl::Status AppendEvent(const Deps& deps, store::Session& session,
                         crm::v1::AuditEvent event) {
  if (deps.audit == nullptr) return absl::OkStatus();
  std::vector<crm::v1::AuditEvent> events;
  events.push_back(std::move(event));
  return deps.audit->AppendInTransaction(session, std::move(events));
}

}  // namespace crm::records
