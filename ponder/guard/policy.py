"""The policy: from a guard's scores to allow, log or block, per category, recorded for the operator.

The classifier reads every check (~10 ms). It is a topic detector: it knows "sarin" and "kill" are
alarming, not whether "kill a Python process" is. So it decides alone only at the ends — below
`judge_low` the text is allowed, at `judge_high` and above it is blocked — and everything between
goes to the language model as judge, which reads the written policy. Without a judge, `threshold`
decides. The low end, the threshold and the judge's own threshold scale with the category's
strictness, so indiscriminate weapons are blocked, and sent to the judge, at lower scores than, say,
defamation, and the judge need only be 30% sure (0.6 × 0.5) to block them.

A request the two let through meets the probe too, when the model has one (`ponder.guard.probe`: the
model's own hidden state under a trained head). It blocks from `probe_blocks_from`, scaled by the
category's strictness like the others' thresholds, and its score is what decides whether a refusal of
the request is asked again (`harmless`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ponder.config import GuardSettings
from ponder.errors import ContextOverflow
from ponder.guard import cost
from ponder.guard.audit import AuditLog
from ponder.guard.base import INJECTABLE, Guard, Stage, Verdict
from ponder.guard.taxonomy import BY_NAME, STRENGTH, Action
from ponder.types import Safety

JUDGED: frozenset[Stage] = frozenset({"input", "reasoning", "agent", "output", "tool_call"})
"""Stages worth a language-model call when the classifier is unsure.

Thinking is among them: its windows are checked every `stream_window` characters, so a trace meets
the classifier many times, and benign maths met it badly. On 44 GSM8K traces of the 1.5B, one window
about a house sale's fees scored 0.63 (non-violent crimes) and was blocked, and in the eval run a
train-passenger trace was blocked as weapons at 0.32; seven windows of those traces fell in the judge's
band, and the judge passed all seven (about 2.5 s each once its policy prompt is cached)."""


WORD_CHAR = re.compile(r"[^\W_]")
"""A letter or digit in any script. A text without one ("●", "...", "👍") cannot ask for anything or
smuggle an instruction, and is allowed unscored: the heads, trained on sentences, are not calibrated on
it (OCR reads a drawn circle as "●", which the injection head once scored 0.996)."""


def in_band(settings: GuardSettings, harm: float, category: str | None) -> bool:
    """Is the classifier unsure enough that the judge decides? The low end scales with the category's
    strictness (`judge_low`·strictness up to `judge_high`)."""
    k = BY_NAME[category or "violent_crimes"].strictness
    return settings.judge_low * k <= harm < settings.judge_high


def judge_cut(settings: GuardSettings, category: str | None) -> float:
    """The judge's probability of "unsafe" that blocks a text of `category`: `judge_threshold` scaled by
    the category's strictness, as the classifier's threshold is."""
    return settings.judge_threshold * BY_NAME[category or "violent_crimes"].strictness


def judge_blocks(settings: GuardSettings, judged: float, category: str | None) -> bool:
    """Does the judge's probability of "unsafe" block a text of `category`?"""
    return judged >= judge_cut(settings, category)


@dataclass
class Asked:
    """The request a run answers, as the guard knows it: its text and, once the input stage has decided
    it, whether the judge reads all that is written for it (`Screen.weighs`). The stream guard sets
    `weighed`; the modes' screen hook reads both, so an agent's draft or a tool call is judged as an
    answer is, after the request (`Screen.vetoes`)."""

    text: str = ""
    weighed: bool = False


@dataclass(frozen=True)
class Decision:
    action: Action
    stage: Stage
    category: str | None = None
    score: float = 0.0
    guard: str = ""
    judged: float | None = None
    """The judge's probability of "unsafe", when the classifier was unsure enough to ask it."""
    probed: float | None = None
    """The probe's probability that the request is harmful (input stage, when the model has a probe)."""

    @property
    def blocks(self) -> bool:
        return self.action == "block"


class Screen:
    def __init__(
        self,
        settings: GuardSettings,
        classifier: Guard,
        judge: Guard | None,
        audit: AuditLog,
        probe: Guard | None = None,
    ) -> None:
        self.settings = settings
        self.classifier = classifier
        self.judge = judge if settings.judge else None
        self.probe = probe if settings.probe else None
        self.audit = audit

    async def vetoes(self, text: str, stage: Stage, asked: Asked | None = None) -> Safety | None:
        """For text a mode keeps to itself (an agent's draft, a tool's call or result): the block, or None
        when the text may be used. A mode may act on what it was told (contemplate refuses when most of
        its agents' drafts were blocked). With `asked`, the judge reads the text after the request, and
        reads it whatever its score when the request was weighed, as it reads an answer."""
        asked = asked or Asked()
        d = await self.check(text, stage, asked.text, asked.weighed)
        return Safety(stage, d.category or "", round(d.score, 4), d.action) if d.blocks else None

    def action(self, category: str) -> Action:
        return self.settings.actions.get(category, BY_NAME[category].action)

    def weighs(self, request: Decision) -> bool:
        """Does the judge read all the model writes for a request it let through (`request`)? Only when it
        came near blocking it: its probability of "unsafe" at least `judge_answers_from` × its threshold."""
        s = self.settings
        if request.judged is None or s.judge_answers_from >= 1.0:
            return False
        return request.judged >= s.judge_answers_from * judge_cut(s, request.category)

    async def check(self, text: str, stage: Stage, asked: str = "", weighed: bool = False) -> Decision:
        """The decision on `text` at `stage`; `asked`, the request the model was answering, is shown
        to the judge with text the model wrote. `weighed` (`weighs` said so of that request): the judge
        reads this text whatever the classifier's score, unless the classifier blocks it alone. Timed
        for whoever counts (`cost`)."""
        if not WORD_CHAR.search(text):
            return Decision("allow", stage)
        async with cost.check(stage):
            return await self._check(text, stage, asked, weighed)

    async def clears(self, text: str, stage: Stage) -> bool:
        """Does the classifier alone find `text` clearly harmless: under the judge's band (`judge_low`,
        scaled by the category's strictness), and no injection? Nothing is decided or logged: a text it does
        not clear is checked in full later, with more of what follows it (`guarded`'s first window)."""
        if not WORD_CHAR.search(text):
            return True
        async with cost.check(stage):
            verdict = await cost.timed(self.classifier, text, stage)
        s, k = self.settings, BY_NAME[verdict.category or "violent_crimes"].strictness
        injected = stage in INJECTABLE and verdict.injection >= s.injection_threshold
        return verdict.harm < s.judge_low * k and not injected

    async def _check(self, text: str, stage: Stage, asked: str, weighed: bool) -> Decision:
        s = self.settings
        verdict = await cost.timed(self.classifier, text, stage)
        if stage in INJECTABLE and verdict.injection >= s.injection_threshold:
            return self._decide("prompt_injection", verdict.injection, stage, verdict.guard, text)
        category = verdict.category or "violent_crimes"
        k = BY_NAME[category].strictness
        score, guard = verdict.harm, verdict.guard
        flagged = score >= s.threshold * k
        judged = None
        asks = in_band(s, score, category) or (weighed and score < s.judge_high)
        second = await self._judge(text, stage, asked) if stage in JUDGED and asks else None
        if second is not None:
            flagged, judged = judge_blocks(s, second.harm, category), second.harm
            category = self._named(category, second.category)
            score, guard = max(score, second.harm) if flagged else min(score, second.harm), second.guard
        probed = None
        if not flagged and stage == "input" and self.probe is not None:
            probed = (await cost.timed(self.probe, text, stage)).harm
            if probed >= s.probe_blocks_from * BY_NAME[category].strictness:
                return self._decide(category, probed, stage, self.probe.name, text)
        if not flagged:
            return Decision("allow", stage, category, score, guard, judged, probed)
        return self._decide(category, score, stage, guard, text)

    def _named(self, classified: str, judged: str | None) -> str:
        """The category a judged text is acted on as: the judge's, unless its action is weaker than the
        classifier's. The judge names its category in free text after "yes": an answer (to a development
        prompt) on stripping a stolen car for parts, non-violent crimes to the classifier (0.69), was unsafe to
        the judge (0.62) as specialised advice, which only logs, so the block became a log line. Held out, the
        same had let HarmBench's parathion, Lewisite and chlorine-gas requests through the input (the judge:
        unsafe at 0.90–0.95, named specialised advice); with this rule they are blocked there."""
        if judged is None or STRENGTH[self.action(judged)] < STRENGTH[self.action(classified)]:
            return classified
        return judged

    async def harmless(self, text: str, allowed: Decision) -> bool:
        """Is the guard sure that `text`, which it `allowed`, is harmless? The probe, when it read the request:
        its probability below `probe_harmless_below`. Otherwise the judge: its probability of "unsafe" below
        `answer_again_below`, asked now when the classifier let the text through alone, and then held to
        `answer_again_cleared_below` (by default the same)."""
        if allowed.blocks:
            return False
        if allowed.probed is not None:
            return allowed.probed < self.settings.probe_harmless_below
        below = self.settings.answer_again_below
        if self.judge is None or below <= 0.0:
            return False
        if allowed.judged is not None:
            return allowed.judged < below
        second = await self._judge(text, allowed.stage)
        return second is not None and second.harm < self.settings.answer_again_cleared_below

    async def _judge(self, text: str, stage: Stage, asked: str = "") -> Verdict | None:
        """The judge's verdict, or none when there is no judge or its model cannot read the text: its policy
        and worked cases run past a thousand tokens, more than a small context holds (smollm2-135m at 1,024
        judging a contemplating agent's draft: 1,893), and the classifier's threshold then decides rather
        than the request failing."""
        if self.judge is None:
            return None
        try:
            return await cost.timed(self.judge, text, stage, asked)
        except ContextOverflow:
            return None

    def decide(self, category: str, score: float, stage: Stage, guard: str, note: str) -> Decision:
        """A hazard another model already scored (an image's NSFW score): acted on and logged by policy."""
        return self._decide(category, score, stage, guard, note)

    def _decide(self, category: str, score: float, stage: Stage, guard: str, text: str) -> Decision:
        action = self.action(category)
        if action != "allow":
            self.audit.record(stage, category, score, action, guard, text)
        return Decision(action, stage, category, score, guard)
