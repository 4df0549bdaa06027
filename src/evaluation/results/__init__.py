"""The result protocol's recorder: what notebooks hand to the run, and results.json."""
