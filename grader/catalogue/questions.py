"""A kata's follow-up questions: what an interviewer asks once the fix is in (why the
symptom looked as it did, what would have caught it sooner, where else the mistake
appears), each with a model answer.

Private material (``grader/private/<id>/questions.toml``, sealed with the rest in a
cohort), because the questions name the bug::

    [[questions]]
    question = "Why did the drift grow as the layer got narrower?"
    answer = \"\"\"...\"\"\"
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

FILE = "questions.toml"
MIN_QUESTIONS, MAX_QUESTIONS = 2, 3
MAX_CAPSTONE_QUESTIONS = 5  # several faults, more to ask
KEYS = ("question", "answer")


@dataclass(frozen=True)
class Question:
    question: str
    answer: str


class QuestionsError(Exception):
    """The file is there but not a list of questions with answers; the message says why."""


def load(private_dir: Path) -> tuple[Question, ...] | None:
    """The questions of ``private_dir``, None when it holds none (not written yet, or
    sealed away in a cohort).  Raises QuestionsError on a malformed file."""
    path = private_dir / FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise QuestionsError(f"{path}: not valid TOML: {exc}") from None
    entries = data.get("questions")
    if not isinstance(entries, list) or not entries:
        raise QuestionsError(f"{path}: expected [[questions]] tables, each a question and answer")
    found = []
    for number, entry in enumerate(entries, 1):
        texts = [entry.get(key) if isinstance(entry, dict) else None for key in KEYS]
        if not all(isinstance(text, str) and text.strip() for text in texts):
            raise QuestionsError(
                f"{path}: question {number}: needs a non-empty `question` and `answer`"
            )
        if any(text.lstrip().startswith("TODO") for text in texts):
            raise QuestionsError(f"{path}: question {number}: still a TODO from `kata new`")
        found.append(Question(*(text.strip() for text in texts)))
    return tuple(found)


def problems(private_dir: Path, capstone: bool = False) -> list[str]:
    """What ``kata validate`` says about the questions: present, well-formed, 2 or 3 (up to
    5 for a capstone)."""
    most = MAX_CAPSTONE_QUESTIONS if capstone else MAX_QUESTIONS
    try:
        found = load(private_dir)
    except QuestionsError as exc:
        return [str(exc)]
    if found is None:
        return [
            f"{private_dir / FILE}: missing; write {MIN_QUESTIONS}-{most} follow-up "
            "questions with model answers (see CONTRIBUTING.md)"
        ]
    if not MIN_QUESTIONS <= len(found) <= most:
        return [f"{private_dir / FILE}: {len(found)} questions; write {MIN_QUESTIONS} to {most}"]
    return []
