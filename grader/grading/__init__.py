"""The grading core: run a kata's tests in a sandbox, scan and size a change, read what git
says about an attempt, and build the schema-checked report. Nothing here prints to a terminal."""
