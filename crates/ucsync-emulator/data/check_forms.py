#!/usr/bin/env python3
"""Check crates/ucsync-emulator/data/cm-forms.toml against its schema and rules.

Usage: python3 check_forms.py [path/to/cm-forms.toml]
Exits 0 and prints "OK ..." when every rule holds; otherwise prints every
violation found and exits 1. Needs only the standard library (tomllib, 3.11+).
"""

import re
import sys
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
FORMS = HERE / "cm-forms.toml"
VOCAB = HERE.parent.parent / "ucsync-ossi" / "data" / "sat-vocabulary.toml"

FID_RE = re.compile(r"^[0-9a-f]{8}$")
KEY_KINDS = {"extension", "number", "location"}
FIELD_KINDS = {"key", "text", "digits", "int", "enum", "yn", "ref", "port"}
TEXT_GENS = {"person", "label", "const", "empty"}
COMMON_ATTRS = {"fid", "name", "kind", "fill", "secret", "version"}
KIND_ATTRS = {
    "key": set(),
    "text": {"max", "gen", "label", "value"},
    "digits": {"min", "max", "value", "start"},
    "int": {"min", "max", "default"},
    "enum": {"values", "weights"},
    "yn": {"default"},
    "ref": {"form"},
    "port": set(),
}
PROFILES_REQUIRED = ("empty", "small", "large")

REQUIRED_FORMS = [
    "ip-network-region", "signaling-group", "trunk-group", "route-pattern",
    "cabinet", "board", "coverage path", "station", "hunt-group",
    "pickup-group", "announcement", "vector", "vdn", "agent-loginID",
    "system-parameters special-applications", "system-parameters features",
    "system-parameters cdr", "system-parameters customer-options",
    "system-parameters security", "system-parameters country-options",
    "system-parameters maintenance", "dialplan analysis", "dialplan parameters",
]
SINGLE_FORMS = {f for f in REQUIRED_FORMS
                if f.startswith("system-parameters ") or f.startswith("dialplan ")}

# Required refs: (form, target) pairs that must exist.
REQUIRED_REFS = [
    ("trunk-group", "signaling-group"),
    ("route-pattern", "trunk-group"),
    ("hunt-group", "station"),
    ("pickup-group", "station"),
    ("vdn", "vector"),
    ("agent-loginID", "hunt-group"),
]

# Station: real field ids (fid -> (name, kind)).
STATION_REAL = {
    "8005ff00": ("Extension", "key"),
    "004fff00": ("Type", "enum"),
    "8004ff00": ("Port", "port"),
    "8003ff00": ("Name", "text"),
    "8001ff00": ("COR", "int"),
    "8002ff00": ("COS", "int"),
    "4a3bff00": ("TN", "int"),
    "8007ff00": ("Coverage Path 1", "ref"),
    "ce2aff00": ("Coverage Path 2", "ref"),
    "4e22ff00": ("Hunt-to Station", "ref"),
    "0031ff00": ("Room", "text"),
    "0032ff00": ("Jack", "text"),
    "0033ff00": ("Cable", "text"),
    "0fa5ff00": ("Floor", "text"),
    "0fa4ff00": ("Building", "text"),
    "0016ff00": ("Security Code", "digits"),
    "002cff00": ("Message Waiting Indicator", "enum"),
    "4a42ff00": ("Message Lamp Ext.", None),
    "0011ff00": ("Off Premises Station", "yn"),
    "e613ff00": ("Loss Group", "int"),
}
STATION_UNNAMED = ["700dff00", "6a01ff00", "0019ff00"]
STATION_LIST = ("8005ff00 8004ff00 8003ff00 0031ff00 8007ff00 8001ff00 0033ff00 "
                "4e22ff00 004fff00 700dff00 6a01ff00 0019ff00 ce2aff00 8002ff00 "
                "4a3bff00 0032ff00").split()
STATION_TYPES = ["9611SIP", "9641SIP", "9608", "9620", "2420", "4620", "J179",
                 "1616", "6408D+", "2500"]

# Extension starts required by the brief: (form, which) -> start.
EXT_STARTS = {
    ("station", "key"): 1001,
    ("agent-loginID", "key"): 50000,
    ("vdn", "key"): 60000,
    ("hunt-group", "8006ff00"): 80000,
    ("announcement", "key"): 85000,
}

REQUIRED_COUNTS = {
    "small": {"station": 300, "agent-loginID": 40, "hunt-group": 20,
              "pickup-group": 10, "coverage-path": 20, "announcement": 20,
              "vector": 30, "vdn": 40, "trunk-group": 8, "signaling-group": 8,
              "route-pattern": 20, "ip-network-region": 5, "cabinet": 1,
              "board": 12},
    "large": {"station": 41000, "agent-loginID": 10000, "hunt-group": 2000,
              "vector": 8000, "vdn": 20000, "pickup-group": 1000,
              "coverage-path": 2000, "announcement": 3000, "trunk-group": 400,
              "signaling-group": 300, "route-pattern": 1000,
              "ip-network-region": 250, "cabinet": 8, "board": 400},
}

errors = []


def err(where, msg):
    errors.append(f"{where}: {msg}")


def otype(phrase):
    return "-".join(phrase.split(" "))


def is_num(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def location_keys(n):
    """Board locations in generation order: 01A01..01A20, 01B01, ... 01E20, 02A01 ..."""
    out = []
    cab = 1
    while len(out) < n:
        for carrier in "ABCDE":
            for slot in range(1, 21):
                if len(out) == n:
                    return out
                out.append(f"{cab:02d}{carrier}{slot:02d}")
        cab += 1
    return out


def key_strings(key, count):
    """The generated keys of a keyed form (as strings), for `count` objects."""
    if count <= 0:
        return []
    kind = key["kind"]
    if kind == "location":
        return location_keys(count)
    start = key.get("start", 1)
    return [str(start + i) for i in range(count)]


def main():
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else FORMS
    with open(path, "rb") as f:
        doc = tomllib.load(f)
    with open(VOCAB, "rb") as f:
        vocab = tomllib.load(f)
    phrases = {" ".join(o["words"].split()) for o in vocab["object"]}

    top = set(doc) - {"profiles", "form"}
    if top:
        err("file", f"unexpected top-level keys {sorted(top)}")
    profiles = doc.get("profiles", {})
    forms = doc.get("form", [])
    if not isinstance(forms, list) or not forms:
        err("file", "no [[form]] tables")
        forms = []

    # ---- forms: order, phrases, structure --------------------------------
    seen = {}          # object phrase -> form
    order = []
    for i, form in enumerate(forms):
        obj = form.get("object")
        where = f"form #{i + 1} ({obj})"
        if not isinstance(obj, str) or not obj:
            err(where, "missing object")
            continue
        if obj != " ".join(obj.split()) or obj != obj.strip():
            err(where, "object words must be separated by exactly one space")
        if obj not in phrases:
            err(where, f"object phrase '{obj}' is not in {VOCAB.name}")
        if obj in seen:
            err(where, "duplicate form")
        extra = set(form) - {"object", "key", "list", "field"}
        if extra:
            err(where, f"unknown form attributes {sorted(extra)}")
        check_form(form, where, seen)
        seen[obj] = form
        order.append(obj)

    for obj in REQUIRED_FORMS:
        if obj not in seen:
            err("file", f"required form '{obj}' is missing")
    for obj in SINGLE_FORMS:
        if obj in seen and "key" in seen[obj]:
            err(obj, "a single system-wide form must not have a key")

    keyed = {obj: f for obj, f in seen.items() if "key" in f}

    for src, dst in REQUIRED_REFS:
        if src in seen and not any(fl.get("kind") == "ref" and fl.get("form") == dst
                                   for fl in seen[src].get("field", [])):
            err(src, f"needs a ref field to '{dst}'")

    # ---- profiles ------------------------------------------------------------
    for p in PROFILES_REQUIRED:
        if p not in profiles:
            err("profiles", f"profile '{p}' missing")
    keyed_types = {otype(o): o for o in keyed}
    for pname, counts in profiles.items():
        where = f"profiles.{pname}"
        if not isinstance(counts, dict):
            err(where, "must be a table")
            continue
        for t, n in counts.items():
            if t not in keyed_types:
                err(where, f"'{t}' is not the object type of a keyed form")
            if not isinstance(n, int) or isinstance(n, bool) or n < 0:
                err(where, f"count of '{t}' must be a non-negative integer")
            if pname == "empty" and n != 0:
                err(where, f"'{t}' must be 0 in the empty profile")
        if pname != "empty":
            for t in keyed_types:
                if t not in counts:
                    err(where, f"no count for keyed type '{t}'")
    for pname, req in REQUIRED_COUNTS.items():
        counts = profiles.get(pname, {})
        for t, n in req.items():
            if counts.get(t) != n:
                err(f"profiles.{pname}", f"'{t}' must be {n}, is {counts.get(t)}")

    def count(pname, obj):
        return profiles.get(pname, {}).get(otype(obj), 0)

    # number keys: max >= every profile count; board locations fit the cabinets
    for obj, f in keyed.items():
        key = f["key"]
        for pname in profiles:
            n = count(pname, obj)
            if key.get("kind") == "number" and "max" in key:
                if key.get("start", 1) + n - 1 > key["max"]:
                    err(obj, f"key max {key['max']} < profile {pname} count {n}")
            if key.get("kind") == "location":
                cabinets = count(pname, "cabinet")
                if n > cabinets * 5 * 20:
                    err(obj, f"profile {pname}: {n} boards do not fit in "
                             f"{cabinets} cabinets x 5 carriers x 20 slots")
        if key.get("kind") == "number" and "max" not in key:
            err(obj, "number key without max")

    # ---- extension ranges ------------------------------------------------------
    for (obj, which), start in EXT_STARTS.items():
        f = seen.get(obj)
        if not f:
            continue
        if which == "key":
            k = f.get("key", {})
            if k.get("kind") != "extension" or k.get("start") != start:
                err(obj, f"key must be kind extension starting at {start}")
        else:
            fl = field_by_fid(f).get(which)
            if not fl or fl.get("kind") != "digits" or fl.get("start") != start:
                err(obj, f"field {which} must be digits with start = {start}")
    for pname in profiles:
        ranges = []
        for obj, f in seen.items():
            k = f.get("key")
            n = count(pname, obj) if k else 0
            if n == 0:
                continue
            if k.get("kind") == "extension":
                ranges.append((k["start"], k["start"] + n - 1, f"{obj} key"))
            for fl in f.get("field", []):
                if fl.get("kind") == "digits" and "start" in fl:
                    s = fl["start"]
                    ranges.append((s, s + n - 1, f"{obj} {fl['name']}"))
                    if len(str(s + n - 1)) > fl.get("max", 0):
                        err(obj, f"{fl['fid']}: profile {pname} values exceed max length")
        ranges.sort()
        for a, b in zip(ranges, ranges[1:]):
            if b[0] <= a[1]:
                err(f"profiles.{pname}",
                    f"extension ranges overlap: {a[2]} {a[0]}-{a[1]} and {b[2]} {b[0]}-{b[1]}")

    # ---- label lengths with the longest key ------------------------------------
    for obj, f in keyed.items():
        longest = max((len(s) for p in profiles
                       for s in key_strings(f["key"], count(p, obj))), default=0)
        for fl in f.get("field", []):
            if fl.get("kind") == "text" and fl.get("gen") == "label" and "max" in fl:
                need = len(fl.get("label", "").replace("{n}", "")) + longest
                if need > fl["max"]:
                    err(obj, f"{fl['fid']} label '{fl.get('label')}' needs {need} "
                             f"characters, max is {fl['max']}")

    # ---- refs from single forms / to empty targets -----------------------------
    for obj, f in seen.items():
        for fl in f.get("field", []):
            if fl.get("kind") != "ref":
                continue
            tgt = fl.get("form")
            fill = fl.get("fill", 1.0)
            for pname in profiles:
                src_n = count(pname, obj) if "key" in f else 1
                if src_n and fill > 0 and tgt in keyed and count(pname, tgt) == 0:
                    err(obj, f"{fl['fid']} refs '{tgt}' with fill {fill}, but profile "
                             f"{pname} has no '{tgt}' objects")

    # ---- objects named inside generated values exist ---------------------------
    check_named_objects(seen, profiles, count)

    # ---- station -------------------------------------------------------------
    check_station(seen.get("station"))

    # ---- version field ---------------------------------------------------------
    versions = [(obj, fl) for obj, f in seen.items() for fl in f.get("field", [])
                if "version" in fl]
    if len(versions) != 1:
        err("file", f"exactly one field must have version = true, found {len(versions)}")
    for obj, fl in versions:
        if fl["version"] is not True:
            err(obj, f"{fl['fid']}: version must be true")
        if obj != "system-parameters customer-options":
            err(obj, f"{fl['fid']}: the version field belongs in system-parameters customer-options")

    # ---- CTA/PSA/TTI field --------------------------------------------------------
    feat = seen.get("system-parameters features", {})
    cta = [fl for fl in feat.get("field", [])
           if fl.get("name", "").rstrip("?") == "CTA/PSA/TTI Transactions in History Log"]
    if len(cta) != 1 or cta[0].get("kind") != "yn" or cta[0].get("default") != "y":
        err("system-parameters features",
            "needs one yn field 'CTA/PSA/TTI Transactions in History Log' with default y")

    if errors:
        for e in errors:
            print("ERROR", e)
        print(f"{len(errors)} error(s) in {path}")
        return 1
    nfields = sum(len(f.get("field", [])) for f in forms)
    print(f"OK {path}: {len(forms)} forms ({len(keyed)} keyed), {nfields} fields, "
          f"profiles {', '.join(profiles)}")
    if cta:
        print(f"   CTA/PSA/TTI Transactions in History Log: {cta[0]['fid']}")
    for obj, fl in versions:
        print(f"   version field: {obj} {fl['fid']} '{fl['name']}'")
    return 0


def field_by_fid(form):
    return {fl.get("fid"): fl for fl in form.get("field", [])}


def check_form(form, where, earlier):
    obj = form["object"]
    fields = form.get("field", [])
    key = form.get("key")
    if not isinstance(fields, list):
        err(where, "field must be an array of tables")
        return
    if len(fields) < 10:
        err(where, f"has {len(fields)} fields, needs at least 10")

    fids = [fl.get("fid") for fl in fields]
    dup = {x for x in fids if fids.count(x) > 1}
    if dup:
        err(where, f"duplicate fids {sorted(dup)}")
    names = [fl.get("name") for fl in fields]
    dupn = {x for x in names if names.count(x) > 1}
    if dupn:
        err(where, f"duplicate field names {sorted(dupn)}")

    # key / list
    keys = [fl for fl in fields if fl.get("kind") == "key"]
    if key is None:
        if keys:
            err(where, "a single form must not have a key field")
        if "list" in form:
            err(where, "a single form must not have a list")
    else:
        if not isinstance(key, dict):
            err(where, "key must be an inline table")
            return
        extra = set(key) - {"field", "kind", "start", "max"}
        if extra:
            err(where, f"unknown key attributes {sorted(extra)}")
        if key.get("kind") not in KEY_KINDS:
            err(where, f"key kind must be one of {sorted(KEY_KINDS)}")
        if key.get("kind") in ("extension", "number"):
            if not isinstance(key.get("start"), int) or key["start"] < 0:
                err(where, "key needs an integer start")
        if key.get("kind") == "extension" and "max" in key:
            err(where, "max is for number keys")
        if key.get("kind") == "location" and ("start" in key or "max" in key):
            err(where, "a location key takes no start/max")
        if len(keys) != 1:
            err(where, f"needs exactly one key field, has {len(keys)}")
        elif keys[0].get("fid") != key.get("field"):
            err(where, f"key field {keys[0].get('fid')} != key.field {key.get('field')}")
        lst = form.get("list")
        if not isinstance(lst, list):
            err(where, "a keyed form needs a list")
        else:
            if not (5 <= len(lst) <= 16):
                err(where, f"list has {len(lst)} fields, needs 5..16")
            if not lst or lst[0] != key.get("field"):
                err(where, "list must start with the key field")
            if len(set(lst)) != len(lst):
                err(where, "list repeats a field")
            for fid in lst:
                if fid not in fids:
                    err(where, f"list field {fid} is not a field of the form")

    for fl in fields:
        check_field(fl, f"{where} {fl.get('fid')}", obj, earlier)


def check_field(fl, where, obj, earlier):
    fid = fl.get("fid")
    kind = fl.get("kind")
    if not isinstance(fid, str) or not FID_RE.match(fid):
        err(where, "fid must be 8 lower-case hex digits")
    elif not (fid.endswith("ff00") or re.fullmatch(r"[0-9a-f]{4}01[0-9]{2}", fid)):
        err(where, "fid instance must be ff00 or 01NN")
    if not isinstance(fl.get("name"), str) or not fl["name"].strip():
        err(where, "missing name")
    if kind not in FIELD_KINDS:
        err(where, f"kind '{kind}' unknown")
        return
    extra = set(fl) - COMMON_ATTRS - KIND_ATTRS[kind]
    if extra:
        err(where, f"attributes {sorted(extra)} are not allowed for kind {kind}")
    if "fill" in fl:
        if not is_num(fl["fill"]) or not (0.0 <= fl["fill"] <= 1.0):
            err(where, "fill must be a number in 0.0..1.0")
        if kind == "key":
            err(where, "a key is always filled")
    if "secret" in fl and not isinstance(fl["secret"], bool):
        err(where, "secret must be a boolean")
    if "version" in fl and kind != "text":
        err(where, "the version field must be text")

    def need_int(attr, lo=None):
        v = fl.get(attr)
        if not isinstance(v, int) or isinstance(v, bool):
            err(where, f"{attr} (integer) is required")
            return None
        if lo is not None and v < lo:
            err(where, f"{attr} must be >= {lo}")
        return v

    if kind == "text":
        mx = need_int("max", 1)
        gen = fl.get("gen")
        if gen is not None and gen not in TEXT_GENS:
            err(where, f"gen must be one of {sorted(TEXT_GENS)}")
        if gen == "label":
            if not isinstance(fl.get("label"), str) or "{n}" not in fl["label"]:
                err(where, "gen label needs label containing {n}")
        elif "label" in fl:
            err(where, "label only with gen = label")
        if gen == "const":
            if not isinstance(fl.get("value"), str):
                err(where, "gen const needs a string value")
            elif mx and len(fl["value"]) > mx:
                err(where, f"value '{fl['value']}' longer than max {mx}")
        elif "value" in fl:
            err(where, "value only with gen = const")
        if gen == "person" and mx and mx < 15:
            err(where, "a person name needs max >= 15")
    elif kind == "digits":
        lo, hi = need_int("min", 1), need_int("max", 1)
        if lo and hi and lo > hi:
            err(where, "min > max")
        if "value" in fl:
            v = fl["value"]
            if not isinstance(v, str) or not v.isdigit() or (lo and hi and not lo <= len(v) <= hi):
                err(where, "value must be a digit string of an allowed length")
        if "start" in fl:
            s = fl["start"]
            if not isinstance(s, int) or isinstance(s, bool) or s < 0:
                err(where, "start must be a non-negative integer")
            elif lo and hi and not lo <= len(str(s)) <= hi:
                err(where, "start has a length outside min..max")
            if "value" in fl:
                err(where, "start and value exclude each other")
    elif kind == "int":
        lo, hi = need_int("min"), need_int("max")
        if lo is not None and hi is not None:
            if lo > hi:
                err(where, "min > max")
            if "default" in fl:
                d = fl["default"]
                if not isinstance(d, int) or isinstance(d, bool) or not lo <= d <= hi:
                    err(where, f"default {d} outside {lo}..{hi}")
    elif kind == "enum":
        vals = fl.get("values")
        if not isinstance(vals, list) or not vals or not all(isinstance(v, str) for v in vals):
            err(where, "values (non-empty list of strings) is required")
            vals = []
        if len(set(vals)) != len(vals):
            err(where, "values repeat")
        if "weights" in fl:
            w = fl["weights"]
            if (not isinstance(w, list) or len(w) != len(vals)
                    or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in w)
                    or sum(w) <= 0):
                err(where, "weights must be non-negative integers, one per value, not all 0")
    elif kind == "yn":
        if fl.get("default") not in ("y", "n"):
            err(where, 'yn needs default = "y" or "n"')
    elif kind == "ref":
        tgt = fl.get("form")
        if not isinstance(tgt, str):
            err(where, "ref needs form")
        elif tgt != obj and tgt not in earlier:
            err(where, f"ref to '{tgt}', which is not an earlier form")
        elif tgt != obj and "key" not in earlier[tgt]:
            err(where, f"ref to '{tgt}', which is not a keyed form")


def check_named_objects(seen, profiles, count):
    """Vector steps and coverage points name objects: they must exist in
    every profile where the naming form has objects."""
    pats = [
        (re.compile(r"\bskill (\d+)"), "hunt-group"),
        (re.compile(r"\bannouncement (\d+)"), "announcement"),
        (re.compile(r"\bnumber (\d+)"), None),   # any extension-keyed object
        (re.compile(r"^h(\d+)$"), "hunt-group"),
    ]
    for obj, f in seen.items():
        for fl in f.get("field", []):
            texts = list(fl.get("values", []))
            if fl.get("gen") == "const":
                texts.append(fl.get("value", ""))
            for t in texts:
                for rx, tgt in pats:
                    for m in rx.finditer(t):
                        n = int(m.group(1))
                        for pname in profiles:
                            if ("key" in f and count(pname, obj) == 0):
                                continue
                            if not exists(seen, tgt, n, pname, count):
                                err(obj, f"{fl['fid']} value '{t}' names {tgt or 'extension'} "
                                         f"{n}, which profile {pname} does not have")


def exists(seen, tgt, n, pname, count):
    cands = [tgt] if tgt else [o for o, f in seen.items()
                               if f.get("key", {}).get("kind") == "extension"]
    for o in cands:
        k = seen.get(o, {}).get("key")
        if not k or k.get("kind") == "location":
            continue
        start = k.get("start", 1)
        if start <= n < start + count(pname, o):
            return True
    return False


def check_station(st):
    if st is None:
        return
    w = "station"
    fields = st.get("field", [])
    by = field_by_fid(st)
    if not 25 <= len(fields) <= 40:
        err(w, f"has {len(fields)} fields, needs 25..40")
    if st.get("key", {}).get("field") != "8005ff00":
        err(w, "key must be 8005ff00")
    if st.get("list") != STATION_LIST:
        err(w, "list must be exactly the 16 real `list station` fids in order")
    for fid, (name, kind) in STATION_REAL.items():
        fl = by.get(fid)
        if not fl:
            err(w, f"missing real field {fid} {name}")
            continue
        if fl.get("name", "").rstrip("?") != name:
            err(w, f"{fid} must be named '{name}', is '{fl.get('name')}'")
        if kind and fl.get("kind") != kind:
            err(w, f"{fid} {name} must be kind {kind}")
    for fid in STATION_UNNAMED:
        if fid not in by:
            err(w, f"missing field {fid}")
    t = by.get("004fff00", {})
    missing = [x for x in STATION_TYPES if x not in t.get("values", [])]
    if missing:
        err(w, f"Type lacks set types {missing}")
    n = by.get("8003ff00", {})
    if n.get("max") != 27 or n.get("gen") != "person":
        err(w, "Name must be text max 27 gen person")
    for fid, lo, hi, d in (("8001ff00", 0, 995, 1), ("8002ff00", 0, 15, 1), ("4a3bff00", 1, 100, 1)):
        fl = by.get(fid, {})
        if (fl.get("min"), fl.get("max"), fl.get("default")) != (lo, hi, d):
            err(w, f"{fid} must be int {lo}..{hi} default {d}")
    lg = by.get("e613ff00", {})
    if (lg.get("min"), lg.get("max")) != (1, 19):
        err(w, "Loss Group must be int 1..19")
    for fid, tgt, lo, hi in (("8007ff00", "coverage path", 0.5, 0.7),
                             ("ce2aff00", "coverage path", 0.05, 0.15),
                             ("4e22ff00", "station", 0.01, 0.1)):
        fl = by.get(fid, {})
        if fl.get("form") != tgt or not lo <= fl.get("fill", 1.0) <= hi:
            err(w, f"{fid} must ref '{tgt}' with fill in {lo}..{hi}")
    for fid, mx in (("0031ff00", 10), ("0032ff00", 5), ("0033ff00", 5)):
        if by.get(fid, {}).get("max") != mx:
            err(w, f"{fid} must have max {mx}")
    if by.get("0016ff00", {}).get("secret") is not True:
        err(w, "Security Code must be secret")
    if set(by.get("002cff00", {}).get("values", [])) != {"led", "neon", "none"}:
        err(w, "Message Waiting Indicator must be led/neon/none")
    if by.get("0011ff00", {}).get("default") != "n":
        err(w, "Off Premises Station must default to n")
    for i in range(1, 9):
        fid = f"801f01{i:02d}"
        fl = by.get(fid)
        if not fl or fl.get("kind") != "enum" or fl.get("name") != f"Button {i}":
            err(w, f"{fid} must be enum 'Button {i}'")
        elif i <= 3 and fl["values"][0] != "call-appr":
            err(w, f"{fid} must default to call-appr")


if __name__ == "__main__":
    sys.exit(main())
