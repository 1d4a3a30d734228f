#!/usr/bin/env python3
"""Writes test/template/format-table.json: what Python 3 makes of filepath templates.

Each case is {group, template, values, expected} or {group, template, values, error, pyMessage},
where error is the Python exception class (KeyError, ValueError, IndexError, OverflowError, ...).
`syntax: true` marks templates that tfjs-checkpoint rejects as TEMPLATE_SYNTAX before formatting:
malformed ones, and valid Python it deliberately does not support (positional fields, attribute or
index access, !r / !a conversions, nested fields in specs).

Values describe the *JS* value the TS test passes, so the mapping to Python is part of what is tested:
  {"number": repr}   a JS number: a Python float, except that an integral epoch/batch is an int
  {"bigint": "123"}  a JS bigint: a Python int
  {"str": "x"}       a string
  {"bool": true}     a boolean: a Python bool

Run with the stdlib only:  python3 scripts/gen-format-table.py
"""
import json
import math
import random
import string
import struct
import sys
from pathlib import Path

if sys.version_info < (3, 11):
    sys.exit("needs Python 3.11+ (the 'z' format option)")

OUT = Path(__file__).resolve().parent.parent / "test" / "template" / "format-table.json"
INTEGER_KEYS = ("epoch", "batch")


# ---- value encoding ---------------------------------------------------------------------------

def num(x):
    return {"number": repr(float(x))}


def big(n):
    return {"bigint": str(n)}


def text(s):
    return {"str": s}


def flag(b):
    return {"bool": b}


def to_python(key, encoded):
    if "number" in encoded:
        x = float(encoded["number"])
        if key in INTEGER_KEYS and math.isfinite(x) and x.is_integer():
            return int(x)
        return x
    if "bigint" in encoded:
        return int(encoded["bigint"])
    if "str" in encoded:
        return encoded["str"]
    return bool(encoded["bool"])


# ---- what tfjs-checkpoint rejects up front -----------------------------------------------------

def is_unsupported(template):
    """True when the TS side must raise TEMPLATE_SYNTAX (Python may still succeed)."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError:
        return True
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        first = name.replace("[", ".").split(".", 1)[0]
        if first == "" or first.isdecimal() or "." in name or "[" in name:
            return True
        if conversion not in (None, "s"):
            return True
        if "{" in spec:
            return True
    return False


# ---- case collection ---------------------------------------------------------------------------

cases = []
seen = set()


def add(group, template, values):
    signature = (template, json.dumps(values, sort_keys=True))
    if signature in seen:
        return
    seen.add(signature)
    case = {"group": group, "template": template, "values": values}
    if is_unsupported(template):
        case["syntax"] = True
    python_values = {key: to_python(key, value) for key, value in values.items()}
    try:
        case["expected"] = template.format(**python_values)
    except (KeyError, ValueError, IndexError, OverflowError, AttributeError, TypeError) as error:
        case["error"] = type(error).__name__
        case["pyMessage"] = error.args[0] if isinstance(error, KeyError) else str(error)
    cases.append(case)


def add_value(group, spec, value, key="x"):
    template = "{" + key + (":" + spec if spec else "") + "}"
    add(group, template, {key: value})


# Representative values of every kind.
FLOATS = [0.0, -0.0, 1.0, -1.0, 0.5, 1.5, 2.5, -2.5, 3.5, 0.125, 0.375, -0.125, 1 / 3, 2 / 3, -1 / 3,
          0.1, 0.2, 0.1 + 0.2, 123456.789, -123456.789, 1e16, 1e15, 9999999999999998.0, 1e21, 1e22,
          1e23, 1e-4, 1e-5, 1e-7, 1.5e-7, 1.5e300, -1.5e300, 1e100, 5e-324, 2.2250738585072014e-308,
          1.7976931348623157e308, 9.995, 2.675, 1.005, 0.045, 0.05, 123.0, 100.0, 1234567.0, 999.9999,
          0.9999995, 9.5, 10.5, 0.25, 1e-300, 4.35, 0.3, 12345678.9, 1e6, 1e7, 3.14159265358979,
          float("inf"), float("-inf"), float("nan")]
INTS = [0, 1, -1, 7, 42, -42, 255, -255, 1000, 1234567, -1234567, 65, 2 ** 31, 2 ** 53 + 1, 2 ** 63,
        2 ** 64 - 1, 2 ** 70, -(2 ** 70), 10 ** 30, 0x1F600, 0x10FFFF, 0x110000, 2 ** 1023 * 3, 2 ** 1024,
        123456789012345678901234567890]
STRINGS = ["", "abc", "hello world", "ünïcödé", "😀x", "a" * 20, "0.5"]
BOOLS = [True, False]

ALL_VALUES = ([num(x) for x in FLOATS] + [big(n) for n in INTS] + [text(s) for s in STRINGS]
              + [flag(b) for b in BOOLS])
SMALL_VALUES = [num(-0.0), num(2.5), num(-1 / 3), num(123456.789), num(1e16), num(float("inf")),
                num(float("nan")), big(-42), big(2 ** 70), flag(True), text("abc")]

TYPES = ["", "d", "b", "o", "x", "X", "c", "e", "E", "f", "F", "g", "G", "n", "%", "s"]
MODIFIERS = ["", ".0", ".1", ".3", ".17", "#", "#.0", "+", " ", "-", "z", "z.1", "010", "<10", "^11",
             "*>11", "=10", "0=10", "+010", ",", "_", "012,", "#015_", "-^+#012,.3", "x<+15_.4", "🙂^9"]

for type_ in TYPES:
    for value in ALL_VALUES:
        add_value("type x value", type_, value)
    for modifier in MODIFIERS:
        for value in SMALL_VALUES:
            add_value("type x modifier", modifier + type_, value)

# Rounding: exact ties, near-ties, huge and tiny values, big precisions.
ROUNDING_SPECS = [".0f", ".1f", ".2f", ".3f", ".15f", ".20f", ".50f", ".100f", ".0e", ".1e", ".2e",
                  ".16e", ".20e", ".100e", "g", ".1g", ".2g", ".3g", ".15g", ".17g", ".30g", "#.3g",
                  "", ".1", ".2", ".5", ".17", "%", ".0%", ".1%", "f", "e", "n", ".3n", "F", "E", "G"]
TIE_VALUES = [0.5, 1.5, 2.5, 3.5, -0.5, -2.5, 0.125, 0.375, 0.625, 0.875, 1.0625, 2.675, 1.005, 0.045,
              1.25, 1.35, 2.5e-5, 1e22, 1e23, 5e22, 123456789.5, 0.0005, 0.00049999999999999999,
              9.5, 99.5, 999.5, 0.95, 0.995, 0.9995, 5e-324, 1e-323, 1.7976931348623157e308, 1e300,
              1.5e300, 2 ** 53, 2 ** 53 + 2, 4503599627370497.5, 1 / 3, 0.1, 9.999999999999999e22]
for spec in ROUNDING_SPECS:
    for x in TIE_VALUES:
        add_value("rounding", spec, num(x))
for spec in [".0f", ".2f", "e", ".3e", "g", "%", ".1%", ",.2f", "_e"]:
    for n in INTS:
        add_value("int as float", spec, big(n))

# Alignment, fill and padding around every kind of number.
for spec in ["5", "<5", ">5", "^5", "^6", "=8", "*<8", "*>8", "*^8", "*=8", "0<8", "0>8", "0^8", "08",
             "+08", " 08", "-08", "#08x", "#08X", "#08b", "#08o", "08,", "010,", "011,", "09_", "#012_x",
             "#012_b", "08.2f", "+08.2f", "08.2%", "010e", "010,.1f", "0=12,.2f", "\u00e9>7", ".>10"]:
    for value in [big(0), big(5), big(-5), big(1234), big(-1234567), num(3.14159), num(-3.14159),
                  num(float("inf")), num(float("-inf")), num(float("nan")), num(-0.0), flag(True)]:
        add_value("padding", spec, value)

# Strings and bools.
for spec in ["", "s", "10", "<10", ">10", "^10", "^11", "*^9", "05", ".2", ".0", "10.3s", "=10", "+",
             " ", "-", "#", "z", ",", "_", "d", "f", "x", "!", "1", "0"]:
    for value in [text("abc"), text(""), text("😀😀😀"), text("épée"), flag(True), flag(False)]:
        add_value("strings and bools", spec, value)

# The epoch/batch mapping: integral numbers are ints, others floats.
for key in ["epoch", "batch", "step"]:
    for x in [0.0, 1.0, 3.0, -0.0, 12.0, 1.5, 2.5, 1e20, float("inf"), float("nan")]:
        for spec in ["", "d", "02d", "03", ".2f", "e", "%", "x", "c", ","]:
            add_value("epoch and batch", spec, num(x), key=key)

# Whole templates.
LOGS = {"epoch": num(3.0), "batch": num(120.0), "loss": num(0.2345678), "val_loss": num(0.1234567),
        "acc": num(0.9375), "val_acc": num(0.91666666), "lr": num(1e-4)}
for template in ["weights.{epoch:02d}-{val_loss:.2f}.hdf5", "e{epoch}b{batch}", "{epoch:03d}-{acc:.4f}",
                 "ckpt/{epoch:04d}/model", "model_{epoch}_{loss}", "{epoch}{epoch}{epoch:x}",
                 "lr={lr}", "lr={lr:.0e}", "{val_loss:.3%}", "{epoch:>5}|{loss:<12.5}|",
                 "{{epoch}}", "{{{epoch}}}", "{{", "}}", "a{{b}}c", "{{{{", "no fields", "",
                 "{loss!s}", "{epoch!s:>4}", "{loss!s:.4}", "{acc:{{}}}", "{ epoch}", "{epoch }",
                 "{missing}", "{epoch}{missing:.2f}", "{loss:d}", "{epoch:.2d}", "{loss:s}",
                 "{epoch:,d}", "{acc:.2fx}", "{acc:.}", "{acc:,_}"]:
    add("templates", template, LOGS)

# Template syntax: errors, and valid Python that is rejected on purpose.
for template in ["{", "}", "a}b", "{epoch", "{epoch:02d", "{epoch!", "{epoch!}", "{epoch!}x", "{epoch!s",
                 "{ep{och}", "{}", "{0}", "{:d}", "{0:02d}", "{1}", "{\u0663}", "{.x}", "{epoch.real}",
                 "{epoch[0]}", "{name[0]}", "{epoch!r}", "{epoch!a}", "{epoch!x}", "{epoch:{w}}",
                 "{epoch:>{w}}", "{epoch}}", "}{epoch}", "{epoch}{", "{a[}", "{a[:]}", "{{}", "{}}"]:
    add("syntax", template, {"epoch": num(7.0), "w": big(5), "name": text("abc"), "a": big(1)})

# Odd but valid field names.
for template in ["{-1}", "{a]}", "{x y}", "{\u00e9}", "{1a}", "{_}", "{constructor}", "{__proto__}"]:
    add("field names", template, {"-1": big(1), "a]": big(2), "x y": big(3), "\u00e9": big(4),
                                   "1a": big(5), "_": big(6)})

# ---- random cases, seeded ----------------------------------------------------------------------

rng = random.Random(20240601)


def random_double():
    kind = rng.random()
    if kind < 0.25:  # any bit pattern
        while True:
            x = struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0]
            if math.isfinite(x):
                return x
    if kind < 0.45:  # short decimals, where ties and near-ties live
        return float(f"{rng.randint(-10 ** 6, 10 ** 6)}e{rng.randint(-12, 8)}")
    if kind < 0.6:  # dyadic fractions: exact ties
        return rng.randint(-(10 ** 5), 10 ** 5) / 2 ** rng.randint(0, 12)
    if kind < 0.8:  # everyday metric values
        return rng.random() * 10 ** rng.randint(-8, 8) * rng.choice([1, -1])
    if kind < 0.9:
        return float(rng.randint(-(10 ** 18), 10 ** 18))
    return rng.choice([0.0, -0.0, float("inf"), float("-inf"), float("nan"), 5e-324, 1.7976931348623157e308])


def random_value():
    kind = rng.random()
    if kind < 0.7:
        return num(random_double())
    if kind < 0.92:
        bits = rng.choice([4, 8, 16, 32, 53, 64, 100, 200])
        return big(rng.getrandbits(bits) * rng.choice([1, -1]))
    if kind < 0.96:
        return flag(rng.random() < 0.5)
    return text(rng.choice(STRINGS))


def random_spec():
    parts = []
    if rng.random() < 0.3:
        parts.append(rng.choice(["", "", "*", "0", "x", " "]) + rng.choice("<>=^"))
    if rng.random() < 0.3:
        parts.append(rng.choice("+- "))
    if rng.random() < 0.1:
        parts.append("z")
    if rng.random() < 0.15:
        parts.append("#")
    if rng.random() < 0.2:
        parts.append("0")
    if rng.random() < 0.4:
        parts.append(str(rng.randint(1, 30)))
    if rng.random() < 0.2:
        parts.append(rng.choice(",_"))
    if rng.random() < 0.6:
        parts.append("." + str(rng.choice([0, 1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 16, 17, 18, 20, 25, 40])))
    parts.append(rng.choice(["", "e", "E", "f", "F", "g", "G", "n", "%", "d", "x", "b", "o", "X", "s", "c"]))
    return "".join(parts)


for _ in range(2000):
    add_value("random spec x value", random_spec(), random_value())
for _ in range(1200):
    x = random_double()
    spec = rng.choice([".%df" % rng.randint(0, 20), ".%de" % rng.randint(0, 20), ".%dg" % rng.randint(0, 20),
                       "", ".%d" % rng.randint(1, 20), "%", ".%d%%" % rng.randint(0, 6)])
    add_value("random rounding", spec, num(x))

OUT.parent.mkdir(parents=True, exist_ok=True)
with OUT.open("w", encoding="utf-8") as handle:
    handle.write("[\n")
    handle.write(",\n".join(json.dumps(case, ensure_ascii=False) for case in cases))
    handle.write("\n]\n")
print(f"wrote {len(cases)} cases to {OUT} (Python {sys.version.split()[0]})")
