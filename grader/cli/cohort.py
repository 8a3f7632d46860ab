"""`kata cohort seal` and `kata cohort unseal`: the answers out of a cohort's repository."""

from __future__ import annotations

import argparse
import os
import sys

from grader.usage import EXIT_OK, UsageError

EXIT_REFUSED = 1


def cmd_seal(args: argparse.Namespace) -> int:
    from grader.catalogue.katas import find_root, load_catalogue
    from grader.grading.sealed import ARCHIVE, KEY_ENV, PUBLIC, SealError, seal

    root = find_root()
    try:
        key, recipient = seal(root, load_catalogue(root), args.recipient)
    except SealError as exc:
        raise UsageError(str(exc)) from None
    print(f"kata cohort seal: the answers are in {ARCHIVE} (age, for {recipient}),")
    print(f"  the public numbers in {PUBLIC}; the plaintext is removed from grader/private/.")
    print("Next steps, for the cohort's admin:")
    step = 1
    if key:
        print(f"  {step}. Keep this key; it is shown once and opens the answers:")
        print(f"       {key}")
        step += 1
    print(
        f"  {step}. Add it to the cohort repository as the Actions secret {KEY_ENV} "
        "(Settings > Secrets and variables > Actions); nowhere else."
    )
    print(
        f"  {step + 1}. Keep the plaintext private material outside the cohort's repository "
        "(the template you sealed from): `kata cohort unseal` rebuilds it from the key."
    )
    print(
        f"  {step + 2}. Commit grader/sealed/ and the removals in a history that never held "
        "the answers (e.g. `git checkout --orphan`), push it as the cohort's main branch, "
        "and set the repository variable KATA_REQUIRE_SERVER_CLOCK to true."
    )
    print("  The whole setup, and what each setting protects: docs/cohorts.md")
    return EXIT_OK


def cmd_unseal(args: argparse.Namespace) -> int:
    from grader.catalogue.katas import find_root, load_catalogue
    from grader.grading.sealed import KEY_ENV, SealError, unseal

    key = os.environ.get(KEY_ENV, "")
    if not key.strip():
        raise UsageError(f"set ${KEY_ENV} to the cohort's key (never pass it as an argument)")
    root = find_root()
    try:
        written = unseal(root, load_catalogue(root), key)
    except SealError as exc:
        print(f"kata cohort unseal: refused: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    print(f"kata cohort unseal: {len(written)} files written under grader/private/")
    return EXIT_OK


def add_commands(sub: argparse._SubParsersAction) -> None:
    cohort = sub.add_parser("cohort", help="seal or unseal a cohort's answers")
    actions = cohort.add_subparsers(dest="cohort_action", required=True, metavar="ACTION")
    p = actions.add_parser(
        "seal",
        help="encrypt the answers (reference fixes, decoys, hidden tests, hints) into one file",
        description="Encrypt every kata's private material (reference fix, decoys, "
        "alternatives, hidden tests, hints) into grader/sealed/private.age with age "
        "(X25519), keep the public numbers (reference fix size, hint count) in "
        "grader/sealed/public.json, remove the plaintext, and print the admin's next steps. "
        "A new key is made and shown once unless --recipient names an existing one.",
    )
    p.add_argument("--recipient", metavar="AGE1...", help="encrypt to this age recipient")
    p.set_defaults(func=cmd_seal)
    p = actions.add_parser(
        "unseal",
        help="decrypt the answers with $KATA_COHORT_KEY into grader/private/",
        description="Decrypt grader/sealed/private.age with the key in $KATA_COHORT_KEY "
        "and write the private material back into grader/private/ (only the expected "
        "files of known katas). Exit 1 when the key does not open it.",
    )
    p.set_defaults(func=cmd_unseal)
