"""What the poller reads: Kafka offsets and groups, topic tails, PostgreSQL, MongoDB."""
