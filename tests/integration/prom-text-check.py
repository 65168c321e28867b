#!/usr/bin/env python3
"""prom-text-check.py: a strict reader of the Prometheus text exposition
format 0.0.4 as the node_exporter textfile collector takes it.

    prom-text-check.py [FILE]      (stdin without FILE)

Exit 0 and "ok: N families, M samples" when the input is valid; exit 1 with
one line per problem, "LINE: what is wrong", otherwise. The rules:

  - lines end in \\n, the input too; blank lines are ignored;
  - "# HELP NAME TEXT" (TEXT escapes only \\\\ and \\n) and "# TYPE NAME
    TYPE" (counter, gauge, histogram, summary, untyped) at most once per
    family, before its first sample; other "# " lines are comments;
  - a sample is NAME[{LABEL="VALUE",...}] VALUE, with no timestamp (the
    textfile collector refuses them); NAME matches [a-zA-Z_:][a-zA-Z0-9_:]*,
    LABEL [a-zA-Z_][a-zA-Z0-9_]* and does not start with __, no label twice;
    VALUE escapes only \\\\, \\" and \\n; the value is a float as Go's
    ParseFloat reads it, NaN, +Inf or -Inf;
  - the samples of a family come together (a family's samples after another
    family's are refused), histogram and summary samples belong to their
    family through _bucket, _sum, _count;
  - no series twice (same name and label set).
"""
import re
import sys

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
FLOAT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


class Bad(Exception):
    pass


def parse_labels(text, pos, lineno):
    """Labels from text[pos] == '{'; returns (dict, position after '}')."""
    labels = {}
    pos += 1
    while True:
        if pos < len(text) and text[pos] == "}":
            return labels, pos + 1
        m = LABEL.match(text, pos)
        if not m:
            raise Bad(f"{lineno}: bad label name at column {pos + 1}")
        name = m.group(0)
        if name.startswith("__"):
            raise Bad(f"{lineno}: label name '{name}' is reserved (starts with __)")
        if name in labels:
            raise Bad(f"{lineno}: label '{name}' given twice")
        pos = m.end()
        if text[pos:pos + 2] != '="':
            raise Bad(f"{lineno}: label '{name}' is not followed by =\"")
        pos += 2
        value = []
        while True:
            if pos >= len(text):
                raise Bad(f"{lineno}: label '{name}' value is not closed")
            c = text[pos]
            if c == "\\":
                e = text[pos + 1:pos + 2]
                if e == "\\":
                    value.append("\\")
                elif e == '"':
                    value.append('"')
                elif e == "n":
                    value.append("\n")
                else:
                    raise Bad(f"{lineno}: bad escape '\\{e}' in label '{name}'")
                pos += 2
            elif c == '"':
                pos += 1
                break
            elif c == "\n":
                raise Bad(f"{lineno}: raw newline in label '{name}'")
            else:
                value.append(c)
                pos += 1
        labels[name] = "".join(value)
        if pos < len(text) and text[pos] == ",":
            pos += 1
        elif pos < len(text) and text[pos] == "}":
            continue
        else:
            raise Bad(f"{lineno}: expected , or }} after label '{name}'")


def family_of(name, types):
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[: -len(suffix)]
        if name.endswith(suffix) and types.get(base) in ("histogram", "summary"):
            return base
    return name


def check(text):
    problems = []
    types, helps = {}, {}
    done = set()  # families whose samples have ended
    current = None  # the family of the last sample
    series = set()
    samples = 0

    if text and not text.endswith("\n"):
        problems.append("end: the last line has no newline")
    for lineno, line in enumerate(text.split("\n")[:-1] if text.endswith("\n") else text.split("\n"), 1):
        try:
            if not line.strip():
                continue
            if line.startswith("#"):
                parts = line.split(None, 3)
                if len(parts) >= 2 and parts[1] in ("HELP", "TYPE"):
                    if len(parts) < 3 or not NAME.fullmatch(parts[2]):
                        raise Bad(f"{lineno}: # {parts[1]} without a valid metric name")
                    name = parts[2]
                    if name in done or name == current:
                        raise Bad(f"{lineno}: # {parts[1]} {name} after its samples")
                    if parts[1] == "HELP":
                        if name in helps:
                            raise Bad(f"{lineno}: second # HELP for {name}")
                        help_text = parts[3] if len(parts) > 3 else ""
                        if re.search(r"\\(?![\\n])", help_text):
                            raise Bad(f"{lineno}: bad escape in # HELP {name}")
                        helps[name] = help_text
                    else:
                        if name in types:
                            raise Bad(f"{lineno}: second # TYPE for {name}")
                        if len(parts) < 4 or parts[3] not in TYPES:
                            raise Bad(f"{lineno}: # TYPE {name} has no valid type")
                        types[name] = parts[3]
                continue
            m = NAME.match(line)
            if not m:
                raise Bad(f"{lineno}: bad metric name")
            name = m.group(0)
            pos = m.end()
            labels = {}
            if pos < len(line) and line[pos] == "{":
                labels, pos = parse_labels(line, pos, lineno)
            if pos >= len(line) or line[pos] not in " \t":
                raise Bad(f"{lineno}: bad metric name or no value after {name}")
            fields = line[pos:].split()
            if len(fields) == 0:
                raise Bad(f"{lineno}: no value for {name}")
            if len(fields) > 1:
                raise Bad(f"{lineno}: {name} has a timestamp or more after its value (the textfile collector refuses timestamps)")
            v = fields[0]
            if not (FLOAT.match(v) or v in ("NaN", "+Inf", "-Inf", "Inf")):
                raise Bad(f"{lineno}: value '{v}' of {name} is not a float")
            fam = family_of(name, types)
            if fam != current:
                if fam in done:
                    raise Bad(f"{lineno}: samples of family {fam} split (it appeared before another family)")
                if current is not None:
                    done.add(current)
                current = fam
            key = (name, tuple(sorted(labels.items())))
            if key in series:
                raise Bad(f"{lineno}: duplicate series {name}{dict(sorted(labels.items()))}")
            series.add(key)
            samples += 1
        except Bad as e:
            problems.append(str(e))
    families = len(done) + (current is not None)
    return problems, families, samples


def main():
    if len(sys.argv) > 2:
        print("usage: prom-text-check.py [FILE]", file=sys.stderr)
        return 2
    data = open(sys.argv[1], "rb").read() if len(sys.argv) == 2 else sys.stdin.buffer.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        print(f"not UTF-8: {e}")
        return 1
    problems, families, samples = check(text)
    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"ok: {families} families, {samples} samples")
    return 0


if __name__ == "__main__":
    sys.exit(main())
