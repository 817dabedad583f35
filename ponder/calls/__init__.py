"""Client-defined function calling: tool schemas in the prompt, calls parsed, validated and constrained.

Small models write function calls in many shapes (a `<tool_call>` tag, a fenced JSON block, bare
JSON, sometimes broken JSON), and no engine turns those into OpenAI `tool_calls`. This package does,
as a library the HTTP handler and (later) the server-side agent loop both use:

- `spec`: the tools, `tool_choice` and `response_format` of a request, checked once (`CallPolicy`);
- `render`: tool definitions, earlier calls and tool results as each chat template expects them;
- `parse`: a lenient parser from model text to candidate calls;
- `validate`: each candidate checked against its tool's JSON Schema, trivially wrong types coerced;
- `grammar`: GBNF grammars that force a call (or JSON) where the engine can constrain decoding;
- `mode`: `CallingMode`, which wraps any mode so its answer comes out as validated `ToolCallDelta`s.
"""
