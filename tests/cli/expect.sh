#!/usr/bin/env bash
# expect.sh RC REGEX CMD ARGS... : runs CMD, requires exit code RC and that its combined
# stdout+stderr matches the extended regex REGEX.
set -u
want_rc="$1"; regex="$2"; shift 2
out="$("$@" 2>&1)"; rc=$?
if [ "$rc" -ne "$want_rc" ]; then
  printf 'exit code %s, expected %s\n--- output ---\n%s\n' "$rc" "$want_rc" "$out"; exit 1
fi
if ! printf '%s' "$out" | grep -Eq -- "$regex"; then
  printf 'output does not match /%s/\n--- output ---\n%s\n' "$regex" "$out"; exit 1
fi
echo "ok: exit $rc, matched /$regex/"
