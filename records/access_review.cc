#include "records/access_review.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "records/record_access.h"
#include "store/record_store.h"

namespace crm::records {
namespace {

absl::Status NotFound(const model::ObjectSchema& schema,
                      const std::string& id) {
  return absl::NotFoundError(absl::StrCat(
      schema.ResourceName(id), " not found; list the records with `crmctl ",
      schema.collection(), " list`"));
}

// The record with the facts a user's decision needs. `eval` must act for a
// user (any: shares and the parent are loaded for every user alike).
absl::StatusOr<LoadedRecord> Load(const Deps& deps,
                                  const policy::Evaluator& eval,
                                  const model::ObjectSchema& schema,
                                  const std::string& id) {
  std::optional<LoadedRecord> loaded;
  absl::Status s = deps.database->WithSession([&](store::Session& session) {
    auto r = LoadRecord(session, deps, eval, schema, id);
    if (!r.ok()) return r.status();
    loaded = *std::move(r);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  if (!loaded.has_value()) return NotFound(schema, id);
  return *std::move(loaded);
}

}  // namespace

absl::StatusOr<crm::v1::AccessExplanation> ExplainAccess(
    const Deps& deps, const policy::Evaluator& subject,
    const model::ObjectSchema& schema, const std::string& id,
    policy::Operation op, const model::FieldSchema* field,
    const absl::Status* login) {
  policy::ExplainInput in;
  in.schema = &schema;
  in.op = op;
  in.field = field;
  in.login = login;
  if (id.empty()) return policy::ExplainAccess(subject, in);
  auto loaded = Load(deps, subject, schema, id);
  if (!loaded.ok()) return loaded.status();
  const policy::RecordFacts facts = loaded->Facts();
  in.facts = &facts;
  return policy::ExplainAccess(subject, in);
}

absl::Status ListRecordAccessors(
    const Deps& deps, std::shared_ptr<const policy::PolicySnapshot> snapshot,
    const std::string& service, const model::ObjectSchema& schema,
    const std::string& id, const std::string& after_user, int page_size,
    crm::v1::ListRecordAccessorsResponse* out, bool* more) {
  *more = false;
  if (snapshot == nullptr) {
    return absl::UnavailableError("no access policy is loaded; retry later");
  }
  const policy::CompiledPolicy& policy = snapshot->compiled();
  // Any user: the facts (shares, parent) do not depend on which.
  auto loaded = Load(deps, policy::Evaluator(snapshot, {service, "-"}), schema,
                     id);
  if (!loaded.ok()) return loaded.status();
  const policy::RecordFacts facts = loaded->Facts();

  std::vector<const policy::CompiledUser*> users;
  users.reserve(policy.users.size());
  for (const policy::CompiledUser& u : policy.users) {
    if (u.id > after_user) users.push_back(&u);
  }
  std::sort(users.begin(), users.end(),
            [](const auto* a, const auto* b) { return a->id < b->id; });
  int examined = 0;
  for (const policy::CompiledUser* u : users) {
    ++examined;
    const policy::Evaluator eval(snapshot, {service, u->id});
    using policy::Operation;
    if (!eval.AllowsRecord(schema, Operation::kRead, facts)) continue;
    if (out->accessors_size() == page_size) {
      *more = true;
      break;
    }
    crm::v1::RecordAccessor* a = out->add_accessors();
    a->set_user(u->resource_name);
    a->set_can_read(true);
    a->set_can_edit(eval.AllowsRecord(schema, Operation::kEdit, facts));
    a->set_can_delete(eval.AllowsRecord(schema, Operation::kDelete, facts));
    a->set_level(policy::LevelName(a->can_delete() ? policy::Level::kFull
                                   : a->can_edit() ? policy::Level::kReadWrite
                                                   : policy::Level::kRead));
    policy::RecordTrace trace;
    eval.TraceRecord(schema, Operation::kRead, facts, &trace);
    policy::AppendPaths(eval, schema, trace, policy::Level::kRead,
                        a->mutable_paths());
  }
  out->set_users_examined(examined);
  return absl::OkStatus();
}

namespace {

// What the filters for reading and for `op` (edit or delete) are made of,
// as RecordFilter reports it.
struct OpFilter {
  policy::Operation op;
  model::SqlFragment where;
  policy::PlanInfo plan;
};

// Whether every record the read filter admits and `f`'s filter does not is
// one with a manual share to the subject, so that the records outside those
// shares can be counted once for both. RecordFilter (policy/
// record_filter.cc) builds a filter as
//   (owner set  OR  manual shares to the user's grantee keys  OR  criteria
//    rules)  AND  restriction rules,
// each part holding the grants of at least the needed level; a higher level
// keeps a subset of a lower level's owners and criteria rules and the same
// restriction rules. So when the two plans have owner sets and criteria and
// restriction rules of the same sizes, those parts are the same, and the
// filters differ at most in the manual shares. Not applied (false) when
// anything else is involved: every record admitted by an org-wide default,
// view-all, a restriction-only filter, or access through the parent
// account. `keys` are the grantee keys the shares will be looked up with:
// as many as the read filter's shares branch matched (GranteeKeys reads
// the same list).
bool DiffersOnlyInShares(const OpFilter& read, const OpFilter& f,
                         const std::vector<std::string>& keys) {
  auto own = [](const policy::PlanInfo& p) {
    return (p.shape == "scan" || p.shape == "drive") && !p.via_parent;
  };
  return own(read.plan) && own(f.plan) &&
         keys.size() == read.plan.share_keys &&
         f.plan.owners == read.plan.owners &&
         f.plan.criteria_rules == read.plan.criteria_rules &&
         f.plan.restriction_rules == read.plan.restriction_rules &&
         f.plan.share_keys <= read.plan.share_keys;
}

// The grantee keys through which manual shares reach the subject (the keys
// RecordFilter's shares branch matches); empty for a service acting alone
// or an unknown user.
std::vector<std::string> GranteeKeys(const policy::Evaluator& subject) {
  const policy::PolicySnapshot* snapshot = subject.snapshot();
  if (snapshot == nullptr || !subject.principal().acting_for_user()) return {};
  const policy::CompiledPolicy& p = snapshot->compiled();
  auto it = p.user_index.find(subject.principal().user_id);
  if (it == p.user_index.end()) return {};
  return p.users[it->second].grantee_keys;
}

// The readable, editable and deletable records of `schema` (the last two
// only when `edit` / `remove`; else left 0), each counted with its
// RecordFilter as List applies it. Most of the subject's records are
// typically readable, editable and deletable alike (owned by them or below
// them); evaluating the edit and delete filters on every readable row cost
// as much as the read filter itself (bench/README.md, "Access review").
// Where an edit or delete filter differs from the read filter only in the
// manual shares (DiffersOnlyInShares), the readable records outside the
// subject's shares are all editable (or deletable), so
//   editable = readable - |shared AND read| + |shared AND read AND edit|
// where the second statement's rows are the records shared to the subject
// (store::RecordStore::SharedTo, few: read from the shares index) and the
// filters are CASE counts over them. (With the read filter in its WHERE
// too, PostgreSQL scans the whole table: it prices the filter's hashed
// subplans once per probe of the primary key.) Otherwise the subset is
// counted in the pass over the readable records, as a CASE. Both
// statements read one snapshot.
absl::Status CountRecords(const Deps& deps, store::Session& session,
                          const policy::Evaluator& subject,
                          const model::ObjectSchema& schema, bool edit,
                          bool remove, crm::v1::ObjectAccessSummary* out) {
  using policy::Operation;
  OpFilter read{Operation::kRead, {}, {}};
  read.where = subject.RecordFilter(schema, Operation::kRead, {}, &read.plan);
  out->set_plan(read.plan.shape);
  std::vector<OpFilter> wanted;
  if (edit) wanted.push_back({Operation::kEdit, {}, {}});
  if (remove) wanted.push_back({Operation::kDelete, {}, {}});

  const std::vector<std::string> keys = GranteeKeys(subject);
  store::RecordStore::SubsetCount scan{read.where, {}};
  store::RecordStore::SubsetCount shared{
      store::RecordStore::SharedTo(schema, keys), {read.where}};
  // Per wanted filter: where its figure comes from.
  enum class Source { kRead, kScan, kShared };
  std::vector<std::pair<Source, int>> source;
  for (OpFilter& f : wanted) {
    f.where = subject.RecordFilter(schema, f.op, {}, &f.plan);
    if (f.where.sql == read.where.sql && f.where.params == read.where.params) {
      source.push_back({Source::kRead, 0});
    } else if (DiffersOnlyInShares(read, f, keys)) {
      source.push_back(
          {Source::kShared, static_cast<int>(shared.subsets.size()) + 1});
      shared.subsets.push_back(model::And(read.where, f.where));
    } else {
      source.push_back(
          {Source::kScan, static_cast<int>(scan.subsets.size()) + 1});
      scan.subsets.push_back(std::move(f.where));
    }
  }
  std::vector<store::RecordStore::SubsetCount> counts = {std::move(scan)};
  if (shared.subsets.size() > 1) counts.push_back(std::move(shared));
  auto n = deps.records->CountSubsetsInSnapshot(session, schema, counts);
  if (!n.ok()) return n.status();
  const int64_t readable = (*n)[0][0];
  out->set_readable_records(readable);
  for (size_t i = 0; i < wanted.size(); ++i) {
    const auto [from, slot] = source[i];
    const int64_t count = from == Source::kRead   ? readable
                          : from == Source::kScan ? (*n)[0][slot]
                                                  : readable - (*n)[1][1] +
                                                        (*n)[1][slot];
    if (wanted[i].op == Operation::kEdit) {
      out->set_editable_records(count);
    } else {
      out->set_deletable_records(count);
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status SummarizeUserAccess(
    const Deps& deps, const policy::Evaluator& subject,
    const std::vector<const model::ObjectSchema*>& schemas,
    crm::v1::UserAccessSummary* out) {
  using policy::Operation;
  return deps.database->WithSession([&](store::Session& session) {
    for (const model::ObjectSchema* schema : schemas) {
      crm::v1::ObjectAccessSummary* s = out->add_objects();
      s->set_object(schema->collection());
      const bool read = subject.AllowsObject(*schema, Operation::kRead);
      const bool edit = subject.AllowsObject(*schema, Operation::kEdit);
      const bool remove = subject.AllowsObject(*schema, Operation::kDelete);
      s->set_can_read(read);
      s->set_can_edit(edit);
      s->set_can_delete(remove);
      if (read) {
        absl::Status c =
            CountRecords(deps, session, subject, *schema, edit, remove, s);
        if (!c.ok()) return c;
      }
      for (std::string& g : policy::GrantSummary(subject, *schema)) {
        s->add_grants(std::move(g));
      }
    }
    return absl::OkStatus();
  });
}

}  // namespace crm::records
