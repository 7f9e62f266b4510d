#include "clients/resource_commands.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "clients/cli_args.h"
#include "clients/output_format.h"
#include "clients/resource_requests.h"
#include "crm/v1/annotations.pb.h"

namespace crm::client {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using Args = std::vector<std::string>;

// Collects pages; each verb is one entry of kVerbs below.
using VerbHandler = absl::Status (*)(CliSession&, const ResourceMethods&,
                                     const CommandArgs&);

struct Verb {
  const char* name;
  const char* usage;  // After "<collection> ".
  std::vector<FlagSpec> flags;
  size_t min_positional, max_positional;  // max SIZE_MAX: field=value list.
  VerbHandler run;
};

absl::Status PrintReply(CliSession& s, const Message& reply) {
  return s.PrintRecord(reply);
}

absl::Status Get(CliSession& s, const ResourceMethods& r,
                 const CommandArgs& a) {
  auto request = BuildGetRequest(r, a.positional[0]);
  if (!request.ok()) return request.status();
  auto reply = NewMessage(r.get->output_type());
  if (auto st = s.Call(r.get, **request, reply.get()); !st.ok()) return st;
  return PrintReply(s, *reply);
}

absl::Status List(CliSession& s, const ResourceMethods& r,
                  const CommandArgs& a) {
  ListOptions options{a.Get("filter"), a.Get("order-by"), 0,
                      a.Get("page-token")};
  if (a.Has("page-size") &&
      (!absl::SimpleAtoi(a.Get("page-size"), &options.page_size) ||
       options.page_size < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("list: --page-size '", a.Get("page-size"),
                     "' is not a positive integer"));
  }
  const bool all = a.Has("all");
  const FieldDescriptor* records = ListRecordsField(r);
  const FieldDescriptor* token = NextPageTokenField(r);
  auto combined = NewMessage(r.list->output_type());
  for (;;) {
    auto request = BuildListRequest(r, options);
    if (!request.ok()) return request.status();
    auto page = NewMessage(r.list->output_type());
    if (auto st = s.Call(r.list, **request, page.get()); !st.ok()) return st;
    combined->MergeFrom(*page);  // Appends records; token is the last page's.
    std::string next =
        token ? page->GetReflection()->GetString(*page, token) : "";
    if (!all || next.empty()) break;
    options.page_token = next;
  }
  if (all && token)
    combined->GetReflection()->ClearField(combined.get(), token);
  if (s.globals().output == OutputFormat::kJson) return s.PrintJson(*combined);
  std::vector<const Message*> rows;
  const auto* reflection = combined->GetReflection();
  for (int i = 0; i < reflection->FieldSize(*combined, records); ++i) {
    rows.push_back(&reflection->GetRepeatedMessage(*combined, records, i));
  }
  s.out() << FormatList(r.resource, rows,
                        token ? reflection->GetString(*combined, token) : "");
  return absl::OkStatus();
}

absl::Status Create(CliSession& s, const ResourceMethods& r,
                    const CommandArgs& a) {
  auto request =
      BuildCreateRequest(r, a.positional, a.Get("json"), a.Get("request-id"));
  if (!request.ok()) return request.status();
  auto reply = NewMessage(r.create->output_type());
  // With a request id a create is idempotent, so it is retried on
  // UNAVAILABLE like Get and List (the channel retries only those).
  const int attempts = a.Has("request-id")
                           ? std::clamp(s.globals().channel.max_attempts, 1, 5)
                           : 1;
  absl::Status st;
  for (int i = 0; i < attempts; ++i) {
    if (i > 0) absl::SleepFor(absl::Milliseconds(100 << i));
    st = s.Call(r.create, **request, reply.get());
    if (!absl::IsUnavailable(st)) break;
  }
  if (!st.ok()) return st;
  return PrintReply(s, *reply);
}

absl::Status Update(CliSession& s, const ResourceMethods& r,
                    const CommandArgs& a) {
  Args assignments(a.positional.begin() + 1, a.positional.end());
  auto request = BuildUpdateRequest(r, a.positional[0], assignments,
                                    a.Get("json"), a.Get("etag"));
  if (!request.ok()) return request.status();
  auto reply = NewMessage(r.update->output_type());
  if (auto st = s.Call(r.update, **request, reply.get()); !st.ok()) return st;
  return PrintReply(s, *reply);
}

absl::Status Delete(CliSession& s, const ResourceMethods& r,
                    const CommandArgs& a) {
  auto request = BuildDeleteRequest(r, a.positional[0], a.Get("etag"));
  if (!request.ok()) return request.status();
  auto reply = NewMessage(r.remove->output_type());
  if (auto st = s.Call(r.remove, **request, reply.get()); !st.ok()) return st;
  if (s.globals().output == OutputFormat::kJson) return s.PrintJson(*reply);
  s.out() << "deleted " << *ResourceName(r.collection, a.positional[0]) << "\n";
  return absl::OkStatus();
}

const std::vector<Verb>& Verbs() {
  static const auto* const kVerbs = new std::vector<Verb>{
      {"get", "get NAME", {}, 1, 1, Get},
      {"list",
       "list [--filter EXPR] [--order-by EXPR] [--page-size N] "
       "[--page-token T] [--all]",
       {{"filter", true},
        {"order-by", true},
        {"page-size", true},
        {"page-token", true},
        {"all", false}},
       0,
       0,
       List},
      {"create",
       "create FIELD=VALUE... | create --json '{...}'   [--request-id ID] "
       "(ID: up to 64 of [A-Za-z0-9._-], e.g. a UUID; the same ID again "
       "returns the first record instead of creating another)",
       {{"json", true}, {"request-id", true}},
       0,
       SIZE_MAX,
       Create},
      {"update",
       "update NAME FIELD=VALUE... [--json '{...}'] [--etag E]   "
       "(FIELD= clears; update_mask = the fields given)",
       {{"json", true}, {"etag", true}},
       1,
       SIZE_MAX,
       Update},
      {"delete", "delete NAME [--etag E]", {{"etag", true}}, 1, 1, Delete},
  };
  return *kVerbs;
}

std::string FieldLine(const FieldDescriptor* f) {
  std::string type = f->message_type() ? f->message_type()->full_name()
                     : f->enum_type()  ? f->enum_type()->name()
                                       : f->type_name();
  if (f->is_repeated()) type = "repeated " + type;
  const auto& behavior = f->options().GetExtension(crm::v1::field);
  std::vector<std::string> notes;
  if (behavior.output_only()) notes.push_back("output-only");
  if (behavior.required()) notes.push_back("required");
  if (behavior.immutable()) notes.push_back("immutable");
  if (behavior.sensitive()) notes.push_back("sensitive");
  if (const auto* e = f->enum_type()) {
    std::vector<std::string> values;
    for (int i = 0; i < e->value_count(); ++i)
      values.push_back(e->value(i)->name());
    notes.push_back(absl::StrCat("one of ", absl::StrJoin(values, "|")));
  }
  return absl::StrCat("  ", f->name(), " (", type, ")",
                      notes.empty() ? "" : ": ", absl::StrJoin(notes, ", "),
                      "\n");
}

}  // namespace

std::string ResourceHelp(const ResourceMethods& r) {
  std::string out = absl::StrCat("usage: crmctl [global flags] ", r.collection,
                                 " <verb> ...\n\nverbs:\n");
  for (const Verb& v : Verbs()) {
    absl::StrAppend(&out, "  ", r.collection, " ", v.usage, "\n");
  }
  absl::StrAppend(&out, "\nNAME is ", r.collection, "/ID or just ID.\n\n",
                  r.resource->full_name(), " fields:\n");
  for (int i = 0; i < r.resource->field_count(); ++i) {
    absl::StrAppend(&out, FieldLine(r.resource->field(i)));
  }
  return out;
}

absl::Status RunResourceCommand(CliSession& session, const ResourceMethods& r,
                                const Args& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h" ||
      args[0] == "help") {
    session.out() << ResourceHelp(r);
    return absl::OkStatus();
  }
  for (const Verb& v : Verbs()) {
    if (args[0] != v.name) continue;
    const std::string command = absl::StrCat(r.collection, " ", v.name);
    auto parsed =
        ParseCommandArgs(Args(args.begin() + 1, args.end()), v.flags, command);
    if (!parsed.ok()) return parsed.status();
    const size_t n = parsed->positional.size();
    if (n < v.min_positional || n > v.max_positional) {
      return absl::InvalidArgumentError(
          absl::StrCat(command, ": wrong arguments; usage: crmctl ",
                       r.collection, " ", v.usage));
    }
    return v.run(session, r, *parsed);
  }
  std::vector<std::string> names;
  for (const Verb& v : Verbs()) names.push_back(v.name);
  return absl::InvalidArgumentError(
      absl::StrCat("unknown verb '", args[0], "' for ", r.collection,
                   "; verbs: ", absl::StrJoin(names, ", ")));
}

}  // namespace crm::client
