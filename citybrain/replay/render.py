"""Rich tables for the engineering commands (the JSON forms are the dicts themselves)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def print_diff(d: dict[str, Any], a: str, b: str, console: Console) -> None:
    if d["identical"]:
        console.print(f"no differences: {d['matched']} incidents matched ({a} vs {b})")
        return
    t = Table(title=f"{a} → {b}: {d['matched']} incidents matched")
    for col in ("change", "category", "district", "opened", "department", "detail"):
        t.add_column(col)
    for x in d["appeared"]:
        t.add_row(
            "appeared", x["category"], _fmt(x["district"]), x["opened_at"], x["department"], ""
        )
    for x in d["disappeared"]:
        t.add_row(
            "disappeared", x["category"], _fmt(x["district"]), x["opened_at"], x["department"], ""
        )
    for c in d["changed"]:
        x = c["b"]
        dept = c["changes"].get("department")
        detail = ", ".join(
            f"{k} {v['a']} → {v['b']}" for k, v in c["changes"].items() if k != "department"
        )
        t.add_row(
            "changed department" if dept else "changed",
            x["category"],
            _fmt(x["district"]),
            x["opened_at"],
            f"{dept['a']} → {dept['b']}" if dept else x["department"],
            detail,
        )
    for kind in ("appeared", "disappeared"):
        for x in d["dispatches"][kind]:
            i = x["incident"]
            t.add_row(
                f"dispatch {kind}",
                i["category"],
                _fmt(i["district"]),
                i["opened_at"],
                x["department"],
                "",
            )
    for s in d["summaries_changed"]:
        i = s["incident"]
        t.add_row(
            "summary changed",
            i["category"],
            _fmt(i["district"]),
            i["opened_at"],
            i["department"],
            "",
        )
    console.print(t)


def print_detections(r: dict[str, Any], console: Console) -> None:
    t = Table(title=f"detections: {r['images']} images, {_fmt(r['frames_per_s'])} frames/s")
    for col in ("class", "categories", "images", "instances", "predictions", "P", "R", "AP50"):
        t.add_column(col, justify="left" if col in ("class", "categories") else "right")
    for c in r["classes"]:
        t.add_row(
            c["name"],
            ", ".join(c.get("categories", [])),
            str(c["images"]),
            str(c["instances"]),
            str(c["predictions"]),
            _fmt(c["precision"]),
            _fmt(c["recall"]),
            _fmt(c["ap50"]),
        )
    a = r["all"]
    t.add_row(
        "all",
        "",
        str(r["images"]),
        str(a["instances"]),
        str(a["predictions"]),
        _fmt(a["precision"]),
        _fmt(a["recall"]),
        _fmt(a["map50"]),
    )
    console.print(t)


def print_scenes(r: dict[str, Any], console: Console) -> None:
    t = Table(
        title=f"scenes: {r['images']} images, accuracy {_fmt(r['accuracy'])}, "
        f"{_fmt(r['frames_per_s'])} frames/s"
    )
    for col in ("category", "images", "predicted", "P", "R"):
        t.add_column(col, justify="left" if col == "category" else "right")
    for c in r["categories"]:
        t.add_row(
            c["name"],
            str(c["images"]),
            str(c["predicted"]),
            _fmt(c["precision"]),
            _fmt(c["recall"]),
        )
    console.print(t)


def print_incident_eval(r: dict[str, Any], console: Console) -> None:
    t = Table(title="incidents against the ground truth")
    t.add_column("metric")
    t.add_column("value", justify="right")
    t.add_row(
        "precision", f"{_fmt(r['precision'])} ({r['incidents_true']} / {r['incidents_judged']})"
    )
    t.add_row("recall", f"{_fmt(r['recall'])} ({r['events_detected']} / {r['events_detectable']})")
    t.add_row("duplicate rate", _fmt(r["duplicate_rate"]))
    ttd = r["time_to_detection_s"]
    t.add_row(
        "time to detection (s): mean / median / max",
        f"{_fmt(ttd['mean'])} / {_fmt(ttd['median'])} / {_fmt(ttd['max'])}",
    )
    t.add_row("routing accuracy", _fmt(r["routing_accuracy"]))
    s = r["truth_score"]
    t.add_row(
        "reported events → one correct incident",
        f"{s['one_correct_incident']} / {s['reported_events']}",
    )
    for p in s["problems"][:10]:
        t.add_row("  mismatch", p)
    console.print(t)


def print_summary_eval(r: dict[str, Any], console: Console) -> None:
    t = Table(title=f"summaries against their evidence{' — ' + r['model'] if r['model'] else ''}")
    t.add_column("metric")
    t.add_column("value", justify="right")
    t.add_row("passed the guards", f"{r['passed']} / {r['scored']} ({_fmt(r['pass_rate'])})")
    for lang, v in r["by_language"].items():
        t.add_row(f"  {lang}", f"{v['passed']} / {v['n']} ({_fmt(v['pass_rate'])})")
    for kind, n in r["failures_by_kind"].items():
        t.add_row(f"failed: {kind}", str(n))
    for why, n in r["skipped"].items():
        t.add_row(f"not scored: {why}", str(n))
    if r["latency_ms"]:
        lat = r["latency_ms"]
        t.add_row("latency ms: mean / p50 / p95", f"{lat['mean']} / {lat['p50']} / {lat['p95']}")
    if r["routing"]:
        rt = r["routing"]
        t.add_row(
            "routing: right / answered / asked",
            f"{rt.get('right', 0)} / {rt.get('answered', 0)} / {rt.get('asked', 0)}",
        )
    for group, q in (r.get("quality") or {}).items():
        if not isinstance(q, dict):
            t.add_row(group.replace("_", " "), str(q))
            continue
        t.add_row(
            f"{group} (n={q['n']}): invented raw / language raw / model summary / useful",
            f"{_fmt(q['raw_invented_rate'])} / {_fmt(q['raw_language_match'])} / "
            f"{_fmt(q['model_summary_rate'])} / {_fmt(q['useful_rate'])}",
        )
        t.add_row(
            f"{group}: invented in shown summaries / reported chars p50",
            f"{q['invented_in_shown']} / {q['reported_chars_p50']}",
        )
    for f in r["failures"][:8]:
        t.add_row(f"  {f['id']}", "; ".join(f["problems"])[:100])
    console.print(t)


def print_model_choice(r: dict[str, Any], console: Console) -> None:
    t = Table(
        title=f"the model choosing among the router's best 3 ({r['scope']} tickets: "
        f"{r['all']['n']} asked of {r['in_scope']})"
    )
    for col in ("tickets", "n", "router top-1", "model", "fixed", "broke", "triage", "unusable"):
        t.add_column(col, justify="left" if col == "tickets" else "right")
    blocks = [("all asked", r["all"]), ("router unsure", r["unsure"])]
    blocks += [(f"  {k}", v) for k, v in r["by_class"].items()]
    for name, b in blocks:
        if not b["n"]:
            continue
        t.add_row(
            name, str(b["n"]), _fmt(b["router_accuracy"]), _fmt(b["model_accuracy"]),
            str(b["model_fixed"]), str(b["model_broke"]), str(b["model_triage"]),
            str(b["unusable"]),
        )  # fmt: skip
    console.print(t)
    console.print("model calls: " + ", ".join(f"{k} {v}" for k, v in sorted(r["outcomes"].items())))
