"""Capacity model: a city's cameras and tickets -> vision pods (GPUs), workers, partitions,
Kafka throughput and storage, PostgreSQL growth per day.

Every rate it divides by is a measured number from docs/BENCHMARKS.md (MEASURED, with the
table it comes from); everything else is an assumption (ASSUMED), printed with the result.
The production overlay (k8s/overlays/production) is sized from this model's default run,
and tests/deploy/test_capacity.py keeps the two in step.

    .venv/bin/python tools/capacity.py                       # 20,000 cameras, 100,000 tickets/day
    .venv/bin/python tools/capacity.py --cameras 5000 --fps 2 --tickets-per-day 30000
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import asdict, dataclass

# Measured, docs/BENCHMARKS.md (the section in brackets).
MEASURED = {
    # [Detector batch sizes on the GPU (H100)] the vision job's detector path, 320 px, batch 256
    "gpu_detector_fps": 1359.0,
    # [Pipeline throughput] the worker loop with a pass-through stage, vision records (frames)
    "vision_loop_fps": 476.9,
    # [Detector batch sizes] OpenCV decode of a 640x360 JPEG, one core (523-543): the low end
    "decode_fps_per_core": 523.0,
    # [Vision preprocessing] numba letterbox, 720p -> 320 float16, batch 64, one thread
    "letterbox_fps_per_core": 3163.0,
    # [Pipeline throughput] the ticket job in the worker loop
    "ticket_job_rps": 1056.4,
    # [Pipeline throughput] the worker loop with a pass-through stage, ticket records
    "loop_rps": 2736.6,
    # [Fusion and camera rules] fusion with 951 incidents open
    "fusion_rps": 8348.0,
    # [Record and replay] 11.8 MB for 360 frames + 2,000 tickets: all of it counted as frames
    "frame_bytes": 11.8e6 / 360,
}

HOUR, DAY = 3600.0, 86400.0


@dataclass(frozen=True)
class Assumptions:
    cameras: int = 20_000
    fps: float = 1.0
    tickets_per_day: int = 100_000
    # ASSUMED: busiest hour against the daily average (hotlines peak in office hours)
    ticket_peak_factor: float = 5.0
    # ASSUMED: camera rules emit on decisions (open/update/clear), not per frame
    observations_per_camera_hour: float = 6.0
    # ASSUMED: every observation changes one incident (an upper bound for city.incidents)
    incident_changes_per_observation: float = 1.0
    # ASSUMED: run every stage at this share of its measured rate (GC, rebalances, skew)
    utilisation: float = 0.7
    vision_cores: int = 3  # the vision container's CPU request (k8s/base/vision.yaml)
    # ASSUMED: sizes of the other records and of a stored evidence row (+ its indexes)
    ticket_bytes: int = 1500
    observation_bytes: int = 1500
    evidence_row_bytes: int = 4096
    replication: int = 3
    # ASSUMED: sustained write rate one broker's disks take (NVMe), replication included
    broker_write_mb_s: float = 350.0
    frames_retention_s: float = 1800.0  # k8s/base/topics.yaml
    retention_s: float = 7 * DAY
    min_consumers: int = 2  # every scaled job keeps two workers (a node may fail)


@dataclass(frozen=True)
class Plan:
    frames_per_s: float
    vision_pod_fps: float
    vision_bottleneck: str
    vision_pods: int
    frames_partitions: int
    gpu_busy_share: float
    tickets_per_s_peak: float
    ticket_workers: int
    observations_per_s: float
    incident_workers: int
    kafka_in_mb_s: float
    kafka_disk_write_mb_s: float
    brokers: int
    kafka_storage_tb: float
    broker_volume_tb: float
    store_gb_per_day: float


def plan(a: Assumptions) -> Plan:
    frames = a.cameras * a.fps
    cpu_fps = a.vision_cores / (
        1 / MEASURED["decode_fps_per_core"] + 1 / MEASURED["letterbox_fps_per_core"]
    )
    limits = {
        "GPU detector": MEASURED["gpu_detector_fps"],
        "worker loop": MEASURED["vision_loop_fps"],
        "decode + letterbox CPU": cpu_fps,
    }
    bottleneck = min(limits, key=lambda k: limits[k])
    pod_fps = limits[bottleneck]
    pods = math.ceil(frames / (pod_fps * a.utilisation))
    tickets_peak = a.tickets_per_day / DAY * a.ticket_peak_factor
    ticket_workers = max(
        a.min_consumers, math.ceil(tickets_peak / (MEASURED["ticket_job_rps"] * a.utilisation))
    )
    observations = a.cameras * a.observations_per_camera_hour / HOUR + tickets_peak
    incident_rps = 1 / (1 / MEASURED["fusion_rps"] + 1 / MEASURED["loop_rps"])
    incident_workers = max(
        a.min_consumers, math.ceil(observations / (incident_rps * a.utilisation))
    )
    changes = observations * a.incident_changes_per_observation
    bytes_in = (
        frames * MEASURED["frame_bytes"]
        + tickets_peak * a.ticket_bytes
        + (observations + changes) * a.observation_bytes
    )
    disk_write = bytes_in * a.replication
    brokers = max(3, math.ceil(disk_write / 1e6 / a.broker_write_mb_s))
    stored = a.replication * (
        frames * MEASURED["frame_bytes"] * a.frames_retention_s
        + (
            a.tickets_per_day / DAY * a.ticket_bytes
            + (observations + changes) * a.observation_bytes
        )
        * a.retention_s
    )
    store_day = (observations - tickets_peak + a.tickets_per_day / DAY) * DAY * a.evidence_row_bytes
    return Plan(
        frames_per_s=frames,
        vision_pod_fps=pod_fps,
        vision_bottleneck=bottleneck,
        vision_pods=pods,
        frames_partitions=pods,  # one partition per pod: an even load on every GPU
        gpu_busy_share=min(1.0, pod_fps * a.utilisation / MEASURED["gpu_detector_fps"]),
        tickets_per_s_peak=tickets_peak,
        ticket_workers=ticket_workers,
        observations_per_s=observations,
        incident_workers=incident_workers,
        kafka_in_mb_s=bytes_in / 1e6,
        kafka_disk_write_mb_s=disk_write / 1e6,
        brokers=brokers,
        kafka_storage_tb=stored / 1e12,
        broker_volume_tb=stored / 1e12 / brokers * 1.3,  # 30% free for compaction and bursts
        store_gb_per_day=store_day / 1e9,
    )


def table(a: Assumptions, p: Plan) -> str:
    rows = [
        ("frames/s", f"{p.frames_per_s:,.0f}", f"{a.cameras:,} cameras x {a.fps:g} fps"),
        (
            "frames/s per vision pod",
            f"{p.vision_pod_fps:,.0f}",
            f"bounded by the {p.vision_bottleneck} (GPU {MEASURED['gpu_detector_fps']:,.0f}, "
            f"loop {MEASURED['vision_loop_fps']:,.0f}, {a.vision_cores} cores "
            f"{a.vision_cores / (1 / MEASURED['decode_fps_per_core'] + 1 / MEASURED['letterbox_fps_per_core']):,.0f})",
        ),
        (
            "vision pods = GPUs (or MIG slices)",
            f"{p.vision_pods}",
            f"at {a.utilisation:.0%} of the pod rate; GPU busy {p.gpu_busy_share:.0%} of its "
            "measured rate",
        ),
        ("city.frames partitions", f"{p.frames_partitions}", "one per vision pod"),
        (
            "tickets/s, busiest hour",
            f"{p.tickets_per_s_peak:.1f}",
            f"{a.tickets_per_day:,}/day x {a.ticket_peak_factor:g}",
        ),
        (
            "ticket workers",
            f"{p.ticket_workers}",
            f"{MEASURED['ticket_job_rps']:,.0f}/s each; two for a node loss",
        ),
        ("observations/s", f"{p.observations_per_s:,.1f}", "camera decisions + tickets"),
        ("incident workers", f"{p.incident_workers}", "fusion + loop; two for a node loss"),
        ("Kafka in, MB/s", f"{p.kafka_in_mb_s:,.0f}", "frames dominate"),
        (
            "Kafka disk writes, MB/s",
            f"{p.kafka_disk_write_mb_s:,.0f}",
            f"replication {a.replication}",
        ),
        ("Kafka brokers", f"{p.brokers}", f"{a.broker_write_mb_s:g} MB/s of writes each"),
        (
            "Kafka storage, TB",
            f"{p.kafka_storage_tb:,.1f}",
            f"frames {a.frames_retention_s / 60:g} min, others {a.retention_s / DAY:g} days",
        ),
        ("volume per broker, TB", f"{p.broker_volume_tb:,.2f}", "30% free"),
        (
            "PostgreSQL growth, GB/day",
            f"{p.store_gb_per_day:,.1f}",
            f"{a.evidence_row_bytes} B per evidence row",
        ),
    ]
    lines = ["| quantity | value | from |", "| --- | ---: | --- |"]
    lines += [f"| {q} | {v} | {why} |" for q, v, why in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, default=Assumptions.cameras)
    parser.add_argument("--fps", type=float, default=Assumptions.fps)
    parser.add_argument("--tickets-per-day", type=int, default=Assumptions.tickets_per_day)
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")
    args = parser.parse_args(argv)
    a = Assumptions(cameras=args.cameras, fps=args.fps, tickets_per_day=args.tickets_per_day)
    p = plan(a)
    if args.json:
        print(json.dumps({"assumptions": asdict(a), "measured": MEASURED, "plan": asdict(p)}))
    else:
        print(table(a, p))


if __name__ == "__main__":
    main()
