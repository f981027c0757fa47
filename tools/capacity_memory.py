"""Peak resident memory of each citybrain process at start-up: the floor of its memory
request in k8s/ (docs/DEPLOYMENT.md). One fresh interpreter per role builds what the role
builds before its first poll (settings, city, store, the job's stage with its models; the
web app), then reports its peak RSS. A stage's working set grows with its batch on top.

    .venv/bin/python tools/capacity_memory.py            # all roles
    .venv/bin/python tools/capacity_memory.py tickets
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROLES = ("tickets", "incidents", "dispatch", "vision", "web")

CHILD = r"""
import json, os, resource, sys
os.environ["CITYBRAIN_STORE__URL"] = "sqlite:///" + sys.argv[2]
os.environ["CITYBRAIN_LLM__EMBEDDED"] = "false"
os.environ["CITYBRAIN_WEB__DEMO_MODE"] = "true"  # the sample config's demo accounts
from citybrain.city_loading import load_city
from citybrain.config import load_settings
from citybrain.store import Store
role = sys.argv[1]
s = load_settings()
city = load_city(s)
store = Store.open(s.store)
if role == "web":
    from citybrain.web.app import create_app
    from citybrain.web.bus import KafkaBus
    create_app(city, store, s, KafkaBus(s.kafka))
else:
    from citybrain.streams.jobs import job_spec
    from citybrain.streams.topics import Topics
    job_spec(role).build(s, city, store, Topics(s.kafka.topic_prefix))
print(json.dumps({"role": role, "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure(role: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, role, str(Path(tmp) / "store.db")],
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("roles", nargs="*", help=f"of {', '.join(ROLES)} (default: every role)")
    roles = ap.parse_args().roles or ROLES
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        ap.error(f"unknown role(s): {', '.join(unknown)}")
    print("| role | peak RSS at start-up, MiB |\n| --- | ---: |")
    for role in roles:
        r = measure(role)
        print(f"| {role} | {r['max_rss_mib']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
