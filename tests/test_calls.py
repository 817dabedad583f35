"""Function calling as a library: prompts, the lenient parser, schema validation, grammars, `CallingMode`."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ponder.assistant import Assistant
from ponder.backends.fake import FakeBackend, tokenize
from ponder.calls.grammar import calls_grammar, json_grammar
from ponder.calls.mode import read
from ponder.calls.parse import parse
from ponder.calls.spec import CallPolicy, ResponseFormat, check_conversation, function, policy
from ponder.calls.validate import check, coerce
from ponder.errors import BadRequest
from ponder.models.templates import get_template
from ponder.types import Done, Event, Message, SamplingParams, TextDelta, ToolCall, ToolCallDelta, Usage
from tests.conftest import fake_settings

WEATHER = function(
    "get_weather",
    "Current weather in a city.",
    {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["city"],
    },
)
INTEREST = function(
    "compound_interest",
    "Future value of a deposit.",
    {
        "type": "object",
        "properties": {"principal": {"type": "number"}, "rate": {"type": "number"}, "years": {"type": "integer"}},
        "required": ["principal", "rate", "years"],
    },
)
TOOLS = policy([WEATHER, INTEREST])
RECORDED = json.loads((Path(__file__).parent / "data" / "tool_outputs.json").read_text())


def calls_of(text: str, finish: Any = "stop", p: CallPolicy = TOOLS) -> list[tuple[str, dict[str, Any]]]:
    return [(c.name, json.loads(c.arguments)) for c in read(p, text, finish=finish).checked.calls]


# --- the parser on what the packaged models really wrote ------------------------------------------


@pytest.mark.parametrize("row", RECORDED, ids=lambda r: f"{r['model']}-{r['prompt']}-{r['style']}")
def test_recorded_model_outputs_parse_to_the_calls_they_mean(row: dict[str, Any]) -> None:
    """Verbatim replies of qwen2.5-coder-0.5b/1.5b (bench/tool_outputs.py); `expect` was read off each by hand."""
    expected = [(c[0], c[1]) for c in row["expect"]]
    assert calls_of(row["output"], row.get("finish", "stop")) == expected


def test_the_recorded_table_covers_every_shape() -> None:
    shapes = {row["shape"] for row in RECORDED}
    assert {"tag", "fence", "bare", "broken", "prose", "python"} <= shapes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Rome"}}\n</tool_call>',
            [("get_weather", {"city": "Rome"})],
        ),
        ('{"function": {"name": "get_weather", "parameters": {"city": "Oslo"}}}', [("get_weather", {"city": "Oslo"})]),
        (
            '{"type": "function", "function": {"name": "get_weather", "arguments": "{\\"city\\": \\"Lima\\"}"}}',
            [("get_weather", {"city": "Lima"})],
        ),
        (
            '[{"name": "get_weather", "arguments": {"city": "A"}},'
            ' {"name": "get_weather", "arguments": {"city": "B"}}]',
            [("get_weather", {"city": "A"}), ("get_weather", {"city": "B"})],
        ),
        ('{"get_weather": {"city": "Kyiv"}}', [("get_weather", {"city": "Kyiv"})]),
        (
            '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Bern",}}\n</tool_call>',
            [("get_weather", {"city": "Bern"})],
        ),
        ("Autumn leaves drift down {slowly}.", []),
        ('```python\nprint({"name": "get_weather"})\n```', []),
    ],
)
def test_shapes_models_write(text: str, expected: list[tuple[str, dict[str, Any]]]) -> None:
    assert calls_of(text) == expected


def test_strict_parsing_reads_only_well_formed_tags() -> None:
    fenced = '```json\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n```'
    assert parse(fenced, strict=True).calls == []
    tagged = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
    assert [c.name for c in parse(tagged, strict=True).calls] == ["get_weather"]


def test_prose_around_a_call_stays_as_content() -> None:
    attempt = read(TOOLS, 'Let me check.\n```json\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n```')
    assert attempt.parsed.content == "Let me check."
    assert len(attempt.checked.calls) == 1


def test_a_call_cut_short_by_max_tokens_is_not_passed_on() -> None:
    cut = '{"name": "get_weather", "arguments": {"city": "Ber'
    assert calls_of(cut, finish="stop") == [("get_weather", {"city": "Ber"})]  # ended there by choice: mended
    attempt = read(TOOLS, cut, finish="length")
    assert attempt.checked.calls == [] and "cut short" in attempt.checked.rejected[0][1]


# --- validation ---------------------------------------------------------------------------------------


def test_trivially_wrong_types_are_coerced() -> None:
    out = check(
        parse('{"name": "compound_interest", "arguments": {"principal": "2500", "rate": "4.5", "years": 10.0}}').calls,
        [INTEREST],
    )
    assert json.loads(out.calls[0].arguments) == {"principal": 2500, "rate": 4.5, "years": 10}
    assert coerce("Celsius", WEATHER.parameters["properties"]["unit"]) == "celsius"
    assert coerce(3, {"type": "array", "items": {"type": "integer"}}) == [3]
    assert coerce({"city": "X", "unit": None}, WEATHER.parameters) == {"city": "X"}


def test_invalid_calls_are_rejected_with_the_reason() -> None:
    out = check(
        parse(
            '[{"name": "get_weather", "arguments": {"unit": "celsius"}}, {"name": "book_flight", "arguments": {}}]'
        ).calls,
        [WEATHER],
    )
    assert out.calls == []
    reasons = [r for _, r in out.rejected]
    assert "'city' is a required property" in reasons[0]
    assert "no tool named 'book_flight'" in reasons[1]


def test_every_valid_call_gets_its_own_openai_id() -> None:
    out = check(
        parse(
            '[{"name": "get_weather", "arguments": {"city": "A"}}, {"name": "get_weather", "arguments": {"city": "B"}}]'
        ).calls,
        [WEATHER],
    )
    ids = [c.id for c in out.calls]
    assert all(i.startswith("call_") for i in ids) and len(set(ids)) == 2


# --- the request, checked -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: policy([WEATHER], "book_flight"), "not among the tools: get_weather"),
        (lambda: policy([], "get_weather"), "defines no tools"),
        (lambda: policy([], "required"), "needs at least one tool"),
        (lambda: policy([WEATHER, WEATHER]), "defined twice"),
        (
            lambda: function("f", None, {"type": "object", "properties": {"x": {"type": "integr"}}}),
            "not a valid JSON Schema",
        ),
        (lambda: function("has space"), "letters, digits"),
    ],
)
def test_bad_function_calling_requests(make: Any, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        make()


def test_a_tool_message_must_answer_an_earlier_call() -> None:
    call = ToolCall(id="call_1", name="get_weather", arguments='{"city": "Paris"}')
    ok = [
        Message(role="user", content="hi"),
        Message(role="assistant", content="", tool_calls=[call]),
        Message(role="tool", content="18C", tool_call_id="call_1"),
    ]
    check_conversation(ok)
    with pytest.raises(BadRequest, match=r"call_2.*answers no earlier"):
        check_conversation([*ok, Message(role="tool", content="?", tool_call_id="call_2")])
    with pytest.raises(BadRequest, match="needs tool_call_id"):
        check_conversation([*ok[:2], Message(role="tool", content="?")])


# --- prompts --------------------------------------------------------------------------------------------


def test_qwen_prompt_is_qwens_own_tool_template() -> None:
    """Byte for byte what Qwen2.5's chat template (tokenizer_config.json) renders for the same turns."""
    template = replace(get_template("qwen"), tools=(WEATHER.openai(),))
    call = ToolCall(id="call_1", name="get_weather", arguments='{"city": "Paris"}')
    prompt = template.render(
        [
            Message(role="user", content="Weather in Paris and Rome?"),
            Message(
                role="assistant",
                content="",
                tool_calls=[call, call.model_copy(update={"id": "call_2", "arguments": '{"city": "Rome"}'})],
            ),
            Message(role="tool", content="18C", tool_call_id="call_1"),
            Message(role="tool", content="24C", tool_call_id="call_2"),
        ]
    )
    tool_json = json.dumps(WEATHER.openai(), ensure_ascii=False)
    assert prompt == (
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.\n\n# Tools\n\n"
        "You may call one or more functions to assist with the user query.\n\n"
        "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
        f"{tool_json}\n</tools>\n\n"
        "For each function call, return a json object with function name and arguments within "
        "<tool_call></tool_call> XML tags:\n<tool_call>\n"
        '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n'
        "<|im_start|>user\nWeather in Paris and Rome?<|im_end|>\n"
        '<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n'
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Rome"}}\n</tool_call><|im_end|>\n'
        "<|im_start|>user\n<tool_response>\n18C\n</tool_response>\n<tool_response>\n24C\n</tool_response><|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_generic_templates_show_tools_in_the_system_turn() -> None:
    template = replace(get_template("chatml"), tools=(WEATHER.openai(),))
    prompt = template.render([Message(role="system", content="Be brief."), Message(role="user", content="hi")])
    system = prompt.split("<|im_end|>")[0]
    assert system.startswith("<|im_start|>system\nBe brief.") and '"name": "get_weather"' in system
    assert "<tool_call>" in system and "plain text" in system


# --- grammars -------------------------------------------------------------------------------------------


def test_call_grammar_names_only_the_allowed_tools() -> None:
    named = calls_grammar(policy([WEATHER, INTEREST], "compound_interest").allowed, parallel=False)
    assert '"\\"compound_interest\\""' in named and "get_weather" not in named
    assert named.startswith('root ::= "<tool_call>\\n" call "\\n</tool_call>"\n')
    both = calls_grammar([WEATHER, INTEREST], parallel=True)
    assert "get_weather" in both and "compound_interest" in both and "{0,7}" in both


def test_json_grammar_follows_the_schema() -> None:
    grammar = json_grammar({"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"]})
    assert '"\\"answer\\""' in grammar and "integer" in grammar


# --- CallingMode over the fake backend --------------------------------------------------------------------


async def run(
    tmp_path: Path,
    scripts: Sequence[str | Mapping[str, object]],
    calls: CallPolicy,
    mode: str = "instant",
    ask: str = "Weather in Paris?",
) -> tuple[list[Event], FakeBackend]:
    assistant = Assistant(fake_settings(tmp_path, scripts=scripts))
    events = [
        e
        async for e in assistant.run(
            assistant.plan(mode=mode),
            [Message(role="user", content=ask)],
            SamplingParams(),
            calls=calls,
        )
    ]
    backend = await assistant.backend("fake")
    assert isinstance(backend, FakeBackend)
    return events, backend


async def test_a_call_comes_out_as_tool_call_deltas(tmp_path: Path) -> None:
    events, backend = await run(
        tmp_path, ['```json\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n```'], TOOLS
    )
    deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    assert deltas[0].id and deltas[0].id.startswith("call_") and deltas[0].name == "get_weather"
    assert json.loads("".join(d.arguments for d in deltas)) == {"city": "Paris"}
    assert not [e for e in events if isinstance(e, TextDelta)]
    assert [e.finish_reason for e in events if isinstance(e, Done)] == ["tool_calls"]
    assert '"name": "get_weather"' in backend.prompts[0]  # the tools were shown
    assert backend.params[0].grammar is None  # `auto`: the model decides


async def test_a_broken_call_is_asked_again_under_the_grammar(tmp_path: Path) -> None:
    scripts = [
        '{"name": "get_weather", "arguments": {"unit": "kelvin"}}',
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>',
    ]
    events, backend = await run(tmp_path, [*scripts, ""], TOOLS)  # "": no more calls after that one
    assert len(backend.prompts) == 3 and backend.params[0].grammar is None
    assert backend.params[1].grammar is not None and "get_weather" in backend.params[1].grammar
    assert [d.name for d in events if isinstance(d, ToolCallDelta) and d.name] == ["get_weather"]
    usage = [e for e in events if isinstance(e, Usage)][-1]
    assert usage.completion_tokens == sum(len(s.split()) for s in scripts)  # both attempts are paid for


async def test_the_turn_is_continued_in_the_models_own_format_while_it_leans_to_call_again(tmp_path: Path) -> None:
    """One call for a two-city question; continued after it, the second; then a repeat, dropped, ends it."""
    first = '```json\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n```'
    rome = '{"name": "get_weather", "arguments": {"city": "Rome"}}\n```'
    again = '{"name": "get_weather", "arguments": {"city": "Paris"}}\n```'
    events, backend = await run(tmp_path, [first, "```", rome, "```", again], TOOLS, ask="Weather in Paris and Rome?")
    deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    assert [json.loads(d.arguments) for d in deltas if not d.name] == [{"city": "Paris"}, {"city": "Rome"}]
    assert [d.call_index for d in deltas if d.name] == [0, 1]
    # Probed after the model's own fenced block: one token, any opening of a call allowed.
    assert backend.prompts[1].endswith('"city": "Paris"\n  }\n}\n```\n')
    assert backend.params[1].max_tokens == 1 and backend.params[1].logprobs
    assert backend.params[1].grammar == 'root ::= "<tool_call>" | "```" | "{"'
    # Then made to write one call, in a fence, under the call grammar.
    assert backend.prompts[2].endswith("```\n```json\n")
    grammar = backend.params[2].grammar
    assert grammar is not None and grammar.startswith('root ::= call "\\n```"')
    assert len(backend.prompts) == 5  # the repeat ended the turn
    usage = next(e for e in events if isinstance(e, Usage))
    assert usage.completion_tokens >= len(tokenize(first)) + len(tokenize(rome)) + len(tokenize(again))


async def test_the_turn_ends_where_the_model_leans_to_stop(tmp_path: Path) -> None:
    first = '{"name": "get_weather", "arguments": {"city": "Paris"}}'
    unsure = {"text": "{", "logprob": -3.0, "alt": -20.0}  # P(another call) 0.05: under more_calls_above
    events, backend = await run(tmp_path, [first, unsure, "never asked"], TOOLS, ask="Weather in Paris and Rome?")
    assert [d.name for d in events if isinstance(d, ToolCallDelta) and d.name] == ["get_weather"]
    assert len(backend.prompts) == 2 and backend.prompts[1].endswith('{"city": "Paris"}}\n')  # bare, as written
    _, backend = await run(tmp_path, [first, "{", "never asked"], policy([WEATHER], parallel=False))
    assert len(backend.prompts) == 1  # one call asked for: not continued
    _, backend = await run(tmp_path, [first, "{", "never asked"], policy([WEATHER], more_calls=False))
    assert len(backend.prompts) == 1


async def test_a_call_to_a_tool_that_does_not_exist_is_not_forced_into_a_real_one(tmp_path: Path) -> None:
    invented = '{"name": "find_restaurant", "arguments": {"city": "Rome"}}'
    events, backend = await run(tmp_path, [invented], TOOLS)
    assert len(backend.prompts) == 1 and not [e for e in events if isinstance(e, ToolCallDelta)]
    assert [e.finish_reason for e in events if isinstance(e, Done)] == ["stop"]


async def test_an_answer_without_a_call_is_not_asked_again(tmp_path: Path) -> None:
    events, backend = await run(tmp_path, ["It is sunny in Paris."], TOOLS)
    assert len(backend.prompts) == 1
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "It is sunny in Paris."
    assert [e.finish_reason for e in events if isinstance(e, Done)] == ["stop"]


async def test_named_tool_choice_sends_that_functions_grammar(tmp_path: Path) -> None:
    args = '{"principal": 100, "rate": 5, "years": 2}'
    script = f'<tool_call>\n{{"name": "compound_interest", "arguments": {args}}}\n</tool_call>'
    events, backend = await run(tmp_path, [script], policy([WEATHER, INTEREST], "compound_interest"))
    grammar = backend.params[0].grammar
    assert grammar is not None and "compound_interest" in grammar and "get_weather" not in grammar
    assert [d.name for d in events if isinstance(d, ToolCallDelta) and d.name] == ["compound_interest"]


async def test_a_named_choice_rejects_calls_to_other_tools(tmp_path: Path) -> None:
    other = '{"name": "get_weather", "arguments": {"city": "Paris"}}'
    events, backend = await run(tmp_path, [other, other], policy([WEATHER, INTEREST], "compound_interest"))
    assert len(backend.prompts) == 2  # asked again, still no valid call: an answer, never a wrong call
    assert not [e for e in events if isinstance(e, ToolCallDelta)]


async def test_tool_choice_none_shows_no_tools_and_returns_text(tmp_path: Path) -> None:
    text = '{"name": "get_weather", "arguments": {"city": "Paris"}}'
    events, backend = await run(tmp_path, [text], policy([WEATHER], "none"))
    assert "get_weather" not in backend.prompts[0]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == text
    assert not [e for e in events if isinstance(e, ToolCallDelta)]


async def test_parallel_tool_calls_false_keeps_one_call(tmp_path: Path) -> None:
    two = json.dumps([{"name": "get_weather", "arguments": {"city": c}} for c in ("Rome", "Oslo")])
    ask = "Weather in Rome and Oslo?"
    events, _ = await run(tmp_path, [two], policy([WEATHER], "auto", parallel=False), ask=ask)
    assert len([d for d in events if isinstance(d, ToolCallDelta) and d.name]) == 1
    events, _ = await run(tmp_path, [two], policy([WEATHER], "auto"), ask=ask)
    assert len([d for d in events if isinstance(d, ToolCallDelta) and d.name]) == 2


async def test_thinking_constrains_only_the_answer_after_the_trace(tmp_path: Path) -> None:
    fmt = policy(
        response_format=ResponseFormat("json_schema", {"type": "object", "properties": {"n": {"type": "integer"}}})
    )
    events, backend = await run(tmp_path, ["Two and two. </think>", '{"n": 4}'], fmt, mode="thinking")
    assert backend.params[0].grammar is None  # the trace
    assert backend.params[-1].grammar is not None and '"\\"n\\""' in backend.params[-1].grammar
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == '{"n": 4}'


async def test_a_call_through_thinking_mode(tmp_path: Path) -> None:
    scripts = ["The user wants weather. </think>", '{"name": "get_weather", "arguments": {"city": "Paris"}}']
    events, backend = await run(tmp_path, scripts, policy([WEATHER], "required"), mode="thinking")
    assert backend.params[0].grammar is None and backend.params[1].grammar is not None
    assert [d.name for d in events if isinstance(d, ToolCallDelta) and d.name] == ["get_weather"]


async def test_with_client_tools_instant_keeps_the_templates_own_system_message(tmp_path: Path) -> None:
    from ponder.config import InstantSettings

    _, backend = await run(tmp_path, ["It is sunny."], TOOLS)
    assert InstantSettings().system not in backend.prompts[0]
    _, backend = await run(tmp_path, ["It is sunny."], policy([]))
    assert InstantSettings().system in backend.prompts[0]  # no tools: ponder's own message


async def test_a_continued_call_must_bring_something_the_user_said(tmp_path: Path) -> None:
    """Offered the turn again, the model invents a call about a city nobody asked for: it is dropped."""
    first = '{"name": "get_weather", "arguments": {"city": "Paris"}}'
    more = '\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Tokyo"}}\n</tool_call>'
    events, _ = await run(tmp_path, [first, more], TOOLS)
    assert [json.loads(d.arguments) for d in events if isinstance(d, ToolCallDelta) and not d.name] == [
        {"city": "Paris"}
    ]


@pytest.mark.parametrize(
    ("extra", "said", "kept"),
    [
        ({"city": "Rome"}, "weather in paris and rome", True),
        ({"city": "Tokyo"}, "weather in paris and rome", False),
        ({"radius": 10}, "areas of circles with radius 5, 10 and 15", True),
        ({"a": 1, "b": 2, "c": 1}, "a = 2, b = 5, c = 3; then a = 1, b = 2, c = 1", True),  # figures reused
        ({"frequency": 1000, "wavelength": 0.5}, "final velocity after 6 s from 40 m/s", False),
        ({"db_name": "employees", "backup_location": "/path/to/backup"}, "delete the email column in employees", False),
        ({"cities": ["Rome", "Oslo"]}, "weather in Paris, Rome and Oslo", True),  # nested values count
        ({"verbose": True}, "weather in Paris", False),  # nothing from the request at all
        ({"city": "Rome", "food": "Italian", "number": 4}, "Italian in Paris, then the same in Rome", True),
        ({"trials": 10, "p": 0.5}, "ten shots, then again at 50%", True),  # number words and percents
        ({"shares": 100000000}, "and for 100 million shares?", True),  # scale words
        ({"gain_loss": -1000}, "$5000 with a loss of $1000", True),  # the sign the words imply
        ({"food": "Italian", "number": 4}, "Italian for 4 in Paris and in Rome", False),  # nothing new: a repeat
        ({"number": 4, "verbose": True}, "Italian for 4 in Paris and in Rome", False),  # a flag flipped, no more
        ({"date": "2022-05-18"}, "Tokyo to Sydney on May 18th 2022", True),  # dates in the schema's format
        ({"date": "05/18/2022"}, "on the 18th of May, 2022", True),
        ({"date": "2022-06-18"}, "Tokyo to Sydney on May 18th 2022", False),  # another month
        ({"date": "2023-05-18"}, "Tokyo to Sydney on May 18th 2022", False),  # another year
        ({"date": "2023-06-20"}, "5 nights starting from 20th June", True),  # no year said: the model's
        ({"date": "05-12-2022"}, "from 12th May 2022 for 3 nights", True),  # mm-dd-yyyy
        ({"date": "10/12/2022"}, "arriving 10th December 2022", True),  # dd/mm read too
        ({"date": "06-01-2023"}, "for tomorrow, June01 2023", True),  # figures glued to words
    ],
)
def test_grounded_keeps_calls_whose_values_the_user_gave(extra: dict[str, Any], said: str, kept: bool) -> None:
    from ponder.calls.validate import grounded
    from ponder.types import ToolCall

    first = ToolCall(id="a", name="f", arguments=json.dumps({"food": "Italian", "number": 4}))
    call = ToolCall(id="b", name="f", arguments=json.dumps(extra))
    assert grounded([call], [first], said) == ([call] if kept else [])


SCHEDULE = function(
    "sports_team.get_schedule",
    "Fetches the schedule of the specified sports team.",
    {
        "type": "object",
        "properties": {
            "team_name": {"type": "string"},
            "num_of_games": {"type": "integer"},
            "league": {"type": "string"},
            "location": {"type": "string", "description": "The venue. Default to 'all'."},
            "gender": {"type": "string"},
            "date": {"type": "string"},
            "limit": {"type": "integer", "description": "At most this many. Default 10."},
            "home": {"type": "boolean"},
        },
        "required": ["team_name", "num_of_games"],
    },
)


@pytest.mark.parametrize(
    ("args", "said", "kept"),
    [
        ({"location": "London"}, "the next 6 games of Man United in the Premier League", {}),  # invented
        ({"league": "Premier League"}, "the next 6 games of Man United in the Premier League", None),
        ({"location": "all"}, "the next 6 games", None),  # the schema's own default
        ({"gender": "women"}, "6 games of woman tennis", None),  # give or take an ending
        ({"date": "04-2022"}, "6 games in April 2022", None),  # a reformatted value keeps its trace
        ({"limit": 25}, "the next 6 games", {}),
        ({"limit": 10}, "the next 6 games", None),  # the description's default
        ({"home": True}, "6 home games", None),  # booleans carry no words to check
        ({"team_name": "Arsenal", "num_of_games": 3}, "the next 6 games", None),  # required: always kept
        (
            {"league": ["Premier League", "La Liga", "Serie A"]},
            "6 Premier League games",
            {"league": ["Premier League"]},
        ),
        ({"league": ["Bundesliga", "Serie A"]}, "the next 6 games", {}),  # no item said: an optional list goes
    ],
)
def test_optional_arguments_nobody_gave_are_dropped(args: dict[str, Any], said: str, kept: Any) -> None:
    from ponder.calls.validate import unsaid_dropped
    from ponder.types import ToolCall

    base = {"team_name": "Man United", "num_of_games": 6}
    call = ToolCall(id="a", name=SCHEDULE.name, arguments=json.dumps({**base, **args}))
    out = json.loads(unsaid_dropped(call, SCHEDULE, said).arguments)
    assert out == ({**base, **args} if kept is None else {**base, **kept})


GAMES = function(
    "sports.get_schedule",
    "Retrieve the schedule of matches for a date.",
    {
        "type": "object",
        "properties": {
            "date": {"type": "string"},
            "sport": {"type": "string"},
            "season": {"type": "string"},
            "level": {"type": "string", "enum": ["u21", "senior"]},
            "note": {"type": "string"},
        },
        "required": ["date", "sport", "level", "season"],
    },
)


@pytest.mark.parametrize(
    ("args", "said", "invented"),
    [
        ({"date": "2023-04-01"}, "Who plays cricket today?", True),  # no calendar: a date from nowhere
        ({"date": "2023-04-01"}, "Cricket on April 1st 2023?", False),
        ({"date": "2023-04-01"}, "Cricket on 1 April?", False),  # the year is the model's to add
        ({"date": "2022-04-01"}, "Cricket on April 1st 2023?", True),  # another year than the one said
        ({"date": "x", "season": "2021-2022"}, "Cricket averages?", True),
        ({"date": "x", "season": "2021-2022"}, "Cricket averages for 2021-2022?", False),
        ({"date": "x", "sport": "16th century"}, "Who started the Reformation?", True),
        ({"date": "x", "sport": "BRCA1"}, "the protein of BRCA1", False),  # a name with figures, said
        ({"date": "x", "sport": "C6H12O6"}, "the weight of C6H12O6", False),
        ({"date": "x", "level": "u21"}, "Cricket for the under-21s?", False),  # the schema lists it
        ({"date": "x", "note": "2023-04-01"}, "Who plays cricket today?", False),  # optional: not its job
        ({"date": "x", "sport": "cricket"}, "Who plays cricket today?", False),  # no figures to check
        ({"date": "x", "season": 2023}, "The current cricket averages?", True),  # a number, not a string
        ({"date": "x", "season": 2023}, "Cricket averages in 2023?", False),
        ({"date": "x", "season": 100.0}, "Cricket after a 25% discount?", True),  # a price from nowhere
        ({"date": "x", "season": 0.25}, "Cricket after a 25% discount?", False),  # the percent said
        ({"date": "x", "season": 50_000_000}, "Cricket for 50 million fans?", False),
        ({"date": "x", "season": 2}, "Cricket twice a week?", False),  # small: words say it
        ({"date": "x", "season": 0}, "Cricket from rest?", False),
        ({"date": "x", "season": 12}, "Cricket games, 12 a season by default?", False),  # in the words
    ],
)
def test_a_required_figure_nobody_gave_makes_the_call_made_up(args: dict[str, Any], said: str, invented: bool) -> None:
    from ponder.calls.validate import made_up
    from ponder.types import ToolCall

    call = ToolCall(id="a", name=GAMES.name, arguments=json.dumps({"sport": "cricket", "level": "senior", **args}))
    assert made_up(call, GAMES, said) is invented


def test_a_required_number_the_tool_itself_names_is_not_made_up() -> None:
    from ponder.calls.validate import made_up
    from ponder.types import ToolCall

    pieces = function(
        "puzzle.make",
        "Make a jigsaw puzzle (usually 500 pieces).",
        {"type": "object", "properties": {"pieces": {"type": "integer"}}, "required": ["pieces"]},
    )
    said = "Make me a jigsaw puzzle."
    assert not made_up(ToolCall(id="a", name="puzzle.make", arguments='{"pieces": 500}'), pieces, said)
    assert made_up(ToolCall(id="a", name="puzzle.make", arguments='{"pieces": 10}'), pieces, said)


def test_a_made_up_call_is_dropped_under_auto_and_kept_when_required() -> None:
    from ponder.calls.mode import CallingMode
    from ponder.modes.instant import InstantMode
    from ponder.types import ToolCall

    call = ToolCall(id="a", name=GAMES.name, arguments=json.dumps({"date": "2023-04-01", "sport": "cricket"}))
    said = "Who plays cricket today?"
    assert CallingMode(InstantMode(), policy([GAMES])).settle([call], said) == []
    assert CallingMode(InstantMode(), policy([GAMES], "required")).settle([call], said) == [call]


def test_a_call_asking_for_less_than_one_before_is_covered() -> None:
    from ponder.calls.validate import covered
    from ponder.types import ToolCall

    def f(name: str, **args: Any) -> ToolCall:
        return ToolCall(id="x", name=name, arguments=json.dumps(args))

    first = f("find", location="Seattle", cuisine=["Seafood"])
    assert covered(f("find", location="Seattle"), [first])
    assert not covered(f("find", location="Tacoma"), [first])
    assert not covered(f("find", location="Seattle", size=5), [first])  # asks for more
    assert not covered(f("other", location="Seattle"), [first])


async def test_an_invented_optional_argument_does_not_reach_the_client(tmp_path: Path) -> None:
    args = {"team_name": "Arsenal", "num_of_games": 6, "location": "London"}
    reply = json.dumps({"name": "sports_team.get_schedule", "arguments": args})
    events, _ = await run(tmp_path, [reply, ""], policy([SCHEDULE]), ask="The next 6 games of Arsenal?")
    assert [json.loads(d.arguments) for d in events if isinstance(d, ToolCallDelta) and not d.name] == [
        {"team_name": "Arsenal", "num_of_games": 6}
    ]


async def test_a_call_with_values_from_nowhere_is_dropped_and_the_request_answered_without_tools(
    tmp_path: Path,
) -> None:
    made_up = '{"name": "get_weather", "arguments": {"city": "Paris"}}'
    events, backend = await run(tmp_path, [made_up, "", "Leaves drift and fall."], TOOLS, ask="A haiku about autumn?")
    assert not [e for e in events if isinstance(e, ToolCallDelta)]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Leaves drift and fall."
    assert next(e for e in events if isinstance(e, Done)).finish_reason == "stop"
    usage = next(e for e in events if isinstance(e, Usage))
    assert usage.completion_tokens >= len(made_up.split()) + 4  # the dropped call's tokens count too
    assert "get_weather" not in backend.prompts[-1]  # asked again with no tools shown


async def test_a_required_call_is_kept_even_with_values_from_nowhere(tmp_path: Path) -> None:
    made_up = '{"name": "get_weather", "arguments": {"city": "Paris"}}'
    events, _ = await run(tmp_path, [made_up, ""], policy([WEATHER], "required"), ask="A haiku about autumn?")
    assert [json.loads(d.arguments) for d in events if isinstance(d, ToolCallDelta) and not d.name] == [
        {"city": "Paris"}
    ]


async def test_a_value_from_an_earlier_tool_result_counts_as_given(tmp_path: Path) -> None:
    assistant = Assistant(
        fake_settings(tmp_path, scripts=['{"name": "get_weather", "arguments": {"city": "Lima"}}', ""])
    )
    convo = [
        Message(role="user", content="Weather where my next meeting is?"),
        Message(role="assistant", content="", tool_calls=[ToolCall(id="c1", name="next_meeting", arguments="{}")]),
        Message(role="tool", content='{"place": "Lima"}', tool_call_id="c1", name="next_meeting"),
    ]
    meeting = function("next_meeting", "Where the next meeting is.", {"type": "object", "properties": {}})
    events = [
        e
        async for e in assistant.run(
            assistant.plan(mode="instant"), convo, SamplingParams(), calls=policy([WEATHER, meeting])
        )
    ]
    assert [json.loads(d.arguments) for d in events if isinstance(d, ToolCallDelta) and not d.name] == [
        {"city": "Lima"}
    ]
