#include "server/key_admin_service.h"

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "audit/call_scope.h"
#include "google/protobuf/util/time_util.h"
#include "model/object_schema.h"
#include "server/log.h"
#include "server/pipeline.h"
#include "store/field_encryption.h"
#include "store/key_rotation.h"

namespace crm::server {
namespace {

using crm::v1::RotateDataKeyRequest;

template <typename Fn>
grpc::Status Run(grpc::ServerContext* context,
                 const google::protobuf::Message& request, ServerCore* core,
                 const char* method, Fn fn) {
  return core->pipeline->Run(
      context, absl::StrCat("crm.v1.KeyAdminService/", method), request,
      [&](const Call& call) -> absl::Status { return fn(call); },
      {.requires_permission = crm::v1::MANAGE_POLICY,
       .decision_kind = "system"});
}

absl::StatusOr<store::FieldEncryption*> Encryption(ServerCore* core) {
  store::FieldEncryption* enc = core->records->encryption();
  if (enc == nullptr) {
    return absl::FailedPreconditionError(
        "this server encrypts nothing at rest: no resource has a field "
        "marked sensitive, so there are no data keys to show or rotate");
  }
  return enc;
}

// The resources with a sensitive field, in registry order.
std::vector<const model::ObjectSchema*> EncryptedSchemas() {
  std::vector<const model::ObjectSchema*> out;
  for (const model::ObjectSchema* schema :
       model::SchemaRegistry::Default().All()) {
    for (const model::FieldSchema& f : schema->fields()) {
      if (f.sensitive) {
        out.push_back(schema);
        break;
      }
    }
  }
  return out;
}

absl::Status Stale(
    ServerCore* core, store::FieldEncryption& enc,
    google::protobuf::RepeatedPtrField<crm::v1::StaleFieldValues>* out,
    int64_t* total) {
  auto stale = store::CountStaleValues(*core->database, enc,
                                       model::SchemaRegistry::Default());
  if (!stale.ok()) return stale.status();
  *total = 0;
  for (const auto& [field, n] : *stale) {
    crm::v1::StaleFieldValues* v = out->Add();
    v->set_field(field);
    v->set_values(n);
    *total += n;
  }
  return absl::OkStatus();
}

// Why a rotation stops early: the caller went away or its deadline passed.
absl::Status Interrupted(const grpc::ServerContext& context) {
  if (context.deadline() <= std::chrono::system_clock::now()) {
    return absl::DeadlineExceededError("the call's deadline passed");
  }
  if (context.IsCancelled()) {
    return absl::CancelledError("the caller cancelled the call");
  }
  return absl::OkStatus();
}

// Step 2 of a rotation, with its counts.
class Reencryption {
 public:
  Reencryption(ServerCore* core, store::FieldEncryption* enc,
               const grpc::ServerContext& context, int batch)
      : core_(core), enc_(enc), context_(context), batch_(batch) {
    for (const model::ObjectSchema* s : EncryptedSchemas()) {
      records_[s->collection()] = 0;
    }
  }

  // Every resource, batch after batch, until a pass changes nothing.
  absl::Status Pass() {
    for (bool changed = true; changed;) {
      changed = false;
      for (const model::ObjectSchema* schema : EncryptedSchemas()) {
        for (;;) {
          if (absl::Status s = Interrupted(context_); !s.ok()) return s;
          absl::StatusOr<int64_t> n =
              store::ReencryptBatch(*core_->database, *enc_, *schema, batch_);
          if (!n.ok()) return n.status();
          if (*n == 0) break;
          ++batches_;
          records_[schema->collection()] += *n;
          changed = true;
        }
      }
    }
    return absl::OkStatus();
  }

  // Sleeps until `until`, or until the call is interrupted.
  absl::Status WaitUntil(absl::Time until) {
    while (absl::Now() < until) {
      if (absl::Status s = Interrupted(context_); !s.ok()) return s;
      absl::SleepFor(std::min(until - absl::Now(), absl::Milliseconds(100)));
    }
    return absl::OkStatus();
  }

  int64_t total() const {
    int64_t t = 0;
    for (const auto& [c, n] : records_) t += n;
    return t;
  }
  int64_t batches() const { return batches_; }
  const std::map<std::string, int64_t>& records() const { return records_; }

 private:
  ServerCore* core_;
  store::FieldEncryption* enc_;
  const grpc::ServerContext& context_;
  const int batch_;
  int64_t batches_ = 0;
  std::map<std::string, int64_t> records_;  // by collection
};

// [keys.reencrypt]: the counts of a step 2, however it ended. Ids and
// counts only.
absl::Status AuditReencryption(ServerCore* core, const std::string& data_key,
                               RotateDataKeyRequest::Mode mode, int batch,
                               const Reencryption& r, int64_t remaining,
                               const absl::Status& outcome) {
  crm::v1::AuditEvent e;
  e.set_action("keys.reencrypt");
  e.set_resource(absl::StrCat("dataKeys/", data_key));
  e.set_outcome(outcome.ok() ? crm::v1::ALLOWED : crm::v1::FAILED);
  if (!outcome.ok()) e.set_reason(absl::StatusCodeToString(outcome.code()));
  auto& a = *e.mutable_attributes();
  a["data_key"] = data_key;
  a["mode"] = RotateDataKeyRequest::Mode_Name(mode);
  a["batch_size"] = absl::StrCat(batch);
  a["batches"] = absl::StrCat(r.batches());
  a["reencrypted"] = absl::StrCat(r.total());
  for (const auto& [collection, n] : r.records()) {
    a[absl::StrCat("reencrypted.", collection)] = absl::StrCat(n);
  }
  if (remaining >= 0) a["remaining"] = absl::StrCat(remaining);
  a["complete"] = outcome.ok() && remaining == 0 ? "true" : "false";
  audit::FillFromCall(&e);
  return core->database->InTransaction([&](store::Session& session) {
    std::vector<crm::v1::AuditEvent> events;
    events.push_back(e);
    return core->audit->AppendInTransaction(session, std::move(events));
  });
}

absl::Status DescribeKeys(ServerCore* core, crm::v1::KeyStatus* response) {
  auto enc = Encryption(core);
  if (!enc.ok()) return enc.status();
  // Another server may have rotated since this one looked.
  if (auto r = (*enc)->RefreshIfRotated(*core->database); !r.ok()) {
    return r.status();
  }
  auto keys = store::ListDataKeys(*core->database);
  if (!keys.ok()) return keys.status();
  response->set_master_key_id((*enc)->master().id());
  for (const store::DataKeyInfo& k : *keys) {
    crm::v1::DataKeyInfo* out = response->add_data_keys();
    out->set_id(k.id);
    *out->mutable_create_time() =
        google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(
            k.created_micros);
    out->set_current(k.current);
    out->set_master_key_id(k.master_key_id);
    if (k.current) response->set_current_data_key(k.id);
  }
  int64_t total = 0;
  if (absl::Status s = Stale(core, **enc, response->mutable_stale(), &total);
      !s.ok()) {
    return s;
  }
  response->set_stale_total(total);
  return absl::OkStatus();
}

// Step 1: a new current data key, its [keys.rotate] event in the same
// transaction. Sets *previous to the key that was current.
absl::StatusOr<std::string> NewCurrentKey(ServerCore* core,
                                          store::FieldEncryption& enc,
                                          std::string* previous) {
  return store::AddCurrentDataKey(
      *core->database, enc,
      [&](store::Session& session, const std::string& previous_id,
          const std::string& new_id) -> absl::Status {
        *previous = previous_id;
        crm::v1::AuditEvent e;
        e.set_action("keys.rotate");
        e.set_resource(absl::StrCat("dataKeys/", new_id));
        e.set_outcome(crm::v1::ALLOWED);
        auto& a = *e.mutable_attributes();
        a["data_key"] = new_id;
        a["previous_data_key"] = previous_id;
        a["master_key"] = enc.master().id();
        audit::FillFromCall(&e);
        std::vector<crm::v1::AuditEvent> events;
        events.push_back(std::move(e));
        return core->audit->AppendInTransaction(session, std::move(events));
      });
}

absl::Status Rotate(ServerCore* core, const grpc::ServerContext& context,
                    const RotateDataKeyRequest& request,
                    crm::v1::RotateDataKeyResponse* response) {
  const RotateDataKeyRequest::Mode mode = request.mode();
  if (mode != RotateDataKeyRequest::NEW_KEY &&
      mode != RotateDataKeyRequest::RESUME) {
    return absl::InvalidArgumentError(
        "mode: required: NEW_KEY (a new data key, then re-encryption) or "
        "RESUME (re-encryption under the current key only, e.g. after an "
        "interrupted rotation)");
  }
  const int batch = request.batch_size() == 0
                        ? KeyAdminServiceImpl::kDefaultBatchSize
                        : request.batch_size();
  if (batch < 1 || batch > KeyAdminServiceImpl::kMaxBatchSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "batch_size: 1 to ", KeyAdminServiceImpl::kMaxBatchSize,
        " records (0 means ", KeyAdminServiceImpl::kDefaultBatchSize, "), got ",
        request.batch_size()));
  }
  auto enc = Encryption(core);
  if (!enc.ok()) return enc.status();
  absl::Time key_made = absl::InfinitePast();
  if (mode == RotateDataKeyRequest::NEW_KEY) {
    std::string previous;
    auto key = NewCurrentKey(core, **enc, &previous);
    if (!key.ok()) return key.status();
    key_made = absl::Now();
    response->set_previous_data_key(previous);
    LogInfo("keys.rotated",
            {{"data_key", *key}, {"previous_data_key", previous}});
  } else if (absl::Status s = (*enc)->Reload(*core->database); !s.ok()) {
    return s;  // RESUME: the current key may be another server's newer one
  }

  // Step 2.
  Reencryption r(core, *enc, context, batch);
  absl::Status s = r.Pass();
  if (s.ok() && mode == RotateDataKeyRequest::NEW_KEY) {
    // What other servers wrote under the previous key until they saw this
    // one.
    s = r.WaitUntil(key_made + KeyAdminServiceImpl::kOtherServersGrace);
    if (s.ok()) s = r.Pass();
  }
  // The key values are under now: a rotation another server made
  // meanwhile is picked up by ReencryptBatch (store/key_rotation.h).
  const std::string data_key = (*enc)->keyring().current_key_id();
  response->set_data_key(data_key);
  int64_t remaining = -1;
  if (s.ok()) s = Stale(core, **enc, response->mutable_remaining(), &remaining);
  for (const auto& [collection, n] : r.records()) {
    crm::v1::ReencryptedRecords* out = response->add_reencrypted();
    out->set_collection(collection);
    out->set_records(n);
  }
  response->set_reencrypted_total(r.total());
  response->set_batches(r.batches());
  LogInfo("keys.reencrypted",
          {{"data_key", data_key},
           {"records", absl::StrCat(r.total())},
           {"batches", absl::StrCat(r.batches())},
           {"outcome", s.ok() ? "OK" : absl::StatusCodeToString(s.code())}});
  if (absl::Status audited =
          AuditReencryption(core, data_key, mode, batch, r, remaining, s);
      !audited.ok()) {
    // The batches are committed either way; say the event is missing.
    LogWarning("keys.reencrypt_not_audited", {{"error", audited.ToString()}});
    if (s.ok()) return audited;
  }
  if (s.code() == absl::StatusCode::kCancelled ||
      s.code() == absl::StatusCode::kDeadlineExceeded) {
    return absl::Status(
        s.code(), absl::StrCat("re-encryption under data key ", data_key,
                               " stopped after ", r.total(), " records in ",
                               r.batches(), " batches (", s.message(),
                               "); the batches done are committed: resume with "
                               "RotateDataKey mode RESUME (crmctl keys rotate "
                               "--resume)"));
  }
  return s;
}

}  // namespace

grpc::Status KeyAdminServiceImpl::GetKeyStatus(
    grpc::ServerContext* context, const crm::v1::GetKeyStatusRequest* request,
    crm::v1::KeyStatus* response) {
  return Run(context, *request, core_, "GetKeyStatus",
             [&](const Call&) { return DescribeKeys(core_, response); });
}

grpc::Status KeyAdminServiceImpl::RotateDataKey(
    grpc::ServerContext* context, const crm::v1::RotateDataKeyRequest* request,
    crm::v1::RotateDataKeyResponse* response) {
  return Run(context, *request, core_, "RotateDataKey", [&](const Call&) {
    return Rotate(core_, *context, *request, response);
  });
}

}  // namespace crm::server
