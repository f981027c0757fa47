"""The model step: an OpenAI-compatible client, the embedded server, summaries and routing."""
