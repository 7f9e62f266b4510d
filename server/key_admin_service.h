// KeyAdminService (crm/v1/key_admin_service.proto): the gRPC adapter of the
// data key rotation in store/key_rotation.h. Every method runs through the
// request pipeline with MethodPolicy{requires_permission = MANAGE_POLICY}
// (the proto says why that permission).
//
// RotateDataKey: step 1 (AddCurrentDataKey, with its [keys.rotate] audit
// event in the key's transaction), then step 2 (ReencryptBatch per resource
// with sensitive fields until a pass finds none), checking between two
// batches whether the caller cancelled or its deadline passed; one
// [keys.reencrypt] audit event with the counts when step 2 ends, however
// it ends. Neither event holds key material: key ids, counts, the mode and
// the batch size.
//
// Thread-safety: immutable after construction; serves concurrent calls (two
// rotations at once are serialised by the store for step 1; their step 2s
// compare and set each value).
#ifndef CRM_SERVER_KEY_ADMIN_SERVICE_H_
#define CRM_SERVER_KEY_ADMIN_SERVICE_H_

#include "absl/time/time.h"
#include "crm/v1/key_admin_service.grpc.pb.h"
#include "server/server_core.h"

namespace crm::server {

class KeyAdminServiceImpl final : public crm::v1::KeyAdminService::Service {
 public:
  static constexpr int kDefaultBatchSize = 500;
  static constexpr int kMaxBatchSize = 10000;
  // How long after a new key the last re-encryption pass runs at the
  // earliest: every server has picked the key up for writing by then (its
  // refresh round is 1 s; server.cc).
  static constexpr absl::Duration kOtherServersGrace = absl::Seconds(2);

  // `core` must outlive the service.
  explicit KeyAdminServiceImpl(ServerCore* core) : core_(core) {}

  grpc::Status GetKeyStatus(grpc::ServerContext* context,
                            const crm::v1::GetKeyStatusRequest* request,
                            crm::v1::KeyStatus* response) override;
  grpc::Status RotateDataKey(grpc::ServerContext* context,
                             const crm::v1::RotateDataKeyRequest* request,
                             crm::v1::RotateDataKeyResponse* response) override;

 private:
  ServerCore* core_;
};

}  // namespace crm::server

#endif  // CRM_SERVER_KEY_ADMIN_SERVICE_H_
