import os
import signal
import subprocess
import sys
import time

PARENT = """
import subprocess, sys, time
from citybrain.procs import die_with_parent
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                         preexec_fn=die_with_parent, start_new_session=True)
print(child.pid, flush=True)
time.sleep(60)
"""


def test_children_die_when_the_parent_is_killed() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)  # no clean-up code of the parent runs
    parent.wait(5)
    for _ in range(50):
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
        try:
            with open(f"/proc/{child}/stat") as f:  # a zombie awaiting reaping counts as gone
                if f.read().split()[2] == "Z":
                    return
        except FileNotFoundError:
            return
    raise AssertionError("child outlived its killed parent")
