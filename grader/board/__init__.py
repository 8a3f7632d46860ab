"""The board: kata publish (untrusted artifact in, pull-request comment out), the
leaderboard branch and its badges."""
