"""Vendor-signed updates of an appliance installed by packaging/install.sh, and the way back.

The prefix holds one release per directory (`versions/<version>-<build>/`), `current` and `previous` point at
two of them. `apply` checks an update bundle before anything changes: its release signature chains to a root
this appliance trusts (the pinned vendor roots, the operator's, or the root the installed release was signed
under, so an update from anyone else is refused), it is built for this platform, and it is newer than what
runs (a downgrade only when forced, and audited). Then the bundle's own install.sh, whose checksum the
signature covers, installs it beside the current release; the new release migrates the database
(`migrate`, which records the schema revision it started from) and becomes `current`. `rollback` takes the
database back to that revision with the newer release's migrations and makes `previous` current again."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from appliance.errors import ApplianceError, ConfigError
from licensing.errors import LicensingError
from licensing.keys import TrustStore
from licensing.release import Release, load_root_file, newer, verify_release


class UpdateError(ApplianceError):
    exit_code = 3


@dataclass(frozen=True, slots=True)
class Installed:
    """A release under the prefix, as its share/codemoat/bundle.json describes it."""

    directory: Path
    version: str
    build: int
    platform: str

    @property
    def name(self) -> str:
        return self.directory.name

    @classmethod
    def at(cls, directory: Path) -> Installed:
        try:
            meta = json.loads((directory / "share" / "codemoat" / "bundle.json").read_text())
            return cls(directory.resolve(), meta["version"], int(meta["build"]), meta["platform"])
        except (OSError, ValueError, KeyError) as exc:
            raise UpdateError(f"{directory} is not a release installed by install.sh ({exc})") from None


def prefix_of(explicit: Path | None) -> Path:
    """The install prefix: --prefix, else the one DEST/bin/codemoat names (CODEMOAT_PREFIX)."""
    prefix = explicit or (Path(os.environ["CODEMOAT_PREFIX"]) if os.environ.get("CODEMOAT_PREFIX") else None)
    if prefix is None or not (prefix / "current").is_dir():
        raise ConfigError(
            "updates apply to an appliance installed by packaging/install.sh: run DEST/bin/codemoat, or pass "
            "--prefix DEST"
        )
    return prefix


def current(prefix: Path) -> Installed:
    return Installed.at(prefix / "current")


def trust(prefix: Path, license_dir: Path) -> TrustStore:
    """The vendor roots an update may chain to: pinned and operator roots, and the installed release's own."""
    store = TrustStore.load(license_dir)
    roots = store.roots()
    own = prefix / "current" / "share" / "codemoat" / "release-root.json"
    if own.is_file():
        roots.append(load_root_file(own))
    return TrustStore(roots, store.allow_operator_roots)


def read_bundle(archive: Path) -> tuple[str, dict[str, bytes]]:
    """The bundle's top directory and its SHA256SUMS, SHA256SUMS.sig and install.sh, read without extracting."""
    wanted = ("SHA256SUMS", "SHA256SUMS.sig", "install.sh")
    try:
        with tarfile.open(archive) as tar:
            first = tar.next()
            if first is None or not first.name.startswith("codemoat-"):
                raise UpdateError(f"{archive} is not a CodeMoat bundle")
            top = first.name.split("/")[0]
            files = {}
            for name in wanted:
                member = tar.extractfile(f"{top}/{name}")
                if member is None:
                    raise KeyError(name)
                files[name] = member.read()
            return top, files
    except KeyError as exc:
        raise UpdateError(f"{archive} lacks {exc.args[0]}: it is not a complete CodeMoat bundle") from None
    except (OSError, tarfile.TarError, EOFError) as exc:
        raise UpdateError(f"cannot read the bundle {archive}: {exc}") from None


def check(archive: Path, prefix: Path, license_dir: Path, *, force: bool) -> tuple[Release, Installed, bool]:
    """(release, installed, downgrade) once the bundle may be applied; raises with the reason otherwise."""
    installed = current(prefix)
    _, files = read_bundle(archive)
    try:
        release = verify_release(
            files["SHA256SUMS.sig"].decode(), files["SHA256SUMS"], trust(prefix, license_dir)
        )
    except (LicensingError, UnicodeDecodeError) as exc:
        raise UpdateError(f"the update's release signature was refused: {exc}") from None
    listed = {line[66:]: line[:64] for line in files["SHA256SUMS"].decode().splitlines()}
    if listed.get("install.sh") != hashlib.sha256(files["install.sh"]).hexdigest():
        raise UpdateError(
            "the update's install.sh is not the one its signed manifest lists: the bundle was altered"
        )
    if release.platform != installed.platform:
        raise UpdateError(
            f"the update is built for {release.platform}; this appliance runs {installed.platform}"
        )
    label = f"{release.version} build {release.build}"
    if (release.version, release.build) == (installed.version, installed.build):
        raise UpdateError(f"release {label} is the one installed")
    downgrade = not newer(release, (installed.version, installed.build))
    if downgrade and not force:
        raise UpdateError(
            f"release {label} is older than the installed {installed.version} build {installed.build}; "
            "pass --force to downgrade (it is audited)"
        )
    return release, installed, downgrade


def installed_already(archive: Path, prefix: Path, release: Release) -> Installed | None:
    """The bundle's release when it is installed beside the current one already (a rollback left it there) and
    from this very bundle (the same signed manifest): applying it again switches back to it, a roll forward."""
    directory = prefix / "versions" / f"{release.version}-{release.build}"
    if not directory.is_dir():
        return None
    try:
        same = (directory / "share" / "codemoat" / "SHA256SUMS").read_bytes() == read_bundle(archive)[1][
            "SHA256SUMS"
        ]
    except OSError:
        same = False
    if not same:
        raise UpdateError(
            f"{directory} holds release {release.version} build {release.build} from another bundle; "
            "remove that directory to install this one"
        )
    return Installed.at(directory)


def install(archive: Path, prefix: Path, data: Path) -> None:
    """Run the bundle's install.sh --update: it verifies the bundle again, installs beside the current release,
    has the new release migrate the database, and switches `current` (or changes nothing when it fails)."""
    python = _base_python(prefix / "current")
    owner = data.stat().st_uid
    user = ["--no-user"] if os.geteuid() != 0 or owner == 0 else ["--user", _user_name(owner)]
    with tempfile.TemporaryDirectory() as scratch:
        script = Path(scratch) / "install.sh"
        script.write_bytes(read_bundle(archive)[1]["install.sh"])
        command = ["bash", str(script), str(archive), str(prefix), "--update", "--data", str(data)]
        done = subprocess.run([*command, "--python", python, *user], stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise UpdateError(
            "the update was not installed (install.sh said why above); the current release stays"
        )


def _base_python(release: Path) -> str:
    """The interpreter the installed release's environment was made from (pyvenv.cfg)."""
    for line in (release / "pyvenv.cfg").read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "executable":
            return value.strip()
    return sys.executable


def _user_name(uid: int) -> str:
    import pwd

    return pwd.getpwuid(uid).pw_name


# -- run by the new release --------------------------------------------------------------------------------


def migration_record(home: Path, release: str) -> Path:
    return home / "updates" / f"{release}.json"


def write_migration_record(home: Path, release: str, revision_before: str | None, previous: str) -> None:
    path = migration_record(home, release)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps({"revision_before": revision_before, "previous": previous}))
    partial.replace(path)


def read_migration_record(home: Path, release: str) -> dict[str, str | None]:
    try:
        return json.loads(migration_record(home, release).read_text())
    except FileNotFoundError:
        return {"revision_before": None, "previous": None}
    except (OSError, ValueError) as exc:
        raise UpdateError(f"cannot read {migration_record(home, release)}: {exc}") from None


def this_release() -> Installed:
    """The release this process runs from (its virtual environment is the release directory)."""
    return Installed.at(Path(sys.prefix))


def switch(prefix: Path, to: Path, previous: Path) -> None:
    """Point `current` at `to` and `previous` at `previous`, each by an atomic rename of a new link."""
    for name, target in (("previous", previous), ("current", to)):
        link = prefix / f"{name}.new"
        link.unlink(missing_ok=True)
        link.symlink_to(Path("versions") / target.name)
        link.replace(prefix / name)
