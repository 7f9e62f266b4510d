#include "clients/access_report.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/time_util.h"

namespace crm::client {
namespace {

using google::protobuf::util::TimeUtil;

std::string Permissions(const crm::v1::AccessMatrixCell& c) {
  std::vector<const char*> held;
  if (c.read()) held.push_back("read");
  if (c.create()) held.push_back("create");
  if (c.edit()) held.push_back("edit");
  if (c.delete_()) held.push_back("delete");
  if (c.view_all()) held.push_back("view_all");
  if (c.modify_all()) held.push_back("modify_all");
  return held.empty() ? "none" : absl::StrJoin(held, " ");
}

std::string Grants(const crm::v1::AccessMatrixCell& c) {
  std::vector<std::string> parts;
  if (c.read_scope() == crm::v1::SCOPE_GRANTED) {
    parts.push_back(absl::StrCat("owners=", c.owner_users()));
    parts.push_back(absl::StrCat("share_keys=", c.share_keys()));
    parts.push_back(absl::StrCat("criteria_rules=", c.criteria_rules()));
  }
  if (c.restriction_rules() > 0) {
    parts.push_back(absl::StrCat("restriction_rules=", c.restriction_rules()));
  }
  return absl::StrJoin(parts, " ");
}


std::string Time(const google::protobuf::Timestamp& t) {
  return TimeUtil::ToString(t);
}

// <td>escaped</td>
std::string Td(absl::string_view text) {
  return absl::StrCat("<td>", HtmlEscape(text), "</td>");
}

std::string DiffText(const crm::v1::AuditEvent& e) {
  std::vector<std::string> parts;
  for (const crm::v1::AuditFieldChange& c : e.changes()) {
    if (!c.values_recorded()) {
      parts.push_back(c.field());
      continue;
    }
    parts.push_back(absl::StrCat(c.field(), ": ",
                                 c.has_before() ? c.before() : "(none)",
                                 " \u2192 ",
                                 c.has_after() ? c.after() : "(none)"));
  }
  return absl::StrJoin(parts, "\n");
}

constexpr char kStyle[] = R"(
body{font-family:sans-serif;margin:2em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.n{text-align:right}
pre{margin:0;white-space:pre-wrap;font-size:.9em}
.inactive{color:#888}.note{color:#555;font-size:.9em}
)";

}  // namespace

std::string CsvField(absl::string_view value) {
  std::string v(value);
  if (!v.empty() && (v[0] == '=' || v[0] == '+' || v[0] == '-' ||
                     v[0] == '@' || v[0] == '\t' || v[0] == '\r')) {
    v.insert(v.begin(), '\'');
  }
  if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
  std::string out = "\"";
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string CsvLine(const std::vector<std::string>& cells) {
  std::string out;
  for (size_t i = 0; i < cells.size(); ++i) {
    absl::StrAppend(&out, i == 0 ? "" : ",", CsvField(cells[i]));
  }
  out += "\r\n";
  return out;
}

std::string ScopeName(crm::v1::RecordScope scope) {
  switch (scope) {
    case crm::v1::SCOPE_ALL:
      return "all";
    case crm::v1::SCOPE_ALL_RESTRICTED:
      return "all-restricted";
    case crm::v1::SCOPE_GRANTED:
      return "granted";
    default:
      return "none";
  }
}

std::string AccessMatrixCsvHeader(const crm::v1::AccessMatrixRow& first) {
  std::vector<std::string> cells = {"user", "username", "profile", "role",
                                    "active"};
  for (const crm::v1::AccessMatrixCell& c : first.objects()) {
    cells.push_back(absl::StrCat(c.object(), " permissions"));
    cells.push_back(absl::StrCat(c.object(), " read scope"));
    cells.push_back(absl::StrCat(c.object(), " edit scope"));
    cells.push_back(absl::StrCat(c.object(), " read grants"));
  }
  for (const crm::v1::SensitiveFieldAccess& f : first.sensitive_fields()) {
    cells.push_back(f.field());
  }
  return CsvLine(cells);
}

std::string AccessMatrixCsvRow(const crm::v1::AccessMatrixRow& row) {
  std::vector<std::string> cells = {row.user(), row.username(), row.profile(),
                                    row.role(),
                                    row.active() ? "true" : "false"};
  for (const crm::v1::AccessMatrixCell& c : row.objects()) {
    cells.push_back(Permissions(c));
    cells.push_back(ScopeName(c.read_scope()));
    cells.push_back(ScopeName(c.edit_scope()));
    cells.push_back(Grants(c));
  }
  for (const crm::v1::SensitiveFieldAccess& f : row.sensitive_fields()) {
    cells.push_back(f.edit()   ? "read edit"
                    : f.read() ? "read"
                               : "none");
  }
  return CsvLine(cells);
}

std::string HtmlEscape(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string AccessReviewHtml(const crm::v1::AccessReviewReport& r) {
  std::string h;
  auto add = [&h](auto&&... parts) { absl::StrAppend(&h, parts...); };
  add("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src "
      "'none'; style-src 'unsafe-inline'\">"
      "<title>Access review</title><style>",
      kStyle, "</style></head><body>\n");
  add("<h1>Access review</h1>\n<p>Generated <span id=\"generated\">",
      HtmlEscape(Time(r.generate_time())),
      "</span> on policy version <span id=\"policy-version\">",
      r.policy_version(), "</span>.</p>\n");
  add("<table id=\"totals\"><tr><th>Users</th><td class=\"n\" "
      "id=\"total-users\">",
      r.total_users(), "</td></tr><tr><th>Active users</th><td class=\"n\" "
      "id=\"active-users\">",
      r.active_users(), "</td></tr><tr><th>Privileged users</th><td "
      "class=\"n\" id=\"privileged-count\">",
      r.privileged_users_size(), "</td></tr><tr><th>Dormant users (",
      r.dormant_days(), " days)</th><td class=\"n\" id=\"dormant-count\">",
      r.dormant_users_size(), "</td></tr><tr><th>Policy changes (",
      r.changes_days(), " days)</th><td class=\"n\" id=\"changes-count\">",
      r.policy_changes_size(), r.policy_changes_truncated() ? "+" : "",
      "</td></tr></table>\n");

  add("<h2>Privileged users</h2>\n<p class=\"note\">View-all, modify-all, "
      "manage-policy, manage-users and view-audit, and where each comes "
      "from.</p>\n<table id=\"privileged\"><tr><th>User</th><th>Username"
      "</th><th>Name</th><th>Profile</th><th>Privilege</th><th>Granted by"
      "</th></tr>\n");
  for (const crm::v1::PrivilegedUser& u : r.privileged_users()) {
    for (int i = 0; i < u.privileges_size(); ++i) {
      const crm::v1::PrivilegeGrant& g = u.privileges(i);
      add("<tr data-user=\"", HtmlEscape(u.user()), "\" data-privilege=\"",
          HtmlEscape(g.privilege()), "\"", u.active() ? "" : " class=\"inactive\"",
          ">", Td(u.user()), Td(u.username()), Td(u.display_name()),
          Td(u.profile()), Td(g.privilege()),
          Td(absl::StrJoin(g.sources(), "; ")), "</tr>\n");
    }
  }
  add("</table>\n");

  add("<h2>Users per profile</h2>\n<table id=\"profiles\"><tr><th>Profile"
      "</th><th>Name</th><th>Active</th><th>Inactive</th></tr>\n");
  for (const crm::v1::ProfileUserCount& p : r.profiles()) {
    add("<tr data-profile=\"", HtmlEscape(p.profile()), "\">", Td(p.profile()),
        Td(p.display_name()), "<td class=\"n active\">", p.active_users(),
        "</td><td class=\"n inactive-count\">", p.inactive_users(),
        "</td></tr>\n");
  }
  add("</table>\n");

  add("<h2>Dormant users</h2>\n<p class=\"note\">Active users created more "
      "than ",
      r.dormant_days(), " days ago with no successful login in the last ",
      r.dormant_days(), " days. ");
  if (r.has_audit_trail_start()) {
    add("Logins are known from the audit trail since <span "
        "id=\"trail-start\">",
        HtmlEscape(Time(r.audit_trail_start())),
        "</span>; \"none\" means none since then.");
  } else {
    add("The audit trail is empty: no login is known.");
  }
  add("</p>\n<table id=\"dormant\"><tr><th>User</th><th>Username</th><th>"
      "Name</th><th>Profile</th><th>Created</th><th>Last login</th></tr>\n");
  for (const crm::v1::DormantUser& d : r.dormant_users()) {
    add("<tr data-user=\"", HtmlEscape(d.user()), "\">", Td(d.user()),
        Td(d.username()), Td(d.display_name()), Td(d.profile()),
        Td(d.has_create_time() ? Time(d.create_time()) : "-"),
        Td(d.has_last_login() ? Time(d.last_login()) : "none"), "</tr>\n");
  }
  add("</table>\n");

  add("<h2>Recent policy changes</h2>\n<p class=\"note\">Policy, user and "
      "profile changes of the last ",
      r.changes_days(), " days, newest first",
      r.policy_changes_truncated() ? " (only the newest 1,000 are listed)"
                                   : "",
      ".</p>\n<table id=\"changes\"><tr><th>Sequence</th><th>Time</th><th>"
      "Who</th><th>Service</th><th>Action</th><th>Object</th><th>Changes"
      "</th></tr>\n");
  for (const crm::v1::AuditEvent& e : r.policy_changes()) {
    add("<tr data-sequence=\"", e.sequence(), "\">", "<td class=\"n\">",
        e.sequence(), "</td>", Td(Time(e.time())),
        Td(e.actor_user().empty() ? "-" : e.actor_user()),
        Td(e.actor_service()), Td(e.action()), Td(e.resource()), "<td><pre>",
        HtmlEscape(DiffText(e)), "</pre></td></tr>\n");
  }
  add("</table>\n</body></html>\n");
  return h;
}

}  // namespace crm::client
