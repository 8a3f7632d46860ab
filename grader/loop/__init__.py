"""The candidate's local loop: progress read from git markers, .kata/state.json, and the
warm workers behind kata watch."""
