"""The four stream jobs (vision, tickets, incidents, dispatch). Each module composes citybrain
stages and ends with its `SPEC` (citybrain/streams/jobs.py); run one with
`citybrain run vision|tickets|incidents|dispatch`."""
