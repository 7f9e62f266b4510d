#include "server/resource_services.h"

#include "model/object_schema.h"
#include "server/record_handler.h"

namespace crm::server {
namespace {

#define CRM_RESOURCE_SERVICE(Msg, Plural)                                     \
  class Msg##ServiceImpl final : public crm::v1::Msg##Service::Service {      \
   public:                                                                    \
    explicit Msg##ServiceImpl(ServerCore* core)                               \
        : handler_(*model::SchemaRegistry::Default().FindByMessage(           \
                       crm::v1::Msg::descriptor()),                           \
                   core) {}                                                   \
    grpc::Status Get##Msg(grpc::ServerContext* ctx,                           \
                          const crm::v1::Get##Msg##Request* req,              \
                          crm::v1::Msg* resp) override {                      \
      return handler_.Get(ctx, *req, resp);                                   \
    }                                                                         \
    grpc::Status List##Plural(grpc::ServerContext* ctx,                       \
                              const crm::v1::List##Plural##Request* req,      \
                              crm::v1::List##Plural##Response* resp)          \
        override {                                                            \
      return handler_.List(ctx, *req, resp);                                  \
    }                                                                         \
    grpc::Status Create##Msg(grpc::ServerContext* ctx,                        \
                             const crm::v1::Create##Msg##Request* req,        \
                             crm::v1::Msg* resp) override {                   \
      return handler_.Create(ctx, *req, resp);                                \
    }                                                                         \
    grpc::Status Update##Msg(grpc::ServerContext* ctx,                        \
                             const crm::v1::Update##Msg##Request* req,        \
                             crm::v1::Msg* resp) override {                   \
      return handler_.Update(ctx, *req, resp);                                \
    }                                                                         \
    grpc::Status Delete##Msg(grpc::ServerContext* ctx,                        \
                             const crm::v1::Delete##Msg##Request* req,        \
                             google::protobuf::Empty*) override {             \
      return handler_.Delete(ctx, *req);                                      \
    }                                                                         \
                                                                              \
   private:                                                                   \
    RecordHandler handler_;                                                   \
  };

CRM_RESOURCE_SERVICE(Account, Accounts)
CRM_RESOURCE_SERVICE(Contact, Contacts)
CRM_RESOURCE_SERVICE(Lead, Leads)
CRM_RESOURCE_SERVICE(Opportunity, Opportunities)
CRM_RESOURCE_SERVICE(Case, Cases)
CRM_RESOURCE_SERVICE(Activity, Activities)

#undef CRM_RESOURCE_SERVICE

}  // namespace

std::vector<std::unique_ptr<grpc::Service>> MakeResourceServices(
    ServerCore* core) {
  std::vector<std::unique_ptr<grpc::Service>> services;
  services.push_back(std::make_unique<AccountServiceImpl>(core));
  services.push_back(std::make_unique<ContactServiceImpl>(core));
  services.push_back(std::make_unique<LeadServiceImpl>(core));
  services.push_back(std::make_unique<OpportunityServiceImpl>(core));
  services.push_back(std::make_unique<CaseServiceImpl>(core));
  services.push_back(std::make_unique<ActivityServiceImpl>(core));
  return services;
}

}  // namespace crm::server
