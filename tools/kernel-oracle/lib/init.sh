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

echo "@@ORACLE BEGIN uname"
echo "@@U $(uname -r)"
echo "@@ORACLE END uname"

echo "@@ORACLE BEGIN dmesg"
dmesg | sed 's/^/@@K /'
echo "@@ORACLE END dmesg"

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

echo "@@ORACLE BEGIN nodes"
for n in /sys/devices/system/node/node*; do
  [ -d "$n" ] || continue
  echo "@@N ${n##*/} distance $(cat "$n/distance")"
  echo "@@N ${n##*/} cpulist $(cat "$n/cpulist")"
done
echo "@@ORACLE END nodes"
echo "@@ORACLE DONE"
sync
poweroff -f
