#!/bin/busybox sh
# /init of the kernel-oracle initramfs (busybox-static). Dumps what the kernel
# built and powers off. Every data line is prefixed so that a stray kernel
# message on the serial console can never be mistaken for data.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
# keep further kernel messages off the console while we print
dmesg -n 1
dump_debugfs() {
  echo "@@ORACLE BEGIN debugfs"
  for d in /sys/kernel/debug/sched/domains/cpu*/domain*; do
    [ -d "$d" ] || continue
    rel=${d#/sys/kernel/debug/sched/domains/}
    for f in name flags imbalance_pct busy_factor min_interval max_interval cache_nice_tries; do
      if [ -r "$d/$f" ]; then
        echo "@@D $rel $f $(tr '\n' ' ' < "$d/$f")"
      fi
    done
  done
  echo "@@ORACLE END debugfs"
}
dump_nodes() {
  echo "@@ORACLE BEGIN nodes"
  for n in /sys/devices/system/node/node*; do
    [ -d "$n" ] || continue
    echo "@@N ${n##*/} distance $(cat "$n/distance")"
    echo "@@N ${n##*/} cpulist $(cat "$n/cpulist")"
  done
  echo "@@ORACLE END nodes"
}

# Trajectory mode (tools/kernel-oracle/capture --scenario): the kernel command line
# carries bko.scenario=hogs,4,pinned[,...] and optionally bko.offline=CPULIST.
# Take those CPUs offline, dump the domains the kernel rebuilt, let the machine
# settle, run /bin/trajectory (lib/trajectory.c) and power off.
SCENARIO= OFFLINE=
for w in $(cat /proc/cmdline); do
  case $w in
    bko.scenario=*) SCENARIO=${w#bko.scenario=} ;;
    bko.offline=*) OFFLINE=${w#bko.offline=} ;;
  esac
done
if [ -n "$SCENARIO" ]; then
  echo "@@ORACLE BEGIN uname"
  echo "@@U $(uname -r)"
  echo "@@ORACLE END uname"
  echo "@@ORACLE BEGIN offline"
  for part in $(echo "$OFFLINE" | tr ',' ' '); do
    lo=${part%-*} hi=${part#*-}
    i=$lo
    while [ "$i" -le "$hi" ]; do
      if echo 0 > "/sys/devices/system/cpu/cpu$i/online"; then
        echo "@@X offlined cpu$i"
      else
        echo "@@X ERROR cannot offline cpu$i"
      fi
      i=$((i + 1))
    done
  done
  echo "@@X online $(cat /sys/devices/system/cpu/online)"
  echo "@@ORACLE END offline"
  dump_debugfs
  dump_nodes
  sleep 2
  echo "@@ORACLE BEGIN trajectory"
  /bin/trajectory "$SCENARIO"
  echo "@@ORACLE END trajectory"
  echo "@@ORACLE DONE"
  sync
  poweroff -f
fi

echo "@@ORACLE BEGIN uname"
echo "@@U $(uname -r)"
echo "@@ORACLE END uname"

echo "@@ORACLE BEGIN dmesg"
dmesg | sed 's/^/@@K /'
echo "@@ORACLE END dmesg"

dump_debugfs

dump_nodes
echo "@@ORACLE DONE"
sync
poweroff -f
