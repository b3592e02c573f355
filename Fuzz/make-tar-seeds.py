#!/usr/bin/env python3
"""Writes the seed inputs of the tar fuzzer (Fuzz/TarFuzzer.swift) into Fuzz/corpus/tar.

Each seed is one control byte (bit 0-1: 1 = gzip the payload, 2 = zstd it; bit 2: overlay
mode) followed by a small tar made with Python's tarfile: every entry type and every hostile
shape the unpacker must refuse or contain. Trailing zero blocks are cut to the two-block end
marker so the seeds stay small.

    python3 Fuzz/make-tar-seeds.py [OUTPUT_DIR]
"""
import gzip
import io
import os
import subprocess
import sys
import tarfile

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus", "tar")
os.makedirs(out, exist_ok=True)


def info(name, kind=tarfile.REGTYPE, data=b"", **extra):
    i = tarfile.TarInfo(name)
    i.type = kind
    i.size = len(data) if kind == tarfile.REGTYPE else 0
    i.mode = extra.pop("mode", 0o755 if kind == tarfile.DIRTYPE else 0o644)
    i.mtime = extra.pop("mtime", 1_700_000_000)
    for key, value in extra.items():
        setattr(i, key, value)
    return i, (io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def tar(entries, fmt=tarfile.PAX_FORMAT):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as t:
        for entry, data in entries:
            if data is not None:
                data.seek(0)
            t.addfile(entry, data)
    raw = buffer.getvalue().rstrip(b"\0")
    blocks = (len(raw) + 511) // 512
    return raw.ljust(blocks * 512, b"\0") + b"\0" * 1024


D, F, L, H = tarfile.DIRTYPE, tarfile.REGTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE
seeds = {
    "regular": [info("dir", D), info("dir/file", data=b"hello\n"), info("f", data=b"x" * 600)],
    "hardlink": [info("file", data=b"data"), info("dir", D), info("dir/hard", H, linkname="file")],
    "symlink": [info("dir", D), info("dir/rel", L, linkname="../file"), info("abs", L, linkname="/etc/passwd")],
    "whiteouts": [info("dir/.wh.old", data=b""), info(".wh.keep"), info("dir/new", data=b"new")],
    "opaque": [info("opaque", D), info("opaque/.wh..wh..opq"), info("opaque/new", data=b"n")],
    "whiteout-invalid": [info(".wh."), info("dir/.wh...")],
    "pax-headers": [
        info("p", data=b"pax", pax_headers={"path": "pax/long/" + "n" * 120, "mtime": "1.5", "uname": "u"}),
        info("x", data=b"x", pax_headers={"SCHILY.xattr.user.k": "v", "SCHILY.xattr.trusted.overlay.opaque": "y",
                                         "SCHILY.xattr.security.capability": "\x01\x00\x00\x02"}),
    ],
    "long-names": [info("d/" + "long" * 40, data=b"l"), info("s" * 150, L, linkname="t" * 150)],
    "dotdot": [info("../escaped", data=b"x")],
    "dotdot-nested": [info("a/../../escaped", data=b"x")],
    "absolute": [info("/etc/passwd", data=b"root"), info("/../sentinel/f", data=b"x")],
    "symlink-then-file": [info("link", L, linkname="../sentinel"), info("link/escaped", data=b"x")],
    "symlink-abs-then-file": [info("a", L, linkname="/dev/shm/berth-fuzz-tar/sentinel/a"), info("a/file", data=b"x")],
    "symlink-then-dir": [info("etc", L, linkname="../sentinel/etc"), info("etc/new", D)],
    "dir-then-symlink": [info("a", D), info("a/b", D), info("a", L, linkname="../sentinel")],
    "dir-then-symlink-abs": [info("usr", D), info("usr/bin", D), info("usr", L, linkname="/dev/shm/berth-fuzz-tar/sentinel/usr")],
    "hardlink-out": [info("h", H, linkname="../sentinel/f")],
    "hardlink-through-symlink": [info("l", L, linkname="../sentinel"), info("h", H, linkname="l/f")],
    "hardlink-to-symlink": [info("l", L, linkname="../sentinel/f"), info("h", H, linkname="l"), info("h", data=b"w")],
    "whiteout-through-symlink": [info("l", L, linkname="../sentinel"), info("l/.wh.f")],
    "opaque-through-symlink": [info("x", L, linkname="../sentinel/x"), info("x/.wh..wh..opq")],
    "replace-link-with-file": [info("link", data=b"not through")],
    "devices": [
        info("fifo", tarfile.FIFOTYPE),
        info("chr", tarfile.CHRTYPE, devmajor=1, devminor=3),
        info("blk", tarfile.BLKTYPE, devmajor=7, devminor=0),
        info("wh", tarfile.CHRTYPE, devmajor=0, devminor=0),
    ],
    "setuid": [info("bin", D), info("bin/su", data=b"#!", mode=0o4755, uid=0, gid=0)],
    "owners": [info("o", data=b"o", uid=1234567, gid=7654321, uname="x", gname="y")],
    "dir-modes": [info("ro", D, mode=0o500), info("ro/inner", data=b"i"), info("none", D, mode=0)],
    "file-over-dir": [info("dir", data=b"file replaces dir"), info("keep", D)],
}
formats = {"gnu-longname": ([info("g/" + "x" * 200, data=b"g")], tarfile.GNU_FORMAT),
           "ustar": ([info("u", data=b"u"), info("ud", D)], tarfile.USTAR_FORMAT)}

written = 0


def emit(name, control, payload):
    global written
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes([control]) + payload)
    written += 1


for name, entries in seeds.items():
    payload = tar(entries)
    emit(name, 0, payload)
    if name in ("whiteouts", "opaque", "devices", "pax-headers", "dir-then-symlink", "whiteout-through-symlink"):
        emit(name + "-overlay", 4, payload)
for name, (entries, fmt) in formats.items():
    emit(name, 0, tar(entries, fmt))

# Sparse entries (GNU old and PAX 1.0), from GNU tar when available.
try:
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        with open(tmp + "/sparse", "wb") as f:
            f.seek(8192)
            f.write(b"end")
        for variant, fmt in (("sparse-gnu", "gnu"), ("sparse-pax", "posix")):
            subprocess.run(["tar", "--sparse", "--format=" + fmt, "-C", tmp, "-cf", tmp + "/s.tar", "sparse"],
                           check=True)
            data = open(tmp + "/s.tar", "rb").read().rstrip(b"\0")
            data = data.ljust((len(data) + 511) // 512 * 512, b"\0") + b"\0" * 1024
            emit(variant, 0, data)
except (OSError, subprocess.CalledProcessError) as error:
    print("no sparse seeds:", error, file=sys.stderr)

# Compression: the harness compresses (control 1 = gzip, 2 = zstd) and pre-compressed files.
regular = tar(seeds["regular"])
emit("gzip-by-harness", 1, regular)
emit("zstd-by-harness", 2, tar(seeds["opaque"]))
emit("gzip-file", 0, gzip.compress(regular, mtime=0))
try:
    emit("zstd-file", 0, subprocess.run(["zstd", "-q", "-c"], input=regular, capture_output=True, check=True).stdout)
except (OSError, subprocess.CalledProcessError) as error:
    print("no zstd seed:", error, file=sys.stderr)
emit("gzip-truncated", 0, gzip.compress(regular, mtime=0)[:40])
emit("empty", 0, b"")
print(f"{written} seeds in {out}")
