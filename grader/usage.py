"""The one exception every command raises for bad input.

Its own module so that ``python -m grader.cli`` (where the CLI module is ``__main__``)
and the command modules that import ``grader.cli`` agree on the class.
"""


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit 2."""
