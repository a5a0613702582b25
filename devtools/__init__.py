"""Developer tooling: the local runner (`make run`), the mail catcher and the benchmark."""
