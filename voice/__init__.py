"""The voice engine: a plain Python library that runs the conversation of a call.

It imports no Django and no project app. ``session.CallSession`` takes caller audio (16 kHz mono
16-bit PCM, 20 ms frames) or typed lines and gives agent audio back: voice activity detection,
speech-to-text, the language model, text-to-speech, turn-taking and barge-in. ``gateway`` is the
one way to an AI provider (redaction, fallback chains, circuit breakers, the request log);
``providers`` holds one adapter per vendor, the local engines and the fakes. What the engine needs
from its host (which providers a call may use, the tenant's minimisation, where the AI request log
goes) comes in through the protocols of ``protocols``.
"""
