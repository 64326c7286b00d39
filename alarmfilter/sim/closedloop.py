"""Drive a simulated ward through the in-process `Ward` with clinicians in the loop.

Decisions go to the feedback model; the labels it returns are fed back when the stream's event
time reaches them, so the engine learns only from alarms that were forwarded, late.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from ..events.outputs import DecisionRecord, Output
from ..events.wire import Alarm
from ..replay import Ward
from .feedback import FeedbackModel, FeedbackQueue
from .ward import Event


@dataclass
class LoopResult:
    decisions: list[DecisionRecord] = field(default_factory=list)
    events_in: int = 0
    feedback_fed: int = 0
    outputs: dict[str, int] = field(default_factory=dict)


def run_closed_loop(
    events: Iterable[Event],
    ward: Ward,
    feedback: FeedbackModel | None = None,
    on_outputs: Callable[[list[Output]], None] | None = None,
) -> LoopResult:
    """Feed every event (and the feedback it leads to) in event-time order; flush at the end."""
    result = LoopResult()
    queue = FeedbackQueue()

    def handle(outputs: list[Output]) -> None:
        for o in outputs:
            result.outputs[o.kind] = result.outputs.get(o.kind, 0) + 1
            if isinstance(o, DecisionRecord):
                result.decisions.append(o)
                if feedback is not None:
                    queue.push(feedback.on_decision(o))
        if on_outputs is not None and outputs:
            on_outputs(outputs)

    for event in events:
        for fb in queue.due(event.ts):
            handle(ward.feed(fb))
            result.feedback_fed += 1
        handle(ward.feed(event))
        result.events_in += 1
    handle(ward.flush())
    for fb in queue.drain():
        handle(ward.feed(fb))
        result.feedback_fed += 1
    return result


def open_loop_feedback(events: Iterable[Event], feedback: FeedbackModel) -> Iterator[Event]:
    """The stream plus the labels clinicians give when no filter hides anything (every alarm seen).

    For a file or a broker with no engine in the loop; labels appear at their own event time.
    """
    queue = FeedbackQueue()
    for event in events:
        yield from queue.due(event.ts)
        if isinstance(event, Alarm):
            queue.push(feedback.on_alarm(event))
        yield event
    yield from queue.drain()
