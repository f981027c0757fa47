"""The one-command demo: broker, synthetic city, three pipelines, store and web, then a summary.

Pipelines and the web server run as child processes (`citybrain run ...`, `citybrain web`),
exactly as they would be deployed; the demo starts them, shows progress from the counters
they write to the store, and stops every one of them on the way out, whatever happens.
Unless a router is configured, the demo first trains one on a labelled history of other
simulated runs, so tickets are routed as in a city that has one.

`session` runs it, `processes` supervises the child processes, broker and model server,
`view` draws the live progress and the summary table, `report` counts and scores the run.
"""

from __future__ import annotations

from citybrain.demo.session import Demo

__all__ = ["Demo"]
