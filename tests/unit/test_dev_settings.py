"""dev/settings.py: the dev server's settings, and the one-line errors for values it cannot use."""

import pytest

from dev.settings import SETTINGS, SettingError, from_environ


def test_defaults_with_nothing_set():
    settings = from_environ({})
    assert (settings.port, settings.debugpy_port) == (8000, 5678)
    assert (settings.debugpy, settings.flask_debug) == (True, True)
    assert (settings.debugpy_wait, settings.reload_poll) == (False, False)
    assert settings.reload_interval == 1.0


def test_polling_has_its_own_default_interval_and_empty_means_unset():
    settings = from_environ({"RELOAD_POLL": "yes", "RELOAD_INTERVAL": "", "DEBUGPY": " off "})
    assert (settings.reload_poll, settings.debugpy) == (True, False)
    assert settings.reload_interval == 0.25


@pytest.mark.parametrize(
    ("name", "value", "accepted"),
    [
        ("DEBUGPY", "ture", "use 1 or 0"),
        ("RELOAD_POLL", "2", "use 1 or 0"),
        ("PORT", "80a", "a whole number from 1 to 65535"),
        ("DEBUGPY_PORT", "70000", "a whole number from 1 to 65535"),
        ("PORT", "\uff18\uff10", "a whole number from 1 to 65535"),  # fullwidth digits
        ("RELOAD_INTERVAL", "fast", "seconds from 0.05 to 60"),
        ("RELOAD_INTERVAL", "0", "seconds from 0.05 to 60"),
    ],
)
def test_a_bad_value_names_the_setting_the_value_and_what_is_accepted(name, value, accepted):
    with pytest.raises(SettingError) as error:
        from_environ({name: value})
    message = str(error.value)
    assert message.startswith(f"{name}={value!r} ")
    assert accepted in message
    assert "\n" not in message


def test_settings_names_what_from_environ_reads():
    """SETTINGS is what .env.example and the compose file are checked against."""
    read = set()

    class Recorder(dict):
        def get(self, name, default=None):
            read.add(name)
            return default

    from_environ(Recorder())
    assert read == set(SETTINGS)


def test_env_example_documents_every_dev_server_setting():
    from pathlib import Path

    text = (Path(__file__).parents[2] / ".env.example").read_text()
    for name in SETTINGS:
        assert f"{name}=" in text, name
