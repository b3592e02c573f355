#!/usr/bin/env python3
"""berth's benchmark harness: berth side by side with the tools users would otherwise pick.

    make bench                      # or: python3 bench/bench.py [--reps N] [--only S,R]

Workloads are generated deterministically under bench/out/. For every workload each installed
tool runs in the same loop, interleaved (berth, reference, berth, reference, ...), so machine
drift hits both alike; the report gives medians, spread (min-max) and the ratio berth/reference.

  S  small Dockerfile (busybox base, two RUNs, COPY of 50 small files): cold, no-op, one-file change
  L  COPY of 20,000 files (220 MB) then a RUN: cold (stores emptied, then a 65 s settle for ext4), no-op, one-file change
  M  three independent stages feeding a final stage (parallelism)
  R  `run --rm IMAGE true` start to exit, against `runc run` on the same root file system
  C  commit of a 200 MB change, against `docker commit`
  X  save of a 200 MB image (again, and the first save after the build), against `docker save`

References: docker build (BuildKit), buildah bud --layers, runc. A reference that is not
installed or not running is skipped, and the harness says so. docs/benchmarks.md and the charts
in docs/bench/ are rewritten at the end.
"""
import argparse
import csv
import glob
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench", "out")
DOCS = os.path.join(ROOT, "docs")
BERTH = os.environ.get("BERTH", os.path.join(ROOT, ".build", "release", "berth"))
# Makes every one-file change of this run new to every tool's cache (a content an earlier run
# wrote would be a cache hit, not a rebuild).
RUN_ID = f"{os.getpid()}-{time.time_ns()}"
STARTED = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
# Every run's ratios, appended run after run: docs/benchmarks.md shows the last few side by side,
# since on a shared VM one run's ratio can be off by a third.
HISTORY = os.path.join(DOCS, "bench", "history.csv")
HISTORY_SHOWN = 6
BASE_TAR = os.path.join(ROOT, "Fixtures", "base", "out", "busybox-rootfs.tar")
# Debian's docker.io client (its `docker build` speaks to BuildKit without buildx).
DOCKER = "/usr/bin/docker" if os.access("/usr/bin/docker", os.X_OK) else (shutil.which("docker") or "docker")

HOW_TO_START = """To compare against the references, install and start them first:
  apt-get install -y docker.io buildah runc
  dockerd --iptables=false --bridge=none >/tmp/dockerd.log 2>&1 &
Docker builds run with --network host (berth's RUN steps use the host network too)."""


def sh(cmd, check=True, env=None, cwd=None, quiet=True):
    r = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE if quiet else None,
                       stderr=subprocess.PIPE if quiet else None, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}): {(r.stderr or '')[-800:]}")
    return r


def timed(cmd, **kw):
    # Whatever the previous command left to write back (a reference tool's 220 MB, a removed
    # store) is written out first, so it does not land in this command's time.
    os.sync()
    start = time.perf_counter()
    sh(cmd, **kw)
    return time.perf_counter() - start


# --------------------------------------------------------------------------------------------
# Tools


class Tool:
    name = ""
    available = False
    why = ""
    version = ""


class Berth(Tool):
    name = "berth"

    def __init__(self):
        self.available = os.access(BERTH, os.X_OK)
        self.why = "" if self.available else f"{BERTH} not built (make release)"
        if self.available:
            self.version = sh([BERTH, "--version"]).stdout.strip()
        self.root = None

    def fresh(self):
        if self.root:
            shutil.rmtree(self.root, ignore_errors=True)
        self.root = tempfile.mkdtemp(prefix="berth-bench-")
        sh([BERTH, "--root", self.root, "import", BASE_TAR, "bench-base"])

    def cmd(self, *args):
        return [BERTH, "--root", self.root, *args]

    def build(self, ctx, tag, dockerfile=None):
        return timed(self.cmd("build", "-q", "-t", tag, *(["-f", dockerfile] if dockerfile else []), ctx))

    def cleanup(self):
        if self.root:
            shutil.rmtree(self.root, ignore_errors=True)


class Docker(Tool):
    name = "docker build (BuildKit)"

    def __init__(self):
        self.available = os.access(DOCKER, os.X_OK) and sh([DOCKER, "info"], check=False).returncode == 0
        self.why = "" if self.available else "docker not installed or dockerd not running"
        self.env = dict(os.environ, DOCKER_BUILDKIT="1")
        if self.available:
            self.version = "docker " + sh([DOCKER, "version", "--format", "{{.Server.Version}}"]).stdout.strip()

    def fresh(self):
        sh([DOCKER, "builder", "prune", "-af"], check=False)
        for image in sh([DOCKER, "images", "-q", "--filter", "reference=bench-*"], check=False).stdout.split():
            sh([DOCKER, "rmi", "-f", image], check=False)
        sh([DOCKER, "import", BASE_TAR, "bench-base"])

    def build(self, ctx, tag, dockerfile=None):
        return timed([DOCKER, "build", "-q", "--network", "host", "-t", tag,
                      *(["-f", dockerfile] if dockerfile else []), ctx], env=self.env)

    def cleanup(self):
        self.fresh()


class Buildah(Tool):
    name = "buildah bud --layers"

    def __init__(self):
        self.available = shutil.which("buildah") is not None
        self.why = "" if self.available else "buildah not installed"
        if self.available:
            self.version = sh(["buildah", "--version"]).stdout.strip()

    def fresh(self):
        sh(["buildah", "rm", "--all"], check=False)
        sh(["buildah", "rmi", "--all", "--force"], check=False)
        container = sh(["buildah", "from", "scratch"]).stdout.strip()
        sh(["buildah", "add", container, BASE_TAR, "/"])
        sh(["buildah", "commit", "-q", container, "bench-base"])
        sh(["buildah", "rm", container])

    def build(self, ctx, tag, dockerfile=None):
        return timed(["buildah", "bud", "-q", "--layers", "--network", "host", "-t", tag,
                      *(["-f", dockerfile] if dockerfile else []), ctx])

    def cleanup(self):
        sh(["buildah", "rmi", "--all", "--force"], check=False)


# --------------------------------------------------------------------------------------------
# Workload generation (deterministic: fixed seeds, fixed sizes)


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def gen_small():
    ctx = os.path.join(OUT, "S")
    shutil.rmtree(ctx, ignore_errors=True)
    rng = random.Random(1)
    for i in range(50):
        write(os.path.join(ctx, "files", f"f{i:02}.txt"), bytes(rng.getrandbits(8) for _ in range(512)))
    write(os.path.join(ctx, "Dockerfile"), b"FROM bench-base\nRUN echo first > /first\nCOPY files/ /files/\n"
          b"RUN ls /files > /listing && wc -c /files/* > /sizes\n")
    return ctx


def gen_large():
    ctx = os.path.join(OUT, "L")
    if os.path.exists(os.path.join(ctx, "Dockerfile")):
        return ctx
    rng = random.Random(2)
    block = bytes(rng.getrandbits(8) for _ in range(1 << 16))
    for i in range(20000):
        size = 11000
        start = (i * 7919) % (len(block) - size)
        write(os.path.join(ctx, "tree", f"d{i // 500:02}", f"f{i:05}.bin"), block[start:start + size])
    write(os.path.join(ctx, "Dockerfile"), b"FROM bench-base\nCOPY tree /tree\nRUN find /tree -type f | wc -l > /count\n")
    return ctx


def gen_multistage():
    ctx = os.path.join(OUT, "M")
    shutil.rmtree(ctx, ignore_errors=True)
    stages = "".join(f"FROM bench-base AS s{i}\nRUN i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; echo {i} > /out{i}\n"
                     for i in range(3))
    final = "FROM bench-base\n" + "".join(f"COPY --from=s{i} /out{i} /out{i}\n" for i in range(3))
    write(os.path.join(ctx, "Dockerfile"), (stages + final).encode())
    return ctx


def gen_big_image():
    ctx = os.path.join(OUT, "X")
    shutil.rmtree(ctx, ignore_errors=True)
    write(os.path.join(ctx, "Dockerfile"),
          b"FROM bench-base\nRUN dd if=/dev/urandom of=/big1 bs=1M count=100 2>/dev/null"
          b" && dd if=/dev/urandom of=/big2 bs=1M count=100 2>/dev/null\n")
    return ctx


# --------------------------------------------------------------------------------------------
# Measurements


class Results:
    def __init__(self):
        self.rows = []  # (workload, case, tool, [seconds])
        self.skipped = []

    def add(self, workload, case, tool, samples):
        self.rows.append((workload, case, tool, samples))


def half_reps(reps):
    """Repetitions of the cases too slow to run `reps` times (L cold, X first save): at least 2."""
    return max(2, reps // 2)


def berth_median(entries):
    """berth's median among one case's (tool, samples) entries, or None."""
    return next((median(s) for tool, s in entries if tool == "berth"), None)


def interleave(reps, tools, fn):
    """Calls fn(tool) for rep in reps, tools in turn; returns {tool name: [seconds]}."""
    samples = {t.name: [] for t in tools}
    for _ in range(reps):
        for t in tools:
            samples[t.name].append(fn(t))
    return samples


# How long a cold build of a big tree waits after the stores were emptied: ext4 without a journal
# makes new inodes skip those freed in the last 60 s (see filesystem_facts), and emptying a store
# frees tens of thousands.
SETTLE_SECONDS = 65


def settle(ctx):
    """Lets freed inodes age past ext4's 60 s, then reads the context once (memory idle that long
    may have been paged out, see memory_facts), so every tool's cold build starts alike."""
    os.sync()
    time.sleep(SETTLE_SECONDS)
    for directory, _, files in os.walk(ctx):
        for name in files:
            with open(os.path.join(directory, name), "rb") as f:
                while f.read(1 << 20):
                    pass


def build_cases(results, workload, ctx, tools, reps, change=None, settle_cold=False, cold_reps=None):
    """cold (each tool's store emptied first; with `settle_cold`, all of them, then one settle
    before the builds; `cold_reps` times when given), no-op rebuild, and one-file change when
    `change` is given."""
    if settle_cold:
        samples = {t.name: [] for t in tools}
        for _ in range(cold_reps or reps):
            for t in tools:
                t.fresh()
            settle(ctx)
            for t in tools:
                samples[t.name].append(t.build(ctx, f"bench-{workload.lower()}"))
        for name, s in samples.items():
            results.add(workload, "cold", name, s)
    else:
        def cold(t):
            t.fresh()
            return t.build(ctx, f"bench-{workload.lower()}")
        for name, s in interleave(reps, tools, cold).items():
            results.add(workload, "cold", name, s)

    def noop(t):
        return t.build(ctx, f"bench-{workload.lower()}")

    for name, s in interleave(reps, tools, noop).items():
        results.add(workload, "no-op rebuild", name, s)
    if change:
        def one_file(t):
            change()
            return t.build(ctx, f"bench-{workload.lower()}")
        for name, s in interleave(reps, tools, one_file).items():
            results.add(workload, "one-file change", name, s)


def bench_run(results, reps, berth):
    """R: berth run --rm vs runc run on the same root file system."""
    refs = []
    bundle = os.path.join(OUT, "R", "bundle")
    if shutil.which("runc"):
        shutil.rmtree(os.path.join(OUT, "R"), ignore_errors=True)
        os.makedirs(os.path.join(bundle, "rootfs"))
        sh(["tar", "-xf", BASE_TAR, "-C", os.path.join(bundle, "rootfs")])
        sh(["runc", "spec"], cwd=bundle)
        spec = json.load(open(os.path.join(bundle, "config.json")))
        spec["process"]["terminal"] = False
        spec["process"]["args"] = ["true"]
        json.dump(spec, open(os.path.join(bundle, "config.json"), "w"))
        refs.append("runc run")
    else:
        results.skipped.append("R: runc not installed")
    berth.fresh()
    names = ["berth"] + refs
    samples = {n: [] for n in names}
    for i in range(max(reps, 20)):
        samples["berth"].append(timed(berth.cmd("run", "--rm", "bench-base", "true")))
        if refs:
            samples["runc run"].append(timed(["runc", "run", f"bench-{os.getpid()}-{i}"], cwd=bundle))
    for n in names:
        results.add("R", "start to exit", n, samples[n])


def bench_save(results, reps, berth, docker):
    """X: save of a 200 MB image."""
    ctx = gen_big_image()
    out = os.path.join(OUT, "X", "image.tar")
    berth.fresh()
    berth.build(ctx, "bench-x")
    tools = [("berth", lambda: timed(berth.cmd("save", "-o", out, "bench-x")))]
    if docker.available:
        docker.fresh()
        docker.build(ctx, "bench-x")
        tools.append((docker.name.replace(" build (BuildKit)", " save"), lambda: timed([DOCKER, "save", "-o", out, "bench-x"])))
    else:
        results.skipped.append("X: docker save skipped (" + docker.why + ")")
    samples = {n: [] for n, _ in tools}
    for _ in range(reps):
        for n, fn in tools:
            samples[n].append(fn())
            os.unlink(out)
    for n, _ in tools:
        results.add("X", "save 200 MB", n, samples[n])
    # The first save after a build: berth writes a built layer's tar only when something reads it
    # (docker save always writes the tars), so this one includes writing them.
    first = {n: [] for n, _ in tools}
    for _ in range(half_reps(reps)):
        berth.fresh()
        berth.build(ctx, "bench-x")
        first["berth"].append(tools[0][1]())
        os.unlink(out)
        if docker.available:
            docker.fresh()
            docker.build(ctx, "bench-x")
            first[tools[1][0]].append(tools[1][1]())
            os.unlink(out)
    for n, _ in tools:
        results.add("X", "first save after the build", n, first[n])


def bench_commit(results, reps, berth, docker):
    """C: commit of a container that wrote 200 MB, against docker commit of the same change."""
    change = ["sh", "-c", "dd if=/dev/urandom of=/big bs=1M count=200 2>/dev/null"]
    berth.fresh()
    tools = ["berth"]
    if docker.available:
        docker.fresh()
        tools.append("docker commit")
    else:
        results.skipped.append("C: docker commit skipped (" + docker.why + ")")
    samples = {n: [] for n in tools}
    for i in range(reps):
        name = f"bench-c-{os.getpid()}-{i}"
        # The change is made outside the timing; only the commit is measured.
        sh(berth.cmd("run", "--name", name, "bench-base", *change))
        samples["berth"].append(timed(berth.cmd("commit", name, f"bench-c:{i}")))
        sh(berth.cmd("rm", name))
        sh(berth.cmd("rmi", f"bench-c:{i}"))
        if docker.available:
            sh([DOCKER, "run", "--name", name, "--network", "none", "bench-base", *change])
            samples["docker commit"].append(timed([DOCKER, "commit", name, f"bench-c:{i}"]))
            sh([DOCKER, "rm", name], check=False)
            sh([DOCKER, "rmi", f"bench-c:{i}"], check=False)
    for n in tools:
        results.add("C", "commit of a 200 MB change", n, samples[n])


# --------------------------------------------------------------------------------------------
# Report


def median(s):
    return statistics.median(s) if s else float("nan")


def fmt(seconds):
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def svg_chart(title, bars):
    """A horizontal bar chart of medians with min-max whiskers, as SVG text."""
    width, row, left = 860, 34, 330
    height = 50 + row * len(bars)
    top = max(max(s) for _, s in bars) * 1.1 or 1
    scale = (width - left - 90) / top
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="13">',
             f'<rect width="100%" height="100%" fill="white"/><text x="10" y="22" font-size="15" font-weight="bold">{title}</text>']
    for i, (label, s) in enumerate(bars):
        y = 40 + i * row
        m = median(s)
        color = "#2f6fdf" if label.endswith(": berth") or label == "berth" else "#9a9a9a"
        parts.append(f'<text x="10" y="{y + 17}">{label}</text>')
        parts.append(f'<rect x="{left}" y="{y + 4}" width="{max(m * scale, 1):.1f}" height="18" fill="{color}"/>')
        lo, hi = min(s), max(s)
        parts.append(f'<line x1="{left + lo * scale:.1f}" x2="{left + hi * scale:.1f}" y1="{y + 13}" y2="{y + 13}" stroke="black"/>')
        parts.append(f'<text x="{left + max(m, hi) * scale + 6:.1f}" y="{y + 18}">{fmt(m)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def cgroup_facts():
    """The cgroup layout and what moving a process into a fresh cgroup costs on this machine.

    On a kernel whose cgroup hierarchies are not mounted with `favordynmods`, the first task
    migration after a quiet moment waits for an RCU grace period (often 10-30 ms): runc pays it
    at every start; berth avoids it on cgroup v2 (clone into the cgroup) but not on v1 and
    hybrid layouts, where the v1 controllers need a migration."""
    mounts = [l.split() for l in open("/proc/self/mounts") if " cgroup" in l]
    v1 = [m for m in mounts if m[2] == "cgroup"]
    v2 = [m for m in mounts if m[2] == "cgroup2"]
    layout = "hybrid (v1 controllers + unified)" if v1 and v2 else "v1" if v1 else "v2"
    favor = any("favordynmods" in m[3] for m in mounts)
    target = "/sys/fs/cgroup/devices" if v1 else (v2[0][1] if v2 else None)
    cost = None
    if target and os.geteuid() == 0:
        path = os.path.join(target, f"bench-migration-{os.getpid()}")
        samples = []
        try:
            os.mkdir(path)
            for _ in range(5):
                child = subprocess.Popen(["sleep", "1"])
                time.sleep(0.2)
                start = time.perf_counter()
                with open(os.path.join(path, "cgroup.procs"), "w") as f:
                    f.write(str(child.pid))
                samples.append(time.perf_counter() - start)
                child.kill()
                child.wait()
        except OSError:
            pass
        finally:
            try:
                os.rmdir(path)
            except OSError:
                pass
        cost = median(samples) if samples else None
    text = f"- cgroups: {layout}" + (", mounted with favordynmods" if favor else "")
    if cost is not None:
        text += f"; moving a process into a fresh cgroup takes {cost * 1000:.1f} ms (median of 5)"
    return text


def filesystem_facts(path):
    """The file system the stores live on, and whether it is ext4 without a journal.

    Without a journal, ext4's inode allocator skips inodes freed in the last 60 s (360 s while
    their inode-table block is unwritten), scanning past each of them for every new file: right
    after many files were deleted (a store or a build cache removed), creating as many again is
    several times slower for every tool. That is why the L cold and one-file cases swing here."""
    best = ("", "", "")
    for line in open("/proc/self/mountinfo"):
        fields = line.split()
        dash = fields.index("-")
        point, fstype, source = fields[4], fields[dash + 1], fields[dash + 2]
        if (path + "/").startswith(point.rstrip("/") + "/") and len(point) >= len(best[0]):
            best = (point, fstype, source)
    point, fstype, source = best
    text = f"- file system of the stores ({path}): {fstype} on {source}"
    journal = os.path.join("/sys/fs/ext4", os.path.basename(source), "journal_task")
    if fstype == "ext4" and os.path.exists(journal):
        if open(journal).read().strip() == "<none>":
            text += (" without a journal: new inodes skip those freed in the last 60 s (360 s while"
                     " unwritten), so creating many files soon after deleting many is several times"
                     " slower, for every tool (the L cold and one-file cases swing with it)")
        else:
            text += " with a journal"
    return text


def memory_facts():
    """Proactive reclaim: an active DAMON scheme that pages out memory idle for a while.

    With one, page cache idle for about a minute goes back to disk, and DAMON judges idleness by
    sampling one page per region, so recently used pages can go too: a build reads its files (the
    context, the previous snapshot) from disk again now and then, the first run of a case after a
    pause most often. Every tool pays it; it widens the spreads."""
    base = "/sys/kernel/mm/damon/admin/kdamonds"
    ages = []
    for scheme in glob.glob(os.path.join(base, "*", "contexts", "*", "schemes", "*")):
        kdamond = scheme.split("/contexts/")[0]
        context = scheme.split("/schemes/")[0]
        try:
            if open(os.path.join(kdamond, "state")).read().strip() != "on":
                continue
            if open(os.path.join(scheme, "action")).read().strip() != "pageout":
                continue
            age = int(open(os.path.join(scheme, "access_pattern", "age", "min")).read())
            aggregation = int(open(os.path.join(context, "monitoring_attrs", "intervals", "aggr_us")).read())
        except (OSError, ValueError):
            continue
        ages.append(age * aggregation / 1e6)
    if not ages:
        return None
    return (f"- memory: a DAMON scheme pages out memory it sees idle for {min(ages):.0f} s or more, so builds"
            " now and then read their files from disk again (most often the first run of a case after a"
            " pause), for every tool")


def record_history(grouped):
    """Appends this run's ratios (berth / every other tool, per case) to HISTORY."""
    commit = sh(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], check=False).stdout.strip() or "unknown"
    if sh(["git", "-C", ROOT, "status", "--porcelain", "--", "Sources", "bench/bench.py"], check=False).stdout.strip():
        commit += "+changes"
    new = not os.path.exists(HISTORY)
    with open(HISTORY, "a", newline="") as f:
        out = csv.writer(f)
        if new:
            out.writerow(["run", "commit", "workload", "case", "tool", "berth median s", "tool median s", "ratio"])
        for (w, c), entries in grouped.items():
            base = berth_median(entries)
            for tool, s in entries:
                if tool != "berth" and base is not None:
                    out.writerow([STARTED, commit, w, c, tool, f"{base:.4f}", f"{median(s):.4f}",
                                  f"{base / median(s):.3f}"])


def history_section():
    """The ratio to each case's first reference tool in the last HISTORY_SHOWN runs."""
    if not os.path.exists(HISTORY):
        return []
    with open(HISTORY, newline="") as f:
        rows = list(csv.DictReader(f))
    runs = []
    for r in rows:
        if (r["run"], r["commit"]) not in runs:
            runs.append((r["run"], r["commit"]))
    runs = runs[-HISTORY_SHOWN:]
    reference = {}
    ratios = {}
    for r in rows:
        key = (r["workload"], r["case"])
        reference.setdefault(key, r["tool"])
        if r["tool"] == reference[key]:
            ratios[(key, (r["run"], r["commit"]))] = r["ratio"]
    lines = ["## Run by run", "",
             f"The ratio berth/reference in the last {len(runs)} runs (docs/bench/history.csv has all of them;",
             "a run of some workloads only leaves the others blank). Runs started at (UTC), on commit:", "",
             "| workload | case | reference | " + " | ".join(f"{run} {commit}" for run, commit in runs) + " |",
             "|---|---|---|" + "---|" * len(runs)]
    for key, tool in reference.items():
        if any((key, run) in ratios for run in runs):
            cells = [f"{float(ratios[(key, run)]):.2f}" if (key, run) in ratios else "" for run in runs]
            lines.append(f"| {key[0]} | {key[1]} | {tool} | " + " | ".join(cells) + " |")
    return lines + [""]


def report(results, tools, reps):
    os.makedirs(os.path.join(DOCS, "bench"), exist_ok=True)
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    lines = ["# Benchmarks", "",
             "Written by `make bench` (bench/bench.py). Every figure is a median over interleaved runs of the",
             "tools on the same machine in the same session; the ratio is berth / reference (below 1 means",
             "berth is faster). Spread is min–max.", "",
             "## Machine", "",
             f"- {os.cpu_count()} cores ({cpu}), {mem:.0f} GiB memory, Linux {platform.release()}",
             cgroup_facts(),
             filesystem_facts(tempfile.gettempdir()),
             *filter(None, [memory_facts()]),
             f"- repetitions: {reps} per case (L cold: {half_reps(reps)}, each after a {SETTLE_SECONDS} s settle; R: at least 20)", "",
             "## Tools", ""]
    for t in tools:
        lines.append(f"- {t.name}: {t.version}" if t.available else f"- {t.name}: skipped ({t.why})")
    lines += ["", "## Results", "", "| workload | case | tool | median | spread | ratio berth/tool |", "|---|---|---|---|---|---|"]
    grouped = {}
    for w, c, tool, s in results.rows:
        grouped.setdefault((w, c), []).append((tool, s))
    for (w, c), entries in grouped.items():
        base = berth_median(entries)
        for tool, s in entries:
            ratio = "" if tool == "berth" or base is None else f"{base / median(s):.2f}"
            lines.append(f"| {w} | {c} | {tool} | {fmt(median(s))} | {fmt(min(s))}–{fmt(max(s))} | {ratio} |")
    if results.skipped:
        lines += ["", "## Not measured", ""] + [f"- {s}" for s in results.skipped]
    record_history(grouped)
    lines += [""] + history_section()
    lines += ["## Charts", ""]
    workloads = sorted({w for w, _ in grouped})
    for w in workloads:
        bars = [(f"{c}: {tool}", s) for (ww, c), entries in grouped.items() if ww == w for tool, s in entries]
        name = f"bench/{w}.svg"
        with open(os.path.join(DOCS, name), "w") as f:
            f.write(svg_chart(f"Workload {w} (median, min–max)", bars))
        lines.append(f"![workload {w}]({name})")
    with open(os.path.join(DOCS, "benchmarks.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--only", default="S,L,M,R,C,X", help="comma-separated workloads")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench: run as root (berth needs namespaces and overlay mounts)")
    os.makedirs(OUT, exist_ok=True)
    if not os.path.exists(BASE_TAR):
        sh([sys.executable, os.path.join(ROOT, "Fixtures", "base", "make-rootfs.py"), BASE_TAR])
    berth, docker, buildah = Berth(), Docker(), Buildah()
    tools = [berth, docker, buildah]
    if not berth.available:
        sys.exit("bench: " + berth.why)
    print(HOW_TO_START)
    for t in tools[1:]:
        if not t.available:
            print(f"bench: skipping {t.name}: {t.why}")
    builders = [t for t in tools if t.available]
    results = Results()
    only = set(a.only.split(","))
    try:
        if "S" in only:
            ctx = gen_small()
            counter = [0]

            def change_small():
                counter[0] += 1
                write(os.path.join(ctx, "files", "f00.txt"), f"changed {RUN_ID} {counter[0]}\n".encode())
            build_cases(results, "S", ctx, builders, a.reps, change_small)
        if "L" in only:
            ctx = gen_large()
            counter = [0]

            def change_large():
                counter[0] += 1
                write(os.path.join(ctx, "tree", "d00", "f00000.bin"), f"changed {RUN_ID} {counter[0]}\n".encode())
            build_cases(results, "L", ctx, builders, a.reps, change_large, settle_cold=True,
                        cold_reps=half_reps(a.reps))
        if "M" in only:
            ctx = gen_multistage()

            def cold(t):
                t.fresh()
                return t.build(ctx, "bench-m")
            for name, s in interleave(a.reps, builders, cold).items():
                results.add("M", "cold, 3 parallel stages", name, s)
        if "R" in only:
            bench_run(results, a.reps, berth)
        if "C" in only:
            bench_commit(results, a.reps, berth, docker)
        if "X" in only:
            bench_save(results, a.reps, berth, docker)
    finally:
        for t in builders:
            t.cleanup()
    report(results, tools, a.reps)


if __name__ == "__main__":
    main()
