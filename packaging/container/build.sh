#!/usr/bin/env bash
# Build the gateway image from an offline bundle with buildah (Debian's package), no registry involved:
#
#   packaging/container/build.sh BUNDLE [--rootfs ROOTFS.tar] [--tag NAME] [--mirror URL]
#
# Without --rootfs, a minimal Debian 12 root with Python 3.11 is made by debootstrap from --mirror (the site's
# Debian mirror; default deb.debian.org) and kept next to the bundle for the next build. Prints the image name.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bundle="" rootfs="" tag="" mirror=http://deb.debian.org/debian
while (($#)); do
  case $1 in
    --rootfs) rootfs=$2; shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    --mirror) mirror=$2; shift 2 ;;
    *) bundle=$1; shift ;;
  esac
done
[[ -f $bundle ]] || { echo "usage: $0 BUNDLE [--rootfs ROOTFS.tar] [--tag NAME] [--mirror URL]" >&2; exit 2; }
bundle=$(realpath "$bundle")
name=$(basename "$bundle" .tar)
version=$(cut -d- -f2 <<<"$name")
tag=${tag:-codemoat-gateway:$version}

if [[ -z $rootfs ]]; then
  rootfs=$(dirname "$bundle")/rootfs-debian12-python3.11-libgomp1.tar
  if [[ ! -f $rootfs ]]; then
    root=$(mktemp -d)
    trap 'rm -rf "$root"' EXIT
    echo "build: making the root file system (debootstrap, once)" >&2
    debootstrap --variant=minbase --include=python3.11,python3.11-venv,python3-distutils,libgomp1 bookworm "$root" "$mirror" >/dev/null
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" -cf "$rootfs.partial" .
    mv "$rootfs.partial" "$rootfs"
  fi
fi

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
ln "$bundle" "$context/bundle.tar" 2>/dev/null || cp "$bundle" "$context/bundle.tar"
ln "$(realpath "$rootfs")" "$context/rootfs.tar" 2>/dev/null || cp "$rootfs" "$context/rootfs.tar"
# chroot isolation works where no container runtime or cgroup delegation is available, but it can only share the
# host's network; so the whole build runs in a new, empty network namespace: nothing in it reaches a registry.
unshare --net buildah bud --isolation chroot --squash -f "$here/Containerfile" -t "$tag" "$context" >&2
echo "$tag"
