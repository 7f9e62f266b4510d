#!/usr/bin/env python3
"""Checks an access-review page as a browser rendered it against the API.

usage: check_access_report.py DOM.html REPORT.json USERS.json

DOM.html is what headless Chromium serialised after loading the page
(`chromium --headless --dump-dom file://.../report.html`), REPORT.json the
same report from the API (`crmctl access report --json`), USERS.json the
users from UserAdminService (`crmctl users list --output json`). Prints one
"ok: ..." / "FAIL: ..." line per check and exits non-zero on a failure.
"""
import json
import sys
from html.parser import HTMLParser


class Page(HTMLParser):
    """Collects the texts of elements with an id, and table rows by table."""

    def __init__(self):
        super().__init__()
        self.ids = {}
        self.rows = {}  # table id -> [ {attrs, cells} ]
        self.scripts = 0
        self._id_stack = []
        self._table = None
        self._row = None
        self._cell = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            self.scripts += 1
        if tag == "table":
            self._table = a.get("id")
            self.rows.setdefault(self._table, [])
        if tag == "tr":
            self._row = {"attrs": a, "cells": []}
        if tag in ("td", "th") and self._row is not None:
            self._cell = ""
        self._id_stack.append((tag, a.get("id"), len(self.ids)))
        if a.get("id"):
            self.ids[a["id"]] = ""

    def handle_endtag(self, tag):
        while self._id_stack:
            t, _, _ = self._id_stack.pop()
            if t == tag:
                break
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row["cells"].append(self._cell.strip())
            self._cell = None
        if tag == "tr" and self._row is not None:
            if self._row["attrs"]:
                self.rows[self._table].append(self._row)
            self._row = None
        if tag == "table":
            self._table = None

    def handle_data(self, data):
        for _, ident, _ in self._id_stack:
            if ident:
                self.ids[ident] += data
        if self._cell is not None:
            self._cell += data


failed = 0


def check(label, got, want):
    global failed
    if got == want:
        print(f"ok: {label}")
    else:
        failed += 1
        print(f"FAIL: {label}: page shows {got!r}, API says {want!r}")


def get(message, name, default=None):
    """A field of proto3 JSON under its proto name or its lowerCamel name."""
    if name in message:
        return message[name]
    parts = name.split("_")
    return message.get(parts[0] + "".join(p.title() for p in parts[1:]), default)


def main():
    dom_path, report_path, users_path = sys.argv[1:4]
    page = Page()
    with open(dom_path, encoding="utf-8") as f:
        page.feed(f.read())
    with open(report_path, encoding="utf-8") as f:
        report = json.load(f)
    with open(users_path, encoding="utf-8") as f:
        users = json.load(f).get("users", [])

    check("the page has no script", page.scripts, 0)
    check("total users = the API's", int(page.ids.get("total-users", -1)),
          get(report, "total_users", 0))
    check("total users = UserAdminService's", int(page.ids.get("total-users", -1)),
          len(users))
    active = sum(1 for u in users if u.get("active"))
    check("active users = UserAdminService's",
          int(page.ids.get("active-users", -1)), active)
    privileged = get(report, "privileged_users", [])
    check("privileged users counted", int(page.ids.get("privileged-count", -1)),
          len(privileged))
    shown = sorted((r["attrs"]["data-user"], r["attrs"]["data-privilege"])
                   for r in page.rows.get("privileged", []))
    want = sorted((u["user"], g["privilege"])
                  for u in privileged for g in get(u, "privileges", []))
    check("privileges listed = the API's", shown, want)
    check("some privileges are listed", len(shown) > 0, True)

    per_profile = {}
    for u in users:
        c = per_profile.setdefault(u.get("profile", ""), [0, 0])
        c[0 if u.get("active") else 1] += 1
    for r in page.rows.get("profiles", []):
        profile = r["attrs"]["data-profile"]
        got = [int(r["cells"][2]), int(r["cells"][3])]
        check(f"{profile}: active/inactive users = UserAdminService's", got,
              per_profile.get(profile, [0, 0]))
    check("every profile with users is listed",
          sorted(r["attrs"]["data-profile"] for r in page.rows.get("profiles", [])
                 if r["cells"][2] != "0" or r["cells"][3] != "0"),
          sorted(p for p in per_profile))

    dormant = get(report, "dormant_users", [])
    check("dormant users counted", int(page.ids.get("dormant-count", -1)),
          len(dormant))
    check("dormant users listed",
          sorted(r["attrs"]["data-user"] for r in page.rows.get("dormant", [])),
          sorted(d["user"] for d in dormant))
    changes = get(report, "policy_changes", [])
    check("policy changes counted", page.ids.get("changes-count", "").rstrip("+"),
          str(len(changes)))
    check("policy changes listed, newest first",
          [int(r["attrs"]["data-sequence"]) for r in page.rows.get("changes", [])],
          [int(e["sequence"]) for e in changes])
    check("some changes are listed", len(changes) > 0, True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
