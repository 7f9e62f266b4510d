#include "server/audit_service.h"

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/error.h"
#include "crm/internal/audit_columns.pb.h"
#include "query/checked_filter.h"
#include "query/filter.h"
#include "server/pipeline.h"
#include "store/audit_store.h"

namespace crm::server {
namespace {

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;
constexpr int kChunk = 2000;  // events read per transaction when streaming
constexpr char kCollection[] = "audit_events";

struct CheckedQuery {
  query::CheckedFilter filter;
  std::string hash;
};

absl::StatusOr<CheckedQuery> CheckQuery(const std::string& filter) {
  CheckedQuery out;
  auto checked =
      query::ParseAndCheckFilter(filter, AuditColumnsSchema(),
                                 query::AllFields());
  if (!checked.ok()) {
    base::BadRequestBuilder bad;
    bad.AddAll("filter", checked.status());
    return bad.Build();
  }
  out.filter = *std::move(checked);
  auto normalized = query::NormalizeFilter(filter);
  out.hash = query::PageTokenCodec::QueryHash(
      kCollection, normalized.ok() ? *normalized : filter, "");
  return out;
}

// One chunk of events after `after` (ascending; matching `where` if not
// empty) and, when asked, the checkpoints among them.
absl::Status ReadChunk(const ServerCore& core, const model::SqlFragment& where,
                       bool with_checkpoints, int64_t after,
                       std::vector<crm::v1::AuditEvent>* events,
                       std::vector<crm::v1::AuditCheckpoint>* checkpoints) {
  return core.database->WithSession([&](store::Session& session) {
    auto read = where.empty()
                    ? store::ReadAuditEvents(session, after, kChunk)
                    : store::ListAuditEvents(session, where, 0, after, kChunk,
                                             false);
    if (!read.ok()) return read.status();
    *events = *std::move(read);
    checkpoints->clear();
    if (with_checkpoints && !events->empty()) {
      auto c = store::ReadAuditCheckpoints(session, after,
                                           events->back().sequence());
      if (!c.ok()) return c.status();
      *checkpoints = *std::move(c);
    }
    return absl::OkStatus();
  });
}

// Streams events after `after` (ascending), with the checkpoints among
// them when unfiltered; returns the last sequence sent.
absl::StatusOr<int64_t> SendRange(const ServerCore& core,
                                  grpc::ServerContext* context,
                                  const model::SqlFragment& where,
                                  bool with_checkpoints, int64_t after,
                                  grpc::ServerWriter<crm::v1::AuditExportLine>*
                                      writer) {
  for (;;) {
    std::vector<crm::v1::AuditEvent> events;
    std::vector<crm::v1::AuditCheckpoint> checkpoints;
    absl::Status s = ReadChunk(core, where, with_checkpoints, after, &events,
                               &checkpoints);
    if (!s.ok()) return s;
    size_t next_checkpoint = 0;
    for (crm::v1::AuditEvent& event : events) {
      crm::v1::AuditExportLine line;
      const int64_t seq = event.sequence();
      *line.mutable_event() = std::move(event);
      if (!writer->Write(line)) return absl::CancelledError("client went away");
      while (next_checkpoint < checkpoints.size() &&
             checkpoints[next_checkpoint].sequence() <= seq) {
        crm::v1::AuditExportLine c;
        *c.mutable_checkpoint() = checkpoints[next_checkpoint++];
        if (!writer->Write(c)) return absl::CancelledError("client went away");
      }
      after = seq;
    }
    if (context->IsCancelled()) return absl::CancelledError("cancelled");
    if (events.size() < static_cast<size_t>(kChunk)) return after;
  }
}

}  // namespace

const model::ObjectSchema& AuditColumnsSchema() {
  static const model::ObjectSchema* schema = [] {
    auto built = model::ObjectSchema::FromDescriptor(
        crm::internal::AuditEventColumns::descriptor(),
        model::ObjectSchema::Use::kFilterColumns);
    if (!built.ok()) abort();  // the proto is part of this binary
    return built->release();
  }();
  return *schema;
}

grpc::Status AuditServiceImpl::ListAuditEvents(
    grpc::ServerContext* context,
    const crm::v1::ListAuditEventsRequest* request,
    crm::v1::ListAuditEventsResponse* response) {
  return core_->pipeline->Run(
      context, "crm.v1.AuditService/ListAuditEvents", *request,
      [&](const Call& call) -> absl::Status {
        call.audit().mutable_attributes()->insert(
            {"filter", request->filter()});
        base::BadRequestBuilder bad;
        int page_size = request->page_size();
        if (page_size < 0 || page_size > kMaxPageSize) {
          bad.Add("page_size", absl::StrCat(page_size,
                                            " is out of range; use 1-",
                                            kMaxPageSize, " (0 means ",
                                            kDefaultPageSize, ")"));
        }
        if (page_size == 0) page_size = kDefaultPageSize;
        auto checked = CheckQuery(request->filter());
        if (!checked.ok()) bad.AddAll("filter", checked.status());
        if (!bad.empty()) return bad.Build();
        int64_t before = 0;
        if (!request->page_token().empty()) {
          auto token = core_->page_tokens->Decode(request->page_token(),
                                                  kCollection, checked->hash);
          if (!token.ok()) return token.status();
          if (!absl::SimpleAtoi(token->last_id(), &before) || before <= 0) {
            return absl::InvalidArgumentError(query::kInvalidPageToken);
          }
        }
        const model::SqlFragment where = query::ToSql(checked->filter);
        std::vector<crm::v1::AuditEvent> events;
        absl::Status s =
            core_->database->WithSession([&](store::Session& session) {
              auto read = store::ListAuditEvents(session, where, before, 0,
                                                 page_size + 1, true);
              if (!read.ok()) return read.status();
              events = *std::move(read);
              return absl::OkStatus();
            });
        if (!s.ok()) return s;
        const bool more = static_cast<int>(events.size()) > page_size;
        if (more) events.resize(page_size);
        for (auto& e : events) *response->add_events() = std::move(e);
        if (more) {
          crm::internal::PageToken token;
          token.set_collection(kCollection);
          token.set_query_hash(checked->hash);
          token.set_last_id(
              absl::StrCat(response->events().rbegin()->sequence()));
          response->set_next_page_token(core_->page_tokens->Encode(token));
        }
        return absl::OkStatus();
      },
      {.requires_permission = crm::v1::VIEW_AUDIT,
       .decision_kind = "system",
       .audit_action = "audit.list"});
}

grpc::Status AuditServiceImpl::ExportAuditEvents(
    grpc::ServerContext* context,
    const crm::v1::ExportAuditEventsRequest* request,
    grpc::ServerWriter<crm::v1::AuditExportLine>* writer) {
  return core_->pipeline->Run(
      context, "crm.v1.AuditService/ExportAuditEvents", *request,
      [&](const Call& call) -> absl::Status {
        auto& attributes = *call.audit().mutable_attributes();
        attributes["filter"] = request->filter();
        attributes["after_sequence"] = absl::StrCat(request->after_sequence());
        attributes["follow"] = request->follow() ? "true" : "false";
        if (request->after_sequence() < 0) {
          return base::BadRequestError(
              {{"after_sequence", "must be 0 (from the oldest) or a sequence"}});
        }
        auto checked = CheckQuery(request->filter());
        if (!checked.ok()) return checked.status();
        const model::SqlFragment where = query::ToSql(checked->filter);
        const bool unfiltered = where.empty();
        int64_t after = request->after_sequence();
        if (unfiltered && after == 0) {
          absl::StatusOr<store::AuditHead> head;
          absl::Status s =
              core_->database->WithSession([&](store::Session& session) {
                head = store::ReadAuditHead(session);
                return head.status();
              });
          if (!s.ok()) return s;
          if (head->anchor.has_value()) {
            crm::v1::AuditExportLine line;
            *line.mutable_anchor() = *head->anchor;
            if (!writer->Write(line)) return absl::OkStatus();
            after = head->anchor->sequence();
          }
        }
        for (;;) {
          auto last = SendRange(*core_, context, where, unfiltered, after,
                                writer);
          if (!last.ok()) {
            return absl::IsCancelled(last.status()) ? absl::OkStatus()
                                                    : last.status();
          }
          after = *last;
          if (!request->follow() || context->IsCancelled()) {
            return absl::OkStatus();
          }
          // New events of this server wake us at once; other servers' are
          // seen within the timeout.
          core_->audit->WaitForEvents(after, absl::Milliseconds(250));
        }
      },
      {.requires_permission = crm::v1::VIEW_AUDIT,
       .decision_kind = "system",
       .audit_action = "audit.export"});
}

grpc::Status AuditServiceImpl::VerifyAuditLog(
    grpc::ServerContext* context,
    const crm::v1::VerifyAuditLogRequest* request,
    crm::v1::AuditVerification* response) {
  return core_->pipeline->Run(
      context, "crm.v1.AuditService/VerifyAuditLog", *request,
      [&](const Call& call) -> absl::Status {
        auto result = store::VerifyStoredAudit(
            *core_->database, {core_->audit->signer().public_key()}, kChunk);
        if (!result.ok()) return result.status();
        *response = *std::move(result);
        call.audit().mutable_attributes()->insert(
            {"result", response->ok() ? "ok" : response->problem()});
        return absl::OkStatus();
      },
      {.requires_permission = crm::v1::VIEW_AUDIT,
       .decision_kind = "system",
       .audit_action = "audit.verify"});
}

grpc::Status AuditServiceImpl::GetAuditPublicKey(
    grpc::ServerContext* context,
    const crm::v1::GetAuditPublicKeyRequest* request,
    crm::v1::AuditPublicKey* response) {
  return core_->pipeline->Run(
      context, "crm.v1.AuditService/GetAuditPublicKey", *request,
      [&](const Call&) -> absl::Status {
        response->set_public_key_pem(core_->audit->signer().public_key().pem());
        response->set_key_id(core_->audit->signer().public_key().key_id());
        return absl::OkStatus();
      },
      {.requires_permission = crm::v1::VIEW_AUDIT,
       .decision_kind = "system"});
}

}  // namespace crm::server
