#include "server/plan_impact_service.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "base/error.h"
#include "model/object_schema.h"
#include "model/resource_name.h"
#include "policy/evaluator.h"
#include "policy/principal.h"
#include "policy/plan_impact.h"
#include "policy/snapshot.h"
#include "records/policy_impact.h"

namespace crm::server {
namespace {

constexpr int kDefaultCountedUsers = 20;
constexpr int kMaxCountedUsers = 1000;
constexpr int kDefaultExamples = 5;
constexpr int kMaxExamples = 100;
// Changed objects whose impact is evaluated alone (one compilation each).
constexpr int kMaxGrantsExamined = 50;

crm::v1::PolicyObjectChange::Kind GrantKind(const std::string& change) {
  if (change == "added") return crm::v1::PolicyObjectChange::ADDED;
  if (change == "removed") return crm::v1::PolicyObjectChange::REMOVED;
  return crm::v1::PolicyObjectChange::CHANGED;
}

template <typename Out>
void Copy(const std::vector<std::string>& in, Out* out) {
  for (const std::string& s : in) out->Add(std::string(s));
}

struct Limits {
  std::string service;
  std::string user;  // "users/{id}" or ""
  int counted_users = kDefaultCountedUsers;
  int examples = kDefaultExamples;
};

absl::StatusOr<Limits> CheckRequest(const crm::v1::PlanPolicyRequest& req,
                                    const std::string& calling_service,
                                    const policy::PolicySnapshot& live,
                                    const policy::PolicySnapshot& target) {
  base::BadRequestBuilder bad;
  Limits l;
  absl::string_view service = req.service();
  absl::ConsumePrefix(&service, "services/");
  l.service = service.empty() ? calling_service : std::string(service);
  if (!req.service().empty() &&
      (service.empty() || absl::StrContains(service, '/'))) {
    bad.Add("service", absl::StrCat("'", req.service(),
                                    "' is not a service name; use "
                                    "\"services/{name}\" or \"{name}\""));
  } else if (!live.compiled().services.contains(l.service)) {
    bad.Add("service", absl::StrCat("services/", l.service,
                                    " is not a registered service"));
  }
  if (!req.user().empty()) {
    absl::string_view id = req.user();
    if (!absl::ConsumePrefix(&id, "users/") || !model::IsValidRecordId(id)) {
      bad.Add("user", absl::StrCat("'", req.user(),
                                   "' is not a user name of the form "
                                   "\"users/{id}\""));
    } else if (!live.compiled().user_index.contains(std::string(id)) &&
               !target.compiled().user_index.contains(std::string(id))) {
      bad.Add("user", absl::StrCat(req.user(), " is not a user; list them "
                                   "with `crmctl users list`"));
    }
    l.user = req.user();
  }
  if (req.only_user() && req.user().empty()) {
    bad.Add("only_user", "needs user (\"users/{id}\"): whose access to plan");
  }
  if (req.max_counted_users() < 0 ||
      req.max_counted_users() > kMaxCountedUsers) {
    bad.Add("max_counted_users",
            absl::StrCat("0 (meaning ", kDefaultCountedUsers, ") to ",
                         kMaxCountedUsers));
  } else if (req.max_counted_users() > 0) {
    l.counted_users = req.max_counted_users();
  }
  if (req.max_examples() < 0 || req.max_examples() > kMaxExamples) {
    bad.Add("max_examples", absl::StrCat("0 (meaning ", kDefaultExamples,
                                         ") to ", kMaxExamples));
  } else if (req.max_examples() > 0) {
    l.examples = req.max_examples();
  }
  if (!bad.empty()) return bad.Build();
  return l;
}

// One user's change as the API reports it; record counts only if `count`.
absl::Status ToDelta(const ServerCore& core, const policy::UserAccessChange& u,
                     bool count, int examples, crm::v1::UserAccessDelta* d) {
  d->set_user(u.user);
  for (crm::v1::SystemPermission p : u.system_gained) {
    d->add_system_permissions_gained(p);
  }
  for (crm::v1::SystemPermission p : u.system_lost) {
    d->add_system_permissions_lost(p);
  }
  d->set_login_restrictions_changed(u.login_changed);
  d->set_login_restrictions_before(u.login_before);
  d->set_login_restrictions_after(u.login_after);
  for (const policy::ObjectAccessChange& o : u.objects) {
    crm::v1::ObjectAccessDelta* od = d->add_objects();
    od->set_object(o.object);
    Copy(o.operations_gained, od->mutable_operations_gained());
    Copy(o.operations_lost, od->mutable_operations_lost());
    Copy(o.readable_fields_gained, od->mutable_readable_fields_gained());
    Copy(o.readable_fields_lost, od->mutable_readable_fields_lost());
    Copy(o.writable_fields_gained, od->mutable_writable_fields_gained());
    Copy(o.writable_fields_lost, od->mutable_writable_fields_lost());
    const policy::ObjectAccessChange::RecordFilterChange* read = nullptr;
    for (const auto& r : o.records) {
      od->add_record_operations_changed(policy::OperationName(r.op));
      if (r.op == policy::Operation::kRead) read = &r;
    }
    if (!count || read == nullptr) continue;
    const model::ObjectSchema* schema =
        model::SchemaRegistry::Default().Find(o.object);
    if (schema == nullptr) continue;
    auto delta = records::CountRecordDelta(core.RecordDeps(), *schema,
                                           read->before, read->after,
                                           examples);
    if (!delta.ok()) return delta.status();
    od->set_records_counted(true);
    od->set_readable_before(delta->before);
    od->set_readable_after(delta->after);
    od->set_records_gained(delta->gained);
    od->set_records_lost(delta->lost);
    Copy(delta->examples_gained, od->mutable_examples_gained());
    Copy(delta->examples_lost, od->mutable_examples_lost());
  }
  return absl::OkStatus();
}

// Whether the user's readable records change somewhere (what is counted:
// a change of edit or delete alone takes no place among the counted users).
bool ChangesRecords(const policy::UserAccessChange& u) {
  return std::any_of(u.objects.begin(), u.objects.end(), [](const auto& o) {
    return std::any_of(o.records.begin(), o.records.end(), [](const auto& r) {
      return r.op == policy::Operation::kRead;
    });
  });
}

// How many records a sharing rule selects under `snapshot`; -1 if the
// snapshot has no such rule.
absl::StatusOr<int64_t> RuleRecords(const ServerCore& core,
                                    const policy::PolicySnapshot& snapshot,
                                    const std::string& rule) {
  auto source = policy::SharingRuleSource(snapshot, rule);
  if (!source.has_value()) return -1;
  const policy::CompiledPolicy& p = snapshot.compiled();
  for (const policy::CompiledSharingRule& r : p.sharing_rules) {
    if (r.name != rule) continue;
    return records::CountSelected(core.RecordDeps(),
                                  *p.objects[r.object].schema, *source);
  }
  return -1;
}

}  // namespace

absl::Status PlanImpact(const ServerCore& core, const PolicyLoader& loader,
                        const std::string& calling_service,
                        const crm::internal::PolicyState& live,
                        const crm::internal::PolicyState& target,
                        const crm::v1::PlanPolicyRequest& request,
                        crm::v1::PolicyPlan* out,
                        std::shared_ptr<const policy::PolicySnapshot>
                            live_compiled) {
  absl::StatusOr<std::shared_ptr<const policy::PolicySnapshot>> before =
      live_compiled != nullptr && live_compiled->version() == live.version()
          ? std::move(live_compiled)
          : loader.Compile(live);
  if (!before.ok()) return before.status();
  auto after = loader.Compile(target);
  if (!after.ok()) return after.status();
  auto limits = CheckRequest(request, calling_service, **before, **after);
  if (!limits.ok()) return limits.status();
  if (out->no_change()) return absl::OkStatus();
  const model::SchemaRegistry& schemas = model::SchemaRegistry::Default();

  const std::vector<std::string> only = {limits->user};
  std::vector<policy::UserAccessChange> users = policy::DiffUserAccess(
      **before, **after, limits->service, schemas,
      request.only_user() ? &only : nullptr);
  int counted = 0;
  bool named_listed = false;
  for (const policy::UserAccessChange& u : users) {
    const bool named = u.user == limits->user;
    named_listed |= named;
    const bool count =
        named || (counted < limits->counted_users && ChangesRecords(u));
    if (count && !named && ChangesRecords(u)) ++counted;
    if (absl::Status s =
            ToDelta(core, u, count, limits->examples, out->add_users());
        !s.ok()) {
      return s;
    }
  }
  if (!limits->user.empty() && !named_listed) {
    // The named user's access does not change: say so with an empty entry.
    out->add_users()->set_user(limits->user);
  }

  if (request.only_user()) return absl::OkStatus();
  auto grants =
      policy::ImpactByGrant(live, target, core.config.services(),
                            limits->service, schemas, kMaxGrantsExamined);
  if (!grants.ok()) return grants.status();
  for (const policy::GrantImpact& g : *grants) {
    crm::v1::GrantImpact* gi = out->add_grants();
    gi->set_object(g.object);
    gi->set_kind(GrantKind(g.change));
    gi->set_evaluable_alone(g.evaluable_alone);
    gi->set_examined(g.examined);
    Copy(g.users_gaining, gi->mutable_users_gaining());
    Copy(g.users_losing, gi->mutable_users_losing());
    Copy(g.users_changing, gi->mutable_users_changing());
    if (absl::StartsWith(g.object, "sharingRules/")) {
      auto n = RuleRecords(core, **before, g.object);
      if (!n.ok()) return n.status();
      gi->set_rule_records_before(std::max<int64_t>(*n, 0));
      auto m = RuleRecords(core, **after, g.object);
      if (!m.ok()) return m.status();
      gi->set_rule_records_after(std::max<int64_t>(*m, 0));
    }
  }
  return absl::OkStatus();
}

}  // namespace crm::server
