#!/usr/bin/env python3
"""Tiny wasm inspector (no dependencies): tells a component from a core module and lists
what a Spin host cares about.

  inspect-wasm.py FILE...            # human readable
  inspect-wasm.py --json FILE...     # one JSON object per file
  inspect-wasm.py --expect component|module FILE   # exit 1 if FILE is not of that kind

Components: top-level import and export names (e.g. wasi:http/incoming-handler@0.2.0).
Core modules: imported module names, exported function names and custom section names
(a `component-type:*` section means the module embeds a WIT world and can be
componentized with the wasi_snapshot_preview1 adapter).
"""
import json
import sys

MAGIC = b"\0asm"
CORE_VERSION = b"\x01\x00\x00\x00"
COMPONENT_VERSION = b"\x0d\x00\x01\x00"


class Reader:
    def __init__(self, data, pos=0, end=None):
        self.data, self.pos = data, pos
        self.end = len(data) if end is None else end

    def done(self):
        return self.pos >= self.end

    def byte(self):
        if self.pos >= self.end:
            raise ValueError("unexpected end of data")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def u32(self):
        result = shift = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return result

    def s33(self):
        result = shift = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                if b & 0x40:
                    result -= 1 << shift
                return result

    def name(self):
        n = self.u32()
        s = self.data[self.pos:self.pos + n].decode("utf-8", "replace")
        self.pos += n
        return s

    def skip(self, n):
        self.pos += n


def sections(data):
    r = Reader(data, 8)
    while not r.done():
        sid = r.byte()
        size = r.u32()
        yield sid, r.pos, r.pos + size
        r.skip(size)


def component_externdesc(r):
    kind = r.byte()
    if kind == 0x00:  # core module: 0x11 typeidx
        r.byte()
        r.u32()
    elif kind in (0x01, 0x04, 0x05):  # func / component / instance: typeidx
        r.u32()
    elif kind == 0x02:  # value bound
        if r.byte() == 0x00:
            r.u32()
        else:
            r.s33()
    elif kind == 0x03:  # type bound
        if r.byte() == 0x00:
            r.u32()
    else:
        raise ValueError(f"unknown externdesc kind {kind:#x}")
    return {0: "core-module", 1: "func", 2: "value", 3: "type", 4: "component", 5: "instance"}[kind]


SORTS = {0x01: "func", 0x02: "value", 0x03: "type", 0x04: "component", 0x05: "instance"}


def inspect_component(data):
    imports, exports, custom = [], [], []
    for sid, start, end in sections(data):
        r = Reader(data, start, end)
        if sid == 0:
            custom.append(r.name())
        elif sid == 10:  # imports
            for _ in range(r.u32()):
                r.byte()  # 0x00 / 0x01 name form
                name = r.name()
                imports.append({"name": name, "kind": component_externdesc(r)})
        elif sid == 11:  # exports
            for _ in range(r.u32()):
                r.byte()
                name = r.name()
                sort = r.byte()
                if sort == 0x00:
                    r.byte()
                    kind = "core"
                else:
                    kind = SORTS.get(sort, hex(sort))
                r.u32()
                if r.byte() == 0x01:
                    component_externdesc(r)
                exports.append({"name": name, "kind": kind})
    return {"kind": "component", "imports": imports, "exports": exports, "custom_sections": custom}


def inspect_module(data):
    import_modules, exports, custom = [], [], []
    for sid, start, end in sections(data):
        r = Reader(data, start, end)
        if sid == 0:
            custom.append(r.name())
        elif sid == 2:
            for _ in range(r.u32()):
                mod = r.name()
                r.name()
                kind = r.byte()
                if kind == 0x00:
                    r.u32()
                elif kind == 0x01:  # table: reftype + limits
                    r.byte()
                    flags = r.byte()
                    r.u32()
                    if flags & 1:
                        r.u32()
                elif kind == 0x02:  # memory limits
                    flags = r.byte()
                    r.u32()
                    if flags & 1:
                        r.u32()
                elif kind == 0x03:  # global
                    r.byte()
                    r.byte()
                elif kind == 0x04:  # tag
                    r.byte()
                    r.u32()
                if mod not in import_modules:
                    import_modules.append(mod)
        elif sid == 7:
            for _ in range(r.u32()):
                name = r.name()
                kind = r.byte()
                r.u32()
                exports.append({"name": name, "kind": ["func", "table", "memory", "global", "tag"][kind]})
    return {"kind": "module", "import_modules": import_modules, "exports": exports, "custom_sections": custom}


def inspect(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != MAGIC:
        raise ValueError(f"{path}: not a wasm binary")
    if data[4:8] == COMPONENT_VERSION:
        info = inspect_component(data)
    elif data[4:8] == CORE_VERSION:
        info = inspect_module(data)
    else:
        raise ValueError(f"{path}: unknown wasm version/layer {data[4:8].hex()}")
    info["path"] = path
    info["size"] = len(data)
    return info


def main(argv):
    as_json, expect, paths = False, None, []
    it = iter(argv)
    for a in it:
        if a == "--json":
            as_json = True
        elif a == "--expect":
            expect = next(it)
        else:
            paths.append(a)
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    rc = 0
    for p in paths:
        try:
            info = inspect(p)
        except (OSError, ValueError) as e:
            print(f"error: {e}", file=sys.stderr)
            rc = 1
            continue
        if expect:
            if info["kind"] != expect:
                print(f"error: {p} is a {info['kind']}, expected a {expect}", file=sys.stderr)
                rc = 1
            continue
        if as_json:
            print(json.dumps(info))
            continue
        print(f"{p}: {info['kind']}, {info['size']} bytes")
        if info["kind"] == "component":
            for e in info["exports"]:
                print(f"  export {e['kind']:9} {e['name']}")
            print(f"  {len(info['imports'])} imports: " + ", ".join(i["name"] for i in info["imports"]))
        else:
            for e in info["exports"]:
                if e["kind"] == "func":
                    print(f"  export func {e['name']}")
            print("  import modules: " + ", ".join(info["import_modules"]))
            ct = [c for c in info["custom_sections"] if c.startswith("component-type")]
            print("  component-type sections: " + (", ".join(ct) if ct else "none"))
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
