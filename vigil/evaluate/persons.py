"""Helmet accuracy per person, as the no_helmet rule experiences it (box styles aside).

Each labelled person gets a status from the labelled heads whose centre lies in the top
``top`` of the person box: ``bare`` if any head there is head_bare, else ``helmet`` if any is
head_helmet, else unknown (not scored). The prediction for that person is the same test on the
predicted heads at the operating thresholds: flagged if a predicted head_bare box's centre lies
there. Violation recall = bare persons flagged / bare persons; false-flag rate = helmeted persons
flagged / helmeted persons. Set sizes, not box IoU, decide, so hat-only and whole-head boxes
count alike.

>>> c = PersonCounts()
>>> c.add(np.array([[0, 0, 10, 40]]), np.array([[2, 0, 8, 6]]), np.array(["head_bare"]),
...       np.array([[1, 0, 9, 8]]), np.array(["head_bare"]))
>>> c.as_dict()["violation_recall"]
1.0
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vigil.detector.labels import HEAD_BARE, HEAD_HELMET


def _heads_in(person: np.ndarray, heads: np.ndarray, top: float) -> np.ndarray:
    if len(heads) == 0:
        return np.zeros(0, dtype=bool)
    x1, y1, x2, y2 = person
    cx = (heads[:, 0] + heads[:, 2]) / 2
    cy = (heads[:, 1] + heads[:, 3]) / 2
    return (cx >= x1) & (cx <= x2) & (cy >= y1 - 0.1 * (y2 - y1)) & (cy <= y1 + top * (y2 - y1))


def status(person: np.ndarray, heads: np.ndarray, labels: np.ndarray, top: float) -> str | None:
    inside = labels[_heads_in(person, heads, top)] if len(heads) else np.array([])
    if HEAD_BARE in inside:
        return "bare"
    if HEAD_HELMET in inside:
        return "helmet"
    return None


@dataclass(slots=True)
class PersonCounts:
    top: float = 0.4
    bare: int = 0
    bare_flagged: int = 0
    helmet: int = 0
    helmet_flagged: int = 0
    helmet_confirmed: int = 0  # helmeted persons with a predicted head_helmet there
    unknown: int = 0

    def add(
        self,
        persons: np.ndarray,
        gt_heads: np.ndarray,
        gt_labels: np.ndarray,
        pred_heads: np.ndarray,
        pred_labels: np.ndarray,
    ) -> None:
        """One image: GT person boxes, GT head boxes+labels, predicted head boxes+labels."""
        for person in persons:
            truth = status(person, gt_heads, gt_labels, self.top)
            if truth is None:
                self.unknown += 1
                continue
            predicted = pred_labels[_heads_in(person, pred_heads, self.top)]
            flagged = HEAD_BARE in predicted
            if truth == "bare":
                self.bare += 1
                self.bare_flagged += int(flagged)
            else:
                self.helmet += 1
                self.helmet_flagged += int(flagged)
                self.helmet_confirmed += int(HEAD_HELMET in predicted)

    def as_dict(self) -> dict:
        return {
            "persons_bare": self.bare,
            "persons_helmet": self.helmet,
            "persons_unknown": self.unknown,
            "violation_recall": round(self.bare_flagged / self.bare, 3) if self.bare else None,
            "false_flag_rate": round(self.helmet_flagged / self.helmet, 3) if self.helmet else None,
            "helmet_confirmed": (
                round(self.helmet_confirmed / self.helmet, 3) if self.helmet else None
            ),
        }
