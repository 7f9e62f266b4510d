#include "server/policy_target.h"

#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "audit/policy_diff.h"
#include "base/error.h"
#include "model/object_schema.h"
#include "server/profile_fields.h"
#include "server/server_core.h"

namespace crm::server {
namespace {

using crm::internal::PolicyState;

// A bundle's profile as it would be stored (ApplyProfileFields: trimmed
// lists, countries in upper case), so it compares equal with the live one
// when only its spelling differs.
absl::StatusOr<store::ProfileRow> ProfileRowOf(const crm::v1::Profile& p) {
  store::ProfileRow row;
  absl::string_view id = p.name();
  absl::ConsumePrefix(&id, "profiles/");
  row.id = std::string(id);
  if (absl::Status s = ApplyProfileFields(
          p, {ProfilePaths().begin(), ProfilePaths().end()}, &row);
      !s.ok()) {
    return s;
  }
  return row;
}

crm::v1::PolicyObjectChange::Kind ChangeKind(const std::string& action) {
  if (action == "policy.create") return crm::v1::PolicyObjectChange::ADDED;
  if (action == "policy.delete") return crm::v1::PolicyObjectChange::REMOVED;
  return crm::v1::PolicyObjectChange::CHANGED;
}

}  // namespace

absl::StatusOr<policy::PolicyBundle> CheckedBundle(
    const crm::v1::PolicyBundleFiles& in, const ServerCore& core) {
  if (in.files().empty()) {
    return absl::InvalidArgumentError(
        "bundle: no files; write a bundle with `crmctl policy export DIR` "
        "and send the directory");
  }
  if (in.files().size() > kMaxBundleFiles) {
    return absl::InvalidArgumentError(
        absl::StrCat("bundle: ", in.files().size(), " files; at most ",
                     kMaxBundleFiles));
  }
  const policy::BundleFiles files(in.files().begin(), in.files().end());
  policy::ValidateOptions options;
  options.services = &core.config.services();
  const std::vector<policy::BundleError> errors = policy::ValidateBundle(
      files, model::SchemaRegistry::Default(), options);
  if (!errors.empty()) {
    base::BadRequestBuilder bad;
    for (const policy::BundleError& e : errors) {
      std::string where = e.location.file.empty() ? "bundle" : e.location.file;
      if (e.location.line > 0) {
        absl::StrAppend(&where, ":", e.location.line, ":", e.location.column);
      }
      if (!e.field.empty()) absl::StrAppend(&where, " ", e.field);
      bad.Add(std::move(where), e.message);
    }
    return bad.Build();
  }
  return std::move(policy::ParseBundle(files).bundle);
}

absl::StatusOr<Target> MakeTarget(const PolicyState& live_state,
                                  const policy::PolicyBundle& bundle,
                                  bool prune) {
  Target t;
  t.live = policy::BundleFromState(live_state);
  for (const auto& [name, o] : bundle.objects()) {
    // A service's scope is configuration: CheckedBundle compared it with
    // the server's; it is never written.
    if (o.object.has_service()) continue;
    if (!o.is_profile) {
      t.bundle.Add(o.object);
      continue;
    }
    auto row = ProfileRowOf(o.profile);
    if (!row.ok()) return row.status();
    auto normalized = ToProfile(*row);
    if (!normalized.ok()) return normalized.status();
    t.bundle.Add(*normalized);
    t.profile_rows[name] = *std::move(row);
  }
  if (!prune) {
    for (const auto& [name, o] : t.live.objects()) {
      if (t.bundle.Find(name) != nullptr) continue;
      if (o.is_profile) {
        t.bundle.Add(o.profile);
      } else {
        t.bundle.Add(o.object);
      }
    }
  }
  t.state = t.bundle.ToState();
  *t.state.mutable_users() = live_state.users();
  t.state.set_version(live_state.version());
  return t;
}

void AddChanges(
    const PolicyState& before, const PolicyState& after,
    google::protobuf::RepeatedPtrField<crm::v1::PolicyObjectChange>* out) {
  for (crm::v1::AuditEvent& e : audit::PolicyChangeEvents(
           policy::BundleState(before), policy::BundleState(after))) {
    crm::v1::PolicyObjectChange* c = out->Add();
    c->set_name(e.resource());
    c->set_kind(ChangeKind(e.action()));
    *c->mutable_changes() = std::move(*e.mutable_changes());
  }
}


}  // namespace crm::server
