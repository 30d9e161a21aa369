import tarfile
from pathlib import Path

from docker.errors import ImageNotFound

from drills.platform import images, labels


def _files(ctx):
    return sorted(images._context_files(ctx))


def test_hash_changes_with_content_and_base_but_not_with_caches(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM x\n")
    (tmp_path / "app.py").write_text("print(1)\n")
    first = images._hash_inputs(_files(tmp_path), "sha256:base1")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"junk")
    assert images._hash_inputs(_files(tmp_path), "sha256:base1") == first
    assert images._hash_inputs(_files(tmp_path), "sha256:base2") != first
    (tmp_path / "app.py").write_text("print(2)\n")
    assert images._hash_inputs(_files(tmp_path), "sha256:base1") != first


def test_context_tar_holds_exactly_the_hashed_files(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM x\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text("x = 1\n")
    (tmp_path / "pkg" / "mod.pyc").write_bytes(b"junk")
    with tarfile.open(fileobj=images._tar_context(_files(tmp_path))) as tar:
        assert sorted(tar.getnames()) == ["Dockerfile", "pkg/mod.py"]


def test_every_stack_image_has_a_dockerfile_with_a_base_argument():
    stand_in = Path(images.__file__)  # any file: only the Dockerfiles are read
    for spec in images.specs(toxiproxy_binary=stand_in, patroni_wheel=stand_in):
        text = (spec.context / "Dockerfile").read_text()
        assert "ARG BASE=debian:bookworm-slim" in text and "FROM ${BASE}" in text, spec.key


def test_every_build_input_of_a_stack_image_is_something_its_dockerfile_copies():
    """An input the image does not contain (a README, the API's own tests) would make the image "stale" after an
    edit that cannot change it, and rebuild it for nothing: .dockerignore keeps such files out of the context."""
    stand_in = Path(images.__file__)
    for spec in images.specs(toxiproxy_binary=stand_in, patroni_wheel=stand_in):
        copied = [src.rstrip("/") for line in (spec.context / "Dockerfile").read_text().splitlines()
                  if line.split()[:1] in (["COPY"], ["ADD"]) and "--from" not in line
                  for src in line.split()[1:-1]]
        for name, _path in images.build_inputs(spec):
            assert name in ("Dockerfile", ".dockerignore") or any(
                name == src or name.startswith(f"{src}/") for src in copied), (spec.key, name, copied)


def test_dockerignore_patterns_are_honoured(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM x\n")
    (tmp_path / ".dockerignore").write_text("devtools/\n**/*.log\n")
    (tmp_path / "devtools").mkdir()
    (tmp_path / "devtools" / "tool.py").write_text("")
    (tmp_path / "app.log").write_text("")
    names = [n for n, _ in _files(tmp_path)]
    assert sorted(names) == [".dockerignore", "Dockerfile"]


def test_drills_image_tag_lets_a_branch_run_its_own_images(monkeypatch):
    from drills.platform.images import image_tag

    monkeypatch.delenv("DRILLS_IMAGE_TAG", raising=False)
    assert image_tag("api") == "drills/api:latest"
    monkeypatch.setenv("DRILLS_IMAGE_TAG", "zrpo")
    assert image_tag("api") == "drills/api:zrpo" and image_tag("postgres") == "drills/postgres:zrpo"
    assert image_tag("toxiproxy").startswith("drills/toxiproxy:")  # pinned to the Toxiproxy version, never a branch
    assert image_tag("toxiproxy") != "drills/toxiproxy:zrpo"


class _Image:
    def __init__(self, id_: str, labels: dict | None = None, created: str = "2026-12-01T10:00:00.5Z") -> None:
        self.id, self.labels, self.attrs = id_, labels or {}, {"Created": created}


class _Images:
    def __init__(self, known: dict[str, _Image]) -> None:
        self.known = known

    def get(self, ref: str) -> _Image:
        if ref not in self.known:
            raise ImageNotFound(ref)
        return self.known[ref]


class _Client:
    def __init__(self, known: dict[str, _Image]) -> None:
        self.images = _Images(known)


def _current_hash(spec: images.ImageSpec, base_id: str) -> str:
    return images._hash_inputs(images.build_inputs(spec), base_id)


def test_stale_images_names_the_image_whose_inputs_differ_from_the_checkout(tmp_path, monkeypatch):
    """The hash `drill images build` skips by decides: equal -> not named; different -> named with its context;
    a pulled image (no hash label) or a missing one is not judged."""
    cache = tmp_path / "cache"
    (cache / "toxiproxy" / images.TOXIPROXY_VERSION).mkdir(parents=True)
    (cache / "toxiproxy" / images.TOXIPROXY_VERSION / "server").write_bytes(b"tox")
    (cache / "wheels").mkdir()
    (cache / "wheels" / images.PATRONI_WHEEL).write_bytes(b"wheel")
    monkeypatch.setattr(images, "CACHE", cache)
    wheel = cache / "wheels" / images.PATRONI_WHEEL
    specs = {s.key: s for s in images.specs(cache / "toxiproxy" / images.TOXIPROXY_VERSION / "server", wheel)}
    known = {images.LOCAL_BASE: _Image("sha256:base")}
    for key in ("etcd", "haproxy", "tools", "postgres"):
        known[specs[key].tag] = _Image(key, {labels.BUILD_HASH: _current_hash(specs[key], "sha256:base")})
    postgres = specs["postgres"]
    known[images.image_tag("api")] = _Image("api", {labels.BUILD_HASH: "0" * 32})          # built from older files
    known[images.image_tag("toxiproxy")] = _Image("tox")                                     # pulled: no hash label
    stale = images.stale_images(_Client(known))                       # monitoring: missing, not judged here
    assert list(stale) == [images.image_tag("api")]
    assert "harness/api" in stale[images.image_tag("api")] and "2026-12-01 10:00:00" in stale[images.image_tag("api")]

    wheel.write_bytes(b"another wheel")   # an extra file counts like the context
    assert set(images.stale_images(_Client(known))) == {images.image_tag("api"), postgres.tag}
    wheel.unlink()                       # its inputs unknown here: not judged
    assert set(images.stale_images(_Client(known))) == {images.image_tag("api")}
    assert images.stale_images(_Client({})) == {}                          # no base image: nothing can be judged


def test_stale_image_notes_take_only_a_tag_to_text_map():
    from drills.checks.result import stale_image_notes
    assert stale_image_notes({"drills/api:latest": "built from other files"}) == [
        "image drills/api:latest was stale when the drill ran: built from other files"]
    assert stale_image_notes("drills/api") == [] and stale_image_notes(None) == []
    assert stale_image_notes({"drills/api:latest": 3}) == []
