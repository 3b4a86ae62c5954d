#!/usr/bin/env python3
"""Check the distsync Avro event schemas and the topic catalog.

Usage: schemas/check_schemas.py [--root DIR]   (DIR defaults to the directory of this script)

Needs only the standard library and fastavro. Exits 0 when everything is fine, 1 when any
problem is found (every problem is printed), 2 on bad usage. Checks:

  * every *.avsc is JSON, parses with fastavro on its own (self-contained), and survives a
    write/read round trip of a generated datum;
  * file layout: <stream>/<Record>.avsc is version 1, <stream>/<Record>.v<N>.avsc (N >= 2)
    version N, without gaps; the top-level record is named after the file, in namespace
    com.distsync.events, and a record name lives in one stream only;
  * conventions: a non-empty doc on every record, field and enum; every enum has a default
    that is one of its symbols; optional fields are ["null", T] with default null; fields
    ending in _at are timestamp-millis longs, fields ending in _date are dates;
    PascalCase type names, snake_case field names, UPPER_SNAKE enum symbols;
  * the first field of every event is `metadata`, whose type is an inline definition of
    EventMetadata written exactly as common/EventMetadata.avsc (same JSON, same key order);
  * a named type defined in several files (latest versions) has the same definition in all;
  * each new version can read data written with every earlier version (BACKWARD_TRANSITIVE,
    Avro schema resolution rules);
  * topics.json: every event type has a schema, every schema is on exactly one topic, the key
    format only uses top-level string fields of each event on the topic, services exist,
    co-partitioned topics have the same partition count and key.
"""
import argparse
import io
import json
import os
import re
import sys

try:
    import fastavro
    from fastavro.schema import parse_schema
except ImportError:  # pragma: no cover
    sys.stderr.write("check_schemas.py needs fastavro (pip install fastavro)\n")
    sys.exit(2)

NAMESPACE = "com.distsync.events"
PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
FILE_RE = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:\.v(?P<version>[0-9]+))?\.avsc$")
PASCAL = re.compile(r"^[A-Z][A-Za-z0-9]*$")
SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")
UPPER_SNAKE = re.compile(r"^[A-Z][A-Z0-9_]*$")

problems = []


def problem(where, msg):
    problems.append(f"{where}: {msg}")


def fullname(node, enclosing_ns):
    name = node["name"]
    if "." in name:
        return name
    return f"{node.get('namespace', enclosing_ns)}.{name}"


# --------------------------------------------------------------------------------------------
# walking a schema
# --------------------------------------------------------------------------------------------
def walk_named(schema, visit, ns=NAMESPACE, path="$"):
    """Call visit(node, fullname, path) on every named type definition (records, enums,
    fixed) in document order, and visit_field via the record."""
    if isinstance(schema, list):
        for i, branch in enumerate(schema):
            walk_named(branch, visit, ns, f"{path}|{i}")
        return
    if not isinstance(schema, dict):
        return
    kind = schema.get("type")
    if kind in ("record", "error", "enum", "fixed"):
        full = fullname(schema, ns)
        visit(schema, full, path)
        if kind in ("record", "error"):
            inner_ns = full.rsplit(".", 1)[0]
            for fld in schema.get("fields", []):
                walk_named(fld.get("type"), visit, inner_ns, f"{path}.{fld.get('name')}")
    elif kind == "array":
        walk_named(schema.get("items"), visit, ns, f"{path}[]")
    elif kind == "map":
        walk_named(schema.get("values"), visit, ns, f"{path}{{}}")
    elif isinstance(kind, (dict, list)):
        walk_named(kind, visit, ns, path)


def is_type(t, prim, logical=None):
    if isinstance(t, str):
        return t == prim and logical is None
    if isinstance(t, dict):
        return t.get("type") == prim and t.get("logicalType") == logical
    return False


def check_conventions(where, schema):
    def visit(node, full, path):
        kind = node["type"]
        if not isinstance(node.get("doc"), str) or not node["doc"].strip():
            problem(where, f"{kind} {full} ({path}) has no doc")
        if not PASCAL.match(node["name"].rsplit(".", 1)[-1]):
            problem(where, f"type name {node['name']} is not PascalCase")
        if kind == "enum":
            symbols = node.get("symbols", [])
            if "default" not in node:
                problem(where, f"enum {full} has no default symbol")
            elif node["default"] not in symbols:
                problem(where, f"enum {full} default {node['default']!r} is not a symbol")
            for s in symbols:
                if not UPPER_SNAKE.match(s):
                    problem(where, f"enum {full} symbol {s} is not UPPER_SNAKE")
        if kind in ("record", "error"):
            seen = set()
            for fld in node.get("fields", []):
                name = fld.get("name", "?")
                fpath = f"{path}.{name}"
                if name in seen:
                    problem(where, f"duplicate field {fpath}")
                seen.add(name)
                if not SNAKE.match(name):
                    problem(where, f"field {fpath} is not snake_case")
                if not isinstance(fld.get("doc"), str) or not fld["doc"].strip():
                    problem(where, f"field {fpath} has no doc")
                ftype = fld.get("type")
                inner = ftype
                if isinstance(ftype, list):
                    if "null" in ftype:
                        if len(ftype) != 2 or ftype[0] != "null":
                            problem(where, f"optional field {fpath} must be [\"null\", T]")
                        if "default" not in fld or fld["default"] is not None:
                            problem(where, f"optional field {fpath} must have default null")
                        inner = ftype[-1]
                    elif "default" in fld:
                        problem(where, f"union field {fpath} default is not checked; avoid it")
                if name.endswith("_at") and not is_type(inner, "long", "timestamp-millis"):
                    problem(where, f"field {fpath} ends in _at but is not timestamp-millis")
                if name.endswith("_date") and not is_type(inner, "int", "date"):
                    problem(where, f"field {fpath} ends in _date but is not a date")
                if "default" in fld and not isinstance(ftype, list):
                    check_default(where, fpath, ftype, fld["default"])

    walk_named(schema, visit)


def check_default(where, fpath, ftype, default):
    t = ftype.get("type") if isinstance(ftype, dict) else ftype
    ok = {
        "null": lambda v: v is None,
        "boolean": lambda v: isinstance(v, bool),
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "long": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "double": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "string": lambda v: isinstance(v, str),
        "bytes": lambda v: isinstance(v, str),
        "array": lambda v: isinstance(v, list),
        "map": lambda v: isinstance(v, dict),
        "record": lambda v: isinstance(v, dict),
    }
    if t == "enum":
        if default not in ftype.get("symbols", []):
            problem(where, f"field {fpath} default {default!r} is not a symbol")
    elif t in ok and not ok[t](default):
        problem(where, f"field {fpath} default {default!r} does not match type {t}")


def collect_named(schema):
    """fullname -> definition (first definition in document order)."""
    out = {}

    def visit(node, full, _path):
        out.setdefault(full, node)

    walk_named(schema, visit)
    return out


# --------------------------------------------------------------------------------------------
# Avro schema resolution: can `reader` read data written with `writer`?
# --------------------------------------------------------------------------------------------
PROMOTIONS = {
    "int": {"long", "float", "double"},
    "long": {"float", "double"},
    "float": {"double"},
    "string": {"bytes"},
    "bytes": {"string"},
}


class Resolver:
    def __init__(self, reader_names, writer_names):
        self.rn = reader_names
        self.wn = writer_names
        self.memo = {}  # (id(reader), id(writer)) -> errors; [] while in progress (recursion)

    def norm(self, t, names, ns=NAMESPACE):
        if isinstance(t, str):
            if t in PRIMITIVES:
                return t
            full = t if "." in t else f"{ns}.{t}"
            return names.get(full, names.get(t, t))
        if isinstance(t, dict) and t.get("type") in PRIMITIVES:
            return t["type"]  # logical types resolve as their underlying type
        return t

    def kind(self, t):
        if isinstance(t, list):
            return "union"
        if isinstance(t, str):
            return t
        return t.get("type")

    def errors(self, reader, writer, path="$"):
        r = self.norm(reader, self.rn)
        w = self.norm(writer, self.wn)
        rk, wk = self.kind(r), self.kind(w)
        if wk == "union":
            out = []
            for i, branch in enumerate(w):
                out += self.errors(reader, branch, f"{path}|{i}")
            return out
        if rk == "union":
            for branch in r:
                if not self.errors(branch, writer, path):
                    return []
            return [f"{path}: no branch of the reader union can read writer type {wk}"]
        if rk in PRIMITIVES or wk in PRIMITIVES:
            if rk == wk or rk in PROMOTIONS.get(wk, set()):
                return []
            return [f"{path}: reader type {rk} cannot read writer type {wk}"]
        if rk != wk:
            return [f"{path}: reader type {rk} cannot read writer type {wk}"]
        if rk == "array":
            return self.errors(r["items"], w["items"], f"{path}[]")
        if rk == "map":
            return self.errors(r["values"], w["values"], f"{path}{{}}")
        rname, wname = r["name"].rsplit(".", 1)[-1], w["name"].rsplit(".", 1)[-1]
        aliases = {a.rsplit(".", 1)[-1] for a in r.get("aliases", [])}
        if rname != wname and wname not in aliases:
            return [f"{path}: named type {rname} cannot read {wname}"]
        if rk == "fixed":
            return [] if r.get("size") == w.get("size") else [f"{path}: fixed size differs"]
        if rk == "enum":
            missing = [s for s in w.get("symbols", []) if s not in r.get("symbols", [])]
            if missing and "default" not in r:
                return [f"{path}: enum {rname} lost symbols {missing} and has no default"]
            return []
        key = (id(r), id(w))
        if key in self.memo:
            return self.memo[key]
        self.memo[key] = []
        out = []
        wfields = {fl["name"]: fl for fl in w.get("fields", [])}
        for rf in r.get("fields", []):
            names = [rf["name"]] + list(rf.get("aliases", []))
            wf = next((wfields[n] for n in names if n in wfields), None)
            if wf is None:
                if "default" not in rf:
                    out.append(f"{path}.{rf['name']}: new field without default")
            else:
                out += self.errors(rf["type"], wf["type"], f"{path}.{rf['name']}")
        self.memo[key] = out
        return out


# --------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------
def load_json(path, where):
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError) as err:
        problem(where, f"cannot read JSON: {err}")
        return None


def roundtrip(where, schema):
    try:
        parsed = parse_schema(schema, named_schemas={})
    except Exception as err:  # fastavro raises several exception types
        problem(where, f"fastavro cannot parse it: {err}")
        return
    try:
        from fastavro.utils import generate_one
    except ImportError:  # older fastavro: parsing is the check
        return
    try:
        datum = generate_one(parsed)
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, parsed, datum)
        buf.seek(0)
        fastavro.schemaless_reader(buf, parsed)
    except Exception as err:
        problem(where, f"write/read round trip failed: {err}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", default=os.path.dirname(os.path.abspath(__file__)),
                    help="schemas directory (default: the directory of this script)")
    args = ap.parse_args()
    root = args.root

    common_path = os.path.join(root, "common", "EventMetadata.avsc")
    common = load_json(common_path, "common/EventMetadata.avsc")
    if common is not None:
        check_conventions("common/EventMetadata.avsc", common)
        roundtrip("common/EventMetadata.avsc", common)
    common_text = json.dumps(common) if common is not None else None

    # record name -> {version: (relpath, schema)}; record name -> stream
    records, streams = {}, {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        rel_dir = os.path.relpath(dirpath, root)
        for fn in sorted(filenames):
            if not fn.endswith(".avsc"):
                continue
            rel = os.path.normpath(os.path.join(rel_dir, fn))
            if rel == os.path.join("common", "EventMetadata.avsc"):
                continue
            if rel_dir == "." or os.sep in rel_dir:
                problem(rel, "schemas live in schemas/<stream>/<Record>.avsc")
                continue
            m = FILE_RE.match(fn)
            if not m:
                problem(rel, "file name must be <Record>.avsc or <Record>.v<N>.avsc")
                continue
            version = int(m.group("version") or 1)
            if m.group("version") is not None and version < 2:
                problem(rel, "version suffixes start at .v2 (no suffix is version 1)")
            schema = load_json(os.path.join(dirpath, fn), rel)
            if schema is None:
                continue
            name = m.group("name")
            if streams.setdefault(name, rel_dir) != rel_dir:
                problem(rel, f"record {name} also lives in stream {streams[name]}")
            records.setdefault(name, {})[version] = (rel, schema)

            if not isinstance(schema, dict) or schema.get("type") != "record":
                problem(rel, "top level must be a record (no top-level unions)")
                continue
            if schema.get("name") != name:
                problem(rel, f"record name {schema.get('name')!r} differs from file name {name}")
            if schema.get("namespace") != NAMESPACE:
                problem(rel, f"namespace must be {NAMESPACE}")
            check_conventions(rel, schema)
            roundtrip(rel, schema)
            fields = schema.get("fields") or []
            if not fields or fields[0].get("name") != "metadata":
                problem(rel, "first field must be `metadata`")
            elif common_text is not None and json.dumps(fields[0].get("type")) != common_text:
                problem(rel, "metadata type is not exactly common/EventMetadata.avsc inline")

    for name, versions in sorted(records.items()):
        expected = list(range(1, max(versions) + 1))
        if sorted(versions) != expected:
            problem(name, f"versions {sorted(versions)} have gaps (expected {expected})")

    # shared named types: identical across the latest version of every record
    shared = {}
    for name, versions in sorted(records.items()):
        rel, schema = versions[max(versions)]
        for full, node in collect_named(schema).items():
            if full == f"{NAMESPACE}.{name}":
                continue
            canon = json.dumps(node, sort_keys=True)
            if full in shared and shared[full][1] != canon:
                problem(rel, f"{full} differs from its definition in {shared[full][0]}")
            shared.setdefault(full, (rel, canon))

    # BACKWARD_TRANSITIVE: the newest version reads every older one (and so on down)
    for name, versions in sorted(records.items()):
        vs = sorted(versions)
        for i, newer in enumerate(vs):
            nrel, nschema = versions[newer]
            for older in vs[:i]:
                orel, oschema = versions[older]
                res = Resolver(collect_named(nschema), collect_named(oschema))
                for err in res.errors(nschema, oschema):
                    problem(nrel, f"cannot read data written with {orel}: {err}")

    check_topics(root, records)

    n_files = sum(len(v) for v in records.values())
    if problems:
        for p in problems:
            print(f"ERROR {p}")
        print(f"{len(problems)} problem(s) in {n_files} event schema file(s)")
        return 1
    print(f"ok: {n_files} event schema files ({len(records)} event types) and "
          f"common/EventMetadata.avsc; topics.json consistent")
    return 0


def check_topics(root, records):
    where = "topics.json"
    catalog = load_json(os.path.join(root, "topics.json"), where)
    if catalog is None:
        return
    services = {s["name"] for s in catalog.get("services", [])}
    topics = catalog.get("topics", [])
    by_name = {}
    placed = {}
    for t in topics:
        tname = t.get("name", "?")
        tw = f"{where} {tname}"
        if tname in by_name:
            problem(tw, "duplicate topic")
        by_name[tname] = t
        for key in ("description", "key", "partitions", "cleanup_policy", "producers",
                    "consumers", "event_types", "public", "schema_dir"):
            if key not in t:
                problem(tw, f"missing {key}")
        if t.get("cleanup_policy") not in ("delete", "compact"):
            problem(tw, "cleanup_policy must be delete or compact")
        if not isinstance(t.get("partitions"), int) or t["partitions"] < 1:
            problem(tw, "partitions must be a positive integer")
        for svc in t.get("producers", []) + t.get("consumers", []):
            if svc not in services:
                problem(tw, f"unknown service {svc!r}")
        key_format = (t.get("key") or {}).get("format", "")
        key_fields = re.findall(r"\{([a-z_][a-z0-9_]*)\}", key_format)
        if not key_fields:
            problem(tw, "key.format must name at least one {field}")
        for ev in t.get("event_types", []):
            if ev in placed:
                problem(tw, f"{ev} is already on topic {placed[ev]}")
            placed[ev] = tname
            if ev not in records:
                problem(tw, f"no schema for event type {ev}")
                continue
            versions = records[ev]
            rel, schema = versions[max(versions)]
            if not rel.startswith(t.get("schema_dir", "") + os.sep):
                problem(tw, f"{ev} should live in schemas/{t.get('schema_dir')}/ (is {rel})")
            top = {fl["name"]: fl["type"] for fl in schema.get("fields", [])}
            for kf in key_fields:
                if top.get(kf) != "string":
                    problem(tw, f"key field {kf} is not a top-level string field of {ev}")
    for t in topics:
        other = t.get("co_partitioned_with")
        if other:
            o = by_name.get(other)
            if o is None:
                problem(f"{where} {t['name']}", f"co_partitioned_with unknown topic {other}")
            elif (o.get("partitions") != t.get("partitions")
                  or (o.get("key") or {}).get("format") != (t.get("key") or {}).get("format")):
                problem(f"{where} {t['name']}",
                        f"must have the partitions and key format of {other}")
    for ev in sorted(set(records) - set(placed)):
        problem(where, f"event type {ev} is on no topic")


if __name__ == "__main__":
    sys.exit(main())
