import os

import pytest

from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import vss_writers as vss

REF = os.path.join(os.path.dirname(__file__), "..", "..", "..", "data", "reference", "windows")


def _ref(name):
    with open(os.path.join(REF, name), encoding="utf-8") as handle:
        return handle.read()


def test_reference_output_is_read_by_structure():
    writers = vss.parse(_ref("vssadmin-writers-en-1.txt"))
    assert [w["name"] for w in writers] == ["System Writer", "Registry Writer", "IIS Metabase Writer", "Event Log Writer",
                                            "Microsoft Exchange Writer"]
    assert writers[0] == {"name": "System Writer", "id": "{e8132975-6f93-4464-a53e-1050253ae220}",
                          "instance_id": "{eb6b4c30-aa48-486a-9618-0d1934d180ca}", "state": 1, "state_text": "Stable",
                          "last_error": "No error"}
    assert [(w["name"], w["state"], w["last_error"]) for w in vss.bad(writers)] == [("Microsoft Exchange Writer", 7, "Retryable error")]


def test_crlf_and_the_banner_before_the_first_writer():
    text = ("vssadmin 1.1 - Volume Shadow Copy Service administrative command-line tool\r\n"
            "(C) Copyright 2001-2013 Microsoft Corp.\r\n\r\n" + _ref("vssadmin-writers-en-1.txt").replace("\n", "\r\n"))
    assert len(vss.parse(text)) == 5


def test_german_output_is_read_by_the_same_structure():
    # Labels and quotes of German Windows; only the structure and the number in brackets decide.
    text = ("vssadmin 1.1 - Verwaltungsbefehlszeilenprogramm des Volumeschattenkopie-Dienstes\r\n"
            "(C) Copyright 2001-2013 Microsoft Corp.\r\n\r\n"
            "Verfassername: \"System Writer\"\r\n"
            "   Verfasserkennung: {e8132975-6f93-4464-a53e-1050253ae220}\r\n"
            "   Verfasserinstanzkennung: {eb6b4c30-aa48-486a-9618-0d1934d180ca}\r\n"
            "   Status: [7] Fehler\r\n"
            "   Letzter Fehler: Wiederholbarer Fehler\r\n\r\n")
    (writer,) = vss.parse(text)
    assert (writer["name"], writer["state"], writer["state_text"], writer["last_error"]) == (
        "System Writer", 7, "Fehler", "Wiederholbarer Fehler")


def test_an_error_instead_of_a_list_is_an_error_not_an_empty_list():
    text = ("vssadmin 1.1 - Volume Shadow Copy Service administrative command-line tool\r\n"
            "(C) Copyright 2001-2013 Microsoft Corp.\r\n\r\n"
            "Error: A Volume Shadow Copy Service component encountered an unexpected error.\r\n")
    with pytest.raises(ValueError, match="unexpected error"):
        vss.parse(text)
    with pytest.raises(ValueError):
        vss.parse("")


def test_a_block_without_its_guids_is_not_a_writer():
    assert len(vss.parse(_ref("vssadmin-writers-en-1.txt") + "Writer name: 'Half'\n   State: [1] Stable\n")) == 5


def test_plan_restarts_each_service_once_and_reports_unknown_writers():
    writers = [
        {"name": "Registry Writer", "state": 7}, {"name": "COM+ REGDB Writer", "state": 8},
        {"name": "System Writer", "state": 1}, {"name": "NTDS", "state": 9}, {"name": "WMI Writer", "state": 5},
    ]
    restart, unknown = vss.plan(writers, vss.service_map({}))
    assert restart == ["VSS", "Winmgmt"]
    assert [w["name"] for w in unknown] == ["NTDS"]


def test_doubtful_community_rows_are_not_in_the_map():
    for writer in ("NTDS", "NPS VSS Writer", "Certificate Authority", "MS Search Service Writer"):
        assert writer not in vss.WRITER_SERVICES


def test_the_inventory_adds_and_removes_rows():
    services = vss.service_map({"Task Scheduler Writer": "Schedule", "WMI Writer": ""})
    assert services["Task Scheduler Writer"] == "Schedule"
    assert "WMI Writer" not in services
    assert "WMI Writer" in vss.WRITER_SERVICES  # the built-in table is not changed


def test_the_map_matches_the_community_table_except_the_doubtful_rows():
    rows = dict(line.split("\t") for line in _ref("vss-writer-service-map-community.tsv").splitlines() if line and not line.startswith("#"))
    doubtful = {"NTDS", "NPS VSS Writer", "Certificate Authority", "MS Search Service Writer"}
    assert vss.WRITER_SERVICES == {k: v for k, v in rows.items() if k not in doubtful}


def test_workload_writers_are_held_unless_opted_in():
    assert "dismounts every mailbox database" in vss.workload("Microsoft Exchange Writer", [])
    assert vss.workload("NTDS", ["Microsoft Exchange Writer"])
    assert vss.workload("Microsoft Exchange Writer", ["Microsoft Exchange Writer"]) is None
    assert vss.workload("System Writer", []) is None


def test_services_stuck_in_stop_pending_are_found():
    services = [{"name": "CryptSvc", "exists": True, "state": "Stop Pending"}, {"name": "VSS", "exists": True, "state": "Running"},
                {"name": "SQLWriter", "exists": False}]
    assert vss.stop_pending(services) == ["CryptSvc"]


def test_the_restart_answer_must_cover_every_service_with_a_known_status():
    entry = {"name": "Winmgmt", "status": "restarted", "dependants": ["iphlpsvc"], "restarted": ["iphlpsvc"], "not_restarted": None}
    assert vss.read_restart({"services": [entry]}, ["Winmgmt"])["Winmgmt"]["not_restarted"] == []
    with pytest.raises(ValueError, match="said nothing about VSS"):
        vss.read_restart({"services": [entry]}, ["Winmgmt", "VSS"])
    with pytest.raises(ValueError, match="should not"):
        vss.read_restart({"services": [dict(entry, status="fine")]}, ["Winmgmt"])


def _outcome(**kw):
    return dict({"name": "Winmgmt", "status": "restarted", "stuck": None, "error": "", "dependants": [], "restarted": [],
                 "not_restarted": []}, **kw)


def test_restart_failures_say_which_service_and_what_state_it_is_in():
    assert vss.restart_failure(_outcome(restarted=["iphlpsvc"]), 60) is None
    assert vss.restart_failure(_outcome(name="CryptSvc", status="stuck", stuck="CryptSvc"), 30) == \
        "CryptSvc did not stop within 30 s and is stuck in StopPending"
    text = vss.restart_failure(_outcome(status="stuck", stuck="iphlpsvc", dependants=["iphlpsvc", "SharedAccess"],
                                        restarted=["SharedAccess"], not_restarted=["iphlpsvc"]), 60)
    assert text.startswith("its dependant iphlpsvc did not stop within 60 s and is stuck in StopPending, so Winmgmt was not stopped")
    assert "its dependants iphlpsvc do not run again" in text and "its dependants SharedAccess were started again" in text
    assert vss.restart_failure(_outcome(status="dependants_failed", not_restarted=["iphlpsvc"], error="iphlpsvc: disabled"), 60) == \
        "Winmgmt was restarted; its dependants iphlpsvc do not run again: iphlpsvc: disabled"
    assert "did not run again within 60 s: Winmgmt: access denied" in vss.restart_failure(
        _outcome(status="start_failed", error="Winmgmt: access denied"), 60)


def test_would_restart_names_the_dependants():
    assert vss.would_restart("VSS", []) == "restart VSS"
    assert vss.would_restart("Winmgmt", ["iphlpsvc"]) == \
        "restart Winmgmt (stopping its running dependants iphlpsvc first and starting them again after)"
