#include "server/admin_support.h"

#include <memory>
#include <string>
#include <vector>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/container/flat_hash_set.h"
#include "audit/call_scope.h"
#include "audit/diff.h"
#include "audit/policy_diff.h"
#include "auth/system_permissions.h"
#include "base/decision_note.h"
#include "base/error.h"
#include "policy/bundle.h"
#include "policy/evaluator.h"
#include "model/record.h"

namespace crm::server {
namespace {

using crm::internal::PolicyState;

constexpr size_t kMaxReferrersShown = 10;

bool Names(const crm::v1::Grantee& g, const std::string& name) {
  return g.user() == name || g.role() == name ||
         g.role_and_subordinates() == name || g.group() == name;
}

std::string PermissionName(crm::v1::SystemPermission p) {
  auto name = auth::SystemPermissionName(p);
  return name.ok() ? *name : crm::v1::SystemPermission_Name(p);
}

}  // namespace

absl::Status CheckSystemPermission(const policy::Evaluator& evaluator,
                                   crm::v1::SystemPermission p,
                                   absl::string_view rpc) {
  if (evaluator.AllowsSystem(p)) return absl::OkStatus();
  // Only a refusal builds the Decision (its rule goes to the log line).
  const policy::Decision decision = evaluator.CheckSystem(p);
  const policy::Principal& principal = evaluator.principal();
  absl::Status status = absl::PermissionDeniedError(absl::StrCat(
      PermissionName(p), " is required to call ", rpc, "; ",
      principal.ResourceName(), " does not hold it",
      principal.acting_for_user()
          ? " (a user needs it through their profile or a permission set, "
            "and the calling service as well)"
          : " (ServiceConfig.system_permissions or a permission set "
            "assigned to the service)"));
  status = base::WithErrorInfo(std::move(status),
                               crm::v1::SYSTEM_PERMISSION_REQUIRED,
                               {{"permission", PermissionName(p)},
                                {"method", std::string(rpc)}});
  return base::WithDecisionNote(std::move(status), "system", decision.rule);
}

namespace {

// The common body of WritePolicy and WritePolicyRows: one transaction that
// bumps the version first, then runs `apply`, which leaves the would-be
// state in `state` (`before` is the stored state it starts from);
// compiled, audited (one event per changed object, appended in the same
// transaction), committed, installed.
// The policy diff's events, with `described`'s own diff merged into its
// object's event (or added as one).
std::vector<crm::v1::AuditEvent> ChangeEvents(
    const PolicyState& before, const PolicyState& after,
    const DescribedObject* described) {
  std::vector<crm::v1::AuditEvent> events =
      audit::PolicyChangeEvents(before, after);
  if (described == nullptr) return events;
  std::vector<crm::v1::AuditFieldChange> changes =
      audit::DiffMessages(described->before, described->after);
  if (changes.empty()) return events;
  crm::v1::AuditEvent* event = nullptr;
  for (crm::v1::AuditEvent& e : events) {
    if (e.resource() == described->name) event = &e;
  }
  if (event == nullptr) {
    event = &events.emplace_back();
    event->set_action(described->before == nullptr  ? "policy.create"
                      : described->after == nullptr ? "policy.delete"
                                                    : "policy.update");
    event->set_resource(described->name);
    event->set_outcome(crm::v1::ALLOWED);
  }
  absl::flat_hash_set<std::string> known;
  for (const crm::v1::AuditFieldChange& c : event->changes()) {
    known.insert(c.field());
  }
  for (crm::v1::AuditFieldChange& c : changes) {
    if (!known.contains(c.field())) *event->add_changes() = std::move(c);
  }
  return events;
}

// The history entry of the version a write makes (the call's actor, method
// and request id; the changed objects' names).
store::PolicyHistoryRow HistoryEntry(
    int64_t version, int64_t now, const std::string& message,
    const std::vector<crm::v1::AuditEvent>& events) {
  store::PolicyHistoryRow h;
  h.version = version;
  h.time = now;
  h.message = message;
  if (const audit::CallInfo* call = audit::CurrentCall(); call != nullptr) {
    h.actor_user = call->actor_user;
    h.actor_service = call->actor_service;
    h.request_id = call->request_id;
    absl::string_view method = call->method;
    absl::ConsumePrefix(&method, "crm.v1.");
    h.method = std::string(method);
  }
  for (const crm::v1::AuditEvent& e : events) h.changed.push_back(e.resource());
  return h;
}

// Returned from inside the transaction to roll back a write that changed
// nothing (WriteOptions::skip_if_unchanged); never leaves CommitPolicy.
absl::Status Unchanged() { return absl::CancelledError("policy unchanged"); }

absl::Status CommitPolicy(
    ServerCore* core, PolicyLoader& loader,
    const std::function<absl::Status(store::Session&, store::PolicyStore&,
                                     const PolicyState&, PolicyState&)>&
        apply,
    const DescribedObject* described, const WriteOptions& options) {
  store::PolicyStore store(core->database.get());
  std::shared_ptr<const policy::PolicySnapshot> snapshot;
  PolicyState committed;
  bool unchanged = false;
  int64_t made = 0;
  absl::Status s = core->database->InTransaction(
      [&](store::Session& session) -> absl::Status {
        unchanged = false;
        auto version = store.BumpPolicyVersion(session);
        if (!version.ok()) return version.status();
        auto before = store.LoadState(session);
        if (!before.ok()) return before.status();
        PolicyState state;
        if (absl::Status a = apply(session, store, *before, state); !a.ok()) {
          return a;
        }
        std::vector<crm::v1::AuditEvent> events =
            ChangeEvents(*before, state, described);
        if (options.skip_if_unchanged && events.empty()) {
          unchanged = true;
          return Unchanged();
        }
        auto compiled = loader.Compile(state);
        if (!compiled.ok()) {
          // INVALID_ARGUMENT, keeping the compiler's details (a profile's
          // BadRequest names every bad field).
          if (absl::IsInvalidArgument(compiled.status())) {
            return compiled.status();
          }
          return absl::InvalidArgumentError(compiled.status().message());
        }
        const std::string policy_before = policy::SerializeBundleState(*before);
        const std::string policy_after = policy::SerializeBundleState(state);
        store::PolicyHistoryRow history =
            HistoryEntry(*version, absl::ToUnixMicros(core->clock->Now()),
                         options.message, events);
        history.state = policy_after;
        if (absl::Status h = store.AppendHistory(
                session, history, policy_before,
                policy_before != policy_after);
            !h.ok()) {
          return h;
        }
        if (core->audit != nullptr) {
          absl::Status a =
              core->audit->AppendInTransaction(session, std::move(events));
          if (!a.ok()) return a;
        }
        snapshot = *std::move(compiled);
        committed = std::move(state);
        made = *version;
        return absl::OkStatus();
      });
  if (unchanged) {
    if (options.changed != nullptr) *options.changed = false;
    return absl::OkStatus();
  }
  if (!s.ok()) return s;
  if (options.changed != nullptr) *options.changed = true;
  if (options.version != nullptr) *options.version = made;
  loader.Install(std::move(snapshot), std::move(committed));
  return absl::OkStatus();
}

}  // namespace

absl::Status WritePolicy(ServerCore* core, PolicyLoader& loader,
                         const PolicyChange& change,
                         const WriteOptions& options) {
  return CommitPolicy(
      core, loader,
      [&](store::Session& session, store::PolicyStore& store,
          const PolicyState& before, PolicyState& state) -> absl::Status {
        state = before;
        return change(session, store, state);
      },
      nullptr, options);
}

absl::Status WritePolicyRows(ServerCore* core, PolicyLoader& loader,
                             const RowsChange& write, const StateCheck& check,
                             const DescribedObject* described,
                             const WriteOptions& options) {
  return CommitPolicy(
      core, loader,
      [&](store::Session& session, store::PolicyStore& store,
          const PolicyState& /*before*/, PolicyState& state) -> absl::Status {
        if (absl::Status w = write(session); !w.ok()) return w;
        auto loaded = store.LoadState(session);
        if (!loaded.ok()) return loaded.status();
        state = *std::move(loaded);
        return check ? check(state) : absl::OkStatus();
      },
      described, options);
}

absl::Status ApplyPolicyState(ServerCore* core, PolicyLoader& loader,
                              const PolicyStateChange& change,
                              const WriteOptions& options) {
  return CommitPolicy(core, loader, change, nullptr, options);
}

absl::StatusOr<int64_t> ParseOptionalEtag(const std::string& etag) {
  if (etag.empty()) return -1;
  return model::ParseEtag(etag);
}

absl::Status CheckEtag(const std::string& name, int64_t expected,
                       int64_t current) {
  if (expected >= 0 && expected != current) {
    return base::StaleEtagError(name, model::EtagOf(expected),
                                model::EtagOf(current));
  }
  return absl::OkStatus();
}

absl::Status ChangedMeanwhile(const std::string& name) {
  return base::WithErrorInfo(
      absl::AbortedError(
          absl::StrCat(name, " was changed by another writer; read it again")),
      crm::v1::CONCURRENT_MODIFICATION, {{"resource", name}});
}

std::vector<std::string> PolicyReferrers(const PolicyState& state,
                                         const std::string& name) {
  std::vector<std::string> out;
  for (const auto& role : state.roles()) {
    if (role.parent() == name) out.push_back(role.name() + " (parent)");
  }
  for (const auto& user : state.users()) {
    if (user.role() == name) out.push_back("users/" + user.id() + " (role)");
  }
  for (const auto& group : state.groups()) {
    for (const auto& member : group.members()) {
      if (Names(member, name)) {
        out.push_back(group.name() + " (member)");
        break;
      }
    }
  }
  for (const auto& rule : state.sharing_rules()) {
    if (Names(rule.shared_with(), name) ||
        (rule.has_owned_by() && Names(rule.owned_by(), name))) {
      out.push_back(rule.name());
    }
  }
  for (const auto& rule : state.restriction_rules()) {
    if (Names(rule.applies_to(), name)) out.push_back(rule.name());
  }
  for (const auto& set : state.permission_sets()) {
    for (const auto& assignee : set.assignees()) {
      if (assignee == name) {
        out.push_back(set.name() + " (assignee)");
        break;
      }
    }
  }
  return out;
}

absl::Status AddShareReferrers(store::Session& session,
                               store::PolicyStore& store,
                               const std::string& name,
                               std::vector<std::string>* referrers) {
  absl::string_view id = name;
  std::vector<std::string> keys = {name};
  if (absl::ConsumePrefix(&id, "roles/")) {
    keys.push_back(absl::StrCat("roleAndSubordinates/", id));
  } else if (!absl::StartsWith(name, "groups/")) {
    return absl::OkStatus();
  }
  auto shares = store.CountSharesWithGrantee(session, keys);
  if (!shares.ok()) return shares.status();
  if (*shares > 0) {
    referrers->push_back(absl::StrCat(*shares, " record share(s)"));
  }
  return absl::OkStatus();
}

absl::Status RefuseIfReferenced(const std::string& name,
                                std::vector<std::string> referrers) {
  if (referrers.empty()) return absl::OkStatus();
  size_t total = referrers.size();
  // The details list every referrer; the message at most kMaxReferrersShown.
  std::vector<base::PreconditionViolation> violations;
  violations.reserve(total);
  for (const std::string& referrer : referrers) {
    // referrer: "roles/vp (parent)"; the subject is the resource name.
    violations.push_back({"REFERENCED_BY", referrer.substr(0, referrer.find(" (")),
                          absl::StrCat(referrer, " names ", name)});
  }
  if (total > kMaxReferrersShown) {
    referrers.resize(kMaxReferrersShown);
    referrers.push_back(
        absl::StrCat("and ", total - kMaxReferrersShown, " more"));
  }
  absl::Status status = absl::FailedPreconditionError(
      absl::StrCat(name, " is still referenced by ",
                   absl::StrJoin(referrers, ", "), "; change them first"));
  status = base::WithErrorInfo(
      std::move(status), crm::v1::POLICY_REFERENCED,
      {{"resource", name}, {"referrer_count", absl::StrCat(total)}});
  return base::WithPreconditionFailure(std::move(status), violations);
}

absl::StatusOr<int> PageSize(int requested) {
  if (requested < 0 || requested > kMaxPageSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size: ", requested, " is out of range; use 1-",
                     kMaxPageSize, " (0 means ", kDefaultPageSize, ")"));
  }
  return requested == 0 ? kDefaultPageSize : requested;
}

std::string EncodePageToken(absl::string_view list, absl::string_view key) {
  return absl::WebSafeBase64Escape(absl::StrCat(list, "/", key));
}

absl::StatusOr<std::string> DecodePageToken(const std::string& token,
                                            absl::string_view list,
                                            absl::string_view rpc) {
  if (token.empty()) return std::string();
  std::string raw;
  const std::string prefix = absl::StrCat(list, "/");
  if (!absl::WebSafeBase64Unescape(token, &raw) ||
      !absl::StartsWith(raw, prefix)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "page_token: not a token from ", rpc,
        (list.empty() ? "" : " for this list"), "; start again without it"));
  }
  return raw.substr(prefix.size());
}

}  // namespace crm::server
