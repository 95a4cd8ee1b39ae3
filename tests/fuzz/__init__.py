"""Property-based fuzzing: the REST document (schemathesis), socket events (hypothesis).

CI runs a bounded number of examples; FUZZ_EXAMPLES=N sets it, FUZZ_LONG=1 means 500.
"""
import os


def fuzz_examples(default):
    """How many examples a fuzz test runs: FUZZ_EXAMPLES, else 500 with FUZZ_LONG=1, else default."""
    if os.environ.get("FUZZ_EXAMPLES"):
        return int(os.environ["FUZZ_EXAMPLES"])
    return 500 if os.environ.get("FUZZ_LONG") == "1" else default
