#include "records/record_access.h"

#include <map>
#include <utility>

#include "model/resource_name.h"
#include "policy/decision.h"

namespace crm::records {
namespace {

std::vector<policy::ShareFact> ToFacts(
    const std::vector<store::ShareRow>& shares) {
  std::vector<policy::ShareFact> out;
  out.reserve(shares.size());
  for (const store::ShareRow& s : shares) {
    policy::ShareFact f;
    f.grantee = s.grantee;
    f.level = s.access == store::kShareReadWrite ? crm::v1::READ_WRITE
                                                 : crm::v1::READ;
    out.push_back(std::move(f));
  }
  return out;
}

// The id of the account named by the record's "account" field, if any.
std::optional<std::string> ParentId(const model::ObjectSchema& schema,
                                    const model::Record& record) {
  int i = schema.FieldIndex("account");
  if (i < 0 || i >= static_cast<int>(record.values.size())) return std::nullopt;
  const auto* value = std::get_if<std::string>(&record.values[i]);
  if (value == nullptr || value->empty()) return std::nullopt;
  auto name = model::ParseResourceName(*value, {std::string("accounts")},
                                       "account");
  if (!name.ok()) return std::nullopt;
  return name->id;
}

}  // namespace

std::vector<policy::ConsentFact> ConsentFacts(
    const std::vector<store::ConsentRow>& rows) {
  std::vector<policy::ConsentFact> out;
  out.reserve(rows.size());
  for (const store::ConsentRow& r : rows) {
    out.push_back({r.channel, r.purpose, r.state == store::kOptedIn,
                   r.state == store::kOptedOut});
  }
  return out;
}

policy::RecordFacts LoadedRecord::Facts() const {
  policy::RecordFacts facts;
  facts.record = &record;
  facts.shares = ToFacts(shares);
  facts.consents = ConsentFacts(consents);
  if (parent.has_value()) {
    facts.parent = &*parent;
    facts.parent_shares = ToFacts(parent_shares);
  }
  return facts;
}

absl::StatusOr<std::optional<LoadedRecord>> LoadRecord(
    store::Session& session, const Deps& deps, const policy::Evaluator& eval,
    const model::ObjectSchema& schema, const std::string& id) {
  auto record = deps.records->Get(session, schema, id);
  if (!record.ok()) return record.status();
  if (!record->has_value()) return std::nullopt;
  store::PolicyStore policies(deps.database);
  LoadedRecord loaded;
  loaded.record = **std::move(record);
  if (eval.NeedsShares()) {
    auto shares = policies.SharesFor(session, schema.collection(), id);
    if (!shares.ok()) return shares.status();
    loaded.shares = *std::move(shares);
  }
  if (eval.NeedsConsent(schema)) {
    auto consents =
        store::ConsentStore::Get(session, schema.collection(), id);
    if (!consents.ok()) return consents.status();
    loaded.consents = *std::move(consents);
  }
  if (eval.NeedsParent(schema)) {
    const model::ObjectSchema* accounts =
        model::SchemaRegistry::Default().Find("accounts");
    std::optional<std::string> parent_id = ParentId(schema, loaded.record);
    if (accounts != nullptr && parent_id.has_value()) {
      auto parent = deps.records->Get(session, *accounts, *parent_id);
      if (!parent.ok()) return parent.status();
      if (parent->has_value()) {
        loaded.parent = **std::move(parent);
        auto parent_shares =
            policies.SharesFor(session, accounts->collection(), *parent_id);
        if (!parent_shares.ok()) return parent_shares.status();
        loaded.parent_shares = *std::move(parent_shares);
      }
    }
  }
  return loaded;
}

absl::StatusOr<std::vector<LoadedRecord>> LoadFacts(
    store::Session& session, const Deps& deps, const policy::Evaluator& eval,
    const model::ObjectSchema& schema, std::vector<model::Record> records) {
  std::vector<LoadedRecord> out(records.size());
  std::vector<std::string> ids;
  ids.reserve(records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    ids.push_back(records[i].id);
    out[i].record = std::move(records[i]);
  }
  store::PolicyStore policies(deps.database);
  if (eval.NeedsShares()) {
    auto shares = policies.SharesForAll(session, schema.collection(), ids);
    if (!shares.ok()) return shares.status();
    for (LoadedRecord& l : out) {
      auto it = shares->find(l.record.id);
      if (it != shares->end()) l.shares = std::move(it->second);
    }
  }
  if (eval.NeedsConsent(schema)) {
    auto consents =
        store::ConsentStore::GetAll(session, schema.collection(), ids);
    if (!consents.ok()) return consents.status();
    for (LoadedRecord& l : out) {
      auto it = consents->find(l.record.id);
      if (it != consents->end()) l.consents = std::move(it->second);
    }
  }
  const model::ObjectSchema* accounts =
      model::SchemaRegistry::Default().Find("accounts");
  if (eval.NeedsParent(schema) && accounts != nullptr) {
    std::vector<std::string> parent_ids;
    for (const LoadedRecord& l : out) {
      if (auto p = ParentId(schema, l.record); p.has_value()) {
        parent_ids.push_back(*p);
      }
    }
    auto parents = deps.records->GetAll(session, *accounts, parent_ids);
    if (!parents.ok()) return parents.status();
    std::vector<std::string> found;
    for (const model::Record& p : *parents) found.push_back(p.id);
    std::map<std::string, std::vector<store::ShareRow>> parent_shares;
    if (!found.empty()) {
      auto got = policies.SharesForAll(session, accounts->collection(), found);
      if (!got.ok()) return got.status();
      parent_shares = *std::move(got);
    }
    std::map<std::string, const model::Record*> by_id;
    for (const model::Record& p : *parents) by_id[p.id] = &p;
    for (LoadedRecord& l : out) {
      std::optional<std::string> p = ParentId(schema, l.record);
      if (!p.has_value()) continue;
      auto it = by_id.find(*p);
      if (it == by_id.end()) continue;
      l.parent = *it->second;
      auto shares = parent_shares.find(*p);
      if (shares != parent_shares.end()) l.parent_shares = shares->second;
    }
  }
  return out;
}

policy::Decision CheckLoaded(const policy::Evaluator& eval,
                             const model::ObjectSchema& schema,
                             policy::Operation op, const LoadedRecord& loaded) {
  return eval.CheckRecord(schema, op, loaded.Facts());
}

absl::StatusOr<LoadedRecord> LoadRecordFor(store::Session& session,
                                           const Deps& deps,
                                           const policy::Evaluator& eval,
                                           const model::ObjectSchema& schema,
                                           const std::string& id,
                                           policy::Operation op) {
  auto loaded = LoadRecord(session, deps, eval, schema, id);
  if (!loaded.ok()) return loaded.status();
  if (!loaded->has_value()) return policy::RecordNotFound(schema.ResourceName(id));
  const policy::RecordFacts facts = (*loaded)->Facts();
  if (!eval.AllowsRecord(schema, policy::Operation::kRead, facts)) {
    // Hidden: the caller sees exactly a missing record's NOT_FOUND; the
    // internal decision note names the rule for the log and the audit.
    return policy::ToStatus(
        eval.CheckRecord(schema, policy::Operation::kRead, facts),
        policy::DenialKind::kRecord, schema.ResourceName(id));
  }
  // The reason is only built for a refusal.
  if (op != policy::Operation::kRead && !eval.AllowsRecord(schema, op, facts)) {
    return policy::ToStatus(eval.CheckRecord(schema, op, facts),
                            policy::DenialKind::kObject);
  }
  return **std::move(loaded);
}

}  // namespace crm::records
