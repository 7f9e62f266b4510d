#include "clients/policy_bundle_commands.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "clients/cli_args.h"
#include "crm/internal/server_config.pb.h"
#include "crm/v1/admin_service.pb.h"
#include "crm/v1/user_admin_service.pb.h"
#include "google/protobuf/text_format.h"
#include "model/object_schema.h"

namespace crm::client {
namespace {

namespace fs = std::filesystem;
using Args = std::vector<std::string>;

absl::StatusOr<std::string> ReadFile(const fs::path& path,
                                     absl::string_view command) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat(command, ": cannot read '", path.string(), "'"));
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Writes `text` to `path` unless it already holds exactly that.
absl::StatusOr<bool> WriteIfChanged(const fs::path& path,
                                    const std::string& text) {
  if (fs::exists(path)) {
    auto old = ReadFile(path, "policy export");
    if (old.ok() && *old == text) return false;
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) {
    return absl::InvalidArgumentError(
        absl::StrCat("policy export: cannot write '", path.string(), "'"));
  }
  return true;
}

}  // namespace

absl::StatusOr<policy::BundleFiles> ReadBundleDirectory(
    const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", dir, "' is not a directory"));
  }
  policy::BundleFiles files;
  fs::recursive_directory_iterator it(dir, ec), end;
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read '", dir, "': ", ec.message()));
  }
  for (; it != end; it.increment(ec)) {
    if (ec) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot read '", dir, "': ", ec.message()));
    }
    const std::string leaf = it->path().filename().string();
    if (absl::StartsWith(leaf, ".")) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file()) continue;
    if (it.depth() == 0) continue;  // DIR's own files (a README)
    const std::string relative = fs::relative(it->path(), dir).generic_string();
    auto text = ReadFile(it->path(), "policy validate");
    if (!text.ok()) return text.status();
    files[relative] = *std::move(text);
  }
  return files;
}

absl::Status PolicyExport(CliSession& s, const Args& args) {
  auto a = ParseCommand(args, {}, "policy export", 1, 1, "policy export DIR");
  if (!a.ok()) return a.status();
  const fs::path dir = a->positional[0];

  // Read everything first: nothing is written unless the whole policy was.
  policy::PolicyBundle bundle;
  for (const std::string& kind : policy::BundleKinds()) {
    if (kind == "profiles") continue;
    crm::v1::ListPolicyObjectsRequest request;
    request.set_kind(kind);
    request.set_page_size(1000);
    crm::v1::ListPolicyObjectsResponse all;
    if (auto st = ListAll(s, "crm.v1.PolicyAdminService/ListPolicyObjects",
                          request, &all);
        !st.ok()) {
      return st;
    }
    for (const auto& o : all.objects()) bundle.Add(o);
  }
  crm::v1::ListProfilesRequest profiles_request;
  profiles_request.set_page_size(1000);
  crm::v1::ListProfilesResponse profiles;
  if (auto st = ListAll(s, "crm.v1.UserAdminService/ListProfiles",
                        profiles_request, &profiles);
      !st.ok()) {
    return st;
  }
  for (const auto& p : profiles.profiles()) bundle.Add(p);
  const policy::BundleFiles files = policy::RenderBundle(bundle);

  std::error_code ec;
  int written = 0, removed = 0;
  for (const std::string& kind : policy::BundleKinds()) {
    fs::create_directories(dir / kind, ec);
    if (ec) {
      return absl::InvalidArgumentError(
          absl::StrCat("policy export: cannot create '", (dir / kind).string(),
                       "': ", ec.message()));
    }
    // Stale files: objects the server no longer has.
    for (const auto& entry : fs::directory_iterator(dir / kind, ec)) {
      const std::string relative =
          absl::StrCat(kind, "/", entry.path().filename().string());
      if (entry.is_regular_file() &&
          absl::EndsWith(relative, policy::kBundleExtension) &&
          !files.count(relative)) {
        fs::remove(entry.path(), ec);
        ++removed;
      }
    }
  }
  for (const auto& [relative, text] : files) {
    auto changed = WriteIfChanged(dir / relative, text);
    if (!changed.ok()) return changed.status();
    written += *changed ? 1 : 0;
  }
  s.out() << "exported " << files.size() << " objects to " << dir.string()
          << " (" << written << " written, " << files.size() - written
          << " unchanged, " << removed << " removed)\n";
  return absl::OkStatus();
}

absl::Status PolicyValidate(CliSession& s, const Args& args) {
  constexpr char kUsage[] = "policy validate DIR [--server-config FILE]";
  auto a = ParseCommand(args, {{"server-config", true}}, "policy validate", 1,
                        1, kUsage);
  if (!a.ok()) return a.status();
  const std::string dir = a->positional[0];
  auto files = ReadBundleDirectory(dir);
  if (!files.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("policy validate: ", files.status().message()));
  }
  crm::internal::ServerConfig config;
  policy::ValidateOptions options;
  if (a->Has("server-config")) {
    auto text = ReadFile(a->Get("server-config"), "policy validate");
    if (!text.ok()) return text.status();
    if (!google::protobuf::TextFormat::ParseFromString(*text, &config)) {
      return absl::InvalidArgumentError(
          absl::StrCat("policy validate: '", a->Get("server-config"),
                       "' is not a server configuration "
                       "(crm.internal.ServerConfig in text format)"));
    }
    options.services = &config.services();
  }
  const std::vector<policy::BundleError> errors =
      policy::ValidateBundle(*files, model::SchemaRegistry::Default(), options);
  const std::string prefix = absl::EndsWith(dir, "/") ? dir : dir + "/";
  for (const policy::BundleError& e : errors) {
    s.err() << (e.location.file.empty() ? "" : prefix) << e.ToString() << "\n";
  }
  if (!errors.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("policy validate: ", errors.size(),
                     errors.size() == 1 ? " error" : " errors", " in ", dir));
  }
  s.out() << dir << ": " << files->size() << " objects; the policy compiles\n";
  return absl::OkStatus();
}

}  // namespace crm::client
