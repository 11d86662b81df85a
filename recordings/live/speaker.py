"""Who is talking: voice activity on each publisher's decoded audio, and the active speaker, with hysteresis.

Voice activity is energy against the publisher's own noise floor: an audio frame (1024 samples)
is voice when its level is well above the floor and above an absolute level (a silent
microphone, or a muted one, never speaks). The floor follows the quietest moments: it drops at
once to a quieter frame and creeps up slowly, so the pauses of speech hold it down and a steady
noise is learnt within seconds (until then the absolute level keeps it out). Short gaps between words do
not end a run of speech. No dependency: webrtcvad would also call a steady tone noise, and our
tests (and a presenter's music) are tones.

The active speaker changes only when someone else has talked for `min_s`, and then either the
one shown has been quiet for `hold_s` (a pause for breath changes nothing) or the newcomer is
`margin_db` louder than them while both talk. Until anyone talks, nobody is the active speaker.
"""

from __future__ import annotations

import array
import math

FRAME_S = 1024 / 48_000
FLOOR_START_DB = -70.0       # a new publisher's noise floor: a quiet room ...
FLOOR_RISE_DB_S = 2.0        # ... rising this fast towards a steady noise, falling at once to a quieter frame
ABOVE_FLOOR_DB = 15.0        # voice is this far above the floor ...
ABSOLUTE_DB = -50.0          # ... and above this level whatever the floor
GAP_S = 0.3                  # silences shorter than this are inside a run of speech
SMOOTHING_S = 0.3            # the level compared between speakers is averaged over about this long
SILENT_DB = -120.0


def level_db(samples: bytes | None) -> float:
    """RMS level of float32 samples in dBFS (every fourth sample: plenty for a level, a quarter of the cost)."""
    if not samples:
        return SILENT_DB
    values = array.array("f", samples)[::4]
    energy = sum(v * v for v in values) / max(1, len(values))
    return 10 * math.log10(energy) if energy > 1e-12 else SILENT_DB


class Voice:
    """One publisher's voice activity over the stream's time."""

    def __init__(self) -> None:
        self.floor = FLOOR_START_DB
        self.level = SILENT_DB             # smoothed over the current run of speech, in dB
        self.last_voice = -math.inf        # stream time of the last frame with voice
        self.run_start: float | None = None

    def hear(self, at: float, samples: bytes | None) -> None:
        level = level_db(samples)
        voiced = level > max(self.floor + ABOVE_FLOOR_DB, ABSOLUTE_DB)
        self.floor = min(self.floor + FLOOR_RISE_DB_S * FRAME_S, level)
        if voiced:
            if self.run_start is None or at - self.last_voice > GAP_S:
                self.run_start, self.level = at, level   # a new run of speech: its own level from its first word
            self.last_voice = at
        weight = min(1.0, FRAME_S / SMOOTHING_S)
        self.level += weight * ((level if voiced else SILENT_DB) - self.level)

    def talking(self, at: float) -> bool:
        return at - self.last_voice <= GAP_S

    def talked_for(self, at: float) -> float:
        """How long the current run of speech has had voice (its trailing silence does not count)."""
        return self.last_voice - self.run_start if self.run_start is not None and self.talking(at) else 0.0

    def quiet_for(self, at: float) -> float:
        return at - self.last_voice


class ActiveSpeaker:
    def __init__(self, min_s: float, hold_s: float, margin_db: float) -> None:
        self.min_s, self.hold_s, self.margin_db = min_s, hold_s, margin_db
        self.voices: dict[int, Voice] = {}
        self.current: int | None = None
        self.recent: list[int] = []        # active speakers, most recent first (for a camera to show)
        self.switches = 0

    def hear(self, publisher_id: int, at: float, samples: bytes | None) -> None:
        """One audio frame of a publisher (None: they sent nothing for it)."""
        voice = self.voices.get(publisher_id)
        if voice is None:
            voice = self.voices[publisher_id] = Voice()
        voice.hear(at, samples)

    def left(self, publisher_id: int) -> None:
        self.voices.pop(publisher_id, None)
        if publisher_id in self.recent:
            self.recent.remove(publisher_id)
        if self.current == publisher_id:
            self.current = None

    def decide(self, at: float) -> int | None:
        """The active speaker at stream time `at` (call once per audio frame, after hearing everyone)."""
        talkers = [(voice.level, publisher) for publisher, voice in self.voices.items()
                   if publisher != self.current and voice.talked_for(at) >= self.min_s]
        if talkers:
            level, best = max(talkers)
            shown = self.voices.get(self.current) if self.current is not None else None
            if shown is None or shown.quiet_for(at) >= self.hold_s or \
                    (shown.talking(at) and level >= shown.level + self.margin_db):
                if self.current is not None:
                    self.switches += 1
                self.current = best
                if best in self.recent:
                    self.recent.remove(best)
                self.recent.insert(0, best)
        return self.current
