#include "records/pagination.h"
#include "records/sharing.h"

#include <openssl/rand.h>

#include <limits>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "audit/diff.h"
#include "model/record.h"
#include "model/resource_name.h"
#include "policy/evaluator.h"
#include "policy/grantee.h"
#include "records/record_access.h"
#include "records/record_audit.h"
#include "store/policy_store.h"

namespace crm::records {
namespace {

using policy::Evaluator;
using policy::Operation;

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;

std::vector<std::string> Collections() {
  std::vector<std::string> out;
  for (const auto* schema : model::SchemaRegistry::Default().All()) {
    out.push_back(schema->collection());
  }
  return out;
}

struct Target {
  const model::ObjectSchema* schema = nullptr;
  std::string id;
};

absl::StatusOr<Target> ParseRecord(absl::string_view name,
                                   absl::string_view what) {
  auto parsed = model::ParseResourceName(name, Collections(), what);
  if (!parsed.ok()) return parsed.status();
  return Target{model::SchemaRegistry::Default().Find(parsed->collection),
                parsed->id};
}

std::string NewShareId() {
  unsigned char bytes[12];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) abort();  // no safe fallback
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
}

void ShareToProto(const store::ShareRow& row, crm::v1::RecordShare* out) {
  std::string record = absl::StrCat(row.object, "/", row.record_id);
  out->set_name(absl::StrCat(record, "/shares/", row.id));
  out->set_record(record);
  auto grantee = policy::GranteeFromKey(row.grantee);
  if (grantee.ok()) *out->mutable_grantee() = *grantee;
  out->set_access(row.access == store::kShareReadWrite ? crm::v1::READ_WRITE
                                                       : crm::v1::READ);
  out->set_created_by(row.created_by);
  model::SetTimestampMicros(row.create_time, out->mutable_create_time());
}

absl::Status CheckObject(const Evaluator& eval,
                         const model::ObjectSchema& schema, Operation op) {
  return policy::ToStatus(eval.CheckObject(schema, op),
                          policy::DenialKind::kObject);
}

// INVALID_ARGUMENT unless the grantee (a key, see policy/grantee.h) names an
// existing user, role or group.
absl::Status CheckGranteeExists(store::Session& session,
                                store::PolicyStore& store,
                                const crm::v1::Grantee& grantee,
                                const std::string& key) {
  bool exists = false;
  std::string shown;
  switch (grantee.kind_case()) {
    case crm::v1::Grantee::kUser: {
      shown = grantee.user();
      auto active = store.UserActive(session, shown.substr(6));
      if (!active.ok()) return active.status();
      exists = active->has_value();
      break;
    }
    case crm::v1::Grantee::kRole:
    case crm::v1::Grantee::kRoleAndSubordinates: {
      shown = grantee.kind_case() == crm::v1::Grantee::kRole
                  ? grantee.role()
                  : grantee.role_and_subordinates();
      auto role = store.GetObject(session, store::kRolesKind, shown.substr(6));
      if (!role.ok()) return role.status();
      exists = role->has_value();
      break;
    }
    case crm::v1::Grantee::kGroup: {
      shown = grantee.group();
      auto group =
          store.GetObject(session, store::kGroupsKind, shown.substr(7));
      if (!group.ok()) return group.status();
      exists = group->has_value();
      break;
    }
    case crm::v1::Grantee::KIND_NOT_SET:
      break;
  }
  if (!exists) {
    return absl::InvalidArgumentError(absl::StrCat(
        "grantee: ", shown.empty() ? key : shown, " does not exist"));
  }
  return absl::OkStatus();
}

int64_t Now(const Deps& deps) { return absl::ToUnixMicros(deps.clock->Now()); }

}  // namespace

absl::Status ShareRecord(const Deps& deps, const Evaluator& eval,
                         const crm::v1::ShareRecordRequest& req,
                         crm::v1::RecordShare* response) {
  auto target = ParseRecord(req.record(), "record");
  if (!target.ok()) return target.status();
  auto key = policy::GranteeKey(req.grantee());
  if (!key.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("grantee: ", key.status().message()));
  }
  if (req.access() != crm::v1::READ && req.access() != crm::v1::READ_WRITE) {
    return absl::InvalidArgumentError("access: must be READ or READ_WRITE");
  }
  if (absl::Status s = CheckObject(eval, *target->schema, Operation::kShare);
      !s.ok()) {
    return s;
  }
  store::PolicyStore store(deps.database);
  store::ShareRow share;
  absl::Status s = deps.database->InTransaction(
      [&](store::Session& session) -> absl::Status {
        auto loaded = LoadRecordFor(session, deps, eval, *target->schema,
                                    target->id, Operation::kShare);
        if (!loaded.ok()) return loaded.status();
        if (absl::Status g =
                CheckGranteeExists(session, store, req.grantee(), *key);
            !g.ok()) {
          return g;
        }
        int64_t access = req.access() == crm::v1::READ_WRITE
                             ? store::kShareReadWrite
                             : store::kShareRead;
        auto existing = store.FindShareByGrantee(
            session, target->schema->collection(), target->id, *key);
        if (!existing.ok()) return existing.status();
        crm::v1::AuditEvent event;
        event.set_action("records.share");
        event.set_resource(req.record());
        event.set_outcome(crm::v1::ALLOWED);
        event.set_reason(
            CheckLoaded(eval, *target->schema, Operation::kShare, *loaded).rule);
        auto* change = event.add_changes();
        change->set_field(absl::StrCat("shares[", *key, "]"));
        change->set_values_recorded(true);
        change->set_after(crm::v1::AccessLevel_Name(req.access()));
        if (existing->has_value()) {
          share = **existing;
          change->set_before(share.access == store::kShareReadWrite
                                 ? "READ_WRITE"
                                 : "READ");
          share.access = access;
          if (absl::Status u =
                  store.UpdateShareAccess(session, share.id, access).status();
              !u.ok()) {
            return u;
          }
        } else {
          share = {
              NewShareId(), target->schema->collection(),    target->id, *key,
              access,       eval.principal().ResourceName(), Now(deps)};
          if (absl::Status i = store.InsertShare(session, share); !i.ok()) {
            return i;
          }
        }
        (*event.mutable_attributes())["share"] =
            absl::StrCat(req.record(), "/shares/", share.id);
        return AppendEvent(deps, session, std::move(event));
      });
  if (!s.ok()) return s;
  ShareToProto(share, response);
  return absl::OkStatus();
}

absl::Status UnshareRecord(const Deps& deps, const Evaluator& eval,
                           const crm::v1::UnshareRecordRequest& req) {
  // "{collection}/{id}/shares/{share}"
  std::vector<std::string> parts = absl::StrSplit(req.name(), '/');
  if (parts.size() != 4 || parts[2] != "shares" ||
      !model::IsValidRecordId(parts[3])) {
    return absl::InvalidArgumentError(absl::StrCat(
        "name: '", req.name(),
        "' is not a share name; expected e.g. accounts/a1/shares/s9"));
  }
  auto target = ParseRecord(absl::StrCat(parts[0], "/", parts[1]), "name");
  if (!target.ok()) return target.status();
  if (absl::Status s = CheckObject(eval, *target->schema, Operation::kShare);
      !s.ok()) {
    return s;
  }
  store::PolicyStore store(deps.database);
  return deps.database->InTransaction(
      [&](store::Session& session) -> absl::Status {
        auto loaded = LoadRecordFor(session, deps, eval, *target->schema,
                                    target->id, Operation::kShare);
        if (!loaded.ok()) return loaded.status();
        auto deleted = store.DeleteShare(session, target->schema->collection(),
                                         target->id, parts[3]);
        if (!deleted.ok()) return deleted.status();
        if (!*deleted) {
          return absl::NotFoundError(absl::StrCat(req.name(), " not found"));
        }
        crm::v1::AuditEvent event;
        event.set_action("records.unshare");
        event.set_resource(absl::StrCat(parts[0], "/", parts[1]));
        event.set_outcome(crm::v1::ALLOWED);
        event.set_reason(
            CheckLoaded(eval, *target->schema, Operation::kShare, *loaded).rule);
        (*event.mutable_attributes())["share"] = req.name();
        return AppendEvent(deps, session, std::move(event));
      });
}

absl::Status ListRecordShares(const Deps& deps, const Evaluator& eval,
                              const crm::v1::ListRecordSharesRequest& req,
                              crm::v1::ListRecordSharesResponse* response) {
  auto target = ParseRecord(req.record(), "record");
  if (!target.ok()) return target.status();
  int page_size = req.page_size();
  if (page_size < 0 || page_size > kMaxPageSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size: ", page_size, " is out of range; use 1-",
                     kMaxPageSize, " (0 means ", kDefaultPageSize, ")"));
  }
  if (page_size == 0) page_size = kDefaultPageSize;
  int64_t after_time = std::numeric_limits<int64_t>::min();
  std::string after_id;
  if (!req.page_token().empty()) {
    if (absl::Status s = DecodeKeyToken(req.page_token(), "ListRecordShares",
                                       &after_time, &after_id);
        !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = CheckObject(eval, *target->schema, Operation::kShare);
      !s.ok()) {
    return s;
  }
  store::PolicyStore store(deps.database);
  std::vector<store::ShareRow> shares;
  absl::Status s = deps.database->InTransaction(
      [&](store::Session& session) -> absl::Status {
        auto loaded = LoadRecordFor(session, deps, eval, *target->schema,
                                    target->id, Operation::kShare);
        if (!loaded.ok()) return loaded.status();
        auto page =
            store.ListShares(session, target->schema->collection(), target->id,
                             after_time, after_id, page_size + 1);
        if (!page.ok()) return page.status();
        shares = *std::move(page);
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  bool more = static_cast<int>(shares.size()) > page_size;
  if (more) shares.resize(page_size);
  for (const auto& share : shares) ShareToProto(share, response->add_shares());
  if (more) response->set_next_page_token(EncodeKeyToken(shares.back().create_time, shares.back().id));
  return absl::OkStatus();
}

absl::Status TransferRecord(const Deps& deps, const Evaluator& eval,
                            const crm::v1::TransferRecordRequest& req,
                            crm::v1::TransferRecordResponse* response) {
  auto target = ParseRecord(req.record(), "record");
  if (!target.ok()) return target.status();
  auto owner = model::ParseResourceName(req.new_owner(), {std::string("users")},
                                        "new_owner");
  if (!owner.ok()) return owner.status();
  std::optional<int64_t> expected;
  if (!req.etag().empty()) {
    auto v = model::ParseEtag(req.etag());
    if (!v.ok()) return v.status();
    expected = *v;
  }
  const model::ObjectSchema& schema = *target->schema;
  if (absl::Status s = CheckObject(eval, schema, Operation::kTransfer);
      !s.ok()) {
    return s;
  }
  int owner_field = schema.FieldIndex("owner");
  int update_time_field = schema.FieldIndex("update_time");
  int source_field = schema.FieldIndex("source");
  if (owner_field < 0 || update_time_field < 0 || source_field < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(schema.collection(), " records have no owner"));
  }
  store::PolicyStore store(deps.database);
  int64_t new_version = 0;
  absl::Status s = deps.database->InTransaction([&](store::Session& session)
                                                    -> absl::Status {
    auto loaded = LoadRecordFor(session, deps, eval, schema, target->id,
                                Operation::kTransfer);
    if (!loaded.ok()) return loaded.status();
    const model::Record& current = loaded->record;
    if (expected.has_value() && *expected != current.version) {
      return absl::AbortedError(absl::StrCat(
          req.record(), " was changed since etag ", model::EtagOf(*expected),
          " (current: ", model::EtagOf(current.version),
          "); read it again and retry"));
    }
    auto active = store.UserActive(session, owner->id);
    if (!active.ok()) return active.status();
    if (!active->has_value() || !**active) {
      return absl::InvalidArgumentError(absl::StrCat(
          "new_owner: ", req.new_owner(), " does not exist or is not active"));
    }
    model::Record updated = current;
    updated.values[owner_field] = req.new_owner();
    updated.values[update_time_field] = Now(deps);
    updated.values[source_field] =
        absl::StrCat("services/", eval.principal().service);
    auto ok = deps.records->UpdateIfVersion(
        session, schema, target->id, current.version,
        {owner_field, update_time_field, source_field}, updated);
    if (!ok.ok()) return ok.status();
    if (!*ok) {
      return absl::AbortedError(absl::StrCat(
          req.record(),
          " was changed by another writer; read it again and retry"));
    }
    new_version = current.version + 1;
    crm::v1::AuditEvent event;
    event.set_action("records.transfer");
    event.set_resource(req.record());
    event.set_outcome(crm::v1::ALLOWED);
    event.set_reason(
        CheckLoaded(eval, schema, Operation::kTransfer, *loaded).rule);
    auto* change = event.add_changes();
    change->set_field("owner");
    change->set_values_recorded(true);
    if (const auto* was = std::get_if<std::string>(&current.values[owner_field])) {
      change->set_before(audit::JsonString(*was));
    }
    change->set_after(audit::JsonString(req.new_owner()));
    return AppendEvent(deps, session, std::move(event));
  });
  if (!s.ok()) return s;
  response->set_record(schema.ResourceName(target->id));
  response->set_owner(req.new_owner());
  response->set_etag(model::EtagOf(new_version));
  return absl::OkStatus();
}

}  // namespace crm::records
