#include "store/plan_capture.h"

#include <libpq-fe.h>

#include <utility>

#include "absl/strings/match.h"
#include "soci/postgresql/soci-postgresql.h"
#include "store/soci_util.h"
#include "store/statement.h"

namespace crm::store {

struct PlanCapture::State {
  PGconn* conn = nullptr;
  PQnoticeProcessor previous = nullptr;  // libpq's default (its arg is unused)
  std::string client_min_messages;       // the session's, restored by Finish
  std::vector<std::string> plans;
};

namespace {

void CollectNotice(void* arg, const char* message) {
  auto* plans = static_cast<std::vector<std::string>*>(arg);
  absl::string_view text(message);
  // "NOTICE:  duration: 1.234 ms  plan:\n..." (auto_explain's format).
  if (absl::StrContains(text, "plan:")) plans->emplace_back(text);
}

absl::Status Run(Session& session, const char* sql) {
  return Execute(session, {sql, {}}, "setting up plan capture").status();
}

}  // namespace

absl::StatusOr<std::unique_ptr<PlanCapture>> PlanCapture::Start(
    Session& session) {
  if (DialectOf(session) != Dialect::kPostgres) {
    return absl::FailedPreconditionError(
        "plan capture needs PostgreSQL (auto_explain)");
  }
  // static_cast: libsoci hides the backends' typeinfo (no dynamic_cast);
  // the dialect says which backend this is.
  auto* backend = static_cast<soci::postgresql_session_backend*>(
      session.sql().get_backend());
  auto level = Query(session,
                     {"SELECT current_setting('client_min_messages')", {}},
                     "setting up plan capture");
  if (!level.ok()) return level.status();
  const std::string* previous_level =
      level->size() == 1 && level->at(0).size() == 1
          ? std::get_if<std::string>(&level->at(0)[0])
          : nullptr;
  // The store's connections only pass warnings (store/database.cc); the
  // plans come as notices.
  for (const char* sql :
       {"SET client_min_messages = notice", "LOAD 'auto_explain'", "SET auto_explain.log_min_duration = 0",
        "SET auto_explain.log_analyze = on",
        "SET auto_explain.log_buffers = on",
        "SET auto_explain.log_level = 'notice'"}) {
    if (absl::Status s = Run(session, sql); !s.ok()) return s;
  }
  auto state = std::make_unique<State>();
  state->conn = backend->conn_;
  state->client_min_messages = previous_level ? *previous_level : "warning";
  state->previous =
      PQsetNoticeProcessor(state->conn, CollectNotice, &state->plans);
  return std::unique_ptr<PlanCapture>(
      new PlanCapture(session, std::move(state)));
}

PlanCapture::PlanCapture(Session& session, std::unique_ptr<State> state)
    : session_(session), state_(std::move(state)) {}

std::vector<std::string> PlanCapture::Finish() {
  if (finished_) return {};
  finished_ = true;
  // Turn auto_explain off first: this SET must not be captured either way.
  (void)Run(session_, "SET auto_explain.log_min_duration = -1");
  (void)Query(session_,
              {"SELECT set_config('client_min_messages', ?, false)",
               {state_->client_min_messages}},
              "ending plan capture");
  PQsetNoticeProcessor(state_->conn, state_->previous, nullptr);
  return std::move(state_->plans);
}

PlanCapture::~PlanCapture() { (void)Finish(); }

}  // namespace crm::store
