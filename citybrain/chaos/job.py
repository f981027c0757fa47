"""`python -m citybrain.chaos.job JOB IDLE_S`: one job as the chaos suite runs it, settings from
CITYBRAIN_* variables, exiting once idle (also when nothing comes at all) so a restart with
no work left ends quickly."""

from __future__ import annotations

import logging
import sys
import threading

from citybrain.config import load_settings
from citybrain.runtime import run_job


def main() -> None:
    job, idle = sys.argv[1], float(sys.argv[2])
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    run_job(job, load_settings(), stop=threading.Event(), idle_exit_s=idle, first_wait_s=idle)


if __name__ == "__main__":
    main()
