#!/usr/bin/env bash
# Brings up a local Docker engine and builds the offline test images: `opencode-tools-test:busybox`
# (the default sandbox image of the tests), and `opencode-tools-test:dash` / `:bash`, whose /bin/sh
# is dash or bash (exec sessions are tested on each shell).
#
# Idempotent; run as root on a Debian-like machine (CI's .ci/run calls it before the tests):
#   bash scripts/start-docker.sh
# What it does, skipping whatever is already done:
#   1. apt-get install docker.io busybox-static (only if dockerd / a static busybox is missing);
#   2. starts dockerd in the background (log: $DOCKERD_LOG) unless `docker info` already answers;
#   3. waits for `docker info` (at most $DOCKER_WAIT_SECONDS);
#   4. builds the test image by `docker import` of a rootfs made from the static busybox, and the
#      dash and bash images from this Debian host's own binaries and their libraries (dash, bash,
#      coreutils, util-linux's setsid, procps's ps, …): no registry is contacted, ever.
# Exit status: 0 engine up and image present; 1 something failed (the reason is printed).
set -euo pipefail

IMAGE="${OPENCODE_TEST_IMAGE:-opencode-tools-test:busybox}"
DOCKERD_LOG="${DOCKERD_LOG:-/var/log/opencode-dockerd.log}"
DOCKER_WAIT_SECONDS="${DOCKER_WAIT_SECONDS:-60}"

log() { printf '[start-docker] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    die "need root for: $*"
  fi
}

find_static_busybox() {
  for b in /bin/busybox /usr/bin/busybox; do
    if [ -x "$b" ] && file -L "$b" 2>/dev/null | grep -q 'statically linked'; then
      echo "$b"
      return 0
    fi
  done
  # `file` may be missing: fall back to ldd's verdict.
  for b in /bin/busybox /usr/bin/busybox; do
    if [ -x "$b" ] && ! ldd "$b" >/dev/null 2>&1; then
      echo "$b"
      return 0
    fi
  done
  return 1
}

install_packages() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  find_static_busybox >/dev/null || missing+=(busybox-static)
  type -P ps >/dev/null || missing+=(procps)
  type -P setsid >/dev/null || missing+=(util-linux)
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

engine_up() { docker info >/dev/null 2>&1; }

start_engine() {
  if engine_up; then
    log "engine already running"
    return 0
  fi
  if pgrep -x dockerd >/dev/null; then
    log "dockerd is running but not answering yet; waiting"
  else
    log "starting dockerd (log: $DOCKERD_LOG)"
    mkdir -p "$(dirname "$DOCKERD_LOG")"
    # setsid: the daemon outlives this script and the CI step that ran it.
    as_root setsid dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
  fi
  local waited=0
  until engine_up; do
    if [ "$waited" -ge "$DOCKER_WAIT_SECONDS" ]; then
      log "last lines of $DOCKERD_LOG:"
      tail -n 30 "$DOCKERD_LOG" >&2 || true
      die "dockerd did not answer within ${DOCKER_WAIT_SECONDS}s"
    fi
    sleep 1
    waited=$((waited + 1))
  done
  log "engine up after ${waited}s"
}

build_test_image() {
  if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    log "image $IMAGE present"
    return 0
  fi
  local busybox root
  busybox="$(find_static_busybox)" || die "no static busybox found (apt-get install busybox-static)"
  root="$(mktemp -d)"
  trap 'rm -rf "$root"' RETURN
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,workspace,root,proc,sys,dev,var/tmp,home}
  chmod 1777 "$root/tmp" "$root/var/tmp"
  cp "$busybox" "$root/bin/busybox"
  # One symlink per applet, where busybox itself would install it.
  "$root/bin/busybox" --list-full | while read -r applet; do
    [ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  log "importing $IMAGE from $busybox"
  tar -C "$root" -c . | docker import \
    -c 'CMD ["/bin/sh"]' -c 'WORKDIR /workspace' -c 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' \
    -m 'opencode-tools offline test image (static busybox)' - "$IMAGE" >/dev/null
  docker run --rm --network none "$IMAGE" /bin/echo ok >/dev/null || die "the imported image does not run"
  log "image $IMAGE built"
}

# Programs of the dash and bash images: the shells, and what the session protocol and the tests
# run (the session needs mkfifo, tee, mkdir, rm, base64 and, for process groups, setsid).
SHELL_IMAGE_PROGRAMS="dash bash cat ls mkdir rmdir mkfifo tee rm base64 sleep env id true false
  head tail wc sort dd kill ps pwd touch chmod stat date seq yes grep sed mawk setsid nohup timeout
  find xargs tr cut od uname ln cp mv readlink basename dirname test expr printf echo"

# Builds an image whose /bin/sh is $2 (dash or bash) from this host's binaries and the shared
# libraries they load (ldd), laid out as Debian does (/bin -> usr/bin), with LANG=C.UTF-8 where
# the host has that locale: requests are read in bytes whatever the locale.
build_shell_image() {
  local image=$1 shell=$2 root p lib env_lang=()
  if docker image inspect "$image" >/dev/null 2>&1; then
    log "image $image present"
    return 0
  fi
  root="$(mktemp -d)"
  trap 'rm -rf "$root"' RETURN
  mkdir -p "$root"/{usr/bin,usr/lib,etc,tmp,workspace,root,proc,sys,dev,var/tmp,home}
  ln -s usr/bin "$root/bin"
  ln -s usr/bin "$root/sbin"
  ln -s usr/lib "$root/lib"
  chmod 1777 "$root/tmp" "$root/var/tmp"
  copy_in() {
    local src=$1 dest
    dest="$root/usr${1#/usr}"
    case "$src" in /lib64/*) dest="$root$src" ;; esac
    [ -e "$dest" ] && return 0
    mkdir -p "$(dirname "$dest")"
    cp -L "$src" "$dest"
  }
  for p in $SHELL_IMAGE_PROGRAMS; do
    p="$(type -P "$p")" || die "$p not found on this host (needed for the $shell image)"
    cp -L "$p" "$root/usr/bin/"
    for lib in $(ldd "$p" 2>/dev/null | grep -o '/[^ ]*' | sort -u); do copy_in "$lib"; done
  done
  ln -sf "$shell" "$root/usr/bin/sh"
  ln -sf mawk "$root/usr/bin/awk"
  if [ -d /usr/lib/locale/C.utf8 ]; then
    mkdir -p "$root/usr/lib/locale"
    cp -a /usr/lib/locale/C.utf8 "$root/usr/lib/locale/"
    env_lang=(-c 'ENV LANG=C.UTF-8')
  fi
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  log "importing $image (/bin/sh is $shell)"
  tar -C "$root" -c . | docker import \
    -c 'CMD ["/bin/sh"]' -c 'WORKDIR /workspace' -c 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' \
    "${env_lang[@]}" -m "opencode-tools offline test image (/bin/sh is $shell)" - "$image" >/dev/null
  docker run --rm --network none "$image" /bin/sh -c 'setsid true' >/dev/null ||
    die "the imported image $image does not run"
  log "image $image built"
}

install_packages
start_engine
build_test_image
build_shell_image "${OPENCODE_TEST_IMAGE_DASH:-opencode-tools-test:dash}" dash
build_shell_image "${OPENCODE_TEST_IMAGE_BASH:-opencode-tools-test:bash}" bash
