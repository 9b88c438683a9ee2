#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora and dictionaries from the spec fixtures.

    python3 fuzz/seed.py        # then: bash scripts/fuzz.sh cmin (keeps what adds coverage)

Sources: the scoring spec fixtures (crates/leadgate-core/tests/fixtures/*.json: a form and
cases of lead, context and expected hits), the demo's form (demo/contact.json) and the
committed JSON Schema (schema/leadgate-config.schema.json: its definitions, and every key and
name it knows for the config dictionary). Output: fuzz/corpus/<target>/<sha1> and
fuzz/dict/<target>.dict. Deterministic: the same fixtures give the same files.
"""

import glob
import hashlib
import json
import os
import uuid

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
FUZZ = os.path.join(ROOT, "fuzz")
FIXTURES = sorted(glob.glob(os.path.join(ROOT, "crates/leadgate-core/tests/fixtures/*.json")))
SCHEMA = os.path.join(ROOT, "schema/leadgate-config.schema.json")
DEMO = os.path.join(ROOT, "demo/contact.json")
NOW = 1_795_694_400_000


def compact(value):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def write(target, text):
    folder = os.path.join(FUZZ, "corpus", target)
    os.makedirs(folder, exist_ok=True)
    data = text.encode("utf-8")
    with open(os.path.join(folder, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


def write_dict(target, tokens):
    os.makedirs(os.path.join(FUZZ, "dict"), exist_ok=True)
    with open(os.path.join(FUZZ, "dict", target + ".dict"), "w") as f:
        f.write("# libFuzzer dictionary for the `%s` target (written by fuzz/seed.py)\n" % target)
        for token in sorted(set(tokens)):
            escaped = "".join(
                "\\\\" if c == "\\" else '\\"' if c == '"' else c if " " <= c <= "~" else "\\x%02X" % ord(c)
                for c in token
            )
            f.write('"%s"\n' % escaped)


def lead_id(n):
    return str(uuid.UUID(bytes=hashlib.md5(b"lead %d" % n).digest(), version=4))


fixtures = [json.load(open(path)) for path in FIXTURES]
schema = json.load(open(SCHEMA))
demo = json.load(open(DEMO))
cases = [(fx, case) for fx in fixtures for case in fx["cases"]]

# json: documents of every shape the reader meets, plus the corners of the grammar.
for fx in fixtures:
    write("json", compact(fx["form"]))
for _, case in cases[::4]:
    write("json", compact({"lead": case["lead"], "context": case["context"]}))
for name, definition in schema["$defs"].items():
    write("json", compact(definition))
for text in ["-0", "[1e22,-2.5E-3,0.1,123456789012345678901]", '"\\ud83d\\ude00\\u00e9\\n"',
             "[[[[[]]]]]", '{"a":{"b":[true,false,null]}}', "  [ ]  ", '"\\/\\b\\f\\r\\t"']:
    write("json", text)

# config: each fixture's form and the demo's.
for fx in fixtures:
    write("config", compact(fx["form"]))
write("config", compact(demo))

# payload: a payload per case, with the case's answers and context; the score made of the
# expected hits (so `check` passes: the points add up), meta and consent on some.
for n, (fx, case) in enumerate(cases):
    hits = [
        {"rule": h["rule"], "group": h.get("group", "fit"), "points": h["points"],
         "reason": "seed", "raw": h.get("raw", h["points"]), "times": 1}
        for h in case["expect"].get("hits", [])
    ]
    total = sum(h["points"] for h in hits)
    payload = {
        "schema_version": 1,
        "id": lead_id(n),
        "form_id": fx["form"]["form_id"],
        "submitted_at": case["now"],
        "fields": case["lead"],
        "score": {"total": total, "groups": {"fit": total}, "grade": "B", "qualified": total > 0,
                  "stage": "mql" if total > 0 else "lead", "hits": hits, "model": "seed"},
        "context": case["context"],
    }
    if n % 3 == 0:
        payload["meta"] = {"honeypot": "", "fill_ms": 5400}
    if n % 5 == 0:
        payload["consent"] = {"field": "consent", "agreed": True, "text": "I agree",
                              "version": "1", "at": case["now"]}
    write("payload", compact(payload))

# visitor_context: what the widget stores under `leadgate:visitor` (each case's context as
# the widget's memory) and under `leadgate:outbox` (entries carrying payload text).
for n, (_, case) in enumerate(cases):
    memory = dict(case["context"])
    memory.setdefault("visits", 1 + n % 4)
    memory.setdefault("pages_seen", len(memory.get("pages", [])))
    memory.setdefault("first_seen", NOW - 86_400_000)
    memory["last_activity"] = NOW - 60_000 * (n % 45)
    write("visitor_context", compact(memory))
for n in range(4):
    entry = {"id": lead_id(n), "body": compact({"schema_version": 1, "id": lead_id(n)}),
             "detail": {"form_id": "f", "lead_id": lead_id(n), "score": 40, "grade": "B",
                        "stage": "mql", "qualified": True, "error": None,
                        "fields": {"email": "ada@acme.io"} if n % 2 else None},
             "endpoint": "/v1/leads", "created_at": NOW, "expires_at": NOW + 7 * 86_400_000,
             "attempts": n, "next_at": NOW + 1000 * n, "dead_until": NOW if n == 3 else None,
             "last_error": "HTTP 503" if n else None, "dead_letter_days": 30}
    write("visitor_context", compact([entry] * (n + 1)))

# email: the fixtures' addresses and the unit tests' corner cases.
addresses = {v for _, case in cases for v in case["lead"].values() if isinstance(v, str) and "@" in v}
addresses |= {
    "ada@example.com", "first.last+tag@sub.example.co.uk", "o'neil@example.ie", "ada@",
    "ada@-example.com", "ada@@example.com", "ada@example", "ada@example..com", "{}@example.com",
    "ada@gmial.com", "ada@hotmial.com", "ada@outlok.com", "ada@comcats.net", "ada@gmail.con",
    "ada@yahooo.com", "info@gmail.com", "x@eu.mailinator.com", " Ada@GMAIL.com ", "a@b.c",
    "x@" + "a" * 63 + ".com", "x@" + "a" * 64 + ".com", "ada@hotmail.co.uk", "ada@t-online.de",
}
for address in sorted(addresses):
    write("email", address)

# Dictionaries.
json_tokens = ["{", "}", "[", "]", ":", ",", '"', "true", "false", "null", "-0", "0.", "e-",
               "E+", "1e308", "e-400", "\\u", "\\ud83d", "\\ude00", "\\n", "\\\\", " "]
names = set()


def collect(value):
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "properties" and isinstance(item, dict):
                names.update(item.keys())
            if key in ("enum", "const"):
                names.update(v for v in (item if isinstance(item, list) else [item]) if isinstance(v, str))
            collect(item)
    elif isinstance(value, list):
        for item in value:
            collect(item)


collect(schema)
write_dict("json", json_tokens)
write_dict("config", json_tokens + ['"%s"' % n for n in names] + ["*", "?", "/pricing*"])
write_dict("payload", json_tokens + ['"%s"' % k for k in [
    "schema_version", "id", "form_id", "submitted_at", "fields", "score", "total", "groups",
    "grade", "label", "qualified", "disqualified", "stage", "hits", "rule", "group", "points",
    "reason", "raw", "times", "kind", "cap", "model", "context", "consent", "meta", "honeypot",
    "fill_ms", "lead", "mql", "sql", "page_url", "referrer", "utm", "click_ids", "first_touch",
    "last_touch", "visits", "pages_seen", "landing_page", "pages", "url", "at", "first_seen",
    "seconds_on_site", "agreed", "text", "version", "field", lead_id(0),
    "2026-11-26T12:00:00Z", "\\u0000"]])
write_dict("visitor_context", json_tokens + ['"%s"' % k for k in [
    "first_seen", "first_touch", "last_touch", "visits", "pages_seen", "landing_page", "pages",
    "url", "at", "seconds_on_site", "last_activity", "page_url", "referrer", "utm", "click_ids",
    "utm_source", "gclid", "id", "body", "detail", "endpoint", "created_at", "expires_at",
    "attempts", "next_at", "dead_until", "last_error", "dead_letter_days", "form_id", "lead_id",
    "score", "grade", "stage", "qualified", "error", "4294967295", "18446744073709551615"]])
write_dict("email", ["@", ".", "+", "-", "..", "gmail.com", "gmial.com", "mailinator.com",
                     "yopmail.com", "hotmail.co.uk", "info", "sales", "noreply", ".com", ".co.uk"])
