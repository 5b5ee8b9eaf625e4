"""What every Riverbed worker shares: the batch-native consumer loop (offsets committed
after the flush), isolation of poison events, retries with backoff, the dead-letter
topic, the outbox relay and the metrics."""
