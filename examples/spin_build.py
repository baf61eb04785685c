#!/usr/bin/env python3
"""A small `spin build`: runs the `[component.<id>.build]` commands of Spin manifests.

Used by examples/build.sh (which sets PATH up for the pinned tools). For each component
that has a build section and a local `source` file:
  * skip it when the output is newer than every file matched by `watch` (and spin.toml),
    unless --force;
  * otherwise delete the output, run the command(s) with `sh -c` in the component's
    `workdir` (default: the manifest's folder), and fail unless a fresh wasm file appeared
    (some tools, e.g. j2w, print an error but exit 0);
  * a Python app whose requirements.txt pins `spin-sdk==X` builds with the venv (one of
    the `:`-separated dirs in $SPINKUBE_PY_VENVS) that has spin-sdk X, first on PATH.

  spin_build.py [--force] [--clean] [--list] MANIFEST...
"""
import glob
import os
import re
import subprocess
import sys
import time

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib

WASM_MAGIC = b"\0asm"


class BuildError(Exception):
    pass


def components(manifest_path):
    with open(manifest_path, "rb") as f:
        manifest = tomllib.load(f)
    if manifest.get("spin_manifest_version") != 2:
        raise BuildError(f"{manifest_path}: only spin_manifest_version = 2 is supported")
    app_dir = os.path.dirname(os.path.abspath(manifest_path))
    app_name = manifest.get("application", {}).get("name", os.path.basename(app_dir))
    for cid, comp in manifest.get("component", {}).items():
        build = comp.get("build")
        source = comp.get("source")
        if not build or not isinstance(source, str):
            continue
        commands = build["command"]
        if isinstance(commands, str):
            commands = [commands]
        workdir = os.path.join(app_dir, build.get("workdir", ""))
        watch = [manifest_path]
        for pattern in build.get("watch", []):
            watch += glob.glob(os.path.join(workdir, pattern), recursive=True)
        yield {
            "app": app_name,
            "id": cid,
            "dir": app_dir,
            "workdir": workdir,
            "output": os.path.join(app_dir, source),
            "commands": commands,
            "watch": watch,
        }


def up_to_date(c):
    try:
        out = os.stat(c["output"]).st_mtime
    except FileNotFoundError:
        return False
    return all(os.stat(w).st_mtime < out for w in c["watch"])


def rel(path):
    return os.path.relpath(path)


def pinned_spin_sdk(workdir):
    """The `spin-sdk==X` pin in the app's requirements.txt, if any."""
    try:
        with open(os.path.join(workdir, "requirements.txt")) as f:
            text = f.read()
    except FileNotFoundError:
        return None
    m = re.search(r"^\s*spin[-_]sdk\s*==\s*([^\s;#]+)", text, re.MULTILINE | re.IGNORECASE)
    return m.group(1) if m else None


def build_env(workdir):
    """The environment for an app's build commands: PATH starts with the venv its
    requirements.txt asks for (several spin-sdk versions cannot share one venv)."""
    env = dict(os.environ)
    version = pinned_spin_sdk(workdir)
    if version is None:
        return env
    venvs = [v for v in os.environ.get("SPINKUBE_PY_VENVS", "").split(":") if v]
    for venv in venvs:
        if glob.glob(os.path.join(venv, "lib", "python*", "site-packages", f"spin_sdk-{version}.dist-info")):
            env["PATH"] = os.path.join(venv, "bin") + os.pathsep + env.get("PATH", "")
            return env
    raise BuildError(
        f"requirements.txt pins spin-sdk=={version}, but no venv in $SPINKUBE_PY_VENVS has it "
        f"({', '.join(venvs) or 'none set'}): run e2e/install-tools.sh"
    )


def build(c):
    if os.path.exists(c["output"]):
        os.remove(c["output"])
    env = build_env(c["workdir"])
    started = time.time()
    for cmd in c["commands"]:
        print(f"    $ {cmd}", flush=True)
        rc = subprocess.run(
            ["sh", "-c", cmd], cwd=c["workdir"], stdin=subprocess.DEVNULL, env=env
        ).returncode
        if rc != 0:
            raise BuildError(f"command failed with exit code {rc} (in {rel(c['workdir'])}): {cmd}")
    try:
        with open(c["output"], "rb") as f:
            head = f.read(8)
    except FileNotFoundError:
        raise BuildError(f"the build commands did not produce {rel(c['output'])}")
    if head[:4] != WASM_MAGIC:
        raise BuildError(f"{rel(c['output'])} is not a wasm binary")
    if os.stat(c["output"]).st_mtime < started - 1:
        raise BuildError(f"{rel(c['output'])} was not rewritten by the build")
    return time.time() - started


def main(argv):
    force = clean = list_only = False
    manifests = []
    for a in argv:
        if a == "--force":
            force = True
        elif a == "--clean":
            clean = True
        elif a == "--list":
            list_only = True
        elif a.startswith("-"):
            print(__doc__, file=sys.stderr)
            return 2
        else:
            manifests.append(a)
    results = []
    try:
        for m in manifests:
            for c in components(m):
                name = f"{c['app']}/{c['id']}"
                if list_only:
                    print(f"{name}\t{rel(c['output'])}")
                    continue
                if clean:
                    if os.path.exists(c["output"]):
                        os.remove(c["output"])
                        print(f"==> {name}: removed {rel(c['output'])}")
                    continue
                if not force and up_to_date(c):
                    print(f"==> {name}: up to date ({rel(c['output'])})")
                    results.append((name, "up to date", None))
                    continue
                print(f"==> {name}: building {rel(c['output'])}", flush=True)
                secs = build(c)
                print(f"==> {name}: built {rel(c['output'])} in {secs:.1f}s", flush=True)
                results.append((name, "built", secs))
    except BuildError as e:
        print(f"\nBUILD FAILED: {name}: {e}", file=sys.stderr)
        return 1
    if results:
        print("\nsummary:")
        for name, what, secs in results:
            print(f"  {name:28} {what}" + (f" in {secs:.1f}s" if secs is not None else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
