#!/usr/bin/env python3
"""readme_check.py: README.md must stay true to the tree.  Its layout table
names every file of ref/src, every header there, every top-level directory
and every page of docs/; a file added without a line there fails.  Every
```c block of the README is compiled and linked against the built library
with -std=c11 -Wall -Wextra -Werror, then run: the README's example is a
line-echo server taking its port as argv[1], so each one gets a free
loopback port and must echo lines byte for byte to two clients in turn.

Exit status: 0 the layout matches and every block compiled and echoed,
1 a name is missing from the layout table or a block did not,
2 usage or setup error (no README, no C block, no library).
"""
import argparse
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Failed(Exception):
    pass


def log(msg):
    print(f"readme_check: {msg}", file=sys.stderr, flush=True)


def c_blocks(text):
    return re.findall(r"^```c\n(.*?)^```$", text, re.S | re.M)


def layout_table(text):
    """The README's '## Layout' section, up to the next heading."""
    m = re.search(r"^## Layout\n(.*?)^## ", text, re.S | re.M)
    return m.group(1) if m else ""


def layout_missing(text):
    """Names the tree has and the layout table does not mention."""
    table = layout_table(text)
    missing = []
    for name in sorted(os.listdir(ROOT)):
        full = os.path.join(ROOT, name)
        if (os.path.isdir(full) and not name.startswith(".")
                and name != "build" and f"`{name}/" not in table):
            missing.append(f"{name}/ (a top-level directory)")
    src = os.path.join(ROOT, "ref", "src")
    for name in sorted(os.listdir(src)):
        if name.endswith(".c") and f"`{name}`" not in table:
            missing.append(f"ref/src/{name}")
        if name.endswith(".h") and f"`{name}`" not in table:
            missing.append(f"ref/src/{name} (a header)")
    for name in sorted(os.listdir(os.path.join(ROOT, "docs"))):
        if name.endswith(".md") and f"(docs/{name})" not in table:
            missing.append(f"docs/{name}")
    return missing


def make_targets():
    """Targets of every make file, and `make help`'s text."""
    db = subprocess.run(["make", "-pRrq", "-f", "Makefile"], cwd=ROOT,
                        capture_output=True, text=True).stdout
    names = set()
    for line in db.splitlines():
        m = re.match(r"^([a-z][a-z0-9-]*):(?!=)", line)
        if m:
            names.add(m.group(1))
    hlp = subprocess.run(["make", "--no-print-directory", "help"], cwd=ROOT,
                         capture_output=True, text=True).stdout
    internal = re.search(r"^HELP_INTERNAL := (.*?)(?<!\\)$", db, re.M | re.S)
    return names, hlp, set(internal.group(1).replace("\\", " ").split()) \
        if internal else set()


def help_missing():
    """Targets `make help` does not name (internal ones excepted)."""
    names, hlp, internal = make_targets()
    said = set(re.findall(r"[a-z][a-z0-9-]*", hlp))
    return sorted(n for n in names - internal if n not in said)


def free_port():
    with socket.socket() as s:  # the kernel's pick, released for the example
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def connect(port, deadline, proc):
    """Connects once the example listens (it prints nothing to wait for)."""
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            if proc.poll() is not None:
                raise Failed(f"exited with status {proc.returncode} "
                             "before listening")
            if time.monotonic() > deadline:
                raise Failed(f"nothing listens on port {port}")
            time.sleep(0.05)


def echo_once(port, deadline, proc):
    # a line split inside its terminator, an empty line, a NUL byte
    pieces = [b"hello, wor", b"ld\r", b"\n\r\n", b"a\0b\r\n"]
    want = b"".join(pieces)
    with connect(port, deadline, proc) as s:
        for p in pieces:
            s.sendall(p)
            time.sleep(0.02)  # separate reads on the server's side
        got = b""
        while len(got) < len(want):
            s.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                chunk = s.recv(4096)
            except socket.timeout:
                chunk = b""
            if not chunk:
                break
            got += chunk
    if got != want:
        raise Failed(f"echoed {got!r}, expected {want!r}")


def serve(exe, timeout):
    port = free_port()
    proc = subprocess.Popen([exe, str(port)], stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + timeout
        echo_once(port, deadline, proc)
        echo_once(port, deadline, proc)  # the first one's close was handled
        if proc.poll() is not None:
            raise Failed(f"exited with status {proc.returncode} while serving")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # the example has no handler
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()  # ours, by its id; reported below as a failure
            proc.wait()
            raise Failed("still running 10 s after SIGTERM")
    return port


def main():
    ap = argparse.ArgumentParser(
        description="Compile, link and run the C example(s) of README.md. "
                    "Exit 0: all good, 1: an example failed, 2: setup error.")
    ap.add_argument("--readme", default=os.path.join(ROOT, "README.md"))
    ap.add_argument("--cc", default="cc",
                    help="compiler and extra flags, e.g. 'clang "
                         "-fsanitize=address' (default %(default)s)")
    ap.add_argument("--lib", default=os.path.join(ROOT, "build", "libachat.a"))
    ap.add_argument("--include", default=os.path.join(ROOT, "ref", "include"))
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "readme"),
                    help="where the sources and programs go")
    ap.add_argument("--timeout", type=float, default=30.0,
                    help="seconds each example may take to serve")
    args = ap.parse_args()
    try:
        with open(args.readme, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        log(f"cannot read the README: {e}")
        return 2
    blocks = c_blocks(text)
    missing = layout_missing(text)
    missing += [f"make {t} (a target `make help` does not list)"
                for t in help_missing()]
    for name in missing:
        log(f"FAIL layout: README's layout table does not name {name}")
    if not missing:
        log("PASS layout: the table names every file of ref/src, every "
            "top-level directory and every page of docs/; make help names "
            "every target")
    if not blocks:
        log(f"{args.readme} has no ```c block")
        return 2
    if not os.path.exists(args.lib):
        log(f"{args.lib} not found (run make)")
        return 2
    os.makedirs(args.out, exist_ok=True)
    failed = 0
    for i, code in enumerate(blocks, 1):
        src = os.path.join(args.out, f"example{i}.c")
        exe = os.path.join(args.out, f"example{i}")
        with open(src, "w", encoding="utf-8") as f:
            f.write(code)
        cmd = shlex.split(args.cc) + ["-std=c11", "-Wall", "-Wextra",
                                      "-Werror", "-I", args.include, src,
                                      "-o", exe, args.lib, "-pthread"]
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired:
            log(f"FAIL block {i}: the compiler ran over 300 s:\n  {shlex.join(cmd)}")
            failed += 1
            continue
        if p.returncode != 0:
            log(f"FAIL block {i}: does not compile:\n  {shlex.join(cmd)}\n"
                f"{p.stdout}{p.stderr}")
            failed += 1
            continue
        try:
            port = serve(exe, args.timeout)
        except (Failed, OSError) as e:
            log(f"FAIL block {i} ({exe}): {e}")
            failed += 1
            continue
        log(f"PASS block {i}: compiled with -Wall -Wextra -Werror, echoed "
            f"two clients on port {port}")
    print(f"readme_check: {len(blocks) - failed} of {len(blocks)} "
          f"C blocks passed; {len(missing)} name(s) missing from the layout")
    return 1 if failed or missing else 0


if __name__ == "__main__":
    sys.exit(main())
