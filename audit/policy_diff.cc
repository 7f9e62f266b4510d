#include "audit/policy_diff.h"

#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "audit/diff.h"
#include "google/protobuf/descriptor.h"

namespace crm::audit {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

// The object's name (the event's resource), and fields that change with
// every write or are derived from other objects.
const std::vector<std::string>& Ignored() {
  static const auto* ignored = new std::vector<std::string>{
      "name", "etag", "profile_system_permissions"};
  return *ignored;
}

std::string NameOf(const Message& m) {
  const auto* d = m.GetDescriptor();
  const auto* r = m.GetReflection();
  if (const FieldDescriptor* f = d->FindFieldByName("name"); f != nullptr) {
    return r->GetString(m, f);
  }
  if (const FieldDescriptor* f = d->FindFieldByName("id"); f != nullptr) {
    return absl::StrCat("users/", r->GetString(m, f));  // PolicyUser
  }
  // An org-wide default is keyed by its object, as its name says
  // (crm/v1/admin_service.proto): "orgWideDefaults/accounts".
  if (const FieldDescriptor* f = d->FindFieldByName("object"); f != nullptr) {
    return absl::StrCat("orgWideDefaults/", r->GetString(m, f));
  }
  return "";
}

std::map<std::string, const Message*> ByName(const Message& state,
                                             const FieldDescriptor* field) {
  std::map<std::string, const Message*> out;
  const auto* r = state.GetReflection();
  for (int i = 0; i < r->FieldSize(state, field); ++i) {
    const Message& m = r->GetRepeatedMessage(state, field, i);
    out[NameOf(m)] = &m;
  }
  return out;
}

std::vector<crm::v1::AuditFieldChange> Changes(const Message* before,
                                               const Message* after) {
  std::vector<crm::v1::AuditFieldChange> changes = DiffMessages(before, after);
  std::vector<crm::v1::AuditFieldChange> kept;
  for (auto& c : changes) {
    bool ignored = false;
    for (const std::string& name : Ignored()) {
      if (c.field() == name) ignored = true;
    }
    if (!ignored) kept.push_back(std::move(c));
  }
  return kept;
}

}  // namespace

std::vector<crm::v1::AuditEvent> PolicyChangeEvents(
    const crm::internal::PolicyState& before,
    const crm::internal::PolicyState& after) {
  std::vector<crm::v1::AuditEvent> events;
  const auto* d = crm::internal::PolicyState::descriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* field = d->field(i);
    if (!field->is_repeated() ||
        field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) {
      continue;
    }
    auto old_objects = ByName(before, field);
    auto new_objects = ByName(after, field);
    std::map<std::string, std::pair<const Message*, const Message*>> all;
    for (const auto& [name, m] : old_objects) all[name].first = m;
    for (const auto& [name, m] : new_objects) all[name].second = m;
    for (const auto& [name, pair] : all) {
      auto changes = Changes(pair.first, pair.second);
      if (pair.first != nullptr && pair.second != nullptr && changes.empty()) {
        continue;
      }
      crm::v1::AuditEvent e;
      e.set_action(pair.first == nullptr    ? "policy.create"
                   : pair.second == nullptr ? "policy.delete"
                                            : "policy.update");
      e.set_resource(name);
      e.set_outcome(crm::v1::ALLOWED);
      for (auto& c : changes) *e.add_changes() = std::move(c);
      events.push_back(std::move(e));
    }
  }
  return events;
}

}  // namespace crm::audit
