"""ml-debug-katas grader: catalogue, runner, validation and the ``kata`` CLI."""
