# Sourced by scripts/run and scripts/test: installs missing Debian packages.
# As root it runs apt-get; otherwise it prints the exact command and stops.

# Packages the main job needs (build the CLI) and the extra ones the tests need.
BALANCEKIT_RUN_PACKAGES="cmake ninja-build g++ pkg-config librange-v3-dev libmsgsl-dev libcli11-dev libfmt-dev libhwloc-dev nlohmann-json3-dev gnuplot-nox"
BALANCEKIT_TEST_PACKAGES="$BALANCEKIT_RUN_PACKAGES clang catch2 librapidcheck-dev libbenchmark-dev iwyu bzip2 tar spin gcc"

balancekit_ensure_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -eq 0 ]; then
    echo "balancekit: installing missing Debian packages: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "balancekit: missing Debian packages. Install them with:" >&2
    echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
}

balancekit_jobs() { nproc 2>/dev/null || echo 2; }
