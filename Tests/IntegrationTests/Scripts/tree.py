#!/usr/bin/env python3
"""make ROOT: builds a tree with every kind of file; describe ROOT: prints one line per entry
(raw name in hex, type, mode, owner, size, device, link target, mtime, link count, xattrs,
content digest), sorted, so two trees can be compared."""
import hashlib
import os
import stat
import sys


def make(root):
    def p(name):
        return os.path.join(os.fsencode(root), name)

    def write(name, content, mode=0o644):
        with open(p(name), "wb") as f:
            f.write(content)
        os.chmod(p(name), mode)

    os.mkdir(p(b"dir"))
    write(b"dir/file", b"content\n")
    os.link(p(b"dir/file"), p(b"dir/hardlink"))
    write(b"setuid", b"#!/bin/sh\n", 0o4755)
    os.mkdir(p(b"setgid-dir"))
    os.chmod(p(b"setgid-dir"), 0o2775)
    os.mkdir(p(b"sticky"))
    os.chmod(p(b"sticky"), 0o1777)
    write(b"xattrs", b"x")
    os.setxattr(p(b"xattrs"), "user.note", b"hello")
    # A v2 file capability: cap_net_bind_service permitted and effective.
    os.setxattr(p(b"xattrs"), "security.capability", bytes([1, 0, 0, 2, 0, 4, 0, 0]) + bytes(12))
    os.mkfifo(p(b"fifo"), 0o600)
    os.mknod(p(b"null"), stat.S_IFCHR | 0o666, os.makedev(1, 3))
    os.mknod(p(b"loop9"), stat.S_IFBLK | 0o660, os.makedev(7, 9))
    os.symlink(b"dir/file", p(b"symlink"))
    long_dir = b"n" * 150
    os.mkdir(p(long_dir))
    write(long_dir + b"/" + b"f" * 200, b"deep\n")
    write(b"latin1-\xe9", b"not utf-8\n")
    os.symlink(b"latin1-\xe9", p(b"link-\xff"))
    write("héllo".encode(), b"utf-8\n")
    write(b"owned", b"o", 0o640)
    os.lchown(p(b"owned"), 1234, 5678)
    with open(p(b"sparse"), "wb") as f:
        f.truncate(64 << 20)
        f.seek(32 << 20)
        f.write(b"middle")
    os.utime(p(b"dir/file"), (1234567890, 1234567890))


def describe(root):
    root = os.fsencode(root)
    lines = []
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            full = os.path.join(directory, name)
            st = os.lstat(full)
            rel = os.path.relpath(full, root)
            line = [rel.hex(), stat.filemode(st.st_mode), f"{st.st_uid}:{st.st_gid}", str(int(st.st_mtime)),
                    str(st.st_nlink)]
            if stat.S_ISREG(st.st_mode):
                line += [str(st.st_size), hashlib.sha256(open(full, "rb").read()).hexdigest()[:16]]
            if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                line.append(f"dev={os.major(st.st_rdev)},{os.minor(st.st_rdev)}")
            if stat.S_ISLNK(st.st_mode):
                line.append("->" + os.readlink(full).hex())
            if not stat.S_ISLNK(st.st_mode):
                for key in sorted(os.listxattr(full, follow_symlinks=False)):
                    line.append(f"{key}={os.getxattr(full, key, follow_symlinks=False).hex()}")
            lines.append(" ".join(line))
    print("\n".join(sorted(lines)))


if __name__ == "__main__":
    {"make": make, "describe": describe}[sys.argv[1]](sys.argv[2])
