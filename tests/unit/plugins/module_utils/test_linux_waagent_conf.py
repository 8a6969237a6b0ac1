from __future__ import annotations

import difflib
import glob
import os

import pytest

from ansible_collections.azure_backup.remediation.plugins.module_utils.linux import waagent_conf as conf

REFERENCE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "data", "reference", "linux")
CONFS = sorted(glob.glob(os.path.join(REFERENCE, "waagent-conf-*.conf")))
DESIRED = {"Extensions.Enabled": "y", "Logs.Verbose": "y", "HttpProxy.Host": "10.0.0.5", "HttpProxy.Port": "3128"}


def read(path):
    with open(path) as handle:
        return handle.read()


def changed_lines(before, after):
    return [d for d in difflib.ndiff(before.splitlines(), after.splitlines()) if d[:2] in ("- ", "+ ")]


def test_every_reference_config_is_found():
    assert len(CONFS) == 7


@pytest.mark.parametrize("path", CONFS, ids=os.path.basename)
def test_reference_configs_read_as_the_agent_does(path):
    values = conf.effective(read(path))
    assert values["Logs.Verbose"] == "n"
    # Commented-out settings are not in force.
    assert "HttpProxy.Host" not in values
    assert conf.not_settings(read(path)) == []


@pytest.mark.parametrize("path", CONFS, ids=os.path.basename)
def test_edit_sets_values_touches_only_their_lines_and_is_idempotent(path):
    before = read(path)
    after = conf.set_values(before, DESIRED)
    for key, value in DESIRED.items():
        assert conf.effective(after)[key] == value
    # Only lines naming the settings change: comments, order and the rest stay.
    for line in changed_lines(before, after):
        assert any(key in line for key in DESIRED), line
    # A line is added only for a setting the file does not name at all, not even commented out.
    absent = [k for k in DESIRED if k + "=" not in before]
    assert len(after.splitlines()) - len(before.splitlines()) == len(absent)
    assert conf.set_values(after, DESIRED) == after


def test_commented_setting_is_uncommented_in_place():
    before = "# Proxy\n#HttpProxy.Host=None\n#HttpProxy.Port=None\nLogs.Verbose=n\n"
    after = conf.set_values(before, {"HttpProxy.Host": "proxy.corp", "HttpProxy.Port": "8080"})
    assert after == "# Proxy\nHttpProxy.Host=proxy.corp\nHttpProxy.Port=8080\nLogs.Verbose=n\n"


def test_commented_with_space_the_way_the_article_shows_it():
    assert conf.set_values("# Logs.Verbose=n\n", {"Logs.Verbose": "y"}) == "Logs.Verbose=y\n"


def test_prose_that_mentions_a_key_is_not_a_commented_setting():
    text = "# Added AutoUpdate.UpdateToLatestVersion in place of AutoUpdate.Enabled, see docs\n"
    assert conf.set_values(text, {"AutoUpdate.Enabled": "y"}) == text + "AutoUpdate.Enabled=y\n"


def test_absent_setting_is_appended_even_without_a_final_newline():
    assert conf.set_values("Logs.Verbose=n", {"Extensions.Enabled": "y"}) == "Logs.Verbose=n\nExtensions.Enabled=y\n"


def test_duplicates_all_get_the_value_because_the_last_one_wins():
    text = "Extensions.Enabled=y\nFoo=1\nExtensions.Enabled=n\n"
    assert conf.effective(text)["Extensions.Enabled"] == "n"
    assert conf.set_values(text, {"Extensions.Enabled": "y"}) == "Extensions.Enabled=y\nFoo=1\nExtensions.Enabled=y\n"


def test_crlf_file_stays_crlf():
    text = read(CONFS[0]).replace("\n", "\r\n")
    after = conf.set_values(text, DESIRED)
    assert "\n" not in after.replace("\r\n", "")
    assert conf.effective(after)["Logs.Verbose"] == "y"
    assert conf.set_values(after, DESIRED) == after


def test_inline_comment_spacing_and_quotes_survive():
    text = 'Logs.Verbose = "n"   # turn on when debugging\n'
    assert conf.effective(text)["Logs.Verbose"] == "n"
    assert conf.set_values(text, {"Logs.Verbose": "y"}) == 'Logs.Verbose = "y"   # turn on when debugging\n'


def test_indented_hash_is_not_a_comment_for_the_agent():
    # The agent only treats column-0 '#' as a comment; mirror it rather than guess.
    assert conf.effective("  # Logs.Verbose=y\n") == {"# Logs.Verbose": "y"}


def test_none_means_unset():
    assert conf.effective("HttpProxy.Host=None\n") == {"HttpProxy.Host": None}


def test_lines_the_agent_ignores_are_reported():
    assert conf.not_settings("Logs.Verbose=n\nthis is not a setting\n\n# fine\n") == ["this is not a setting"]


@pytest.mark.parametrize("key, value", [
    ("Extensions.Enabled", "y"), ("Logs.Verbose", "n"), ("HttpProxy.Port", "3128"),
    ("HttpProxy.Host", "proxy.corp.example"), ("HttpProxy.Host", "10.1.2.3"), ("ResourceDisk.Format", "y"),
])
def test_valid_values(key, value):
    assert conf.validate(key, value) == value


@pytest.mark.parametrize("key, value, message", [
    ("Extensions.Enabled", "yes", "must be y or n"),
    ("Logs.Verbose", "True", "must be y or n"),
    ("HttpProxy.Port", "99999", "port number"),
    ("HttpProxy.Port", "abc", "port number"),
    ("HttpProxy.Host", "http://proxy:3128", "host name or IP"),
    ("OS.SomeValue", "a#b", "cannot be written"),
    ("OS.SomeValue", "", "cannot be written"),
    ("bad key", "y", "not a waagent.conf setting name"),
])
def test_invalid_values_say_why(key, value, message):
    with pytest.raises(ValueError, match=message):
        conf.validate(key, value)


def test_show_configuration_is_read_in_the_files_terms():
    fixture = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "waagent-show-configuration-debian12-2.7.3.0.txt")
    with open(fixture) as handle:
        values = conf.parse_show_configuration(handle.read())
    assert values["Extensions.Enabled"] == "y" and values["AutoUpdate.Enabled"] == "n" and values["Logs.Verbose"] == "n"
    assert values["HttpProxy.Host"] is None and values["Lib.Dir"] == "/var/lib/waagent" and values["OS.HomeDir"] == "/home"
    assert len(values) == 66
    assert conf.parse_show_configuration("WALinuxAgent-2.2.47 running on debian 12\nusage: waagent ...") == {}
