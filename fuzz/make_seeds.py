#!/usr/bin/env python3
"""Writes the hand-made seed corpus (fuzz/corpus/<target>/seed-*) and the
dictionaries (fuzz/dict/<target>.dict).

Run from anywhere: fuzz/make_seeds.py. Deterministic; it rewrites only
seed-* files, so reproducers of findings (regress-*) stay. Each target's
input layout is described at the top of fuzz/<target>_fuzzer.cc.
"""
import os
import re
import struct

ROOT = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(ROOT)

# SchemaRegistry::Default().All() order (by collection name).
RESOURCES = ["accounts", "activities", "cases", "contacts", "leads",
             "opportunities"]
# checked_filter_fuzzer: index 0 is the test schema "widgets", then these.
CHECKED_SCHEMAS = ["widgets", "accounts", "contacts", "leads",
                   "opportunities", "cases", "activities"]


def write_seeds(target, seeds):
    d = os.path.join(ROOT, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for name in os.listdir(d):
        if name.startswith("seed-"):
            os.remove(os.path.join(d, name))
    for i, data in enumerate(seeds):
        if isinstance(data, str):
            data = data.encode()
        with open(os.path.join(d, "seed-%02d" % i), "wb") as f:
            f.write(data)


def write_dict(target, tokens):
    d = os.path.join(ROOT, "dict")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, target + ".dict"), "w") as f:
        f.write("# libFuzzer dictionary, written by fuzz/make_seeds.py\n")
        for t in tokens:
            esc = "".join(
                c if 32 <= ord(c) < 127 and c not in '"\\' else
                "\\x%02x" % ord(c) for c in t)
            f.write('"%s"\n' % esc)


# --- protobuf wire format, enough for the seeds ---------------------------
def varint(n):
    n &= (1 << 64) - 1
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field_varint(num, value):
    return varint(num << 3 | 0) + varint(value)


def field_bytes(num, data):
    if isinstance(data, str):
        data = data.encode()
    return varint(num << 3 | 2) + varint(len(data)) + data


def field_double(num, value):
    return varint(num << 3 | 1) + struct.pack("<d", value)


def timestamp(seconds, nanos=0):
    body = b""
    if seconds:
        body += field_varint(1, seconds)
    if nanos:
        body += field_varint(2, nanos)
    return body


# --- filter ----------------------------------------------------------------
FILTERS = [
    'a = 1',
    'display_name = "Acme" AND employee_count > 100',
    'NOT (stage = CLOSED_WON OR amount >= 1e6)',
    "label = 'it\\'s' OR ratio < -2.5E-3",
    '((count = 1))',
    'label != "Z\u00fcrich \u65e5\u672c \U0001F600" AND label >= "tab\\there"',
    'due_time >= "2024-01-01T00:00:00Z" AND due_time < '
    '"2024-01-01T00:00:00.000001Z"',
    'flag = true AND color = RED OR NOT flag != false',
    'count = -9223372036854775808 OR count > 2.5',
    'a = 1 and b = 2',
    'a = "unterminated',
    '  \t\n ',
]
write_seeds("filter", FILTERS)
FILTER_DICT = [
    "AND", "OR", "NOT", "(", ")", "=", "!=", "<", "<=", ">", ">=", '"', "'",
    "\\\\", "\\n", "\\'", "true", "false", "e", "E", ".", "-",
    "display_name", "employee_count", "annual_revenue", "stage", "amount",
    "create_time", "update_time", "owner", "label", "flag", "count", "ratio",
    "color", "due_time", "secret", "RED", "GREEN", "CLOSED_WON",
    "2024-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
    ".000001", "+01:00", "1e308", "9223372036854775807",
    "-9223372036854775808", "\u00fc", "\xc3",
]
write_dict("filter", FILTER_DICT)

# --- checked_filter: [schema][refused bits][seed lo][seed hi] + filter -----
def checked(schema, refused, seed, text):
    return bytes([CHECKED_SCHEMAS.index(schema), refused, seed & 0xFF,
                  seed >> 8]) + text.encode()


write_seeds("checked_filter", [
    checked("widgets", 0, 1, 'count > 2 AND label = "a"'),
    checked("widgets", 0, 2, 'ratio <= 1.5 OR NOT flag = true'),
    checked("widgets", 0, 3, 'color = RED OR color != "BLUE"'),
    checked("widgets", 0, 4, 'due_time > "2024-01-01T00:00:00Z"'),
    checked("widgets", 0, 5, 'count > 9007199254740992.5'),
    checked("widgets", 0, 6, 'count = 9223372036854775807 OR count < -1'),
    checked("widgets", 0x40, 7, 'secret = "x"'),
    checked("accounts", 0, 8,
            'employee_count >= 100 AND annual_revenue < 1e6 AND '
            'display_name > "M"'),
    checked("opportunities", 0, 9,
            'stage = CLOSED_WON AND close_time < "2030-01-01T00:00:00Z"'),
    checked("activities", 0x02, 10, 'kind = CALL OR subject = "hi"'),
    checked("widgets", 0, 11, 'label = 1'),
])
write_dict("checked_filter", FILTER_DICT + [
    "kind", "CALL", "close_time", "subject", "industry", "probability",
    "9007199254740992.5", "1e-300", "-0.0"])

# --- order_by: [schema][refused bits] + text -------------------------------
def order(schema, refused, text):
    return bytes([RESOURCES.index(schema), refused]) + text.encode()


write_seeds("order_by", [
    order("accounts", 0, "display_name desc, create_time"),
    order("accounts", 0, "employee_count DESC,annual_revenue ASC"),
    order("opportunities", 0, "stage, amount desc, close_time asc, "
          "display_name"),
    order("contacts", 0, ""),
    order("contacts", 0x04, "create_time"),
    order("leads", 0, "update_time desc,,"),
    order("cases", 0, "display_name display_name"),
])
write_dict("order_by", ["asc", "desc", "ASC", "DESC", ",", " ", "\t",
                        "create_time", "update_time", "display_name",
                        "employee_count", "annual_revenue", "stage", "amount",
                        "owner", "source", "subject", "kind", "close_time"])

# --- page_token: [mode] + body ---------------------------------------------
def token_payload(collection, qhash, values, last_id):
    body = field_bytes(1, collection) + field_bytes(2, qhash)
    for v in values:
        if isinstance(v, int):
            inner = field_varint(1, v)
        elif isinstance(v, float):
            inner = field_double(2, v)
        else:
            inner = field_bytes(3, v)
        body += field_bytes(3, inner)
    if last_id:
        body += field_bytes(4, last_id)
    return body


HASH = bytes(range(32))
write_seeds("page_token", [
    b"\x00" + b"CghhY2NvdW50cxIgAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
    b"\x00" + b"not-a-token",
    b"\x01" + token_payload("accounts", HASH,
                            [1704067200000000, "Z\u00fcrich", -2.5],
                            "acc_123"),
    b"\x01" + token_payload("contacts", HASH, [], "c1"),
    b"\x01" + token_payload("leads", b"", [7], ""),
    b"\x01" + token_payload("accounts", HASH, [1], "a") + b"\x03",
    b"\x02" + b"\x03\x05" + b"accountsa = 1x asc",
])

# --- resource_name: [collection set] + text ---------------------------------
write_seeds("resource_name", [
    b"\x00accounts/a-1_B",
    b"\x02contacts/" + b"x" * 64,
    b"\x03opportunities/o_1",
    b"\x00leads/x",
    b"\x00accounts/x/y",
    b"\x01contacts/",
    b"\x00v42",
    b"\x00v9223372036854775807",
    b"\x04users/u1",
])
write_dict("resource_name", ["accounts/", "contacts/", "leads/",
                             "opportunities/", "cases/", "activities/",
                             "users/", "/", "v", "-", "_"])

# --- record_codec: [schema + 6 * mode] + body --------------------------------
def record(schema, column_side, body):
    return bytes([RESOURCES.index(schema) + (6 if column_side else 0)]) + body


account = (field_bytes(10, "Acme Ltd") + field_bytes(11, "Retail") +
           field_bytes(15, "GB") + field_varint(16, 120) +
           field_double(17, 1.5e6))
opportunity = (field_bytes(10, "Deal \u00e9t\u00e9") +
               field_bytes(11, "accounts/a1") + field_varint(12, 5) +
               field_double(13, -12.5) + field_varint(15, 90) +
               field_bytes(16, timestamp(-86400, 123456000)))
write_seeds("record_codec", [
    record("accounts", False, account),
    record("opportunities", False, opportunity),
    # Output-only timestamps are converted before they are replaced.
    record("accounts", False, account +
           field_bytes(3, timestamp(1700000000, 5000))),
    record("opportunities", False,
           field_bytes(10, "x") + field_bytes(16, timestamp(253402300799,
                                                            999999999))),
    record("cases", False, field_bytes(10, "Broken") + field_varint(13, 99)),
    record("accounts", True, bytes(range(64))),
    record("activities", True, b"\xff" * 48 + b"\x00" * 16),
])

# --- cidr -------------------------------------------------------------------
write_seeds("cidr", [
    "10.0.0.0/8", "2001:db8::/32", "::ffff:10.0.0.0/104", "127.0.0.1",
    "ipv4:127.0.0.1:443", "ipv6:%5B::1%5D:443", "ipv6:[2001:db8::1]:8443",
    "10.0.0.1/8", "0.0.0.0/0\n::/0", " 192.168.1.0/24 \n10.1.2.3",
    "fe80::1%eth0", "::/0", "1.2.3.4/33",
])
write_dict("cidr", ["/", ":", "::", ".", "%5B", "%5D", "ipv4:", "ipv6:",
                    "::ffff:", "/32", "/128", "/96", "/0", "255", "ffff"])

# --- login_hours: [zone index] + spec ----------------------------------------
# Zone indexes: see kZones in login_hours_fuzzer.cc (0 UTC, 1 Europe/Berlin,
# 3 Australia/Lord_Howe, 4 Asia/Kathmandu, 7 "" (empty), 8 Not/AZone).
write_seeds("login_hours", [
    b"\x00mon-fri 08:00-12:00,13:00-18:00; sat 09:00-12:00",
    b"\x01fri-mon 22:00-24:00; tue 00:00-06:00",
    b"\x03 Mon,Wed 0:00-24:00 ;",
    b"\x04sun 23:59-24:00",
    b"\x07",
    b"\x07mon 08:00-09:00",
    b"\x08mon 08:00-09:00",
    b"\x00mon 09:00-08:00",
    b"\x01MON\t08:00 - 09:30 , 10:00-10:01",
])
write_dict("login_hours", ["mon", "tue", "wed", "thu", "fri", "sat", "sun",
                           "-", ",", ";", " ", "00:00", "24:00", "23:59",
                           "08:00-18:00"])

# --- config -------------------------------------------------------------------
with open(os.path.join(REPO, "server", "dev.textproto"), "rb") as f:
    dev = f.read()
write_seeds("config", [
    dev,
    'tls { ca_file: "ca.pem" cert_file: "s.pem" key_file: "s.key" }\n'
    'services { name: "a" identities: "spiffe://x/a" }\n',
    'listen_address: "127.0.0.1:0" database: "sqlite::memory:"\n'
    'log_level: "debug" database_pool_size: 1\n'
    'tls { ca_file: "a" cert_file: "b" key_file: "c" '
    'refresh_interval_seconds: 1 }\n'
    'services { name: "s" grants { object: "*" read: true } }\n'
    'connections { max_connections: 10 reserved_descriptors: 1 }\n',
    'log_level: "verbose"',
    'services { name: "x" } unknown_field: 1',
    'database_pool_size: -1',
])
# Every field name of the config proto, so the fuzzer can write known keys.
with open(os.path.join(REPO, "proto", "crm", "internal",
                       "server_config.proto")) as f:
    names = sorted(set(re.findall(r"^\s*(?:repeated\s+)?\w+\s+(\w+)\s*=\s*\d+;",
                                  f.read(), re.M)))
write_dict("config", names + ["{", "}", ":", '"', "true", "false", "#",
                              "\n", "<", ">", "[", "]", ","])
print("seeds and dictionaries written under", ROOT)
