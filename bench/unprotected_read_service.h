// The benchmark-only crm.bench.v1.UnprotectedReadService
// (bench/proto/crm/bench/v1/unprotected_read.proto): an unprotected read of
// one account through the same server and storage as AccountService.GetAccount,
// the baseline crm_load's "raw" method measures authorized Get against.
//
// Never registered by crm_server: only benchmarks add it, through
// server::CrmServer::ExtraService (SeededServerOptions::unprotected_read).
//
// Thread-safety: immutable after construction; serves concurrent calls.
#ifndef CRM_BENCH_UNPROTECTED_READ_SERVICE_H_
#define CRM_BENCH_UNPROTECTED_READ_SERVICE_H_

#include <memory>

#include "crm/bench/v1/unprotected_read.grpc.pb.h"
#include "records/deps.h"
#include "server/server.h"

namespace crm::bench {

class UnprotectedReadService final
    : public crm::bench::v1::UnprotectedReadService::Service {
 public:
  // `deps.database` and `deps.records` must outlive the service.
  explicit UnprotectedReadService(const records::Deps& deps);

  // Parses the name, reads the record (Database::WithSession +
  // RecordStore::Get, as records::Get does) and converts it
  // (model::RecordToMessage). No authentication beyond the TLS handshake,
  // no policy, no masking, no log line, no metrics.
  grpc::Status GetAccount(grpc::ServerContext* context,
                          const crm::bench::v1::GetAccountRequest* request,
                          crm::v1::Account* response) override;

 private:
  records::Deps deps_;
};

// The factory TestServerOptions::extra_services takes.
server::CrmServer::ExtraService UnprotectedReadServiceFactory();

}  // namespace crm::bench

#endif  // CRM_BENCH_UNPROTECTED_READ_SERVICE_H_
