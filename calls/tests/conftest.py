from voice.tests.mistral_standin import no_proxy, stand_in  # noqa: F401 - shared fixtures
