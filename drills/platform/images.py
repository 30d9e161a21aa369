"""Build the reference stack's images locally, without needing any registry.

Every image starts from one Debian bookworm base: `debian:bookworm-slim` where it is present or can be
pulled, otherwise a rootfs made with `debootstrap` and `docker import`ed. Each image is labelled with a
hash of everything that went into it (context files, extra files, base image id), so a second build
skips images whose inputs did not change without even asking the engine to build.
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import docker
from docker.errors import APIError, DockerException, ImageNotFound

from drills.errors import ImageBuildError
from drills.platform import labels
from drills.resources import CACHE, HARNESS, is_junk, require

Log = Callable[[str], None]

SLIM_BASE = "debian:bookworm-slim"
LOCAL_BASE = "drills/debian-base:bookworm"
TOXIPROXY_VERSION = "2.12.0"
TOXIPROXY_UPSTREAM = f"ghcr.io/shopify/toxiproxy:{TOXIPROXY_VERSION}"
TOXIPROXY_MODULE = "github.com/Shopify/toxiproxy/v2"
DEBIAN_MIRROR = os.environ.get("DRILLS_DEBIAN_MIRROR", "http://deb.debian.org/debian")
# Patroni from PyPI over Debian's 3.0.2 (its dependencies stay Debian's): 3.0.2's etcd3 client puts the leader key
# unconditionally when its lease expired and its cached view still names itself, so a leader frozen past its ttl
# took the key back from the new leader and undid that leader's acknowledged commits (leader-freeze lost 1-4
# purchases). 3.0.3 made the update a compare-and-swap (patroni/patroni#2689); 3.0.4 is the last 3.0.x.
PATRONI_VERSION = "3.0.4"
PATRONI_WHEEL = f"patroni-{PATRONI_VERSION}-py3-none-any.whl"
PATRONI_WHEEL_SHA256 = "f43f7adcd0b498dd58888cbd4d123a30312e8ddc66bdbf9f400999af2d8d8655"
PULL_TIMEOUT_S = 120


@dataclass(frozen=True)
class ImageSpec:
    """One image of the stack: where its context is and which extra files it needs."""

    key: str
    tag: str
    context: Path
    extra_files: dict[str, Path] = field(default_factory=dict)


def image_tag(key: str) -> str:
    """Tag of one of our images; the stack refers to images only through this. DRILLS_IMAGE_TAG (default
    `latest`) lets a branch build and run its own images beside the ones another checkout uses."""
    if key == "toxiproxy":
        return f"drills/toxiproxy:{TOXIPROXY_VERSION}"
    return f"drills/{key}:{os.environ.get('DRILLS_IMAGE_TAG') or 'latest'}"


STACK_IMAGES = ("etcd", "postgres", "api", "haproxy", "toxiproxy", "tools", "monitoring")


def specs(toxiproxy_binary: Path | None, patroni_wheel: Path | None = None) -> list[ImageSpec]:
    """The images, in build order."""
    ctx = {
        "etcd": HARNESS / "images" / "etcd",
        "postgres": HARNESS / "images" / "postgres",
        "api": HARNESS / "api",
        "haproxy": HARNESS / "images" / "haproxy",
        "toxiproxy": HARNESS / "images" / "toxiproxy",
        "tools": HARNESS / "images" / "tools",
        "monitoring": HARNESS / "images" / "monitoring",
    }
    out = []
    for key in STACK_IMAGES:
        extra = {}
        if key == "toxiproxy":
            if toxiproxy_binary is None:
                continue  # the upstream image was pulled instead
            extra = {"toxiproxy-server": toxiproxy_binary}
        if key == "postgres":
            extra = {PATRONI_WHEEL: patroni_wheel or ensure_patroni_wheel()}
        out.append(ImageSpec(key, image_tag(key), ctx[key], extra))
    return out


@dataclass
class BuildResult:
    key: str
    tag: str
    action: str  # "built", "cached", "pulled"
    seconds: float
    image_id: str = ""


def build_all(client: docker.DockerClient, log: Log = print, force: bool = False) -> list[BuildResult]:
    """Make sure every image of the stack exists and is current; build what changed."""
    results: list[BuildResult] = []
    require(HARNESS)   # an installation without the build contexts: said before anything is pulled or built
    t0 = time.monotonic()
    base = resolve_base(client, log)
    base_id = client.images.get(base).id
    log(f"base image: {base} ({base_id[7:19]}) [{time.monotonic() - t0:.1f}s]")

    binary: Path | None = None
    tox = image_tag("toxiproxy")
    if _has_image(client, tox) and not _is_ours(client, tox) and not force:
        results.append(BuildResult("toxiproxy", tox, "cached", 0.0))  # pulled earlier
    elif not _has_image(client, tox) and not force and _try_pull(client, TOXIPROXY_UPSTREAM, log):
        client.images.get(TOXIPROXY_UPSTREAM).tag(tox)
        results.append(BuildResult("toxiproxy", tox, "pulled", time.monotonic() - t0))
    else:
        binary = ensure_toxiproxy_binary(log)

    for spec in specs(binary, ensure_patroni_wheel(log)):
        results.append(build_one(client, spec, base, base_id, log, force))
    return results


def build_one(
    client: docker.DockerClient, spec: ImageSpec, base: str, base_id: str, log: Log, force: bool = False
) -> BuildResult:
    """Build one image unless an image with the same input hash already carries its tag."""
    t0 = time.monotonic()
    files = build_inputs(spec)
    digest = _hash_inputs(files, base_id)
    if not force:
        try:
            current = client.images.get(spec.tag)
            if (current.labels or {}).get(labels.BUILD_HASH) == digest:
                return BuildResult(spec.key, spec.tag, "cached", time.monotonic() - t0, current.id)
        except ImageNotFound:
            pass
    log(f"building {spec.tag} ...")
    context = _tar_context(files)
    lines: list[str] = []
    try:
        stream = client.api.build(
            fileobj=context,
            custom_context=True,
            tag=spec.tag,
            buildargs={"BASE": base},
            labels={labels.BUILD_HASH: digest, "drills.image": spec.key},
            rm=True,
            forcerm=True,
            decode=True,
        )
        for chunk in stream:
            if "stream" in chunk:
                lines.extend(s for s in chunk["stream"].splitlines() if s.strip())
            if "error" in chunk:
                raise ImageBuildError(
                    f"building {spec.tag} failed: {chunk['error'].strip()}",
                    hint=f"fix harness/{spec.context.relative_to(HARNESS)} and run `make setup` again",
                    details="\n".join(lines[-25:]),
                )
    except (APIError, DockerException) as exc:
        raise ImageBuildError(f"building {spec.tag} failed: {exc}", details="\n".join(lines[-25:])) from None
    image = client.images.get(spec.tag)
    secs = time.monotonic() - t0
    log(f"built {spec.tag} in {secs:.1f}s")
    return BuildResult(spec.key, spec.tag, "built", secs, image.id)


def stale_images(client: docker.DockerClient) -> dict[str, str]:
    """tag -> why, for each image built here whose inputs differ from this checkout's: a drill run right after
    an edit to harness/ would otherwise test the old image without a word (`drill run` does not build).
    Judged with the same hash the build skips by, from what is already on this machine (no download, no
    build): an image whose inputs cannot be known here (base or cached extra files absent) is not judged."""
    base = _present_base(client)
    if base is None:
        return {}
    base_id = client.images.get(base).id
    binary = CACHE / "toxiproxy" / TOXIPROXY_VERSION / "server"
    wheel = CACHE / "wheels" / PATRONI_WHEEL
    out: dict[str, str] = {}
    for spec in specs(binary, wheel):
        if not all(path.exists() for path in spec.extra_files.values()):
            continue
        try:
            image = client.images.get(spec.tag)
        except ImageNotFound:
            continue                                        # missing images are Stack's error, said before this
        built = (image.labels or {}).get(labels.BUILD_HASH)
        if built is None:
            continue                                        # pulled, not built here: nothing to compare
        if _hash_inputs(build_inputs(spec), base_id) != built:
            made = str(image.attrs.get("Created", ""))[:19].replace("T", " ")
            out[spec.tag] = (f"built{' ' + made + ' UTC' if made else ''} from other files than this checkout's "
                             f"{spec.context.relative_to(HARNESS.parent)}")
    return out


def build_inputs(spec: ImageSpec) -> list[tuple[str, Path]]:
    """(name in the build context, file) of everything an image is built from: what its input hash covers."""
    return sorted(_context_files(spec.context)) + sorted(spec.extra_files.items())


def _present_base(client: docker.DockerClient) -> str | None:
    """The bookworm base already on this engine (slim first), None when neither is."""
    return next((ref for ref in (SLIM_BASE, LOCAL_BASE) if _has_image(client, ref)), None)


def resolve_base(client: docker.DockerClient, log: Log = print) -> str:
    """Pick the bookworm base: slim if present or pullable, else our debootstrap image (built once)."""
    present = _present_base(client)
    if present is not None:
        return present
    if _try_pull(client, SLIM_BASE, log):
        return SLIM_BASE
    build_debootstrap_base(client, log)
    return LOCAL_BASE


def build_debootstrap_base(client: docker.DockerClient, log: Log = print) -> None:
    """Make a minimal bookworm rootfs with debootstrap and import it as LOCAL_BASE."""
    debootstrap = _find_debootstrap() or _install_debootstrap(log)
    if debootstrap is None:
        raise ImageBuildError(
            f"{SLIM_BASE} cannot be pulled and debootstrap is not installed",
            hint="install debootstrap (Debian: apt-get install debootstrap), "
            f"or load {SLIM_BASE} into the engine (docker load)",
        )
    if os.geteuid() != 0:
        raise ImageBuildError("debootstrap needs root to build the base image", hint="run `make setup` as root")
    log(f"{SLIM_BASE} unavailable; building {LOCAL_BASE} with debootstrap (about a minute) ...")
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="drills-rootfs-") as tmp:
        root = Path(tmp) / "rootfs"
        proc = subprocess.run(
            [debootstrap, "--variant=minbase", "bookworm", str(root), DEBIAN_MIRROR],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-20:])
            raise ImageBuildError("debootstrap failed", hint=f"is {DEBIAN_MIRROR} reachable?", details=tail)
        (root / "etc/apt/sources.list").write_text(
            f"deb {DEBIAN_MIRROR} bookworm main\n"
            f"deb {DEBIAN_MIRROR} bookworm-updates main\n"
            f"deb {DEBIAN_MIRROR.rsplit('/', 1)[0]}/debian-security bookworm-security main\n"
        )
        # Like the slim image: no recommends, no caches, no docs.
        (root / "etc/apt/apt.conf.d/90drills").write_text(
            'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n'
        )
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for p in (root / junk).glob("*"):
                if p.is_file():
                    p.unlink()
        archive = Path(tmp) / "rootfs.tar"
        subprocess.run(["tar", "-C", str(root), "--numeric-owner", "-cf", str(archive), "."], check=True)
        try:
            client.api.import_image_from_file(
                str(archive), repository=LOCAL_BASE.split(":")[0], tag="bookworm", changes=['CMD ["bash"]']
            )
        except DockerException as exc:
            raise ImageBuildError(f"importing the rootfs as {LOCAL_BASE} failed: {exc}") from None
    log(f"built {LOCAL_BASE} in {time.monotonic() - t0:.1f}s")


def _find_debootstrap() -> str | None:
    found = shutil.which("debootstrap")
    return found or ("/usr/sbin/debootstrap" if Path("/usr/sbin/debootstrap").exists() else None)


def _install_debootstrap(log: Log) -> str | None:
    """Only reached where no base image can be pulled: install debootstrap on Debian as root."""
    if os.geteuid() != 0 or not Path("/etc/debian_version").exists():
        return None
    log("installing debootstrap (apt-get) to build the base image ...")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "debootstrap"]):
        if subprocess.run(cmd, capture_output=True, env=env).returncode != 0:
            return None
    return _find_debootstrap()


def ensure_patroni_wheel(log: Log = print) -> Path:
    """Patroni's wheel, downloaded on the host (containers do not reach PyPI) into the cache (drills.resources.CACHE)
    once, checked against its pinned digest so a build never takes a different file than the one reviewed."""
    out_dir = CACHE / "wheels"
    wheel = out_dir / PATRONI_WHEEL
    if not (wheel.exists() and _sha256(wheel) == PATRONI_WHEEL_SHA256):
        log(f"downloading Patroni {PATRONI_VERSION} (wheel, for the postgres image) ...")
        out_dir.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                               "--dest", str(out_dir), f"patroni=={PATRONI_VERSION}"],
                              capture_output=True, text=True, timeout=300)
        if proc.returncode != 0 or not wheel.exists():
            raise ImageBuildError(f"cannot download Patroni {PATRONI_VERSION} from PyPI: "
                                  f"{(proc.stderr or proc.stdout).strip()[-400:]}",
                                  hint="the host needs PyPI (pip download); containers never do")
        if _sha256(wheel) != PATRONI_WHEEL_SHA256:
            wheel.unlink()
            raise ImageBuildError(f"{PATRONI_WHEEL} does not have its pinned sha256 ({PATRONI_WHEEL_SHA256})")
    return wheel


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ensure_toxiproxy_binary(log: Log = print) -> Path:
    """Build the real Toxiproxy server with `go install` into the cache (once), with its version stamped."""
    out_dir = CACHE / "toxiproxy" / TOXIPROXY_VERSION
    binary = out_dir / "server"
    if binary.exists() and _binary_version(binary) == TOXIPROXY_VERSION:
        return binary
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
    if go is None:
        raise ImageBuildError(
            f"{TOXIPROXY_UPSTREAM} cannot be pulled and Go is not installed to build Toxiproxy",
            hint="install Go 1.22 or newer, or make ghcr.io reachable",
        )
    log(f"building Toxiproxy {TOXIPROXY_VERSION} with go install (about a minute) ...")
    t0 = time.monotonic()
    out_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, GOBIN=str(out_dir), CGO_ENABLED="0")
    proc = subprocess.run(
        [go, "install", "-ldflags", f"-s -w -X {TOXIPROXY_MODULE}.Version={TOXIPROXY_VERSION}",
         f"{TOXIPROXY_MODULE}/cmd/server@v{TOXIPROXY_VERSION}"],
        capture_output=True, text=True, env=env,
    )
    if proc.returncode != 0 or not binary.exists():
        raise ImageBuildError("go install of the Toxiproxy server failed",
                              details="\n".join((proc.stdout + proc.stderr).splitlines()[-20:]))
    version = _binary_version(binary)
    if version != TOXIPROXY_VERSION:
        raise ImageBuildError(f"built Toxiproxy reports version {version!r}, expected {TOXIPROXY_VERSION}")
    log(f"built Toxiproxy server in {time.monotonic() - t0:.1f}s")
    return binary


def _binary_version(binary: Path) -> str | None:
    try:
        out = subprocess.run([str(binary), "-version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    words = (out.stdout + out.stderr).split()
    return words[-1] if words else None


def _has_image(client: docker.DockerClient, ref: str) -> bool:
    try:
        client.images.get(ref)
        return True
    except ImageNotFound:
        return False


def _is_ours(client: docker.DockerClient, ref: str) -> bool:
    """True when the image was built here (so it may need a rebuild), False when it was pulled."""
    try:
        return labels.BUILD_HASH in (client.images.get(ref).labels or {})
    except ImageNotFound:
        return False


def _try_pull(client: docker.DockerClient, ref: str, log: Log) -> bool:
    repo, _, tag = ref.rpartition(":")
    try:
        client.api.timeout = PULL_TIMEOUT_S
        client.images.pull(repo, tag=tag)
        log(f"pulled {ref}")
        return True
    except DockerException as exc:
        first = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        log(f"cannot pull {ref} ({first[:120]}); building locally instead")
        return False


def _context_files(context: Path) -> Iterable[tuple[str, Path]]:
    """Files of a build context, minus caches (the rule a wheel ships by, so an installed copy hashes the same)
    and what .dockerignore excludes (simple patterns)."""
    patterns = _dockerignore(context)
    for path in context.rglob("*"):
        rel = path.relative_to(context)
        if not path.is_file() or is_junk(rel):
            continue
        prefixes = ["/".join(rel.parts[: i + 1]) for i in range(len(rel.parts))]
        if any(fnmatch.fnmatch(p, pat) for p in prefixes for pat in patterns):
            continue
        yield str(rel), path


def _dockerignore(context: Path) -> list[str]:
    f = context / ".dockerignore"
    if not f.exists():
        return []
    pats = [line.strip().rstrip("/") for line in f.read_text().splitlines()]
    return [p.removeprefix("**/") for p in pats if p and not p.startswith("#")]


def _hash_inputs(files: list[tuple[str, Path]], base_id: str) -> str:
    h = hashlib.sha256(base_id.encode())
    for name, path in files:
        h.update(name.encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
        h.update(b"x" if os.access(path, os.X_OK) else b"-")
    return h.hexdigest()[:32]


def _tar_context(files: list[tuple[str, Path]]) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, path in files:
            info = tar.gettarinfo(str(path), arcname=name)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            with path.open("rb") as fh:
                tar.addfile(info, fh)
    buf.seek(0)
    return buf
