"""Captions for synthetic frames, written from what the renderer actually drew.

They are the text half of the demo CLIP model's training pairs. Each category has a few
phrasings so the text tower learns the objects rather than one sentence; the taxonomy's
zero-shot prompts are written independently, so evaluating with them tests the words, not
a memorised template.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from citybrain.sim.render import Box

# What a category looks like, in a few words each (en). Order of categories in a caption
# follows the order given, so a fixed input gives a fixed caption.
PHRASES: dict[str, tuple[str, ...]] = {
    "overflowing_bin": (
        "an overflowing garbage bin",
        "a rubbish bin overflowing with trash",
        "trash piled up around a bin",
    ),
    "flooding": (
        "a flooded road",
        "standing water covering the street",
        "flood water on the road",
    ),
    "smoke_fire": (
        "smoke and fire",
        "a fire with smoke rising",
        "flames and thick smoke",
    ),
    "pothole": (
        "a pothole in the road",
        "a damaged road with a pothole",
        "a hole in the asphalt",
    ),
    "fallen_tree": (
        "a fallen tree",
        "a tree lying across the road",
        "a fallen tree blocking the street",
    ),
    "illegal_parking": (
        "a car parked on the sidewalk",
        "a car illegally parked on the kerb",
        "a vehicle parked on the pavement",
    ),
    "road_construction": (
        "road works with traffic cones and barriers",
        "construction barriers blocking a lane",
        "traffic cones on the road",
    ),
}
SCENES = ("a street camera view", "a traffic camera image", "a city street seen from a camera")
CALM = ("an ordinary street with traffic", "a normal street with nothing wrong", "a quiet road")
# Classes drawn in every frame (passing traffic): a box of them proves no event.
AMBIENT_CLASSES = frozenset({"vehicle"})


def visible_categories(
    drawn: Sequence[str], boxes: Iterable[Box], classes_of: dict[str, Sequence[str]]
) -> list[str]:
    """The drawn categories the frame really shows: those with a box of one of their classes.

    A category whose classes are all ambient (a parked car is a vehicle like the traffic)
    cannot be told apart by its boxes and counts as shown whenever it was drawn.
    """
    seen = {b.cls for b in boxes}
    out: list[str] = []
    for cat in drawn:
        specific = [c for c in classes_of.get(cat, ()) if c not in AMBIENT_CLASSES]
        if not specific or seen.intersection(specific):
            out.append(cat)
    return out


def caption(categories: Sequence[str], night: bool, rng: np.random.Generator | None = None) -> str:
    """One English sentence naming every shown category (unknown ones are skipped).

    Without `rng` the first phrasing of everything is used, so the caption is canonical.
    """

    def pick(options: Sequence[str]) -> str:
        return options[int(rng.integers(len(options)))] if rng is not None else options[0]

    scene = pick(SCENES) + (" at night" if night else "")
    things = [pick(PHRASES[c]) for c in categories if c in PHRASES]
    if not things:
        return f"{scene} of {pick(CALM)}"
    listed = things[0] if len(things) == 1 else ", ".join(things[:-1]) + " and " + things[-1]
    return f"{scene} with {listed}"
