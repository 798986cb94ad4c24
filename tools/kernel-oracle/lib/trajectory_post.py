#!/usr/bin/env python3
"""Turn a kernel-oracle serial log of a trajectory boot into trajectory.txt and friends.

trajectory_post.py --log console.log --outdir DIR/NAME --ncpus N --spec S --scenario SC
                   [--canon C] [--distances D] [--offline LIST] [--qemu-cmd CMD]
                   [--qemu-version V] [--kernel-pkg P] [--accel A] [--elapsed SECS]
                   [--host-load TEXT] [--note TEXT]...
Writes trajectory.txt (the format in docs/kernel-oracle.md, "Trajectories"),
debugfs.txt and nodes.txt (as the domain goldens, but after the offlining), spec.txt.
Exits 1 (after writing what it could) when the log is incomplete or fails a sanity check.
"""
import datetime
import os
import re
import sys

from oracle_log import add_field, arguments, debugfs_rows, read_log, unglue, write_lines, write_node_file

MARKS = ("@@O", "@@U", "@@D", "@@N", "@@T", "@@X")


def parse_cpulist(s):
    out = set()
    for part in s.replace(" ", "").split(","):
        if not part:
            continue
        if "-" in part:
            a, b = part.split("-", 1)
            out.update(range(int(a), int(b) + 1))
        else:
            out.add(int(part))
    return out


def sections(lines):
    uname, dfs, nodes, traj, offl, done = None, {}, {}, [], [], False
    in_traj = False
    for raw in lines:
        l = unglue(raw, MARKS)
        if l.startswith("@@ORACLE BEGIN trajectory"):
            in_traj = True
        elif l.startswith("@@ORACLE END trajectory"):
            in_traj = False
        elif l.startswith("@@ORACLE DONE"):
            done = True
        elif l.startswith("@@U ") and uname is None:
            uname = l[4:].strip()
        elif l.startswith("@@X "):
            offl.append(l[4:].strip())
        elif l.startswith("@@T ") and in_traj:
            traj.append(l[4:].rstrip())
        else:
            add_field(l, dfs, nodes)
    return uname, dfs, nodes, traj, offl, done


def check_trajectory(lines, uname, ncpus, want_online):
    """Validate the raw trajectory lines; return (canonical lines, problems, info)."""
    problems = []
    comments, header, tasks, events, end = [], {}, {}, [], None
    order = ["kernel", "cpus", "online", "scenario", "start"]
    seen = []
    for l in lines:
        if l.startswith("#"):
            comments.append(l)
            continue
        f = l.split()
        if not f:
            continue
        k = f[0]
        try:
            if k in order:
                if k in header:
                    problems.append("duplicate header line %r" % l)
                header[k] = " ".join(f[1:])
                seen.append(k)
                if tasks or events:
                    problems.append("header line after task/event lines: %r" % l)
            elif k == "task":
                i = int(f[1])
                if f[2] == "hog" and len(f) == 3:
                    tasks[i] = ("hog",)
                elif f[2] == "periodic" and len(f) == 5:
                    tasks[i] = ("periodic", int(f[3]), int(f[4]))
                else:
                    problems.append("bad task line %r" % l)
                if events:
                    problems.append("task line after events: %r" % l)
            elif k == "spawn" and len(f) == 4:
                events.append(("spawn", int(f[1]), int(f[2]), int(f[3])))
            elif k == "release" and len(f) == 3:
                events.append(("release", int(f[1]), int(f[2]), None))
            elif k == "cpu" and len(f) == 4:
                events.append(("cpu", int(f[1]), int(f[2]), int(f[3])))
            elif k == "end" and len(f) == 2:
                end = int(f[1])
            else:
                problems.append("unknown line %r" % l)
        except (ValueError, IndexError):
            problems.append("malformed line %r" % l)
        if end is not None and k != "end" and not l.startswith("#"):
            problems.append("line after end: %r" % l)
    if seen != order:
        problems.append("header lines %s, want %s" % (seen, order))
    if end is None:
        problems.append("no end line")
    n = len(tasks)
    if sorted(tasks) != list(range(n)) or n == 0:
        problems.append("task ids %s are not 0..N-1" % sorted(tasks))
    if uname and header.get("kernel") != uname:
        problems.append("kernel %r != uname %r" % (header.get("kernel"), uname))
    if header.get("cpus") != str(ncpus):
        problems.append("cpus %r, the machine has %d" % (header.get("cpus"), ncpus))
    online = parse_cpulist(header.get("online", ""))
    if want_online is not None and online != want_online:
        problems.append("online %r, expected %s" % (header.get("online"), sorted(want_online)))
    pinned = header.get("start") == "pinned"
    last_t = -1
    spawn, release, cpus = {}, {}, {i: [] for i in tasks}
    for kind, t, i, c in events:
        if t < last_t:
            problems.append("time goes backwards at %s %d %d" % (kind, t, i))
        last_t = max(last_t, t)
        if i not in tasks:
            problems.append("event for unknown task %d" % i)
            continue
        if kind == "spawn":
            if i in spawn:
                problems.append("task %d spawned twice" % i)
            spawn[i] = t
            if c not in online:
                problems.append("spawn of task %d on offline/unknown CPU %d" % (i, c))
            if pinned and c != 0:
                problems.append("pinned spawn of task %d on CPU %d, not 0" % (i, c))
        elif kind == "release":
            if not pinned:
                problems.append("release line in fork mode")
            release[i] = t
        else:
            if i not in spawn:
                problems.append("cpu record of task %d before its spawn" % i)
            if c not in online:
                problems.append("task %d recorded on offline/unknown CPU %d" % (i, c))
            if cpus[i] and cpus[i][-1][1] == c:
                problems.append("task %d: repeated record for CPU %d" % (i, c))
            if pinned and i not in release and c != 0:
                problems.append("task %d on CPU %d before its release" % (i, c))
            cpus[i].append((t, c))
    for i in tasks:
        if i not in spawn:
            problems.append("task %d has no spawn line" % i)
        if pinned and i not in release:
            problems.append("task %d has no release line" % i)
        if not cpus[i]:
            problems.append("task %d has no cpu record" % i)
    if end is not None and last_t > end:
        problems.append("events after end")
    for c in comments:
        m = re.search(r"overflow (\d+)", c)
        if m and int(m.group(1)) > 0:
            problems.append("record buffer overflow: %s" % c)
    out = comments[:]
    for k in order:
        out.append("%s %s" % (k, header.get(k, "?")))
    for i in sorted(tasks):
        out.append("task %d %s" % (i, " ".join(str(x) for x in tasks[i])))
    for kind, t, i, c in events:
        out.append("%s %d %d" % (kind, t, i) + ("" if c is None else " %d" % c))
    out.append("end %s" % ("?" if end is None else end))
    info = {"tasks": tasks, "cpus": cpus, "spawn": spawn, "release": release, "end": end,
            "online": online, "comments": comments}
    return out, problems, info


def main():
    ap = arguments()
    ap.add_argument("--offline", default="")
    ap.add_argument("--scenario", required=True)
    ap.add_argument("--host-load", default="")
    a = ap.parse_args()

    uname, dfs, nodes, traj, offl, done = sections(read_log(a.log))
    notes = [re.sub(r"[^\x20-\x7e]", "?", n) for n in a.note]
    offline = parse_cpulist(a.offline)
    want_online = set(range(a.ncpus)) - offline
    ok = True
    for l in offl:
        if l.startswith("ERROR"):
            notes.append("ERROR: " + l)
            ok = False
    out, problems, info = check_trajectory(traj, uname, a.ncpus, want_online)
    if not traj:
        problems = ["the guest printed no trajectory"]
    if not done:
        problems.append("/init did not reach its end marker (boot incomplete or timed out)")
    for p in problems:
        notes.append("ERROR: " + p)
    ok = ok and not problems

    os.makedirs(a.outdir, exist_ok=True)
    if traj:
        write_lines(os.path.join(a.outdir, "trajectory.txt"), out)
    write_lines(os.path.join(a.outdir, "debugfs.txt"), debugfs_rows(dfs))
    write_node_file(a.outdir, "nodes.txt", nodes, "cpulist")

    with open(os.path.join(a.outdir, "spec.txt"), "w") as f:
        f.write("levels: %s\n" % a.spec)
        if a.canon and a.canon != a.spec:
            f.write("levels (with defaults): %s\n" % a.canon)
        f.write("distances: %s\n" % (a.distances if a.distances else "(none)"))
        f.write("cpus: %d\n" % a.ncpus)
        f.write("offline: %s\n" % (a.offline if a.offline else "(none)"))
        online = [l[len("online "):] for l in offl if l.startswith("online ")]
        f.write("online: %s\n" % (online[-1] if online else "?"))
        f.write("scenario: %s\n" % a.scenario)
        f.write("kernel release: %s\n" % (uname or "?"))
        if a.kernel_pkg:
            f.write("kernel package: %s\n" % a.kernel_pkg)
        f.write("qemu: %s\n" % a.qemu_version)
        f.write("qemu command: %s\n" % a.qemu_cmd)
        f.write("accel: %s\n" % a.accel)
        f.write("date: %s\n" % datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
        if a.elapsed:
            f.write("boot seconds: %s\n" % a.elapsed)
        if a.host_load:
            f.write("host load: %s\n" % a.host_load)
        for n in notes:
            f.write("note: %s\n" % n)
        if info.get("end") is not None:
            f.write("summary (last CPU of each task at end, migrations = CPU changes after the first record):\n")
            for i in sorted(info["tasks"]):
                recs = info["cpus"].get(i, [])
                last = recs[-1][1] if recs else "?"
                f.write("  | task %d: started on %s, ended on %s, %d migrations\n"
                        % (i, recs[0][1] if recs else "?", last, max(0, len(recs) - 1)))
    for n in notes:
        if n.startswith(("WARNING", "ERROR")):
            print("capture: " + n, file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
