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
        // One pass: the records List would return (RecordFilter for read),
        // and among them those editable and deletable (a subset: edit and
        // delete need read access and the read permission). A subset
        // whose predicate is the read predicate is not counted again.
        policy::PlanInfo plan;
        const model::SqlFragment where =
            subject.RecordFilter(*schema, Operation::kRead, {}, &plan);
        s->set_plan(plan.shape);
        std::vector<model::SqlFragment> subsets;
        std::vector<int> slot = {-1, -1};  // edit, delete: index or -1
        for (int i = 0; i < 2; ++i) {
          const bool allowed = i == 0 ? edit : remove;
          if (!allowed) continue;
          model::SqlFragment f = subject.RecordFilter(
              *schema, i == 0 ? Operation::kEdit : Operation::kDelete);
          if (f.sql == where.sql && f.params == where.params) continue;
          slot[i] = static_cast<int>(subsets.size()) + 1;
          subsets.push_back(std::move(f));
        }
        auto n = deps.records->CountSubsets(session, *schema, where, subsets);
        if (!n.ok()) return n.status();
        s->set_readable_records((*n)[0]);
        if (edit) s->set_editable_records((*n)[slot[0] < 0 ? 0 : slot[0]]);
        if (remove) s->set_deletable_records((*n)[slot[1] < 0 ? 0 : slot[1]]);
      }
      for (std::string& g : policy::GrantSummary(subject, *schema)) {
        s->add_grants(std::move(g));
      }
    }
    return absl::OkStatus();
  });
}

}  // namespace crm::records
