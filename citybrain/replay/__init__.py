"""Engineering tools: record topics into an archive, replay it into a namespace, export and diff
runs, and evaluate detection and incidents against labelled data."""
