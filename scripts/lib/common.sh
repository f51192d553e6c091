# Shared by the scripts in scripts/: finds the tree, installs missing Debian packages, configures and
# builds. Sourced, never run. Everything goes to stderr so that the scripts' own output stays clean.

LIBOS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LIBOS_BUILD=${LIBOS_BUILD_DIR:-$LIBOS_ROOT/build}
# scripts/test --sanitize builds here, with ASan and UBSan.
LIBOS_SANITIZE_BUILD=${LIBOS_SANITIZE_BUILD_DIR:-$LIBOS_ROOT/build-sanitize}

# What building, testing and benchmarking need. scripts/test adds the programs the tests run
# (busybox-static, a real static binary for strict mode); runtimes the tests merely use when present
# (node, for instance) are not installed: their checks are skipped, with the reason.
LIBOS_PACKAGES=(
  g++ meson ninja-build pkg-config python3 binutils util-linux
  libgtest-dev libgmock-dev libunwind-dev libiberty-dev libdw-dev libbenchmark-dev help2man
  libfuse3-dev
)
# The real programs the topology suite asks about the machine (tests/topology/tools.py) and the
# host-leak tests read the CPU files with (tests/integration/host_leaks.sh): hwloc (its non-X
# tools: hwloc-nox, which the hosts suite uses too, conflicts with hwloc), numactl, ps,
# GNU parallel, psutil, zstd and a JVM; rustc and node, whose quota readings the quota test compares
# with the host's; valgrind, which the walkers suite runs a glob under; and gdb, whose backtrace the
# trace suite follows through libos_unwind.so's stack switch.
LIBOS_TOOL_PACKAGES=(hwloc-nox numactl libnuma-dev procps parallel python3-psutil zstd default-jre-headless rustc nodejs valgrind gdb)
# The hosts suite's (scripts/test --suite hosts, docs/hosts.md): QEMU and a static busybox for the
# simulated hosts, and the topology tools it runs inside them.
LIBOS_HOSTS_PACKAGES=(qemu-system-x86 busybox-static numactl hwloc-nox)
# The containers suite's (scripts/test --suite containers, docs/containers.md): the engines it runs
# (catatonit is podman's pause process for `podman kube play`), and a JVM and PyYAML for its checks.
LIBOS_CONTAINERS_PACKAGES=(runc docker.io podman catatonit default-jre-headless python3-yaml)
# What the install and kit suites run (tests/install, tests/kit): man to render the pages, bash's
# completion library, cmake and pytest for the examples of the kit for test suites.
LIBOS_KIT_PACKAGES=(man-db bash-completion cmake python3-pytest)
# What the package suite builds the Debian package with (scripts/test --suite package).
LIBOS_PACKAGE_PACKAGES=(debhelper dpkg-dev fakeroot lintian)
# The sanitizers' runtimes for scripts/test --sanitize (GCC 12's; g++ already brings them on Debian 12).
LIBOS_SANITIZE_PACKAGES=(libasan8 liblsan0 libubsan1)

libos_die() {
  printf 'libos: %s\n' "$*" >&2
  exit 125
}

# libos_ensure_packages PKG...: installs those not installed yet with apt-get (idempotent).
libos_ensure_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  echo "libos: installing ${missing[*]}" >&2
  "${sudo[@]}" apt-get update -qq >&2 || libos_die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 \
    || libos_die "apt-get install ${missing[*]} failed"
}

# libos_offer_packages PKG...: libos_ensure_packages for what only some tests need. A user who cannot
# install (not root, and sudo would ask for a password or is missing) is told what is missing, and
# the tests that need it skip with the reason instead of the whole run stopping.
libos_offer_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ] && ! sudo -n true 2>/dev/null; then
    echo "libos: not installing ${missing[*]} (not root, and no sudo without a password): the tests that need them are skipped" >&2
    return 0
  fi
  libos_ensure_packages "${missing[@]}"
}

# Go 1.25 or later sizes GOMAXPROCS by the cgroup's CPU quota (tests/integration/quota.sh compares
# it). Debian 12 has Go 1.19; Debian 13's backports have golang-1.25, whose packages depend on
# nothing but each other. They are installed with apt-get from a source list of this call's own
# (signed by Debian 13's key, which Debian 12's keyring holds), so the machine's apt sources stay as
# they were. Skipped, with the reason, where installing is not possible.
LIBOS_GO_PACKAGE=golang-1.25-go
LIBOS_GO_SUITE=trixie-backports
libos_offer_go() {
  dpkg-query -W -f='${Status}' "$LIBOS_GO_PACKAGE" 2>/dev/null | grep -q 'install ok installed' && return 0
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if ! sudo -n true 2>/dev/null; then
      echo "libos: not installing $LIBOS_GO_PACKAGE (not root, and no sudo without a password): the Go checks are skipped" >&2
      return 0
    fi
    sudo=(sudo)
  fi
  local key=/usr/share/keyrings/debian-archive-trixie-automatic.gpg dir
  if [ ! -f "$key" ]; then
    echo "libos: not installing $LIBOS_GO_PACKAGE: $key is missing (debian-archive-keyring too old): the Go checks are skipped" >&2
    return 0
  fi
  dir=$(mktemp -d)
  mkdir -p "$dir/lists/partial"
  chmod 755 "$dir" "$dir/lists" "$dir/lists/partial"
  echo "deb [signed-by=$key] http://deb.debian.org/debian $LIBOS_GO_SUITE main" >"$dir/sources.list"
  local apt=(apt-get -o "Dir::Etc::SourceList=$dir/sources.list" -o Dir::Etc::SourceParts=/nonexistent
             -o "Dir::State::Lists=$dir/lists" -o APT::Sandbox::User=root)
  echo "libos: installing $LIBOS_GO_PACKAGE from Debian's $LIBOS_GO_SUITE" >&2
  if ! { "${sudo[@]}" "${apt[@]}" update -qq >&2 &&
         DEBIAN_FRONTEND=noninteractive "${sudo[@]}" "${apt[@]}" install -y -qq --no-install-recommends \
           "$LIBOS_GO_PACKAGE" >&2; }; then
    echo "libos: installing $LIBOS_GO_PACKAGE failed: the Go checks are skipped" >&2
  fi
  "${sudo[@]}" rm -rf "$dir"
}

# libos_ensure_build [BUILD_DIR [MESON_OPTION...]]: configures BUILD_DIR once and brings it up to
# date. A lock keeps concurrent callers (tests that run scripts/libos-run in parallel) from running
# ninja on the same directory at once. Build output is shown only when something fails.
libos_ensure_build() {
  local dir=${1:-$LIBOS_BUILD}
  shift || true
  libos_ensure_packages "${LIBOS_PACKAGES[@]}"
  mkdir -p "$dir"
  local log="$dir/.libos-build.log"
  (
    flock 9
    if [ ! -f "$dir/build.ninja" ]; then
      meson setup "$dir" "$LIBOS_ROOT" "$@" >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
    fi
    ninja -C "$dir" >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
  ) 9>"$dir/.libos-build.lock" || libos_die "build failed in $dir"
}

# What running a program needs: the launcher, the shim and the libraries it loads.
LIBOS_RUN_TARGETS=(launcher/libos-run shim/libshim.so pal/libpal.so unwind/libos_unwind.so)

# libos_run_build_dir: where scripts/libos-run's build is: $LIBOS_BUILD when it can be written (or
# made), else a directory of the user's own under ~/.cache, one per checkout.
libos_run_build_dir() {
  local dir=$LIBOS_BUILD
  if [ -w "$dir" ] || { [ ! -e "$dir" ] && [ -w "$(dirname "$dir")" ]; }; then
    echo "$dir"
    return
  fi
  local cache=${XDG_CACHE_HOME:-$HOME/.cache}
  echo "$cache/libos-vcpu/build-$(printf '%s' "$LIBOS_ROOT" | md5sum | cut -c1-12)"
}

# libos_run_is_fresh DIR: whether DIR's launcher and shim were built after every source they come
# from last changed (a stamp written after a successful build; scripts/libos-run makes the same test
# by itself, with bash's -nt, so that the usual call starts no process).
libos_run_is_fresh() {
  local stamp="$1/.libos-run-stamp" f
  [ -f "$stamp" ] && [ -x "$1/launcher/libos-run" ] || return 1
  shopt -s globstar nullglob
  for f in "$LIBOS_ROOT"/{shim,table,pal,launcher,unwind}/** "$LIBOS_ROOT"/meson.build "$LIBOS_ROOT"/meson_options.txt; do
    if [[ $f -nt $stamp ]]; then shopt -u globstar nullglob; return 1; fi
  done
  shopt -u globstar nullglob
  return 0
}

# libos_ensure_run_build DIR: brings what running needs up to date in DIR (configuring it on the
# first run), saying on stderr what it builds, with ninja's progress; quiet when nothing is to do.
libos_ensure_run_build() {
  local dir=$1
  libos_ensure_packages "${LIBOS_PACKAGES[@]}"
  mkdir -p "$dir" || libos_die "cannot create the build directory $dir"
  local log="$dir/.libos-build.log"
  (
    flock 9
    libos_run_is_fresh "$dir" && exit 0
    local stamp="$dir/.libos-run-stamp.new"
    : >"$stamp"
    if [ ! -f "$dir/build.ninja" ]; then
      echo "libos: configuring the build in $dir (first run)" >&2
      meson setup "$dir" "$LIBOS_ROOT" >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
    fi
    # ninja's progress lines, once it has work; its "no work to do" stays quiet.
    local said=0 line
    ninja -C "$dir" "${LIBOS_RUN_TARGETS[@]}" 2>&1 | tee "$log" | while IFS= read -r line; do
      case $line in "ninja: Entering directory"* | "ninja: no work to do.") continue ;; esac
      if [ $said = 0 ]; then
        echo "libos: building the launcher and the shim in $dir" >&2
        said=1
      fi
      printf '%s\n' "$line" >&2
    done
    [ "${PIPESTATUS[0]}" = 0 ] || exit 1
    mv "$stamp" "$dir/.libos-run-stamp"
  ) 9>"$dir/.libos-build.lock" || libos_die "build failed in $dir"
}
