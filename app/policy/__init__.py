"""Cedar only: load and validate policies/, build entities and context, decide."""
