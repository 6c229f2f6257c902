#!/usr/bin/env python3
"""What the board's wasm is made of: code bytes per crate and the biggest functions.

    scripts/wasm-contents.sh            # after a release build (scripts/build-release.sh)

The shell script makes a copy of the board's module that keeps its function names (the
served one has none) and optimises it as the build does, so the sizes are the served ones;
this reads that copy. Names are Rust's legacy mangling, demangled here.
"""
import collections
import re
import sys


def leb(data, i):
    value, shift = 0, 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def functions(path):
    """(size, name) of every function body in the module."""
    data = open(path, "rb").read()
    i, imported, bodies, names = 8, 0, [], {}
    while i < len(data):
        section = data[i]
        size, i = leb(data, i + 1)
        end = i + size
        if section == 2:  # imports: function imports come first in the index space
            count, j = leb(data, i)
            for _ in range(count):
                for _ in range(2):
                    length, j = leb(data, j)
                    j += length
                kind = data[j]
                j += 1
                if kind == 0:
                    _, j = leb(data, j)
                    imported += 1
                elif kind == 1:
                    j += 1
                    flags = data[j]
                    _, j = leb(data, j + 1)
                    if flags & 1:
                        _, j = leb(data, j)
                elif kind == 2:
                    flags = data[j]
                    _, j = leb(data, j + 1)
                    if flags & 1:
                        _, j = leb(data, j)
                elif kind == 3:
                    j += 2
        elif section == 10:  # code
            count, j = leb(data, i)
            for k in range(count):
                length, body = leb(data, j)
                bodies.append((imported + k, body - j + length))
                j = body + length
        elif section == 0:  # custom: the name section's function names
            length, j = leb(data, i)
            if data[j : j + length] == b"name":
                j += length
                while j < end:
                    sub = data[j]
                    sub_size, j = leb(data, j + 1)
                    sub_end = j + sub_size
                    if sub == 1:
                        count, j = leb(data, j)
                        for _ in range(count):
                            index, j = leb(data, j)
                            length, j = leb(data, j)
                            names[index] = data[j : j + length].decode("utf8", "replace")
                            j += length
                    j = sub_end
        i = end
    return [(size, demangle(names.get(index, "?"))) for index, size in bodies]


ESCAPES = {"$LT$": "<", "$GT$": ">", "$RF$": "&", "$BP$": "*", "$C$": ",", "$SP$": "@",
           "$u20$": " ", "$u27$": "'", "$u5b$": "[", "$u5d$": "]", "$u7b$": "{", "$u7d$": "}",
           "$u7e$": "~", "$u3b$": ";", "$u2b$": "+", "$u22$": '"'}


def demangle(name):
    """`_ZN4core3fmt5write17h…E` -> `core::fmt::write`. Rust's v0 names (`_R…`, the standard
    library's) are read roughly, as their identifiers in order; anything else is left as is."""
    if name.startswith("_R"):
        name = name.split(".")[0]  # `.llvm.…` suffixes
        words, i = [], 2
        while i < len(name):
            if name[i].isdigit():  # an identifier: its length, an optional `_`, its text
                j = i
                while j < len(name) and name[j].isdigit():
                    j += 1
                start = j + 1 if name[j : j + 1] == "_" else j
                words.append(name[start : start + int(name[i:j])])
                i = start + int(name[i:j])
            elif name[i] in "sB":  # a disambiguator or a back-reference: base-62, then `_`
                i = name.find("_", i) + 1 or len(name)
            else:  # a tag (namespace, impl, generic arguments, a basic type)
                i += 1
        return "::".join(words) + " (v0)" if words else name
    if not name.startswith("_ZN"):
        return name
    parts, i = [], 3
    while i < len(name) and name[i].isdigit():
        j = i
        while name[j].isdigit():
            j += 1
        length = int(name[i:j])
        parts.append(name[j : j + length])
        i = j + length
    if parts and re.fullmatch(r"h[0-9a-f]{16}", parts[-1]):
        parts.pop()
    # A segment that starts with an escape is written with a `_` before it.
    text = "::".join(p[1:] if p.startswith("_$") else p for p in parts)
    for escape, char in ESCAPES.items():
        text = text.replace(escape, char)
    return text.replace("..", "::")


def crate(name):
    """The crate a function is from: for `<Type as krate::Trait>::f`, the type's, unless the
    type is a generic parameter or has no path (`<T as tachys::…>`): then the trait's."""
    impl = re.match(r"<([A-Za-z_][A-Za-z0-9_]*)(?:<[^ ]*)? as ([a-z_][a-z0-9_]*)::", name)
    if impl:
        return impl.group(2)
    name = re.sub(r"^[<&\s]*(mut |dyn )?", "", name)
    match = re.match(r"[A-Za-z_][A-Za-z0-9_]*", name)
    return match.group(0) if match else "?"


def main():
    fns = functions(sys.argv[1])
    total = sum(size for size, _ in fns)
    by_crate = collections.Counter()
    for size, name in fns:
        by_crate[crate(name)] += size
    print(f"{total} bytes of code in {len(fns)} functions (before compression)")
    print("\nby crate (a generic function counts for the crate it is written in):")
    for name, size in by_crate.most_common(25):
        print(f"{size:9d} {100 * size / total:5.1f} %  {name}")
    print("\nthe biggest functions:")
    for size, name in sorted(fns, reverse=True)[:30]:
        print(f"{size:9d}  {name[:150]}")


if __name__ == "__main__":
    main()
