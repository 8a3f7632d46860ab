"""What every layer may import: the exception for bad input and the exit codes.

Its own module, below everything else, so that the grading core, the loop and the command
modules raise and return the same things without importing the command line.
"""

EXIT_OK, EXIT_RED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit 2."""
