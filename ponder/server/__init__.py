"""The OpenAI-compatible HTTP server and the web page, built by `create_app(settings)`."""
