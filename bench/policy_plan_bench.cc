// Policy as code on list_bench's organisation in PostgreSQL (issue 12's
// speed targets): 10,001 users, 255 roles in 8 levels, 300 nested groups,
// 50 sharing rules (ListBenchOrgSize, seed 42), 1,000,000 accounts and
// 500,000 manual shares.
//
//   1. PlanPolicy for a bundle = the live policy + one criteria-based
//      sharing rule on accounts (`industry = "Retail"` shared with a
//      mid-level role and its subordinates), with per-grant impact and the
//      default 20 counted users (target < 10 s). The whole request through
//      an in-process CrmServer and its gRPC stub, then its parts in-process
//      with the functions the handler calls (server/policy_bundle_service.cc
//      PlanPolicy, server/plan_impact_service.cc PlanImpact), to show where
//      the time goes.
//   2. The exact impact for one named user (target < 1 s): DiffUserAccess
//      limited to that user (only_users) + CountRecordDelta of their read
//      filters, given the two compiled policies (and with the two
//      compilations); then the whole PlanPolicy with `user` set, and with
//      `user` and `only_user` (that user alone, through the API).
//   3. ApplyPolicy of a 500-object bundle (250 new groups, 250 existing
//      groups with one more member; target < 5 s): one transaction with the
//      compile, the history row and 500 audit events. Each apply is undone
//      by applying the original bundle with prune (also 500 objects: 250
//      removed, 250 reverted), timed too.
//
// The server (tests/harness TestServer: the real CrmServer, mTLS on
// loopback; admin-cli given manage_policy) runs on a copy of list_bench's
// database, crm_policy_plan_bench (CREATE DATABASE ... TEMPLATE
// crm_list_bench, seconds to a minute), into which the
// generated policy is written once: list_bench's database holds the
// records and the users' roles but no policy objects (list_bench compiles
// the policy in memory). In the copy the users get the generated profiles
// (p0..p3; a user whose generated profile carries VIEW_ALL_DATA gets
// "p{k}v", a profile with that system permission and the same permission
// sets; a user with no profile gets "none"), and every policy object of the
// generated organisation is stored. The copy is reused while list_bench's
// marker and this benchmark's kCopyVersion match; its policy is restored
// at the start of a run if an earlier run left it changed. list_bench's own
// database is only read (as the template).
//
// Run list_bench once first (it loads crm_list_bench). The cluster:
// $CRM_TEST_PG_DIR, else --pg-dir (default /tmp/crm-list-bench). From the
// repository root (the harness finds certs/ there, or set CRM_SOURCE_DIR).
//
//   build/bench/policy_plan_bench [--repetitions=3] [--pg-dir=DIR]
//       [--grantee=roleAndSubordinates/r7] [--industry=Retail]
//       [--skip-plan] [--skip-apply] [--recopy] [--jit=off|default]
//       [--explain] [--one-scan]
//
// --jit=off runs with PostgreSQL's JIT off for the copy (ALTER DATABASE
// ... SET jit = off; --jit=default resets it), to compare: the counts'
// statements on the empty contacts table are JIT-compiled for seconds.
// --explain prints the plans (EXPLAIN ANALYZE, BUFFERS) of the statements
// CountRecordDelta runs for the named users. --one-scan adds an experiment:
// the 20 users' counts as one statement per object (see CountAllInOneScan).
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "audit/policy_diff.h"
#include "auth/clock.h"
#include "bench/bench_support.h"
#include "crm/v1/admin_service.grpc.pb.h"
#include "model/object_schema.h"
#include "policy/bundle.h"
#include "policy/evaluator.h"
#include "policy/plan_impact.h"
#include "policy/snapshot.h"
#include "records/policy_impact.h"
#include "crypto/master_key.h"
#include "store/database.h"
#include "store/identity_store.h"
#include "store/migrations.h"
#include "store/plan_capture.h"
#include "store/policy_store.h"
#include "store/record_store.h"
#include "store/statement.h"
#include "tests/harness/test_server.h"
#include "tests/support/policy_org_generator.h"
#include "tests/support/test_database.h"

namespace crm::bench {
namespace {

using crm::internal::PolicyState;

constexpr uint64_t kSeed = 42;  // list_bench's
constexpr char kTemplate[] = "crm_list_bench";
constexpr char kCopy[] = "crm_policy_plan_bench";
// Bump when what is written into the copy changes.
constexpr char kCopyVersion[] = "policy_plan_bench v1";
// The handler's defaults (server/plan_impact_service.cc).
constexpr int kCountedUsers = 20;
constexpr int kExamples = 5;
constexpr int kMaxGrantsExamined = 50;
constexpr int kApplyNew = 250;     // new groups
constexpr int kApplyEdited = 250;  // existing groups given one more member
// Issue 12's targets.
constexpr double kPlanTargetS = 10;
constexpr double kUserTargetS = 1;
constexpr double kApplyTargetS = 5;

struct Flags {
  int repetitions = 3;
  std::string pg_dir = "/tmp/crm-list-bench";
  std::string grantee = "roleAndSubordinates/r7";
  std::string industry = "Retail";
  bool plan = true;
  bool apply = true;
  bool recopy = false;
  bool explain = false;  // plans of the named users' count statements
  // PostgreSQL's jit for the copy's sessions (ALTER DATABASE ... SET jit):
  // "default" (the cluster's, on in PostgreSQL 15) or "off".
  std::string jit = "default";
  bool one_scan = false;  // the one-statement counting experiment
};

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    absl::string_view a = argv[i];
    if (absl::ConsumePrefix(&a, "--repetitions=")) {
      if (!absl::SimpleAtoi(a, &f.repetitions) || f.repetitions < 1) exit(2);
    } else if (absl::ConsumePrefix(&a, "--pg-dir=")) {
      f.pg_dir = std::string(a);
    } else if (absl::ConsumePrefix(&a, "--grantee=")) {
      f.grantee = std::string(a);
    } else if (absl::ConsumePrefix(&a, "--industry=")) {
      f.industry = std::string(a);
    } else if (a == "--skip-plan") {
      f.plan = false;
    } else if (a == "--skip-apply") {
      f.apply = false;
    } else if (a == "--recopy") {
      f.recopy = true;
    } else if (a == "--one-scan") {
      f.one_scan = true;
    } else if (a == "--explain") {
      f.explain = true;
    } else if (absl::ConsumePrefix(&a, "--jit=") && (a == "off" || a == "default")) {
      f.jit = std::string(a);
    } else {
      fprintf(stderr,
              "usage: policy_plan_bench [--repetitions=N] [--pg-dir=DIR] "
              "[--grantee=KEY] [--industry=VALUE] [--skip-plan] "
              "[--skip-apply] [--recopy] [--explain] [--jit=off|default] [--one-scan]\n");
      exit(2);
    }
  }
  return f;
}

void Die(absl::string_view what, const absl::Status& s) {
  fprintf(stderr, "policy_plan_bench: %s: %s\n", std::string(what).c_str(),
          s.ToString().c_str());
  exit(1);
}

double Sec(int64_t ns) { return static_cast<double>(ns) / 1e9; }
double Ms(int64_t ns) { return static_cast<double>(ns) / 1e6; }

std::string LoadAverage() {
  FILE* f = fopen("/proc/loadavg", "r");
  if (f == nullptr) return "?";
  char buf[128] = {0};
  if (fgets(buf, sizeof buf, f) == nullptr) buf[0] = '\0';
  fclose(f);
  std::vector<std::string> parts = absl::StrSplit(buf, ' ');
  parts.resize(3);
  return absl::StrJoin(parts, " ");
}

// Times `fn` (nanoseconds).
template <typename Fn>
int64_t Time(Fn&& fn) {
  const int64_t start = NowNanos();
  fn();
  return NowNanos() - start;
}

// One named figure with its samples.
class Figures {
 public:
  void Add(const std::string& what, int64_t ns) {
    if (samples_.count(what) == 0) order_.push_back(what);
    samples_[what].Add(ns);
  }
  void Print(const char* title) {
    printf("\n%s\n", title);
    for (const std::string& what : order_) {
      LatencySamples& s = samples_[what];
      printf("  %-58s n=%-2zu p50 %9.1f ms  max %9.1f ms\n", what.c_str(),
             s.size(), Ms(s.Quantile(0.5)), Ms(s.Max()));
    }
  }
  double P50Seconds(const std::string& what) {
    return Sec(samples_[what].Quantile(0.5));
  }
  double MaxSeconds(const std::string& what) {
    return Sec(samples_[what].Max());
  }

 private:
  std::vector<std::string> order_;
  std::map<std::string, LatencySamples> samples_;
};

// ----------------------------------------------------------------- database

std::string WithDatabase(const std::string& cluster, absl::string_view db) {
  std::string out;
  for (absl::string_view part : absl::StrSplit(cluster, ' ')) {
    if (absl::StartsWith(part, "dbname=")) continue;
    absl::StrAppend(&out, part, " ");
  }
  return absl::StrCat(out, "dbname=", db);
}

absl::Status Exec(store::Database& db, const model::SqlFragment& sql) {
  return db.WithSession([&](store::Session& s) {
    return store::Execute(s, sql, "policy plan bench setup").status();
  });
}

// The first column of the first row as text; "" if no row.
absl::StatusOr<std::string> Text(store::Database& db, const std::string& sql) {
  std::string out;
  absl::Status st = db.WithSession([&](store::Session& s) {
    auto rows = store::Query(s, {sql, {}}, "policy plan bench setup");
    if (!rows.ok()) return rows.status();
    if (!rows->empty()) {
      const auto* v = std::get_if<std::string>(&(*rows)[0][0]);
      if (v != nullptr) out = *v;
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

// The policy written into the copy: the generated organisation's policy
// objects, with the profiles that stand for its users' profiles (see the
// file comment), and each user's profile id.
struct BenchPolicy {
  PolicyState objects;  // policy objects only (no users, no profiles)
  std::vector<store::ProfileRow> profiles;
  std::map<std::string, std::vector<std::string>> users_by_profile;
};

BenchPolicy MakeBenchPolicy(const testing::GeneratedOrg& org) {
  BenchPolicy b;
  b.objects = org.state;
  b.objects.clear_users();
  b.objects.clear_profiles();
  // "profiles/p1" -> also "profiles/p1v" wherever it is assigned.
  for (auto& set : *b.objects.mutable_permission_sets()) {
    std::vector<std::string> extra;
    for (const std::string& a : set.assignees()) {
      if (absl::StartsWith(a, "profiles/")) extra.push_back(absl::StrCat(a, "v"));
    }
    for (std::string& a : extra) set.add_assignees(std::move(a));
  }
  for (int k = 0; k < 4; ++k) {
    for (const bool view_all : {false, true}) {
      store::ProfileRow p;
      p.id = absl::StrCat("p", k, view_all ? "v" : "");
      p.name = absl::StrCat("Profile ", p.id);
      if (view_all) p.system_permissions = "view_all_data";
      b.profiles.push_back(p);
    }
  }
  store::ProfileRow none;
  none.id = "none";
  none.name = "No profile";
  b.profiles.push_back(none);
  for (const auto& u : org.state.users()) {
    std::string id = "none";
    if (!u.profile().empty()) {
      id = std::string(absl::StripPrefix(u.profile(), "profiles/"));
      if (!u.profile_system_permissions().empty()) absl::StrAppend(&id, "v");
    }
    b.users_by_profile[id].push_back(u.id());
  }
  return b;
}

// Stores `b` in the copy in one transaction (a policy write: version bumped
// first, the result compiled before commit).
absl::Status WritePolicy(
    store::Database& db, const BenchPolicy& b,
    const google::protobuf::RepeatedPtrField<crm::internal::ServiceConfig>&
        services) {
  store::PolicyStore store(&db);
  store::IdentityStore identities(&db);
  const int64_t now = absl::ToUnixMicros(absl::Now());
  return db.InTransaction([&](store::Session& s) -> absl::Status {
    auto v = store.BumpPolicyVersion(s);
    if (!v.ok()) return v.status();
    for (const store::ProfileRow& p : b.profiles) {
      if (absl::Status st = identities.CreateProfile(s, p); !st.ok()) return st;
    }
    for (const auto& [profile, users] : b.users_by_profile) {
      for (size_t i = 0; i < users.size(); i += 1000) {
        model::SqlFragment q;
        q.Append("UPDATE users SET profile_id = ? WHERE id IN (", {profile});
        for (size_t j = i; j < std::min(users.size(), i + 1000); ++j) {
          q.Append(j == i ? "?" : ", ?", {users[j]});
        }
        q.Append(")");
        auto n = store::Execute(s, q, "assigning profiles");
        if (!n.ok()) return n.status();
      }
    }
    auto n = store::Execute(s, {"DELETE FROM profiles WHERE id = 'bench'", {}},
                            "dropping list_bench's profile");
    if (!n.ok()) return n.status();
    auto put = [&](absl::string_view kind, const std::string& name,
                   const google::protobuf::Message& m) {
      const std::string id(absl::StripPrefix(name, absl::StrCat(kind, "/")));
      return store.InsertObject(
          s, {std::string(kind), id, 1, m.SerializeAsString(), now});
    };
    const PolicyState& o = b.objects;
    for (const auto& m : o.permission_sets()) {
      if (auto st = put(store::kPermissionSetsKind, m.name(), m); !st.ok()) return st;
    }
    for (const auto& m : o.defaults()) {
      if (auto st = put(store::kOrgWideDefaultsKind, m.object(), m); !st.ok()) return st;
    }
    for (const auto& m : o.roles()) {
      if (auto st = put(store::kRolesKind, m.name(), m); !st.ok()) return st;
    }
    for (const auto& m : o.groups()) {
      if (auto st = put(store::kGroupsKind, m.name(), m); !st.ok()) return st;
    }
    for (const auto& m : o.sharing_rules()) {
      if (auto st = put(store::kSharingRulesKind, m.name(), m); !st.ok()) return st;
    }
    for (const auto& m : o.restriction_rules()) {
      if (auto st = put(store::kRestrictionRulesKind, m.name(), m); !st.ok()) return st;
    }
    auto state = store.LoadState(s);
    if (!state.ok()) return state.status();
    auto built = policy::PolicySnapshot::Build(*state, services,
                                               model::SchemaRegistry::Default());
    if (!built.ok()) return built.status();
    return absl::OkStatus();
  });
}

// Opens the copy, making it (again) when missing, stale or asked to.
// `original` receives the policy as first written (bundle state bytes).
std::unique_ptr<store::Database> OpenCopy(
    const Flags& flags, const testing::GeneratedOrg& org,
    const google::protobuf::RepeatedPtrField<crm::internal::ServiceConfig>&
        services,
    std::string* original) {
  auto cluster = testing::TestDatabase::PostgresClusterConnection();
  if (!cluster.ok()) Die("cluster (start it and run list_bench first)", cluster.status());
  std::string list_marker;
  {
    auto t = store::Database::Open(WithDatabase(*cluster, kTemplate), 1);
    if (!t.ok()) Die("opening crm_list_bench (run list_bench first)", t.status());
    auto m = Text(**t, "SELECT marker FROM list_bench_marker");
    if (!m.ok() || m->empty()) {
      Die("crm_list_bench has no marker (run list_bench first)", m.status());
    }
    list_marker = *m;
  }  // the template must have no session while it is copied
  const std::string marker = absl::StrCat(list_marker, " | ", kCopyVersion);
  auto admin = store::Database::Open(*cluster, 1);
  if (!admin.ok()) Die("connecting to the cluster", admin.status());
  if (!flags.recopy) {
    auto c = store::Database::Open(WithDatabase(*cluster, kCopy), 2);
    if (c.ok()) {
      auto m = Text(**c, "SELECT marker FROM policy_plan_bench_marker");
      auto p = Text(**c, "SELECT policy FROM policy_plan_bench_marker");
      if (m.ok() && *m == marker && p.ok() &&
          absl::Base64Unescape(*p, original)) {
        if (absl::Status s = store::Migrate(**c); !s.ok()) Die("migrating", s);
        fprintf(stderr, "policy_plan_bench: reusing %s\n", kCopy);
        return *std::move(c);
      }
    }
  }
  fprintf(stderr, "policy_plan_bench: copying %s to %s...\n", kTemplate, kCopy);
  const int64_t start = NowNanos();
  for (const std::string& sql :
       {absl::StrCat("DROP DATABASE IF EXISTS ", kCopy),
        absl::StrCat("CREATE DATABASE ", kCopy, " TEMPLATE ", kTemplate)}) {
    if (absl::Status s = Exec(**admin, {sql, {}}); !s.ok()) Die(sql, s);
  }
  fprintf(stderr, "  %.1f s: copied\n", Sec(NowNanos() - start));
  auto c = store::Database::Open(WithDatabase(*cluster, kCopy), 2);
  if (!c.ok()) Die("opening the copy", c.status());
  if (absl::Status s = store::Migrate(**c); !s.ok()) Die("migrating", s);
  if (absl::Status s = WritePolicy(**c, MakeBenchPolicy(org), services);
      !s.ok()) {
    Die("writing the generated policy", s);
  }
  if (absl::Status s = Exec(**c, {"VACUUM ANALYZE users", {}}); !s.ok()) {
    Die("analyze", s);
  }
  auto state = store::PolicyStore(c->get()).LoadState();
  if (!state.ok()) Die("loading the policy", state.status());
  *original = policy::SerializeBundleState(*state);
  for (const model::SqlFragment& sql :
       {model::SqlFragment{"CREATE TABLE policy_plan_bench_marker (marker "
                           "TEXT, policy TEXT)",
                           {}},
        model::SqlFragment{"INSERT INTO policy_plan_bench_marker VALUES (?, ?)",
                           {marker, absl::Base64Escape(*original)}}}) {
    if (absl::Status s = Exec(**c, sql); !s.ok()) Die(sql.sql, s);
  }
  fprintf(stderr, "  %.1f s: policy written (%d roles, %d groups, %d sharing "
          "rules)\n", Sec(NowNanos() - start), state->roles_size(),
          state->groups_size(), state->sharing_rules_size());
  return *std::move(c);
}

// ------------------------------------------------------------------ bundles

crm::v1::PolicyBundleFiles Files(const policy::PolicyBundle& bundle) {
  crm::v1::PolicyBundleFiles out;
  for (auto& [path, text] : policy::RenderBundle(bundle)) {
    (*out.mutable_files())[path] = std::move(text);
  }
  return out;
}

// The live policy + the criteria rule.
policy::PolicyBundle WithRule(const PolicyState& live, const Flags& flags) {
  policy::PolicyBundle b = policy::BundleFromState(live);
  crm::v1::PolicyObject o;
  crm::v1::SharingRule* r = o.mutable_sharing_rule();
  r->set_name("sharingRules/bench-criteria");
  r->set_display_name("Accounts of one industry to a branch of the roles");
  r->set_object("accounts");
  r->set_criteria(absl::StrCat("industry = \"", flags.industry, "\""));
  absl::string_view g = flags.grantee;
  if (absl::ConsumePrefix(&g, "roleAndSubordinates/")) {
    r->mutable_shared_with()->set_role_and_subordinates(absl::StrCat("roles/", g));
  } else if (absl::StartsWith(g, "roles/")) {
    r->mutable_shared_with()->set_role(std::string(g));
  } else if (absl::StartsWith(g, "groups/")) {
    r->mutable_shared_with()->set_group(std::string(g));
  } else {
    fprintf(stderr, "--grantee: roleAndSubordinates/ID, roles/ID or groups/ID\n");
    exit(2);
  }
  r->set_access(crm::v1::READ);
  b.Add(o);
  return b;
}

// The live policy + 250 new groups + 250 existing groups with one more user
// member each.
policy::PolicyBundle With500Objects(const PolicyState& live, int round) {
  policy::PolicyBundle b = policy::BundleFromState(live);
  const int users = live.users_size();
  std::vector<std::string> user_ids;
  for (const auto& u : live.users()) user_ids.push_back(u.id());
  for (int i = 0; i < kApplyNew; ++i) {
    crm::v1::PolicyObject o;
    crm::v1::Group* g = o.mutable_group();
    g->set_name(absl::StrCat("groups/bench-", i));
    g->set_display_name(absl::StrCat("Bench group ", i, " (round ", round, ")"));
    g->add_members()->set_user(
        absl::StrCat("users/", user_ids[(i * 37 + round) % users]));
    g->add_members()->set_user(
        absl::StrCat("users/", user_ids[(i * 91 + 7 + round) % users]));
    g->add_members()->set_role(absl::StrCat("roles/r", (i * 13) % 255));
    b.Add(o);
  }
  int edited = 0;
  for (const auto& group : live.groups()) {
    if (edited == kApplyEdited) break;
    std::set<std::string> members;
    for (const auto& m : group.members()) members.insert(m.user());
    std::string add;
    for (int k = 0; add.empty() || members.count(add) > 0; ++k) {
      add = absl::StrCat("users/", user_ids[(edited * 53 + k + round) % users]);
    }
    crm::v1::PolicyObject o;
    *o.mutable_group() = group;
    o.mutable_group()->clear_etag();
    o.mutable_group()->add_members()->set_user(add);
    b.Add(o);
    ++edited;
  }
  return b;
}

// ------------------------------------------------------------------- client

std::unique_ptr<grpc::ClientContext> Context(const client::CrmClient& c) {
  auto ctx = c.NewContext();
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Minutes(10)));
  return ctx;
}

absl::Status FromGrpc(const grpc::Status& s) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      s.error_message());
}

// ApplyPolicy; dies on failure.
crm::v1::ApplyPolicyResponse Apply(const client::CrmClient& c,
                                   const crm::v1::PolicyBundleFiles& files,
                                   int64_t expect_version, bool prune,
                                   const std::string& message, int64_t* ns) {
  crm::v1::ApplyPolicyRequest req;
  *req.mutable_bundle() = files;
  req.set_expect_version(expect_version);
  req.set_prune(prune);
  req.set_message(message);
  crm::v1::ApplyPolicyResponse resp;
  auto ctx = Context(c);
  const int64_t start = NowNanos();
  grpc::Status s = c.policy_admin().ApplyPolicy(ctx.get(), req, &resp);
  if (ns != nullptr) *ns = NowNanos() - start;
  if (!s.ok()) Die("ApplyPolicy", FromGrpc(s));
  return resp;
}

// ----------------------------------------------------------------- the plan

// Record-changing users as PlanImpact counts them.
bool ChangesRecords(const policy::UserAccessChange& u) {
  for (const auto& o : u.objects) {
    if (!o.records.empty()) return true;
  }
  return false;
}

// CountRecordDelta for every read filter change of `u` (as ToDelta does).
struct Counted {
  std::string object;
  records::RecordDelta delta;
};
absl::Status CountUser(const records::Deps& deps,
                       const policy::UserAccessChange& u,
                       std::vector<Counted>* out) {
  for (const auto& o : u.objects) {
    for (const auto& r : o.records) {
      if (r.op != policy::Operation::kRead) continue;
      const model::ObjectSchema* schema =
          model::SchemaRegistry::Default().Find(o.object);
      if (schema == nullptr) continue;
      auto d = records::CountRecordDelta(deps, *schema, r.before, r.after,
                                         kExamples);
      if (!d.ok()) return d.status();
      if (out != nullptr) out->push_back({o.object, *std::move(d)});
    }
  }
  return absl::OkStatus();
}

std::string Describe(const Counted& c) {
  return absl::StrCat(c.object, ": before ", c.delta.before, ", after ",
                      c.delta.after, ", gained ", c.delta.gained, ", lost ",
                      c.delta.lost);
}

// An experiment, not what the server does: the counts CountRecordDelta
// takes for `users` (before, after, both per user and object; no examples)
// as one statement per object, so that the table is scanned once for all
// of them instead of once or twice per user:
//   SELECT COUNT(CASE WHEN (after_1) THEN 1 END),
//          COUNT(CASE WHEN (after_1) AND (before_1) THEN 1 END),
//          COUNT(CASE WHEN (before_1) THEN 1 END), ... FROM t
// Returns per user and object the RecordDelta counts, in the order of
// CountUser's output.
absl::StatusOr<std::vector<std::vector<Counted>>> CountAllInOneScan(
    const records::Deps& deps,
    const std::vector<const policy::UserAccessChange*>& users) {
  struct Slot {
    size_t user, index;
  };
  std::map<std::string, model::SqlFragment> select;  // by object
  std::map<std::string, std::vector<Slot>> slots;
  std::vector<std::vector<Counted>> out(users.size());
  auto pred = [](const model::SqlFragment& f) {
    return f.sql.empty() ? model::SqlFragment{"TRUE", {}} : f;
  };
  for (size_t i = 0; i < users.size(); ++i) {
    for (const auto& o : users[i]->objects) {
      for (const auto& r : o.records) {
        if (r.op != policy::Operation::kRead) continue;
        model::SqlFragment& q = select[o.object];
        for (const model::SqlFragment& f :
             {pred(r.after), model::And(pred(r.after), pred(r.before)),
              pred(r.before)}) {
          q.Append(q.sql.empty() ? "SELECT COUNT(CASE WHEN (" : ", COUNT(CASE WHEN (");
          q.Append(f);
          q.Append(") THEN 1 END)");
        }
        slots[o.object].push_back({i, out[i].size()});
        out[i].push_back({o.object, {}});
      }
    }
  }
  for (auto& [object, q] : select) {
    q.Append(absl::StrCat(" FROM \"", object, "\""));
    absl::Status s = deps.database->WithSession([&](store::Session& session) {
      auto rows = store::Query(session, q, "counting in one scan");
      if (!rows.ok()) return rows.status();
      const store::Row& row = (*rows)[0];
      const std::vector<Slot>& sl = slots[object];
      for (size_t k = 0; k < sl.size(); ++k) {
        records::RecordDelta& d = out[sl[k].user][sl[k].index].delta;
        d.after = std::get<int64_t>(row[3 * k]);
        const int64_t both = std::get<int64_t>(row[3 * k + 1]);
        d.before = std::get<int64_t>(row[3 * k + 2]);
        d.gained = d.after - both;
        d.lost = d.before - both;
      }
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
  }
  return out;
}

struct PlanSubjects {
  std::string rep;      // "users/uX", a leaf-role user gaining records
  std::string manager;  // a user holding the grantee's own role, if any
};

int RoleDepth(const policy::CompiledPolicy& p, int role) {
  int d = -1;
  for (int r = role; r >= 0; r = p.roles[r].parent) ++d;
  return d;
}

PlanSubjects PickSubjects(const policy::PolicySnapshot& after,
                          const std::vector<policy::UserAccessChange>& users,
                          const Flags& flags) {
  const policy::CompiledPolicy& p = after.compiled();
  const std::string grantee_role = absl::StrCat(
      "roles/", absl::StripPrefix(absl::StripPrefix(flags.grantee,
                                                    "roleAndSubordinates/"),
                                  "roles/"));
  PlanSubjects s;
  for (const auto& u : users) {
    if (!ChangesRecords(u)) continue;
    auto it = p.owner_index.find(u.user);
    if (it == p.owner_index.end()) continue;
    const policy::CompiledUser& cu = p.users[it->second];
    if (cu.role < 0) continue;
    if (s.rep.empty() && RoleDepth(p, cu.role) == 7) s.rep = u.user;
    if (s.manager.empty() && p.roles[cu.role].name == grantee_role) {
      s.manager = u.user;
    }
  }
  return s;
}

// The statements CountRecordDelta runs for `u`'s read filters
// (records/policy_impact.cc: CountSubsetsInSnapshot, then the examples with
// RecordStore::List), run the same way on one session with their plans
// captured (EXPLAIN ANALYZE, BUFFERS through auto_explain): each
// statement's duration, then its plan.
void ExplainUser(const records::Deps& deps, const policy::UserAccessChange& u) {
  for (const auto& o : u.objects) {
    for (const auto& r : o.records) {
      if (r.op != policy::Operation::kRead) continue;
      const model::ObjectSchema& schema =
          *model::SchemaRegistry::Default().Find(o.object);
      auto without = [](const model::SqlFragment& in,
                        const model::SqlFragment& out) {
        if (out.sql.empty()) return model::SqlFragment{"1 = 0", {}};
        return model::And(
            in, model::SqlFragment{
                    absl::StrCat("NOT COALESCE((", out.sql, "), FALSE)"),
                    out.params});
      };
      absl::Status st = deps.database->WithSession([&](store::Session& s) {
        auto capture = store::PlanCapture::Start(s);
        if (!capture.ok()) return capture.status();
        auto n = deps.records->CountSubsetsInSnapshot(
            s, schema, {{r.after, {r.before}}, {r.before, {}}});
        if (!n.ok()) return n.status();
        const int64_t gained = (*n)[0][0] - (*n)[0][1];
        const int64_t lost = (*n)[1][0] - (*n)[0][1];
        for (const auto& [where, any] :
             {std::make_pair(without(r.after, r.before), gained > 0),
              std::make_pair(without(r.before, r.after), lost > 0)}) {
          if (!any) continue;  // CountRecordDelta looks for none either
          store::ListQuery q;
          q.where = where;
          q.order = {{"id", false}};
          q.limit = kExamples;
          auto rows = deps.records->List(s, schema, q);
          if (!rows.ok()) return rows.status();
        }
        printf("\n--- %s %s: predicates of %zu and %zu parameters\n",
               u.user.c_str(), o.object.c_str(), r.before.params.size(),
               r.after.params.size());
        for (const std::string& plan : (*capture)->Finish()) {
          printf("%s\n", plan.c_str());
        }
        return absl::OkStatus();
      });
      if (!st.ok()) Die("explain", st);
    }
  }
}

void RunPlan(const Flags& flags, const client::CrmClient& client,
             server::ServerCore& core, const records::Deps& deps,
             store::Database& db) {
  const model::SchemaRegistry& schemas = model::SchemaRegistry::Default();
  const std::string service = "admin-cli";  // the calling service
  Figures whole, parts, user_parts, experiment;
  PlanSubjects subjects;
  size_t response_bytes = 0;
  crm::v1::PolicyPlan last;
  for (int rep = 0; rep < flags.repetitions; ++rep) {
    // --- The parts, in-process, as the handler runs them.
    PolicyState live;
    parts.Add("LoadState (policy + 10,001 users from PostgreSQL)", Time([&] {
      auto l = store::PolicyStore(&db).LoadState();
      if (!l.ok()) Die("LoadState", l.status());
      live = *std::move(l);
    }));
    const crm::v1::PolicyBundleFiles files = Files(WithRule(live, flags));
    const policy::BundleFiles bundle_files(files.files().begin(),
                                           files.files().end());
    parts.Add("ValidateBundle (parse + compile the bundle alone)", Time([&] {
      policy::ValidateOptions options;
      options.services = &core.config.services();
      auto errors = policy::ValidateBundle(bundle_files, schemas, options);
      if (!errors.empty()) {
        Die("bundle", absl::InvalidArgumentError(errors[0].ToString()));
      }
    }));
    PolicyState target;
    parts.Add("ParseBundle + target state (MakeTarget)", Time([&] {
      policy::PolicyBundle parsed = policy::ParseBundle(bundle_files).bundle;
      target = parsed.ToState();
      *target.mutable_users() = live.users();
      target.set_version(live.version());
    }));
    parts.Add("object diff (audit::PolicyChangeEvents)", Time([&] {
      auto events = audit::PolicyChangeEvents(policy::BundleState(live),
                                              policy::BundleState(target));
      if (events.size() != 1) {
        Die("diff", absl::InternalError(absl::StrCat(events.size(), " changes")));
      }
    }));
    std::shared_ptr<const policy::PolicySnapshot> before, after;
    parts.Add("Compile live (PolicySnapshot::Build)", Time([&] {
      auto b = policy::PolicySnapshot::Build(live, core.config.services(), schemas);
      if (!b.ok()) Die("compile", b.status());
      before = *std::move(b);
    }));
    parts.Add("Compile planned", Time([&] {
      auto a = policy::PolicySnapshot::Build(target, core.config.services(), schemas);
      if (!a.ok()) Die("compile", a.status());
      after = *std::move(a);
    }));
    std::vector<policy::UserAccessChange> users;
    parts.Add("DiffUserAccess (every user)", Time([&] {
      users = policy::DiffUserAccess(*before, *after, service, schemas);
    }));
    LatencySamples per_user;
    std::vector<const policy::UserAccessChange*> counted_users;
    std::vector<std::vector<Counted>> counted_deltas;
    parts.Add("CountRecordDelta for the first 20 changed users", Time([&] {
      for (const auto& u : users) {
        if (counted_users.size() == kCountedUsers) break;
        if (!ChangesRecords(u)) continue;
        counted_users.push_back(&u);
        counted_deltas.emplace_back();
        per_user.Add(Time([&] {
          if (absl::Status s = CountUser(deps, u, &counted_deltas.back());
              !s.ok()) {
            Die("CountRecordDelta", s);
          }
        }));
      }
    }));
    parts.Add("  one user's CountRecordDelta, p50 of the 20",
              per_user.Quantile(0.5));
    parts.Add("  one user's CountRecordDelta, max of the 20", per_user.Max());
    if (flags.one_scan) {
      absl::StatusOr<std::vector<std::vector<Counted>>> one;
      experiment.Add("the 20 users' counts in one scan per object", Time([&] {
        one = CountAllInOneScan(deps, counted_users);
      }));
      if (!one.ok()) Die("one scan", one.status());
      for (size_t i = 0; i < counted_users.size(); ++i) {
        for (size_t k = 0; k < counted_deltas[i].size(); ++k) {
          const records::RecordDelta& a = counted_deltas[i][k].delta;
          const records::RecordDelta& b = (*one)[i][k].delta;
          if (a.before != b.before || a.after != b.after ||
              a.gained != b.gained || a.lost != b.lost) {
            Die("one scan", absl::InternalError(absl::StrCat(
                                counted_users[i]->user, " ",
                                Describe(counted_deltas[i][k]), " vs ",
                                Describe((*one)[i][k]))));
          }
        }
      }
    }
    std::vector<policy::GrantImpact> grants;
    parts.Add("ImpactByGrant (1 changed object)", Time([&] {
      auto g = policy::ImpactByGrant(live, target, core.config.services(),
                                     service, schemas, kMaxGrantsExamined);
      if (!g.ok()) Die("ImpactByGrant", g.status());
      grants = *std::move(g);
    }));
    parts.Add("rule's records (SharingRuleSource + CountSelected)", Time([&] {
      auto src = policy::SharingRuleSource(*after, "sharingRules/bench-criteria");
      if (!src.has_value()) Die("rule", absl::InternalError("no rule"));
      auto n = records::CountSelected(deps, *schemas.Find("accounts"), *src);
      if (!n.ok()) Die("CountSelected", n.status());
    }));
    if (rep == 0) {
      subjects = PickSubjects(*after, users, flags);
      int with_records = 0;
      for (const auto& u : users) with_records += ChangesRecords(u);
      printf("plan: %zu users change (%d with record changes); grant impact: "
             "%zu object(s), %zu users gaining\n",
             users.size(), with_records, grants.size(),
             grants.empty() ? size_t{0} : grants[0].users_gaining.size());
      printf("named users: rep %s, manager %s\n", subjects.rep.c_str(),
             subjects.manager.empty() ? "(none)" : subjects.manager.c_str());
    }

    // --- Part 2's restricted computation for each named user.
    for (const auto& [label, user] :
         {std::pair<std::string, std::string>{"rep", subjects.rep},
          {"manager", subjects.manager}}) {
      if (user.empty()) continue;
      const std::vector<std::string> only = {user};
      std::vector<policy::UserAccessChange> mine;
      const int64_t diff_ns = Time([&] {
        mine = policy::DiffUserAccess(*before, *after, service, schemas, &only);
      });
      std::vector<Counted> counts;
      const int64_t count_ns = Time([&] {
        for (const auto& u : mine) {
          if (absl::Status s = CountUser(deps, u, &counts); !s.ok()) {
            Die("CountRecordDelta", s);
          }
        }
      });
      const std::string who = absl::StrCat(label, " ", user);
      user_parts.Add(absl::StrCat(who, ": DiffUserAccess(only_users)"), diff_ns);
      user_parts.Add(absl::StrCat(who, ": CountRecordDelta (read)"), count_ns);
      user_parts.Add(absl::StrCat(who, ": both, snapshots given"),
                     diff_ns + count_ns);
      if (rep == 0) {
        for (const Counted& c : counts) {
          printf("  %s %s\n", who.c_str(), Describe(c).c_str());
        }
        if (flags.explain) {
          for (const auto& u : mine) ExplainUser(deps, u);
        }
      }
    }

    // --- The whole request through the server.
    crm::v1::PlanPolicyRequest req;
    *req.mutable_bundle() = files;
    crm::v1::PolicyPlan plan;
    auto ctx = Context(client);
    const int64_t ns = Time([&] {
      grpc::Status s = client.policy_admin().PlanPolicy(ctx.get(), req, &plan);
      if (!s.ok()) Die("PlanPolicy", FromGrpc(s));
    });
    whole.Add("PlanPolicy (criteria rule, per-grant impact, 20 counted)", ns);
    response_bytes = plan.ByteSizeLong();
    last = plan;
    for (const auto& [label, user] :
         {std::pair<std::string, std::string>{"rep", subjects.rep},
          {"manager", subjects.manager}}) {
      if (user.empty()) continue;
      crm::v1::PlanPolicyRequest ureq = req;
      ureq.set_user(user);
      crm::v1::PolicyPlan uplan;
      auto uctx = Context(client);
      const int64_t uns = Time([&] {
        grpc::Status s =
            client.policy_admin().PlanPolicy(uctx.get(), ureq, &uplan);
        if (!s.ok()) Die("PlanPolicy(user)", FromGrpc(s));
      });
      whole.Add(absl::StrCat("PlanPolicy with user = ", label, " ", user), uns);
      // The same user alone (only_user: no other user, no per-grant
      // impact): the "exact impact for one named user" through the API.
      ureq.set_only_user(true);
      auto octx = Context(client);
      const int64_t ons = Time([&] {
        grpc::Status s =
            client.policy_admin().PlanPolicy(octx.get(), ureq, &uplan);
        if (!s.ok()) Die("PlanPolicy(only_user)", FromGrpc(s));
      });
      whole.Add(absl::StrCat("PlanPolicy only_user = ", label, " ", user), ons);
    }
    fflush(stdout);
  }
  int counted = 0;
  for (const auto& u : last.users()) {
    for (const auto& o : u.objects()) {
      if (o.records_counted()) {
        ++counted;
        break;
      }
    }
  }
  printf("response: %d changes, %d users (%d with counted records), %d "
         "grants (first: %d gaining, rule records %lld), %zu bytes\n",
         last.changes_size(), last.users_size(), counted, last.grants_size(),
         last.grants_size() > 0 ? last.grants(0).users_gaining_size() : 0,
         last.grants_size() > 0
             ? static_cast<long long>(last.grants(0).rule_records_after())
             : 0LL,
         response_bytes);
  whole.Print("Whole requests (gRPC stub -> in-process CrmServer), wall");
  parts.Print("PlanPolicy's parts, in-process (same functions, same order)");
  user_parts.Print("One named user's exact impact (part 2), in-process");
  if (flags.one_scan) {
    experiment.Print(
        "Experiment (not the server's code): the same 20 users' counts, one "
        "statement per object, equal figures checked");
  }
  const std::string plan_key =
      "PlanPolicy (criteria rule, per-grant impact, 20 counted)";
  printf("\nTARGET plan < %g s: p50 %.2f s, max %.2f s: %s\n", kPlanTargetS,
         whole.P50Seconds(plan_key), whole.MaxSeconds(plan_key),
         whole.MaxSeconds(plan_key) < kPlanTargetS ? "met" : "NOT MET");
  for (const auto& [label, user] :
       {std::pair<std::string, std::string>{"rep", subjects.rep},
        {"manager", subjects.manager}}) {
    if (user.empty()) continue;
    const std::string key = absl::StrCat(label, " ", user, ": both, snapshots given");
    const std::string full = absl::StrCat("PlanPolicy with user = ", label, " ", user);
    printf("TARGET per-user < %g s, %s %s: restricted diff + count p50 %.3f s, "
           "max %.3f s (%s); + both compilations ~%.2f s; whole PlanPolicy "
           "with user p50 %.2f s (%s)\n",
           kUserTargetS, label.c_str(), user.c_str(), user_parts.P50Seconds(key),
           user_parts.MaxSeconds(key),
           user_parts.MaxSeconds(key) < kUserTargetS ? "met" : "NOT MET",
           parts.P50Seconds("Compile live (PolicySnapshot::Build)") +
               parts.P50Seconds("Compile planned"),
           whole.P50Seconds(full),
           whole.MaxSeconds(full) < kUserTargetS ? "met" : "NOT MET");
  }
}

// ------------------------------------------------------------------ apply

void RunApply(const Flags& flags, const client::CrmClient& client,
              store::Database& db, const std::string& original) {
  Figures f;
  PolicyState original_state;
  if (!original_state.ParseFromString(original)) {
    Die("original", absl::InternalError("does not parse"));
  }
  const crm::v1::PolicyBundleFiles restore =
      Files(policy::BundleFromState(original_state));
  for (int rep = 0; rep < flags.repetitions; ++rep) {
    auto live = store::PolicyStore(&db).LoadState();
    if (!live.ok()) Die("LoadState", live.status());
    const crm::v1::PolicyBundleFiles files =
        Files(With500Objects(*live, rep));
    int64_t ns = 0;
    auto resp = Apply(client, files, live->version(), false,
                      absl::StrCat("policy_plan_bench: 500 objects, round ", rep),
                      &ns);
    if (!resp.changed() || resp.changes_size() != kApplyNew + kApplyEdited) {
      Die("apply", absl::InternalError(absl::StrCat(
                       "changed ", resp.changed(), ", ", resp.changes_size(),
                       " objects")));
    }
    f.Add("ApplyPolicy, 500 objects (250 added, 250 changed)", ns);
    auto undo = Apply(client, restore, resp.version(), true,
                      "policy_plan_bench: restore", &ns);
    if (!undo.changed() || undo.changes_size() != kApplyNew + kApplyEdited) {
      Die("restore", absl::InternalError(absl::StrCat(
                         "changed ", undo.changed(), ", ", undo.changes_size(),
                         " objects")));
    }
    f.Add("ApplyPolicy --prune back, 500 objects (250 removed, 250 changed)",
          ns);
    // What the prune's reference check costs alone: WriteRows asks
    // PolicyStore::CountSharesWithGrantee once per removed role or group.
    f.Add("  the prune's CountSharesWithGrantee x 250, alone (same function)",
          Time([&] {
            absl::Status s = db.WithSession([&](store::Session& session) {
              store::PolicyStore store(&db);
              for (int i = 0; i < kApplyNew; ++i) {
                auto n = store.CountSharesWithGrantee(
                    session, {absl::StrCat("groups/bench-", i)});
                if (!n.ok()) return n.status();
              }
              return absl::OkStatus();
            });
            if (!s.ok()) Die("CountSharesWithGrantee", s);
          }));
    // Idempotence: the same bundle again changes nothing.
    auto again = Apply(client, restore, 0, true, "", &ns);
    if (again.changed()) Die("restore again", absl::InternalError("changed"));
    f.Add("ApplyPolicy of the live policy again (no change)", ns);
    fflush(stdout);
  }
  f.Print("ApplyPolicy (gRPC stub -> in-process CrmServer), wall");
  const std::string key = "ApplyPolicy, 500 objects (250 added, 250 changed)";
  printf("\nTARGET apply 500 objects < %g s: p50 %.2f s, max %.2f s: %s\n",
         kApplyTargetS, f.P50Seconds(key), f.MaxSeconds(key),
         f.MaxSeconds(key) < kApplyTargetS ? "met" : "NOT MET");
}

int Main(int argc, char** argv) {
  const Flags flags = ParseFlags(argc, argv);
  if (getenv("CRM_TEST_PG_DIR") == nullptr) {
    setenv("CRM_TEST_PG_DIR", flags.pg_dir.c_str(), 1);
  }
  printf("load average at start: %s\n", LoadAverage().c_str());
  const testing::GeneratedOrg org =
      testing::GenerateOrg(kSeed, testing::ListBenchOrgSize());
  // The server's configuration: the harness's, with admin-cli allowed to
  // manage the policy (PlanPolicy, ApplyPolicy).
  std::string copy_connection;
  // The copy outlives the run, and its data keys are wrapped by the master
  // key of the server that first opened it (field encryption): every run
  // uses the same key file, kept beside the cluster.
  const char* pg_dir = getenv("CRM_TEST_PG_DIR");
  const std::string master_key =
      absl::StrCat(pg_dir != nullptr ? pg_dir : flags.pg_dir,
                   "/crm_policy_plan_bench.master.key");
  if (access(master_key.c_str(), F_OK) != 0) {
    auto made = crypto::GenerateMasterKeyFile(master_key);
    if (!made.ok()) Die("master key", made.status());
  }
  auto customize = [&](crm::internal::ServerConfig& config) {
    config.set_database(copy_connection);
    config.mutable_encryption()->set_master_key_file(master_key);
    for (auto& s : *config.mutable_services()) {
      if (s.name() == "admin-cli") s.add_system_permissions("manage_policy");
    }
  };
  crm::internal::ServerConfig services_only;
  {
    auto certs_config = testing::BaseTestConfig(testing::SharedTestCerts(), "");
    *services_only.mutable_services() = certs_config.services();
  }
  std::string original;
  std::unique_ptr<store::Database> db =
      OpenCopy(flags, org, services_only.services(), &original);
  {
    auto cluster = testing::TestDatabase::PostgresClusterConnection();
    if (!cluster.ok()) Die("cluster", cluster.status());
    copy_connection = WithDatabase(*cluster, kCopy);
    // Sessions opened from now on (the server's, and ours below) get it.
    const std::string jit =
        flags.jit == "off"
            ? absl::StrCat("ALTER DATABASE ", kCopy, " SET jit = off")
            : absl::StrCat("ALTER DATABASE ", kCopy, " RESET jit");
    if (absl::Status s = Exec(*db, {jit, {}}); !s.ok()) Die(jit, s);
    db.reset();
    auto reopened = store::Database::Open(copy_connection, 2);
    if (!reopened.ok()) Die("reopening the copy", reopened.status());
    db = *std::move(reopened);
    auto shown = Text(*db, "SHOW jit");
    printf("PostgreSQL jit: %s\n", shown.ok() ? shown->c_str() : "?");
  }
  int64_t start = NowNanos();
  auto server = testing::TestServer::Start(
      {.backend = testing::Backend::kPostgres, .customize = customize});
  if (!server.ok()) Die("server", server.status());
  fprintf(stderr, "policy_plan_bench: server started in %.1f s\n",
          Sec(NowNanos() - start));
  auto client = (*server)->Client("admin-cli");

  // A run that died half-way may have left its changes: back to the
  // original policy.
  {
    auto live = store::PolicyStore(db.get()).LoadState();
    if (!live.ok()) Die("LoadState", live.status());
    if (policy::SerializeBundleState(*live) != original) {
      PolicyState o;
      o.ParseFromString(original);
      Apply(*client, Files(policy::BundleFromState(o)), 0, true,
            "policy_plan_bench: restore after an interrupted run", nullptr);
      fprintf(stderr, "policy_plan_bench: restored the original policy\n");
    }
    printf("policy: %d permission sets, %d roles, %d groups, %d sharing rules, "
           "%d restriction rules, %d profiles, %d users (version %lld)\n",
           live->permission_sets_size(), live->roles_size(),
           live->groups_size(), live->sharing_rules_size(),
           live->restriction_rules_size(), live->profiles_size(),
           live->users_size(), static_cast<long long>(live->version()));
  }
  store::RecordStore records(db.get());
  records::Deps deps;
  deps.database = db.get();
  deps.records = &records;
  deps.clock = auth::SystemClock();
  server::ServerCore& core = (*server)->server().core();
  if (flags.plan) RunPlan(flags, *client, core, deps, *db);
  if (flags.apply) RunApply(flags, *client, *db, original);
  printf("\nload average at end: %s\n", LoadAverage().c_str());
  return 0;
}

}  // namespace
}  // namespace crm::bench

int main(int argc, char** argv) { return crm::bench::Main(argc, argv); }
