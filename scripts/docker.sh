#!/usr/bin/env bash
# Docker for `sam local`, on a machine without Docker Desktop (idempotent):
#   - Debian's docker.io and debootstrap, installed when missing (needs root and apt);
#   - a dockerd started when none answers, logging to .tools/dockerd.log (stop it with
#     `kill $(cat .tools/dockerd.pid)`);
#   - the stand-in of Lambda's base image, public.ecr.aws/lambda/provided:al2023-<arch>, built once: a
#     Debian bookworm minbase root file system with ca-certificates (the SDK needs root certificates),
#     which is all `sam local` needs of it (it mounts its own runtime emulator and the function's
#     bootstrap). With Docker Desktop and the official images, none of this is needed.
# Prints the Docker bridge's address (where the containers reach this machine) on its last line.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
mkdir -p "$tools"

case "$(uname -m)" in
  x86_64) arch=x86_64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "docker.sh: no Lambda architecture for $(uname -m)" >&2; exit 1 ;;
esac
image="public.ecr.aws/lambda/provided:al2023-$arch"

if ! command -v dockerd >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
  [[ $(id -u) == 0 ]] || { echo "docker.sh: installing docker.io and debootstrap needs root" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io debootstrap >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  if ! command -v docker >/dev/null 2>&1; then echo "docker.sh: no docker client" >&2; exit 1; fi
  nohup dockerd >"$tools/dockerd.log" 2>&1 &
  echo $! >"$tools/dockerd.pid"
  for _ in $(seq 1 100); do docker info >/dev/null 2>&1 && break; sleep 0.2; done
  docker info >/dev/null 2>&1 || { tail -n 20 "$tools/dockerd.log" >&2; echo "docker.sh: dockerd did not start" >&2; exit 1; }
  echo "started dockerd (pid $(cat "$tools/dockerd.pid"), log .tools/dockerd.log); stop it with: kill \$(cat .tools/dockerd.pid)" >&2
fi

if ! docker image inspect "$image" >/dev/null 2>&1; then
  rootfs=$(mktemp -d)
  trap 'rm -rf "$rootfs"' EXIT
  debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" http://deb.debian.org/debian >/dev/null
  tar -C "$rootfs" -c . | docker import - "$image" >/dev/null
  echo "built the stand-in base image $image" >&2
fi

# The bridge's address on this machine (docker0), which host.docker.internal names inside a container.
bridge=$(ip -4 -o addr show docker0 2>/dev/null | awk '{split($4, a, "/"); print a[1]; exit}')
[[ -n $bridge ]] || bridge=$(docker network inspect bridge --format '{{(index .IPAM.Config 0).Gateway}}')
[[ -n $bridge ]] || { echo "docker.sh: cannot tell the Docker bridge's address" >&2; exit 1; }
echo "$bridge"
