#include "server/request_context.h"

#include <iterator>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "auth/profile_restrictions.h"
#include "auth/session_token.h"
#include "server/identity.h"
#include "server/log.h"

namespace crm::server {
namespace {

using Metadata = std::multimap<grpc::string_ref, grpc::string_ref>;

absl::string_view View(const grpc::string_ref& ref) {
  return {ref.data(), ref.size()};
}

}  // namespace

absl::StatusOr<std::unique_ptr<RequestAuthenticator>>
RequestAuthenticator::Create(const crm::internal::ServerConfig& config,
                             const auth::ServiceRegistry* registry,
                             store::Database* db, auth::Clock* clock) {
  std::unique_ptr<RequestAuthenticator> out(new RequestAuthenticator());
  out->registry_ = registry;
  out->clock_ = clock;
  out->settings_ = auth::AuthSettingsFromConfig(config.auth());
  bool countries_restricted = false;
  for (const crm::internal::ServiceConfig& service : registry->services()) {
    auto restrictions = auth::ServiceRestrictions(service);
    if (!restrictions.ok()) return restrictions.status();
    std::vector<std::string> names(service.system_permissions().begin(),
                                   service.system_permissions().end());
    // Checked here for the message; held by the policy snapshot.
    auto permissions = auth::ParseSystemPermissions(
        names, absl::StrCat("service '", service.name(), "'"));
    if (!permissions.ok()) return permissions.status();
    countries_restricted |= !restrictions->countries().empty();
    out->by_service_[service.name()] = ServiceAuth{*std::move(restrictions)};
  }
  const std::string& geo_path = config.auth().geoip_database();
  if (!geo_path.empty()) {
    auto geo = auth::MaxMindCountryResolver::Open(geo_path);
    if (!geo.ok()) {
      return absl::Status(geo.status().code(),
                          absl::StrCat("auth.geoip_database: ",
                                       geo.status().message()));
    }
    out->geo_ = *std::move(geo);
  } else if (countries_restricted) {
    LogWarning("auth.geoip_missing",
               {{"detail",
                 "a service restricts countries but auth.geoip_database is "
                 "not set: its calls will be refused"}});
  }
  out->identities_ = std::make_unique<store::IdentityStore>(db);
  out->authenticator_ = std::make_unique<auth::Authenticator>(
      out->identities_.get(), clock, out->settings_, out->geo_.get());
  out->sessions_ = std::make_unique<auth::SessionManager>(
      out->identities_.get(), clock, out->settings_, out->geo_.get());
  return out;
}

absl::StatusOr<login::IpAddress> RequestAuthenticator::ClientAddress(
    const grpc::ServerContext& context,
    const crm::internal::ServiceConfig& service) const {
  login::IpAddress address;
  std::string peer = context.peer();
  if (auto parsed = login::IpAddress::FromGrpcPeer(peer); parsed.has_value()) {
    address = *parsed;
  }
  const Metadata& metadata = context.client_metadata();
  auto [begin, end] = metadata.equal_range(kForwardedForHeader);
  if (begin == end) return address;
  if (!service.trusted_gateway()) {
    LogWarning("auth.forwarded_for_ignored",
               {{"service", service.name()},
                {"peer", peer},
                {"detail",
                 "x-forwarded-for from a service that is not a trusted "
                 "gateway is ignored"}});
    return address;
  }
  // The rightmost address is the one the gateway itself appended: the peer
  // it saw. Anything left of it came from the caller of the gateway (a
  // browser, another proxy) and may be forged, so it is never used. Several
  // header lines count as one list joined in order (RFC 9110 5.3): the last
  // line's last address.
  absl::string_view last = View(std::prev(end)->second);
  if (size_t comma = last.rfind(','); comma != absl::string_view::npos) {
    last.remove_prefix(comma + 1);
  }
  last = absl::StripAsciiWhitespace(last);
  auto forwarded = login::IpAddress::Parse({last.data(), last.size()});
  if (!forwarded.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "x-forwarded-for: '", last,
        "' (its rightmost address, the one the gateway appends) is not an IP "
        "address (append the end user's address, e.g. 203.0.113.7 or "
        "2001:db8::1)"));
  }
  return *forwarded;
}

absl::StatusOr<RequestContext> RequestAuthenticator::Authenticate(
    const grpc::ServerContext& context,
    const policy::PolicySnapshot* policy) const {
  std::shared_ptr<const grpc::AuthContext> auth_context =
      context.auth_context();
  if (auth_context == nullptr) {
    return absl::UnauthenticatedError(
        "the caller has no registered service identity");
  }
  auto service = ResolveService(*auth_context, *registry_);
  if (!service.ok()) return service.status();
  auto entry = by_service_.find((*service)->name());
  if (entry == by_service_.end()) {
    return absl::UnauthenticatedError(
        "the caller has no registered service identity");
  }
  RequestContext out;
  out.service = *service;
  out.principal.service = (*service)->name();
  out.peer = context.peer();
  auto address = ClientAddress(context, **service);
  if (!address.ok()) return address.status();
  out.client_address = *address;
  const login::LoginRestrictions& restrictions = entry->second.restrictions;
  if (!restrictions.unrestricted()) {
    absl::Status s =
        restrictions.Check({out.client_address, clock_->Now()}, geo_.get());
    if (!s.ok()) return s;
  }

  const Metadata& metadata = context.client_metadata();
  if (metadata.count(kAuthorizationHeader) == 0) return out;
  if (metadata.count(kAuthorizationHeader) > 1) {
    return absl::UnauthenticatedError(
        "the call carries more than one authorization header");
  }
  auto token = auth::BearerTokenFromMetadata(
      [&] {
        absl::string_view v = View(metadata.find(kAuthorizationHeader)->second);
        return std::string_view(v.data(), v.size());
      }());
  if (!token.ok()) return token.status();
  auto user = sessions_->Validate(*token, out.principal.service,
                                  out.client_address, policy);
  if (!user.ok()) return user.status();
  out.principal.user_id = user->user_id;
  out.user = *std::move(user);
  return out;
}

absl::StatusOr<RequestContext> AuthenticateRequest(
    const grpc::ServerContext& context, const ServerCore& core,
    const policy::PolicySnapshot* policy) {
  if (core.authn == nullptr) {
    return absl::InternalError(
        "the server's request authenticator is not initialised");
  }
  return core.authn->Authenticate(context, policy);
}

}  // namespace crm::server
