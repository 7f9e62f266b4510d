#include "records/pagination.h"
#include "records/provenance.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/error.h"
#include "model/record.h"
#include "model/resource_name.h"
#include "records/record_access.h"
#include "store/provenance_store.h"

namespace crm::records {
namespace {

using policy::Evaluator;
using policy::Operation;

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;

struct Target {
  const model::ObjectSchema* schema = nullptr;
  std::string id;
};

absl::StatusOr<Target> ParseRecord(absl::string_view name) {
  std::vector<std::string> collections;
  for (const auto* schema : model::SchemaRegistry::Default().All()) {
    collections.push_back(schema->collection());
  }
  auto parsed = model::ParseResourceName(name, collections, "record");
  if (!parsed.ok()) return parsed.status();
  return Target{model::SchemaRegistry::Default().Find(parsed->collection),
                parsed->id};
}

// Object read, then the record: NOT_FOUND (Get's status) unless it exists
// and the principal may read it. Reads on `session`.
absl::Status CheckReadable(store::Session& session, const Deps& deps,
                           const Evaluator& eval, const Target& target) {
  auto loaded = LoadRecord(session, deps, eval, *target.schema, target.id);
  if (!loaded.ok()) return loaded.status();
  const std::string name = target.schema->ResourceName(target.id);
  if (!loaded->has_value()) return policy::RecordNotFound(name);
  if (!eval.AllowsRecord(*target.schema, Operation::kRead,
                         (*loaded)->Facts())) {
    // Byte-identical to missing; the note carries the rule to the log.
    return policy::ToStatus(
        CheckLoaded(eval, *target.schema, Operation::kRead, **loaded),
        policy::DenialKind::kRecord, name);
  }
  return absl::OkStatus();
}

void WriterToProto(const std::string& field, const store::FieldWriter& w,
                   crm::v1::FieldProvenance* out) {
  out->set_field(field);
  out->set_source(w.source);
  out->set_service(w.service);
  out->set_actor(w.actor);
  out->set_request_id(w.request_id);
  model::SetTimestampMicros(w.written_at, out->mutable_write_time());
}

}  // namespace

absl::Status GetRecordProvenance(
    const Deps& deps, const Evaluator& eval,
    const crm::v1::GetRecordProvenanceRequest& request,
    crm::v1::RecordProvenance* response) {
  auto target = ParseRecord(request.record());
  if (!target.ok()) return target.status();
  const model::ObjectSchema& schema = *target->schema;
  if (!eval.AllowsObject(schema, Operation::kRead)) {
    return policy::ToStatus(eval.CheckObject(schema, Operation::kRead),
                            policy::DenialKind::kObject);
  }
  std::vector<store::ProvenanceRow> rows;
  absl::Status s = deps.database->WithSession([&](store::Session& session) {
    if (absl::Status r = CheckReadable(session, deps, eval, *target);
        !r.ok()) {
      return r;
    }
    auto got = store::ProvenanceStore::Provenance(session, schema.collection(),
                                                  target->id);
    if (!got.ok()) return got.status();
    rows = *std::move(got);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  response->set_record(schema.ResourceName(target->id));
  const policy::FieldAccess access = eval.Fields(schema);
  // In the resource's field order; unreadable fields are left out.
  for (size_t i = 0; i < schema.fields().size(); ++i) {
    if (!access.CanRead(static_cast<int>(i))) continue;
    for (const store::ProvenanceRow& row : rows) {
      if (row.field == schema.fields()[i].name) {
        WriterToProto(row.field, row.writer, response->add_fields());
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ListFieldHistory(const Deps& deps, const Evaluator& eval,
                              const crm::v1::ListFieldHistoryRequest& request,
                              crm::v1::ListFieldHistoryResponse* response) {
  auto target = ParseRecord(request.record());
  if (!target.ok()) return target.status();
  const model::ObjectSchema& schema = *target->schema;
  int page_size = request.page_size();
  if (page_size < 0 || page_size > kMaxPageSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size: ", page_size, " is out of range; use 1-",
                     kMaxPageSize, " (0 means ", kDefaultPageSize, ")"));
  }
  if (page_size == 0) page_size = kDefaultPageSize;
  int64_t after_version = 0;
  std::string after_field;
  if (!request.page_token().empty()) {
    if (absl::Status s =
            DecodeKeyToken(request.page_token(), "ListFieldHistory",
                           &after_version, &after_field);
        !s.ok()) {
      return s;
    }
  }
  if (!eval.AllowsObject(schema, Operation::kRead)) {
    return policy::ToStatus(eval.CheckObject(schema, Operation::kRead),
                            policy::DenialKind::kObject);
  }
  // The readable fields (or the one asked for, if readable): selected in
  // SQL.
  const policy::FieldAccess access = eval.Fields(schema);
  std::vector<std::string> fields;
  for (size_t i = 0; i < schema.fields().size(); ++i) {
    const std::string& name = schema.fields()[i].name;
    if (!access.CanRead(static_cast<int>(i))) continue;
    if (!request.field().empty() && request.field() != name) continue;
    fields.push_back(name);
  }
  std::vector<store::HistoryRow> rows;
  absl::Status s = deps.database->WithSession([&](store::Session& session) {
    if (absl::Status r = CheckReadable(session, deps, eval, *target);
        !r.ok()) {
      return r;
    }
    // Only once the record is known to be readable: an unknown or
    // unreadable field looks the same (and says nothing about the record).
    if (!request.field().empty() && fields.empty()) {
      return base::WithErrorInfo(
          absl::InvalidArgumentError(absl::StrCat(
              "field: unknown field '", request.field(), "' of ",
              schema.singular())),
          crm::v1::UNKNOWN_FIELD, {{"field", request.field()}});
    }
    auto got = store::ProvenanceStore::History(
        session, schema.collection(), target->id, fields, after_version,
        after_field, page_size + 1);
    if (!got.ok()) return got.status();
    rows = *std::move(got);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  const bool more = static_cast<int>(rows.size()) > page_size;
  if (more) rows.resize(page_size);
  for (const store::HistoryRow& row : rows) {
    crm::v1::FieldChange* change = response->add_changes();
    change->set_sequence(row.version);
    WriterToProto(row.field, row.writer, change->mutable_provenance());
    change->set_value(row.value);
    change->set_value_recorded(row.value_recorded);
    change->set_operation(row.operation);
  }
  if (more) response->set_next_page_token(EncodeKeyToken(rows.back().version, rows.back().field));
  return absl::OkStatus();
}

}  // namespace crm::records
