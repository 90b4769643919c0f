"""A colleague saved an answer to the same step while this technician was typing theirs.

The store refuses to overwrite it (`AnswerConflict`) and keeps the refused answer in the history.
On a terminal the flow then offers the three ways to settle it, named here; without one (answers
files, scripts) the refusal stands and the command stops with the store's message.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from threer.triage import answers as a
from threer.triage.session import RecordedStep


class Settle(str, Enum):
    THEIRS = "theirs"  # their answer stands; ours stays in the history, marked as not saved
    MINE = "mine"  # ours is saved as a new revision over theirs; the history keeps theirs
    EDIT = "edit"  # the step is asked again, starting from ours, and that is saved over theirs


SETTLE_CHOICES: tuple[Settle, ...] = (Settle.THEIRS, Settle.MINE, Settle.EDIT)


@dataclass
class Conflict:
    """Both answers to one step: the colleague's that stands, and ours that was refused."""

    step_id: str
    theirs: RecordedStep | None  # None only if their answer went again before we could read it
    mine: a.Answer | a.NotApplicable
    mine_record: RecordedStep  # ours as it would have been recorded, for showing beside theirs
    by: str | None  # who saved theirs (None: not known)
    host: str | None  # on which machine
    at: str  # when (ISO text, as stored)
    revision: int  # the revision of theirs: ours goes over it
    message: str  # the store's one-paragraph explanation, for runs that cannot ask

    @property
    def same(self) -> bool:
        """Both say the same: nothing to choose, their answer is ours too."""
        return self.theirs is not None and self.theirs.to_storage() == self.mine_record.to_storage()
