import logging
import re

import pytest

from app import create_app
from app.config import (
    LOG_FORMAT,
    LOG_LEVEL,
    MAX_BODY_BYTES,
    METRICS_PORT,
    ConfigError,
    prepare_data_dir,
)


@pytest.mark.parametrize("raw", ["abc", "0", "-5", "1.5", "64k", True, "9" * 20])
def test_invalid_max_body_bytes(raw):
    with pytest.raises(
        ConfigError, match=r"^MAX_BODY_BYTES=.* is not a size in bytes: use a whole"
    ):
        MAX_BODY_BYTES.read(raw)


def test_max_body_bytes_default_and_value():
    assert MAX_BODY_BYTES.read(None) == 65536
    assert MAX_BODY_BYTES.read(" ") == 65536  # empty counts as unset
    assert MAX_BODY_BYTES.read("1024") == 1024


@pytest.mark.parametrize("raw", ["LOUD", "info!"])
def test_invalid_log_level(raw):
    with pytest.raises(ConfigError, match=r"LOG_LEVEL=.* is not a log level: use one of DEBUG, "):
        LOG_LEVEL.read(raw)


def test_log_level_default_and_case():
    assert LOG_LEVEL.read(None) == "INFO"
    assert LOG_LEVEL.read("debug") == "DEBUG"


@pytest.mark.parametrize("raw", ["yaml", "JSONL", "json text"])
def test_invalid_log_format(raw):
    with pytest.raises(
        ConfigError, match=r"LOG_FORMAT=.* is not a log format: use one of json, text"
    ):
        LOG_FORMAT.read(raw)


def test_log_format_default_and_case():
    assert LOG_FORMAT.read(None) == "text"
    assert LOG_FORMAT.read(" JSON ") == "json"


@pytest.mark.parametrize("raw", ["http", "-1", "65536", "9000.0", "\uff19", "9" * 5000, True])
def test_invalid_metrics_port(raw):
    with pytest.raises(
        ConfigError, match=r"METRICS_PORT=.* is not a port, or 0 for no metrics: use"
    ):
        METRICS_PORT.read(raw)


def test_metrics_port_default_and_off():
    assert METRICS_PORT.read(None) == 9000
    assert METRICS_PORT.read("0") == 0
    assert METRICS_PORT.read(9100) == 9100


def test_env_values_reach_the_app(clean_env, tmp_path):
    clean_env.setenv("DATA_DIR", str(tmp_path / "from-env"))
    clean_env.setenv("MAX_BODY_BYTES", "2048")
    clean_env.setenv("LOG_LEVEL", "warning")
    app = create_app({"TESTING": True})
    assert app.config["DATA_DIR"] == tmp_path / "from-env"
    assert (tmp_path / "from-env" / "notes.sqlite3").is_file()
    assert app.config["MAX_CONTENT_LENGTH"] == 2048
    assert app.logger.level == logging.WARNING


def test_config_mapping_overrides_env(clean_env, tmp_path):
    clean_env.setenv("MAX_BODY_BYTES", "2048")
    clean_env.setenv("DATA_DIR", str(tmp_path / "ignored"))
    app = create_app({"DATA_DIR": tmp_path / "chosen", "MAX_BODY_BYTES": 10})
    assert app.config["MAX_CONTENT_LENGTH"] == 10
    assert app.config["DATABASE"] == tmp_path / "chosen" / "notes.sqlite3"
    assert not (tmp_path / "ignored").exists()


def test_invalid_env_fails_at_startup(clean_env, tmp_path):
    clean_env.setenv("MAX_BODY_BYTES", "lots")
    with pytest.raises(ConfigError, match="MAX_BODY_BYTES"):
        create_app({"DATA_DIR": tmp_path})


def test_empty_env_value_means_default(clean_env, tmp_path):
    clean_env.setenv("MAX_BODY_BYTES", "")
    app = create_app({"DATA_DIR": tmp_path})
    assert app.config["MAX_CONTENT_LENGTH"] == 65536


def test_data_dir_is_created(tmp_path):
    assert prepare_data_dir(tmp_path / "a" / "b").is_dir()


def test_unwritable_data_dir_names_the_path(clean_env, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    # A path under a regular file cannot be created even by root, unlike a chmod 500 folder.
    with pytest.raises(ConfigError, match=re.escape(str(blocker / "data"))):
        create_app({"DATA_DIR": blocker / "data"})


def test_startup_logs_the_data_path(clean_env, tmp_path, caplog):
    with caplog.at_level(logging.INFO):
        create_app({"DATA_DIR": tmp_path})
    started = [r for r in caplog.records if "started" in r.getMessage()]
    assert len(started) == 1
    assert str(tmp_path / "notes.sqlite3") in started[0].getMessage()
