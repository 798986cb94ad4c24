#!/usr/bin/env python3
"""Turn a kernel-oracle serial log into the golden files.

postprocess.py --log console.log --outdir DIR/NAME --ncpus N --spec S
               [--distances D] [--qemu-cmd CMD] [--qemu-version V] [--kernel-pkg P]
               [--accel tcg|kvm] [--elapsed SECS]
Writes spec.txt, sched_verbose.txt, debugfs.txt, distances.txt, nodes.txt.
Exits 1 (after writing what it could) when the log lacks the domain dump.
"""
import datetime
import os
import re
import sys

from oracle_log import add_field, arguments, debugfs_rows, read_log, unglue, write_lines, write_node_file

TS = re.compile(r"^\[\s*\d+\.\d+\] ?")
ATTACH = re.compile(r"^CPU(\d+) attaching (sched-domain\(s\):|NULL sched-domain\.)\s*$")
DOMAIN = re.compile(r"^ +domain-\d+: ")
GROUPS = re.compile(r"^ +groups:")
ROOT = re.compile(r"^root domain span: ")
ERROR = re.compile(r"^ERROR: ")
NOTE = re.compile(r"(arch topology borken|sched: CPU #|sched_domain|sched-domain|topology|"
                  r"Fake a node|No NUMA configuration|NUMA: Warning|Brought up|"
                  r"Max logical packages|llc-sibling|not on the same node)", re.I)
SKIP = re.compile(r"RETBleed|Spectre|MDS|MMIO Stale|TAA|SRBDS|GDS|ITS|VMSCAPE")


def sections(lines):
    """Return (uname, dmesg_lines or None, debugfs dict, nodes dict, done)."""
    uname = None
    dmesg = None
    dfs = {}
    nodes = {}
    done = False
    cur = None
    for raw in lines:
        l = unglue(raw, ("@@O", "@@U", "@@K", "@@D", "@@N"))
        if l.startswith("@@ORACLE BEGIN "):
            cur = l.split()[2]
            if cur == "dmesg":
                dmesg = []
            continue
        if l.startswith("@@ORACLE END "):
            cur = None
            continue
        if l.startswith("@@ORACLE DONE"):
            done = True
            continue
        if l.startswith("@@U ") and uname is None:
            uname = l[4:].strip()
        elif l.startswith("@@K") and dmesg is not None and cur == "dmesg":
            dmesg.append(l[4:] if l.startswith("@@K ") else l[3:])
        else:
            add_field(l, dfs, nodes)
    return uname, dmesg, dfs, nodes, done


def domain_sets(klines):
    """Split kernel lines (timestamps stripped) into printed domain sets.
    Returns list of sets: each {'blocks': [(cpu, [lines])], 'root': [lines]}."""
    sets = []
    cur = {"blocks": [], "root": []}
    block = None
    for l in klines:
        m = ATTACH.match(l)
        if m:
            if cur["root"]:  # a new set starts after a root line
                sets.append(cur)
                cur = {"blocks": [], "root": []}
            block = (int(m.group(1)), [l])
            cur["blocks"].append(block)
            continue
        if block is not None and (DOMAIN.match(l) or GROUPS.match(l) or ERROR.match(l)):
            block[1].append(l)
            continue
        if ROOT.match(l):
            cur["root"].append(l)
            block = None
            continue
    if cur["blocks"] or cur["root"]:
        sets.append(cur)
    return sets


def main():
    ap = arguments()
    a = ap.parse_args()

    lines = read_log(a.log)
    uname, dmesg, dfs, nodes, done = sections(lines)
    notes = [re.sub(r"[^\x20-\x7e]", "?", n) for n in a.note]
    if dmesg is None:
        notes.append("no dmesg dump from /init; domain lines taken from the serial console")
        src = [l for l in lines if TS.match(l)]
    else:
        src = dmesg
    klines = [TS.sub("", l, count=1) for l in src]

    sets = domain_sets(klines)
    want = set(range(a.ncpus))
    complete = [s for s in sets if {c for c, _ in s["blocks"]} == want and s["root"]]
    ok = True
    if complete:
        chosen = complete[-1]
    elif sets:
        chosen = sets[-1]
        notes.append("WARNING: no complete domain set (one block per CPU + root line) was printed; "
                     "kept the last partial set")
        ok = False
    else:
        chosen = None
        notes.append("ERROR: the kernel printed no sched_verbose domain blocks")
        ok = False
    if len(sets) > 1:
        notes.append("the kernel printed %d domain sets during boot (%d complete); kept the last complete one"
                     % (len(sets), len(complete)))
    elif len(sets) == 1:
        notes.append("the kernel printed the domains once")

    os.makedirs(a.outdir, exist_ok=True)
    with open(os.path.join(a.outdir, "sched_verbose.txt"), "w") as f:
        if chosen:
            for cpu, blines in sorted(chosen["blocks"], key=lambda b: b[0]):
                for l in blines:
                    f.write(l + "\n")
            for l in chosen["root"]:
                f.write(l + "\n")

    rows = debugfs_rows(dfs)
    write_lines(os.path.join(a.outdir, "debugfs.txt"), rows)
    if not rows:
        if a.ncpus > 1:
            notes.append("WARNING: no debugfs sched domain directories were found")
            ok = False
        else:
            notes.append("debugfs has no sched domain directories (a one-CPU machine has no domains)")

    write_node_file(a.outdir, "distances.txt", nodes, "distance")
    write_node_file(a.outdir, "nodes.txt", nodes, "cpulist")

    # other scheduler/topology-related kernel messages worth knowing about
    interesting = []
    for l in klines:
        if ATTACH.match(l) or DOMAIN.match(l) or GROUPS.match(l) or ROOT.match(l):
            continue
        if SKIP.search(l):
            continue
        if ERROR.match(l) or NOTE.search(l) or "WARNING" in l or "BUG" in l:
            interesting.append(l)

    if not done:
        notes.append("WARNING: /init did not reach its end marker (boot incomplete or timed out)")
        ok = False

    with open(os.path.join(a.outdir, "spec.txt"), "w") as f:
        f.write("levels: %s\n" % a.spec)
        if a.canon and a.canon != a.spec:
            f.write("levels (with defaults): %s\n" % a.canon)
        f.write("distances: %s\n" % (a.distances if a.distances else "(none)"))
        f.write("cpus: %d\n" % a.ncpus)
        f.write("kernel release: %s\n" % (uname or "?"))
        if a.kernel_pkg:
            f.write("kernel package: %s\n" % a.kernel_pkg)
        f.write("qemu: %s\n" % a.qemu_version)
        f.write("qemu command: %s\n" % a.qemu_cmd)
        if a.accel:
            f.write("accel: %s\n" % a.accel)
        f.write("date: %s\n" % datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
        if a.elapsed:
            f.write("boot seconds: %s\n" % a.elapsed)
        for n in notes:
            f.write("note: %s\n" % n)
        if interesting:
            f.write("kernel messages about topology/NUMA/sched domains (timestamps stripped):\n")
            for l in interesting:
                f.write("  | %s\n" % l)
    for n in notes:
        if n.startswith(("WARNING", "ERROR")):
            print("capture: " + n, file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
