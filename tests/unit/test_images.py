import tarfile
from pathlib import Path

from drills.platform import images


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
