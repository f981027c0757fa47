"""Kafka plumbing: the embedded broker, topics, sources and sinks, the dead-letter queue."""
