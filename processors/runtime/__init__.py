"""What every Riverbed worker shares: the faust app, batching with manual acks,
retries with backoff, the dead-letter topic and the outbox relay."""
