# scripts/test --cross ARCH: what a cross build needs besides the native one's packages. Sourced by
# scripts/test after common.sh, never run. docs/architectures.md says what each piece is for.
#
# The architectures there is a cross file for (cross/<triplet>.ini), with Debian's names for them.
declare -A LIBOS_CROSS_TRIPLET=([aarch64]=aarch64-linux-gnu)
declare -A LIBOS_CROSS_DEBARCH=([aarch64]=arm64)

# libos_cross_packages ARCH: the toolchain, the emulator, and through multiarch the libraries the
# build links (libunwind, libiberty, libdw, GoogleTest) and the programs load (libstdc++, libgomp; libsmartcols for
# lscpu). qemu-user-static: a static emulator, which LD_PRELOAD of the guest's shim leaves alone.
libos_cross_packages() {
  local triplet=${LIBOS_CROSS_TRIPLET[$1]} deb=${LIBOS_CROSS_DEBARCH[$1]}
  echo "g++-$triplet" "libc6-dev-$deb-cross" qemu-user-static \
    "libunwind-dev:$deb" "libgtest-dev:$deb" "libgmock-dev:$deb" \
    "libiberty-dev:$deb" "libdw-dev:$deb" "libfuse3-dev:$deb" "libstdc++6:$deb" "libgomp1:$deb" "libsmartcols1:$deb"
}

# libos_cross_setup ARCH BUILD_DIR: installs what is missing, registers the emulator with
# binfmt_misc (so that the programs the launcher starts run too), and unpacks the architecture's
# coreutils and util-linux (which multiarch cannot install beside the host's) under
# BUILD_DIR/cross-tools, exported as LIBOS_CROSS_TOOLS for tests/cross/programs.sh.
libos_cross_setup() {
  local arch=$1 build=$2
  local deb=${LIBOS_CROSS_DEBARCH[$arch]:-}
  [ -n "$deb" ] || libos_die "--cross $arch: unsupported architecture (expected one of: ${!LIBOS_CROSS_TRIPLET[*]})"
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  if ! dpkg --print-foreign-architectures | grep -qx "$deb"; then
    echo "libos: adding the $deb architecture to dpkg (multiarch)" >&2
    "${sudo[@]}" dpkg --add-architecture "$deb" || libos_die "dpkg --add-architecture $deb failed"
    "${sudo[@]}" apt-get update -qq >&2 || libos_die "apt-get update failed"
  fi
  # shellcheck disable=SC2046
  libos_ensure_packages $(libos_cross_packages "$arch")
  libos_cross_binfmt "$arch"
  local tools="$build/cross-tools"
  if [ ! -x "$tools/root/usr/bin/lscpu" ] || [ ! -x "$tools/root/usr/bin/nproc" ]; then
    mkdir -p "$tools/debs"
    if (cd "$tools/debs" && apt-get download -qq "coreutils:$deb" "util-linux:$deb" >/dev/null 2>&1); then
      local d
      for d in "$tools"/debs/*.deb; do dpkg-deb -x "$d" "$tools/root" || libos_die "dpkg-deb -x $d failed"; done
    else
      echo "libos: could not download coreutils:$deb and util-linux:$deb: their tests are skipped" >&2
    fi
  fi
  export LIBOS_CROSS_TOOLS="$tools/root"
}

# libos_cross_binfmt ARCH: makes the kernel run the architecture's programs with qemu-user-static,
# from the entry Debian's package ships (/usr/lib/binfmt.d/qemu-ARCH.conf): binfmt_misc mounted if it
# is not, the entry registered if it is missing. Both stay, as systemd-binfmt would leave them.
libos_cross_binfmt() {
  local arch=$1 dir=/proc/sys/fs/binfmt_misc conf=/usr/lib/binfmt.d/qemu-$1.conf
  [ -e "$dir/qemu-$arch" ] && return 0
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  if [ ! -e "$dir/register" ]; then
    "${sudo[@]}" mount -t binfmt_misc binfmt_misc "$dir" 2>/dev/null ||
      { echo "libos: cannot mount binfmt_misc: the tests that start $arch programs are skipped" >&2; return 0; }
  fi
  [ -f "$conf" ] || libos_die "$conf is missing (qemu-user-static installs it)"
  "${sudo[@]}" sh -c "cat '$conf' > $dir/register" 2>/dev/null ||
    echo "libos: cannot register qemu-$arch with binfmt_misc: the tests that start $arch programs are skipped" >&2
}
