"""Authoring: scaffold a kata (kata new), validate katas (kata validate), and keep the
README catalogue table in step. Runs katas through the grading core."""
