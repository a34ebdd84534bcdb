"""Prompt templates: plain files under prompts/ at the top of the project, loaded by name, never strings
in code. `$name` placeholders (string.Template): article text is substituted as a value, so a "$" or a
brace in an article is never read as part of the template."""
from __future__ import annotations

import string
import sys
from functools import lru_cache
from pathlib import Path


def _prompts_dir() -> Path:
    """prompts/ of the source tree; in an installed (non-editable) package, the copy pip put under
    <prefix>/share/article-qa/prompts (pyproject's data-files)."""
    source = Path(__file__).resolve().parent.parent.parent / "prompts"
    installed = Path(sys.prefix) / "share" / "article-qa" / "prompts"
    return source if source.is_dir() or not installed.is_dir() else installed


PROMPTS_DIR = _prompts_dir()
NAMES = ("system", "answer", "condense")


class PromptError(KeyError):
    pass


@lru_cache(maxsize=None)
def template(name: str) -> string.Template:
    path = PROMPTS_DIR / f"{name}.txt"
    if name not in NAMES or not path.is_file():
        raise PromptError(f"no prompt named {name!r} in {PROMPTS_DIR} (known: {', '.join(NAMES)})")
    return string.Template(path.read_text(encoding="utf-8"))


def render(name: str, **values: object) -> str:
    """The prompt with every placeholder filled; a missing value raises PromptError naming it."""
    try:
        return template(name).substitute({k: str(v) for k, v in values.items()})
    except KeyError as missing:
        raise PromptError(f"prompt {name!r} needs a value for {missing}") from None


def placeholders(name: str) -> set[str]:
    return {m.group("named") or m.group("braced") for m in template(name).pattern.finditer(template(name).template)
            if m.group("named") or m.group("braced")}
