#!/usr/bin/env python3
"""Writes a small busybox root file system tarball, byte-identical on every run.

Usage: make-rootfs.py OUTPUT.tar [BUSYBOX]

The tarball holds Debian's static busybox (busybox-static), a symlink for every applet it
provides, /etc/passwd and /etc/group, and the usual top-level directories. Every entry has
uid/gid 0, mtime 0 and fixed modes, and entries are sorted, so the same busybox binary always
gives the same bytes (and so the same image digest after `berth import`).
"""
import io
import os
import shutil
import subprocess
import sys
import tarfile

DIRECTORIES = {
    "bin": 0o755, "dev": 0o755, "etc": 0o755, "home": 0o755, "proc": 0o755, "root": 0o700,
    "sbin": 0o755, "sys": 0o755, "tmp": 0o1777, "usr": 0o755, "usr/bin": 0o755, "usr/sbin": 0o755,
    "var": 0o755, "var/tmp": 0o1777,
}
PASSWD = (b"root:x:0:0:root:/root:/bin/sh\n"
          b"daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
          b"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
GROUP = b"root:x:0:\ndaemon:x:1:\nnogroup:x:65534:\n"


def applets(busybox):
    out = subprocess.run([busybox, "--list-full"], capture_output=True, text=True, check=True).stdout
    return sorted({line.strip() for line in out.splitlines() if line.strip() and line.strip() != "bin/busybox"})


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    output = sys.argv[1]
    busybox = sys.argv[2] if len(sys.argv) == 3 else (shutil.which("busybox") or "/bin/busybox")
    if not os.path.exists(busybox):
        sys.exit(f"make-rootfs: {busybox} not found (apt-get install busybox-static)")
    data = open(busybox, "rb").read()
    entries = []

    def info(name, kind, mode, size=0, link=""):
        ti = tarfile.TarInfo(name)
        ti.type, ti.mode, ti.size, ti.linkname = kind, mode, size, link
        ti.mtime, ti.uid, ti.gid, ti.uname, ti.gname = 0, 0, 0, "", ""
        return ti

    for name, mode in DIRECTORIES.items():
        entries.append((info(name, tarfile.DIRTYPE, mode), None))
    entries.append((info("bin/busybox", tarfile.REGTYPE, 0o755, len(data)), data))
    entries.append((info("etc/passwd", tarfile.REGTYPE, 0o644, len(PASSWD)), PASSWD))
    entries.append((info("etc/group", tarfile.REGTYPE, 0o644, len(GROUP)), GROUP))
    for path in applets(busybox):
        depth = path.count("/")
        if not path.startswith(("bin/", "sbin/", "usr/bin/", "usr/sbin/")):
            continue
        entries.append((info(path, tarfile.SYMTYPE, 0o777, link="../" * depth + "bin/busybox"), None))
    entries.sort(key=lambda e: e[0].name.encode())
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    tmp = output + ".tmp"
    with open(tmp, "wb") as raw:
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
            for ti, content in entries:
                tf.addfile(ti, io.BytesIO(content) if content is not None else None)
    os.replace(tmp, output)


if __name__ == "__main__":
    main()
