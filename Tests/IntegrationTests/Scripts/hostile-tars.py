#!/usr/bin/env python3
"""Hostile archives for the reliability tests: hostile-tars.py OUTDIR SENTINEL_DIR.

Every archive tries to write into (or link to) SENTINEL_DIR, a directory outside any store, which
holds one file, `secret`:

  dotdot.tar         a file named ../../…/SENTINEL_DIR/dotdot
  absolute.tar       a file named SENTINEL_DIR/absolute (absolute path)
  symlink-write.tar  a symlink `evil` -> SENTINEL_DIR, then a file `evil/through`
  hardlink.tar       hard links to SENTINEL_DIR/secret, absolute and through ../
  load-escape.tar    a docker archive whose manifest.json names ../ paths for config and layer
  load-hostile.tar   a docker archive whose only layer is symlink-write.tar
"""
import hashlib
import io
import json
import sys
import tarfile

OUT, SENTINEL = sys.argv[1], sys.argv[2].rstrip("/")
UP = "../" * 24


def entry(tar, name, kind=tarfile.REGTYPE, data=b"", link=""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    info.linkname = link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def archive(name, build):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        build(tar)
    data = buffer.getvalue()
    if name:
        with open(f"{OUT}/{name}", "wb") as f:
            f.write(data)
    return data


archive("dotdot.tar", lambda t: (entry(t, "ok", data=b"ok\n"), entry(t, UP + SENTINEL[1:] + "/dotdot", data=b"x")))
archive("absolute.tar", lambda t: (entry(t, "ok", data=b"ok\n"), entry(t, SENTINEL + "/absolute", data=b"x")))
symlink_write = archive("symlink-write.tar", lambda t: (
    entry(t, "evil", tarfile.SYMTYPE, link=SENTINEL),
    entry(t, "evil/through", data=b"written through a symlink\n")))
archive("hardlink.tar", lambda t: (
    entry(t, "ok", data=b"ok\n"),
    entry(t, "hl", tarfile.LNKTYPE, link=SENTINEL + "/secret"),
    entry(t, "hl2", tarfile.LNKTYPE, link=UP + SENTINEL[1:] + "/secret")))


def docker_archive(name, layer, config_name=None, layer_name=None):
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()
    config_file = config_name or hashlib.sha256(config).hexdigest() + ".json"
    layer_file = layer_name or diff_id[7:] + "/layer.tar"
    manifest = json.dumps([{"Config": config_file, "RepoTags": ["hostile:latest"], "Layers": [layer_file]}]).encode()

    def build(tar):
        entry(tar, "manifest.json", data=manifest)
        if config_name is None:
            entry(tar, config_file, data=config)
        if layer_name is None:
            entry(tar, layer_file, data=layer)
    archive(name, build)


docker_archive("load-escape.tar", symlink_write, config_name=UP + "etc/passwd", layer_name=UP + SENTINEL[1:] + "/secret")
docker_archive("load-hostile.tar", symlink_write)
