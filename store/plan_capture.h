// Diagnostics for benchmarks: the PostgreSQL plans of the statements a piece
// of store code runs, exactly as it runs them (same SQL, same bound values),
// without the caller rebuilding the SQL. It uses PostgreSQL's auto_explain
// module with ANALYZE and BUFFERS, sent to the client as NOTICE messages and
// collected from the connection.
//
//   db.WithSession([&](store::Session& s) {
//     auto capture = store::PlanCapture::Start(s);   // check ok()
//     auto page = records.List(s, schema, query);
//     std::vector<std::string> plans = (*capture)->Finish();
//     ...
//   });
//
// Not for the server: auto_explain needs a superuser (LOAD) and ANALYZE runs
// every captured statement's plan instrumented, which slows it down.
//
// Thread-safety: one PlanCapture per Session, used on the thread that owns
// the Session; it must not outlive the Session.
#ifndef CRM_STORE_PLAN_CAPTURE_H_
#define CRM_STORE_PLAN_CAPTURE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "store/database.h"

namespace crm::store {

class PlanCapture {
 public:
  // Loads auto_explain into the session and starts collecting.
  // FAILED_PRECONDITION on SQLite; the database's status if LOAD or SET
  // fails (e.g. not a superuser).
  static absl::StatusOr<std::unique_ptr<PlanCapture>> Start(Session& session);

  // Stops collecting (auto_explain off, the previous notice processor back)
  // and returns one text per statement run since Start, in order:
  // "duration: ... plan:\nQuery Text: ...\n<EXPLAIN ANALYZE, BUFFERS>".
  std::vector<std::string> Finish();

  ~PlanCapture();  // Finish() if not called
  PlanCapture(const PlanCapture&) = delete;
  PlanCapture& operator=(const PlanCapture&) = delete;

 private:
  struct State;
  explicit PlanCapture(Session& session, std::unique_ptr<State> state);

  Session& session_;
  std::unique_ptr<State> state_;
  bool finished_ = false;
};

}  // namespace crm::store

#endif  // CRM_STORE_PLAN_CAPTURE_H_
