"""What the three services share: event contracts, settings, the outbox and consumer helpers."""
