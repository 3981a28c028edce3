"""`vigil models`: the model cards, and which of them serves each label and so each rule.

A label can come from several cards; the pipeline takes it from one (``label_sources`` in
:mod:`vigil.pipeline`: not a card that another provider of the label supersedes, then the card
serving the most needed labels, then by name). Shown here as the pipeline decides it with every
rule enabled, which is also its choice for the default rules.

>>> rows = {row.name: row for row in card_rows()}
>>> rows["site_ppe"].serves, rows["helmet"].superseded_by
(['head_bare', 'head_helmet', 'person'], ['site_ppe'])
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

from vigil.detector.cards import CardError, ModelCard, load_cards
from vigil.events.rules import RULES, Rule, RulesConfig, build_rules
from vigil.events.zones import MAX_COORDINATE
from vigil.pipeline import label_sources

# Rules that need a zone are given the whole frame, so that every rule's labels are counted.
_WHOLE_FRAME = {
    "name": "frame",
    "polygon": [[0, 0], [MAX_COORDINATE, 0], [MAX_COORDINATE, MAX_COORDINATE], [0, MAX_COORDINATE]],
}


@dataclass(frozen=True, slots=True)
class CardRow:
    """One card as `vigil models` shows it (``--json``: :meth:`as_dict`, one line per card)."""

    name: str
    labels: list[str]  # every label the card provides
    serves: list[str]  # the labels it is the source of by default
    rules: list[str]  # the rules those labels serve
    supersedes: list[str]
    superseded_by: list[str]
    runtime: str
    export: str | None  # runtime openvino: its export folder, or why it runs on PyTorch
    licence: str
    weights: str | None
    weights_error: str | None
    card: str | None  # the card file

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# Rules that need a line (line_crossing) are given one across the frame.
_A_LINE = [[0, 0], [MAX_COORDINATE, MAX_COORDINATE]]


def every_rule() -> list[Rule]:
    """One of each rule, with default parameters (zone rules: the whole frame; line rules: a
    diagonal)."""
    config = {}
    for name in RulesConfig.model_fields:
        line = "line" in RULES[name].Params.model_fields
        config[name] = {"zones": [_WHOLE_FRAME], **({"line": _A_LINE} if line else {})}
    return build_rules(RulesConfig.model_validate(config))


def card_rows(card_dirs: list[Path] | None = None) -> list[CardRow]:
    """The installed cards and those in ``card_dirs``, by name; CardError for a bad card file.

    A rule that no card can serve (see :func:`unservable_rules`) is in no card's ``rules``.
    """
    cards = load_cards(card_dirs or [])
    rules = [rule for rule in every_rule() if rule.name not in unservable_rules(cards)]
    sources = label_sources(rules, cards.values())
    return [_row(card, cards, rules, sources) for card in sorted(cards.values(), key=_by_name)]


def unservable_rules(cards: dict[str, ModelCard]) -> dict[str, str]:
    """The rules no card can serve, each with the labels it lacks.

    >>> for rule, lacking in unservable_rules(load_cards()).items():
    ...     print(rule, "lacks", lacking)
    no_harness lacks harness, harness_hooked or harness_unhooked
    no_vest lacks no_vest or vest
    vehicle_proximity lacks machinery or vehicle
    """
    provided = frozenset().union(*(card.labels for card in cards.values()))
    missing = {}
    for rule in every_rule():
        for group in rule.requires:
            if not group & provided:
                missing[rule.name] = " or ".join(sorted(group)).replace(
                    " or ", ", ", len(group) - 2
                )
    return missing


def _by_name(card: ModelCard) -> str:
    return card.name


def _row(
    card: ModelCard, cards: dict[str, ModelCard], rules: list[Rule], sources: dict[str, str]
) -> CardRow:
    serves = sorted(label for label, name in sources.items() if name == card.name)
    try:
        weights, problem = str(card.resolve_weights()), None
    except CardError as exc:
        weights, problem = None, str(exc)
    return CardRow(
        name=card.name,
        labels=sorted(card.labels),
        serves=serves,
        rules=[rule.name for rule in rules if rule.needs & set(serves)],
        supersedes=list(card.supersedes),
        superseded_by=sorted(
            other.name for other in cards.values() if card.name in other.supersedes
        ),
        runtime=card.runtime,
        export=_export_state(card) if card.runtime == "openvino" else None,
        licence=card.licence,
        weights=weights,
        weights_error=problem,
        card=str(card.card_path) if card.card_path else None,
    )


def _export_state(card: ModelCard) -> str:
    """The export folder the card runs, or what is wrong and so why it runs on PyTorch."""
    from vigil.detector.exported import ExportMissing, export_dir, read_export

    folder = export_dir(card)
    try:
        read_export(folder)
    except ExportMissing as exc:
        flag = " --int8" if card.precision == "int8" else ""
        return f"missing, runs on PyTorch: {exc} (vigil models export {card.name}{flag})"
    return str(folder)


def cards_table(rows: list[CardRow]) -> Table:
    """The cards as a table; the licence is cut to its first clause (``--json`` has it whole)."""
    table = Table(title="Model cards (serves: the labels taken from this card by default)")
    columns = ("name", "labels", "serves", "rules", "supersedes", "superseded by", "weights")
    for column in (*columns, "licence"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            row.name,
            ", ".join(row.labels),
            ", ".join(row.serves) or "—",
            ", ".join(row.rules) or "—",
            ", ".join(row.supersedes),
            ", ".join(row.superseded_by),
            (row.weights or "[red]missing[/]")
            + (f" ({row.runtime} {row.export})" if row.export else ""),
            row.licence.split(" (")[0].split(";")[0],
        )
    return table
