"""The kata command line: one module per group of commands, shared output in present.py,
the parser in main.py."""
