"""Venues a job could not read at its last run, so that a venue that stops answering (its feed stale, the venue
paused, a call that returns nothing or runs out of gas) is one line when it stops and one when it answers again, not
a traceback every cycle."""

from __future__ import annotations

import logging

from keeper.client.venues import failure_reason

log = logging.getLogger("primevault.keeper")


class UnansweringVenues:
    def __init__(self, job: str) -> None:
        self.job = job
        self._names: set[str] = set()

    def failed(self, venue: str, exc: BaseException, consequence: str) -> None:
        """`venue` could not answer; said once, with the decoded reason and what the job leaves undone meanwhile."""
        if venue not in self._names:
            self._names.add(venue)
            log.warning("%s: %s cannot answer now (%s): %s", self.job, venue, failure_reason(exc), consequence)

    def answered(self, venue: str) -> None:
        if venue in self._names:
            self._names.discard(venue)
            log.info("%s: %s answers again", self.job, venue)
