"""``with_label``: Kestra's system labels set once, in place."""

from __future__ import annotations

from lanner.domain.labels import REPLAY_LABEL, RESTARTED_LABEL, Label, with_label


def test_with_label_appends_replaces_and_keeps_one() -> None:
    labels = (Label("team", "data"),)
    once = with_label(labels, RESTARTED_LABEL)
    assert once == (Label("team", "data"), Label("system.restarted", "true"))
    assert with_label(once, RESTARTED_LABEL) is once
    flipped = with_label((Label(REPLAY_LABEL, "false"), Label("a", "b")), REPLAY_LABEL)
    assert flipped == (Label("system.replay", "true"), Label("a", "b"))
