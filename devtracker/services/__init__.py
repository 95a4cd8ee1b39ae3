"""Business rules. Services own commits and emit only after a commit succeeds."""
