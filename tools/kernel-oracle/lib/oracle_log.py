"""What the kernel oracle's two post-processors (postprocess.py for domain goldens,
trajectory_post.py for trajectories) read and write alike: the serial log, the markers
/init prints (@@D debugfs, @@N node lines) and the debugfs.txt and nodes.txt files."""
import argparse
import os
import re


def natural_key(s):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


def read_log(path):
    with open(path, "rb") as f:
        data = f.read().decode("utf-8", "replace")
    return [l.rstrip("\r") for l in data.replace("\r\n", "\n").split("\n")]


def unglue(raw, marks):
    """The console may glue a kernel message in front of our marker; find it."""
    idx = raw.find("@@")
    return raw[idx:] if idx > 0 and raw[idx:idx + 3] in marks else raw


def add_field(line, dfs, nodes):
    """A "@@D dir key value" line into dfs[dir][key], a "@@N node key value" line into
    nodes[node][key] (the value's whitespace collapsed); other lines are left alone."""
    if not line.startswith(("@@D ", "@@N ")):
        return
    parts = line[4:].split(None, 2)
    if len(parts) >= 2:
        table = dfs if line.startswith("@@D ") else nodes
        table.setdefault(parts[0], {})[parts[1]] = " ".join(parts[2].split()) if len(parts) == 3 else ""


def debugfs_rows(dfs):
    """One debugfs.txt line per sched domain directory, in natural order."""
    rows = []
    for key in sorted(dfs, key=natural_key):
        v = dfs[key]
        rows.append("%s name=%s imbalance_pct=%s busy_factor=%s min_interval=%s max_interval=%s "
                    "cache_nice_tries=%s flags=%s" % (
                        key, v.get("name", "?"), v.get("imbalance_pct", "?"), v.get("busy_factor", "?"),
                        v.get("min_interval", "?"), v.get("max_interval", "?"),
                        v.get("cache_nice_tries", "?"), v.get("flags", "?")))
    return rows


def write_node_file(outdir, name, nodes, field):
    """name (distances.txt, nodes.txt): "nodeN: value" for each node that has the field."""
    with open(os.path.join(outdir, name), "w") as f:
        for n in sorted(nodes, key=natural_key):
            if field in nodes[n]:
                f.write("%s: %s\n" % (n, nodes[n][field]))


def write_lines(path, lines):
    with open(path, "w") as f:
        for l in lines:
            f.write(l + "\n")


def arguments():
    """The options both post-processors take (capture passes them); each adds its own."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", required=True)
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--ncpus", type=int, required=True)
    ap.add_argument("--spec", required=True)
    ap.add_argument("--canon", default="")
    ap.add_argument("--distances", default="")
    ap.add_argument("--qemu-cmd", default="")
    ap.add_argument("--qemu-version", default="")
    ap.add_argument("--kernel-pkg", default="")
    ap.add_argument("--accel", default="")
    ap.add_argument("--elapsed", default="")
    ap.add_argument("--note", action="append", default=[])
    return ap
