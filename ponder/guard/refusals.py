"""What ponder says instead: short, non-judgemental, and pointing somewhere useful.

A refusal is an answer, not an error: it arrives as ordinary assistant content. It names what it
can't help with, without repeating the request, and offers a safe direction. Self-harm gets
supportive words and crisis resources rather than a rule.
"""

from __future__ import annotations

from ponder.guard.taxonomy import BY_NAME

_ALTERNATIVES: dict[str, str] = {
    "violent_crimes": "If you or someone else is in danger, please contact local emergency services. I'm happy "
    "to help with conflict de-escalation, personal safety, or the history and psychology of violence.",
    "nonviolent_crimes": "I can help with how these schemes work at a high level so you can protect yourself, "
    "with security best practice, or with the legal way to reach your goal.",
    "sex_crimes": "If you or someone you know has been affected, RAINN (1-800-656-4673, rainn.org) or a local "
    "support service can help. I can share information on consent, support and reporting.",
    "child_exploitation": "If a child is at risk, please contact local police or the NCMEC CyberTipline "
    "(report.cybertip.org). I can help with child-safety and safeguarding information.",
    "privacy": "I can explain how to protect your own privacy, or how to reach someone through public, "
    "consent-based channels.",
    "indiscriminate_weapons": "I can talk about the history, policy and arms-control side of these weapons, or "
    "general science that doesn't enable harm.",
    "hate": "I'm glad to help with respectful writing, or to discuss the history and effects of prejudice.",
    "sexual_content": "I can help with non-explicit writing, relationships or sexual-health information.",
    "elections": "For accurate voting information, your official election authority's website is the best "
    "source; I can help you find it or explain how elections work.",
    "code_interpreter_abuse": "I can help with the legitimate task you're working on, or with securing a sandbox.",
    "prompt_injection": "I'll keep following my original instructions; tell me directly what you'd like help with.",
    "defamation": "I can help write about real people in a way that sticks to verifiable facts.",
    "intellectual_property": "I can summarise, quote briefly, or point you to legitimate sources.",
    "specialized_advice": "A qualified professional who knows your situation is the right person for this; I "
    "can share general information to help you prepare.",
}

_SELF_HARM = (
    "I'm really sorry you're going through this, and I can't help with anything that could hurt you. "
    "You don't have to face it alone: if you're in the US you can call or text 988 (Suicide & Crisis "
    "Lifeline), in the UK and Ireland call Samaritans on 116 123, or find a local line at "
    "findahelpline.com. If you're in immediate danger, please call your local emergency number. "
    "If you'd like, I'm here to talk about what's on your mind."
)


def refusal(category: str | None) -> str:
    """The message that replaces a blocked answer."""
    if category == "self_harm":
        return _SELF_HARM
    known = BY_NAME.get(category or "")
    reason = f" (it falls under {known.title})" if known else ""
    alternative = _ALTERNATIVES.get(category or "", "Is there something related I can help with instead?")
    return f"Sorry, I can't help with this request{reason}. {alternative}"
