"""The hazard loop (DESIGN.md, Events): auto-dispatch rules and escalation ladders
(:mod:`.config`), its reads and writes over the event store (:mod:`.store`), and the worker that
dispatches new events and flags overdue ones (:mod:`.worker`)."""
