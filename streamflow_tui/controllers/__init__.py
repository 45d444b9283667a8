"""Controllers: one concern each, between the App (keys, messages, views) and the UI-free core.

- ``polling``: the metric source, one poll at a time, in a worker; history backfill.
- ``load``: the built-in load generator.
- ``drift``: drift checks, on demand and on a schedule, and retraining through a command.
- ``session``: record, replay and export.

They change the console's state (``core.state``) and post typed messages; they never touch a widget.
"""
