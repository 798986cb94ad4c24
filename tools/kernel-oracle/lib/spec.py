#!/usr/bin/env python3
"""balancekit level string (+ optional SLIT rows) -> QEMU x86 arguments.

Usage: spec.py --spec "package:2 numa:2 l3:1 core:4 pu:2" [--distances "10 20;20 10"]
Prints shell-safe lines of the form KEY=VALUE (NCPUS, MEM_MB, NNODES, SMP) and
then one QEMU argument per line after a line "ARGS:".  Exits 2 with a message on
stderr for anything QEMU x86 cannot express.

Mapping (CPUs numbered depth-first, which is QEMU's CPU index order):
  package (pack, socket) -> sockets=   (times the count of a numa level above it)
  l3 (llc)               -> dies=      (QEMU's CPUID leaf 4 shares L3 per die)
  core                   -> cores=
  pu (thread)            -> threads=
  numa (node)            -> -numa node,...,cpus=a-b: contiguous depth-first ranges
A numa level is folded into the QEMU level just below it (sockets/dies/cores),
so it may sit above package, between package and l3, or between l3 and core.
Missing levels get count 1; a missing l3 is placed directly above core (so
when numa is given without l3, every node has its own L3).
"""
import argparse
import sys

ALIASES = {
    "package": "package", "pack": "package", "socket": "package",
    "numa": "numa", "node": "numa",
    "l3": "l3", "llc": "l3",
    "core": "core",
    "pu": "pu", "thread": "pu",
}
UNMAPPABLE = {"die", "cluster", "group", "l2", "l1", "l1d", "l1i", "machine", "board"}
ORDER = ["package", "l3", "core", "pu"]  # required relative order (outermost first)


def die(msg):
    print("capture: " + msg, file=sys.stderr)
    sys.exit(2)


def parse_levels(text):
    levels = []
    for tok in text.split():
        if ":" not in tok:
            die("bad level token %r (want name:count)" % tok)
        name, cnt = tok.split(":", 1)
        lname = name.strip().lower()
        if lname in UNMAPPABLE:
            die("level %r cannot be mapped to QEMU x86 (supported: package/pack/socket, "
                "numa/node, l3/llc, core, pu/thread)" % name)
        if lname not in ALIASES:
            die("unknown level name %r" % name)
        try:
            n = int(cnt)
        except ValueError:
            die("bad count in %r" % tok)
        if n < 1:
            die("count must be >= 1 in %r" % tok)
        canon = ALIASES[lname]
        if any(l == canon for l, _ in levels):
            die("level %r given twice" % canon)
        levels.append((canon, n))
    if not levels:
        die("empty level string")
    # check relative order of the non-numa levels
    present = [l for l, _ in levels if l != "numa"]
    if present != [l for l in ORDER if l in present]:
        die("levels must be ordered outermost first: package > l3 > core > pu (numa anywhere above core)")
    # insert missing levels with count 1
    names = [l for l, _ in levels]
    if "pu" not in names:
        levels.append(("pu", 1))
    names = [l for l, _ in levels]
    if "core" not in names:
        levels.insert(names.index("pu"), ("core", 1))
    names = [l for l, _ in levels]
    if "l3" not in names:
        levels.insert(names.index("core"), ("l3", 1))
    names = [l for l, _ in levels]
    if "package" not in names:
        levels.insert(0, ("package", 1))
    names = [l for l, _ in levels]
    if "numa" in names and names.index("numa") > names.index("core"):
        die("numa must be above core (a node cannot split a core)")
    return levels


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec", required=True)
    ap.add_argument("--distances", default="")
    a = ap.parse_args()

    levels = parse_levels(a.spec)
    names = [l for l, _ in levels]
    counts = [c for _, c in levels]
    ncpus = 1
    for c in counts:
        ncpus *= c

    # fold numa into the QEMU level right below it
    q = {"package": 1, "l3": 1, "core": 1, "pu": 1}
    pending = 1
    for name, cnt in levels:
        if name == "numa":
            pending = cnt
            continue
        q[name] = cnt * pending
        pending = 1

    have_numa = "numa" in names
    nnodes = 1
    if have_numa:
        for name, cnt in levels:
            nnodes *= cnt
            if name == "numa":
                break
    rows = []
    if a.distances.strip():
        if not have_numa:
            die("--distances given but the level string has no numa level")
        for r in a.distances.split(";"):
            r = r.strip()
            if not r:
                continue
            try:
                rows.append([int(x) for x in r.split()])
            except ValueError:
                die("bad distance row %r" % r)
        if len(rows) != nnodes or any(len(r) != nnodes for r in rows):
            die("distance matrix must be %dx%d (one row per node, rows separated by ';')"
                % (nnodes, nnodes))
        for i in range(nnodes):
            if rows[i][i] != 10:
                die("distance[%d][%d] must be 10" % (i, i))
            for j in range(nnodes):
                if i != j and not (10 < rows[i][j] <= 255):
                    die("distance[%d][%d]=%d out of range (11..255)" % (i, j, rows[i][j]))
    if ncpus > 288:
        die("%d CPUs is more than q35 supports here (288)" % ncpus)

    mem = max(512, 256 * nnodes)
    per_node = mem // nnodes
    args = ["-machine", "q35", "-cpu", "Skylake-Server", "-accel", "tcg",
            "-smp", "%d,sockets=%d,dies=%d,cores=%d,threads=%d"
            % (ncpus, q["package"], q["l3"], q["core"], q["pu"]),
            "-m", "%dM" % mem]
    if have_numa:
        per = ncpus // nnodes
        for i in range(nnodes):
            lo, hi = i * per, (i + 1) * per - 1
            cpus = "%d" % lo if lo == hi else "%d-%d" % (lo, hi)
            args += ["-object", "memory-backend-ram,id=m%d,size=%dM" % (i, per_node),
                     "-numa", "node,nodeid=%d,cpus=%s,memdev=m%d" % (i, cpus, i)]
        for i in range(len(rows)):
            for j in range(len(rows)):
                if i != j:
                    args += ["-numa", "dist,src=%d,dst=%d,val=%d" % (i, j, rows[i][j])]
    print("NCPUS=%d" % ncpus)
    print("NNODES=%d" % nnodes)
    print("MEM_MB=%d" % mem)
    print("CANON=%s" % " ".join("%s:%d" % lc for lc in levels))
    print("ARGS:")
    for x in args:
        print(x)


if __name__ == "__main__":
    main()
