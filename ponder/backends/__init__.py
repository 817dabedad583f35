"""Inference engines behind one Protocol: llama.cpp in-process, any OpenAI-compatible server, a fake."""
