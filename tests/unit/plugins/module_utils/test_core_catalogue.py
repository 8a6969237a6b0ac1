"""The cause catalogue's error codes: every code maps to known causes in order, and codes are found as people copy them."""
from __future__ import annotations

import os
import re

import pytest
import yaml

from ansible_collections.azure_backup.remediation.plugins.module_utils.core import catalogue
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.findings import CAUSES

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..")
# The seeds sit beside the project (beside a git worktree's parent folder too), not in a clean clone.
SEEDS = next((d for d in (os.path.join(ROOT, "..", "shared", "seeds"), os.path.join(ROOT, "..", "..", "shared", "seeds"))
              if os.path.isdir(d)), None)
SEED_004 = [os.path.join(SEEDS, f) for f in os.listdir(SEEDS) if f.startswith("004_")] if SEEDS else []


@pytest.mark.parametrize("code", sorted(catalogue.ERROR_CODES))
def test_every_code_names_known_causes_once_each_or_says_what_to_do_instead(code):
    entry = catalogue.ERROR_CODES[code]
    assert entry["message"] and entry["source"]
    assert all(c in CAUSES and c != "HOST" for c in entry["causes"]), code
    assert len(set(entry["causes"])) == len(entry["causes"]), code
    if not entry["causes"]:
        assert entry.get("remedy"), "%s has no in-guest cause: it must say what a person does instead" % code


def test_the_mars_article_s_ids_and_codes_are_all_in_the_catalogue():
    # Article 004 keys its sections by these (CAUSES.md section 1).
    for code in ("34513", "403", "100050", "407", "100110", "34506", "0x1FC07", "230006", "SalChecksumStoreInitializationFailed",
                 "SalVhdInitializationError", "SalLowDiskSpace", "SalBitmapError", "0x80070570", "0x80070002", "0x80070003",
                 "0x80070005", "0x8007018b", "backups-dont-run-according-to-schedule",
                 "job-could-not-be-started-as-another-job-was-in-progress", "troubleshoot-restore-problems"):
        assert catalogue.lookup(code) is not None, code


@pytest.mark.skipif(not SEED_004, reason="the seeds sit beside the project, not in a clean clone")
def test_every_id_the_german_article_prints_is_in_the_catalogue():
    with open(SEED_004[0], encoding="utf-8") as handle:
        text = handle.read()
    printed = set(re.findall(r"\(ID: (\d+)\)", text)) | set(re.findall(r"Fehler (\d{5})", text)) | set(re.findall(r"\[(0x[0-9A-F]+)\]", text))
    assert printed and all(catalogue.lookup(code) for code in printed), printed


def test_every_mars_cause_is_reached_by_some_code():
    reached = {c for entry in catalogue.ERROR_CODES.values() for c in entry["causes"]}
    assert {c for c in CAUSES if c.startswith("MARS_")} - reached <= {"MARS_SERVICE", "MARS_PREREQS"}


@pytest.mark.parametrize("given,key", [
    ("34513", "34513"), ("ID: 34513", "34513"), ("(ID: 100050)", "100050"), ("Error 34506", "34506"), ("Fehler 34506", "34506"),
    ("[0x1FC07]", "0x1FC07"), ("0x1fc07", "0x1FC07"), ("0X8007018B", "0x8007018b"), ("sallowdiskspace", "SalLowDiskSpace"),
    (" usererrorguestagentstatusunavailable ", "UserErrorGuestAgentStatusUnavailable"),
])
def test_codes_are_found_as_people_copy_them(given, key):
    assert catalogue.lookup(given)["code"] == key


def test_an_unknown_code_is_none_not_a_guess():
    assert catalogue.lookup("UserErrorSomethingNew") is None and catalogue.lookup("") is None and catalogue.lookup(None) is None


def test_every_cause_names_a_role_entry_point_that_exists():
    for cause in CAUSES:
        assert cause in catalogue.ROLES, cause
        target = catalogue.ROLES[cause]
        if target is None:
            continue
        role, entry = target
        with open(os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml")) as handle:
            assert entry in yaml.safe_load(handle)["argument_specs"], (cause, role, entry)


# -- diagnosis by error code: finding codes and messages as people copy them ----------------------------------

SEED_002 = [os.path.join(SEEDS, f) for f in os.listdir(SEEDS) if f.startswith("002_")] if SEEDS else []


@pytest.mark.parametrize("given,keys", [
    ("ExtensionFailedVssWriterInBadState", ["ExtensionFailedVssWriterInBadState"]),
    ("usererrorfsfreezefailed", ["UserErrorFsFreezeFailed"]),
    # the numeric codes of the job API the 2023 article pairs with names
    ("320001", ["ResourceNotFound"]), ("400094", ["BCMV2VMNotFound"]), ("380008", ["AzureVmOffline"]),
    ("ID: 34513", ["34513"]), ("[0x1FC07]", ["0x1FC07"]),
    # messages: English, German, any case, punctuation and spacing
    ("VM Agent unable to communicate with Azure Backup", ["UserErrorGuestAgentStatusUnavailable"]),
    ("VM-Agent kann nicht mit Azure Backup kommunizieren", ["UserErrorGuestAgentStatusUnavailable"]),
    ("  vm agent UNABLE to communicate   with azure-backup!! ", ["UserErrorGuestAgentStatusUnavailable"]),
    ("Fehler beim Momentaufnahmevorgang aufgrund eines ungültigen Status der VSS-Writer", ["ExtensionFailedVssWriterInBadState"]),
    ("Snapshot operation failed due to VSS Writers in bad state", ["ExtensionFailedVssWriterInBadState"]),
    ("Der Vorgang kann nicht ausgeführt werden, da der VM-Agent nicht reagiert",
     ["Unable to perform the operation as the VM Agent is not responsive"]),
    ("Could not communicate with the VM agent for snapshot status. Snapshot VM sub task timed out.", ["Snapshot VM sub task timed out"]),
    ("Zeitüberschreitung bei Momentaufnahme-Teilvorgang für VM", ["Snapshot VM sub task timed out"]),
    # cut short, as a portal column shows it
    ("VM Agent unable to communi", ["UserErrorGuestAgentStatusUnavailable"]),
    ("Fehler beim Momentaufnahmevorgang aufgrund fehlender Netzw", ["ExtensionSnapshotFailedNoNetwork"]),
    # two codes with one message and the same causes are both named
    ("Interner Fehler bei der Sicherung", ["BackUpOperationFailed", "BackUpOperationFailedV2"]),
    # several at once: in the order given, each once; a message's own commas do not split it
    ("UserErrorGuestAgentStatusUnavailable, ExtensionFailedVssWriterInBadState,UserErrorGuestAgentStatusUnavailable",
     ["UserErrorGuestAgentStatusUnavailable", "ExtensionFailedVssWriterInBadState"]),
    ("Der Vorgang kann nicht ausgeführt werden, da der VM-Agent nicht reagiert, 34513",
     ["Unable to perform the operation as the VM Agent is not responsive", "34513"]),
    (["403", "407; 100050"], ["403", "407", "100050"]),
])
def test_codes_and_messages_resolve_as_people_copy_them(given, keys):
    assert catalogue.resolve(given) == (keys, None)


@pytest.mark.parametrize("given", ["the", "backup", "VM", "Fehler", "Snapshot operat"])
def test_a_few_words_match_nothing(given):
    keys, error = catalogue.resolve(given)
    assert keys == [] and "is no known error code or message" in error


def test_the_start_of_several_different_messages_is_ambiguous_not_a_guess():
    keys, error = catalogue.resolve("Snapshot operation failed due to")
    assert keys == [] and error.startswith("'Snapshot operation failed due to' starts the message of several codes: ")
    assert "ExtensionFailedVssServiceInBadState" in error and "ExtensionSnapshotFailedCOM" in error
    assert error.endswith("; give more of it, or the code")


@pytest.mark.parametrize("given", ["Could not communicate with the VM agent for snap", "Could not communicate with the VM agent for snapshot status",
                                   "Keine Kommunikation mit dem VM-Agent zum Abrufen", "Keine Kommunikation mit dem VM-Agent zum Abrufen des "
                                   "Momentaufnahmestatus möglich"])
def test_a_message_that_starts_another_code_s_message_is_its_own_code_cut_short_or_whole(given):
    # GuestAgentSnapshotTaskStatusError's message starts the 001 entry's (which adds "Snapshot VM sub task timed out"):
    # any copy of it cut short is that code, not "several codes".
    assert catalogue.resolve(given) == (["GuestAgentSnapshotTaskStatusError"], None)


def test_an_unknown_code_names_the_closest_known_ones():
    keys, error = catalogue.resolve("UserErrorGuestAgentStatusUnavailabel, 34513")
    assert keys == ["34513"]
    assert error.startswith("'UserErrorGuestAgentStatusUnavailabel' is no known error code or message; the closest known: "
                            "UserErrorGuestAgentStatusUnavailable")
    assert catalogue.closest("ExtensionFailedVssWriterBadState")[0] == "ExtensionFailedVssWriterInBadState"
    assert catalogue.resolve("") == ([], "no error code given") and catalogue.resolve([]) == ([], "no error code given")


@pytest.mark.skipif(not SEED_002, reason="the seeds sit beside the project, not in a clean clone")
def test_every_code_and_german_message_of_the_2019_article_resolves_to_its_code():
    with open(SEED_002[0], encoding="utf-8") as handle:
        text = handle.read()
    pairs = re.findall(r"\*\*Fehlercode\*\*: (\S+) *<br>\s*\*\*Fehlermeldung\*\*: (.+?) *<br>", text)
    assert len(pairs) >= 9, pairs
    for codes, message in pairs:
        for code in codes.split("/"):
            assert catalogue.resolve(code) == ([code], None)
            assert code in catalogue.resolve(message)[0], (code, message)


def test_every_message_is_found_whole_and_cut_short_in_both_languages():
    for code, entry in catalogue.ERROR_CODES.items():
        for message in filter(None, [entry["message"], entry.get("message_de")]):
            keys, error = catalogue.resolve(message.replace(",", " "))
            assert error is None and code in keys, (code, message)
            # 24 characters of it: enough for the code, or an honest "several codes" error, never another code alone
            keys, error = catalogue.resolve(message[:24].replace(",", " "))
            # ... or the code whose whole message starts this one (the shorter code wins)
            starts = all(any(catalogue._words(message).startswith(catalogue._words(t))
                             for t in (catalogue.ERROR_CODES[k]["message"], catalogue.ERROR_CODES[k].get("message_de")) if t) for k in keys)
            assert code in keys or "starts the message of several codes" in (error or "") or (keys and starts), (code, message[:24], keys, error)


@pytest.mark.parametrize("code", sorted(catalogue.ERROR_CODES))
def test_every_code_is_of_linux_windows_or_both_and_its_causes_of_that_os(code):
    for os_name in catalogue.platforms(code):
        assert all(os_name in catalogue.PLATFORMS[c] for c in catalogue.causes_for(code, os_name))
    if catalogue.ERROR_CODES[code]["causes"]:
        assert catalogue.causes_for(code, "linux") + catalogue.causes_for(code, "windows"), "%s has no cause on either OS" % code


def test_the_platforms_of_the_causes_are_those_of_the_plays():
    from ansible_collections.azure_backup.remediation.plugins.plugin_utils import settings
    for cause, where in catalogue.PLATFORMS.items():
        name = catalogue.play_name(cause)
        if name is None:
            assert cause == "RP_LOCK"
            continue
        assert tuple(os_name for os_name in ("linux", "windows") if name in settings.CAUSES[os_name]) == where, cause


@pytest.mark.parametrize("cause", sorted(CAUSES))
@pytest.mark.parametrize("language", ["en", "de"])
def test_every_cause_has_a_title_remedy_and_article_in_english_and_german(cause, language):
    text = catalogue.cause_text(cause, language)
    assert text["title"] and text["title"] != cause and text["remedy"].endswith(".") and text["doc"].startswith("https://")
    assert set(catalogue.CAUSE_TEXT[cause]) == {"en", "de"}
    if language == "de":
        assert text["title"] != catalogue.cause_text(cause, "en")["title"] and "/de-de/" in text["doc"]
    assert catalogue.cause_text(cause, "fr") == catalogue.cause_text(cause, "en")


# -- the review of issue 13 (Azure Backup support engineer) ---------------------------------------------------

@pytest.mark.parametrize("given,keys", [
    # seed 000's portal text, the retry advice and Microsoft Support sentence included (commas and all)
    ("Interner Fehler bei der Sicherung – Versuchen Sie, den Vorgang nach einigen Minuten zu wiederholen. Wenden Sie sich an den "
     "Microsoft Support, wenn das Problem weiterhin besteht.", ["BackUpOperationFailed", "BackUpOperationFailedV2"]),
    # seed 003's wording ("in einigen Minuten") and its English
    ("Interner Fehler bei der Sicherung – versuchen Sie, den Vorgang in einigen Minuten zu wiederholen",
     ["BackUpOperationFailed", "BackUpOperationFailedV2"]),
    ("Backup failed with an internal error - Please retry the operation in a few minutes", ["BackUpOperationFailed", "BackUpOperationFailedV2"]),
    # seed 004's whole 100110 row
    ("Die angegebene Datei mit Tresoranmeldeinformationen kann nicht verwendet werden, weil sie nicht aus dem Tresor heruntergeladen "
     "wird, der diesem Server zugeordnet ist. (ID: 100110) Geben Sie die entsprechenden Tresoranmeldeinformationen an.", ["100110"]),
    # seed 004's whole shadow copy sentence
    ("Sicherungsvorgänge können fehlschlagen, wenn nicht ausreichend Speicherplatz für Schattenkopien vorliegt, der zum Schutz der "
     "Datenquelle erforderlich ist.", ["increase-shadow-copy-storage"]),
    # a whole paste, then a code
    ("Sicherungsvorgänge können fehlschlagen, wenn nicht ausreichend Speicherplatz für Schattenkopien vorliegt, der zum Schutz der "
     "Datenquelle erforderlich ist., 34513", ["increase-shadow-copy-storage", "34513"]),
])
def test_a_paste_longer_than_the_catalogue_s_message_with_commas_resolves(given, keys):
    assert catalogue.resolve(given) == (keys, None)


def test_a_mistyped_code_after_a_message_is_still_reported():
    keys, error = catalogue.resolve("Der Vorgang kann nicht ausgeführt werden, da der VM-Agent nicht reagiert, UserErrorGuestAgentStatusUnavailabel")
    assert keys == ["Unable to perform the operation as the VM Agent is not responsive"]
    assert error.startswith("'UserErrorGuestAgentStatusUnavailabel' is no known error code or message")


ALIASES = [(alias, key) for key, entry in catalogue.ERROR_CODES.items() for alias in entry.get("aliases") or []]


@pytest.mark.parametrize("alias,key", ALIASES)
def test_every_alias_resolves_to_its_code(alias, key):
    assert catalogue.resolve(alias) == ([key], None) and catalogue.resolve(alias.lower()) == ([key], None)
    assert catalogue.normalise(alias) == key


def test_the_spellings_microsoft_prints_are_aliases():
    assert set(ALIASES) >= {("ExtensionOperationFailedForManagedDisks", "ExtentionOperationFailedForManagedDisks"),
                            ("VmNotInDesirableState", "UserErrorVmNotInDesirableState"),
                            ("UserErrorKeyvaultPermissionNotConfigured", "UserErrorKeyvaultPermissionsNotConfigured")}


@pytest.mark.parametrize("code,os_names", [
    ("VMRestorePointInternalError", ("windows",)), ("ExtensionSnapshotFailedNoSecureNetwork", ("windows",)),
    ("ExtensionVCRedistInstallationFailure", ("windows",)), ("UserErrorUnableToOpenMount", ("linux",)),
    ("ExtensionFailedSnapshotLimitReachedError", ("linux", "windows")), ("UserErrorRequestDisallowedByPolicy", ("linux", "windows")),
    ("UserErrorCrpReportedUserError", ("linux", "windows")), ("UserErrorBcmDatasourceNotPresent", ("linux", "windows")),
    # Linux VMs hit it too
    ("ExtensionFailedTimeoutVMNetworkUnresponsive", ("linux", "windows")),
])
def test_the_2023_article_s_other_codes_are_known_with_their_platforms(code, os_names):
    assert catalogue.resolve(code) == ([code], None) and catalogue.platforms(code) == os_names


@pytest.mark.parametrize("code,words", [
    ("VMRestorePointInternalError", "IaaSBcdrExtension.exe"), ("ExtensionSnapshotFailedNoSecureNetwork", "SchUseStrongCrypto=1"),
    ("ExtensionVCRedistInstallationFailure", "msiserver"), ("ExtensionFailedSnapshotLimitReachedError", "isanysnapshotfailed"),
    ("BackUpOperationFailed", "Visual C++ 2013 x64"), ("GuestAgentSnapshotTaskStatusError", "Provisioning.Agent=auto"),
    ("AzureVmOffline", "start the VM"),
])
def test_the_remedies_name_the_article_s_step(code, words):
    entry = catalogue.ERROR_CODES[code]
    assert words in entry["remedy"] and words.split()[0] in entry["remedy_de"]


@pytest.mark.parametrize("code", sorted(c for c, e in catalogue.ERROR_CODES.items() if e.get("remedy")))
def test_every_remedy_has_german_and_says_where_it_happens(code):
    entry = catalogue.ERROR_CODES[code]
    assert entry["remedy_de"] and entry["remedy_de"] != entry["remedy"] and entry["where"] in ("azure", "guest")
    assert set(entry) <= {"message", "message_de", "also", "aliases", "causes", "source", "remedy", "remedy_de", "where", "todo",
                          "numbers", "platforms"}


@pytest.mark.parametrize("code", ["0x80070570", "230006", "100110", "0x8007018b", "403"])
def test_the_mars_steps_by_hand_are_not_azure_s(code):
    assert catalogue.ERROR_CODES[code]["where"] == "guest"


def test_a_german_paste_in_decomposed_unicode_resolves():
    import unicodedata
    text = unicodedata.normalize("NFD", "Fehler beim Momentaufnahmevorgang aufgrund fehlender Netzwerkkonnektivität")
    assert text != unicodedata.normalize("NFC", text)
    assert catalogue.resolve(text) == (["ExtensionSnapshotFailedNoNetwork"], None)


@pytest.mark.parametrize("given,key", [
    ("Backups don't run according to schedule", "backups-dont-run-according-to-schedule"),
    ("If scheduled backups don't get triggered automatically, but manual backups work without issues", "backups-dont-run-according-to-schedule"),
    ("Increase shadow copy storage", "increase-shadow-copy-storage"), ("Troubleshoot restore problems", "troubleshoot-restore-problems"),
    ("The configured disk size(s) is currently not supported by Azure Backup.", "UserErrorUnsupportedDiskSize"),
    # German texts of seed 000 and the current de-DE article
    ("Der Vorgang konnte nicht ausgeführt werden, da der virtuelle Computer nicht mehr vorhanden ist.", "ResourceNotFound"),
    ("Der virtuelle Computer ist nicht vorhanden.", "BCMV2VMNotFound"), ("Der virtuelle Azure-Computer wurde nicht gefunden.", "BCMV2VMNotFound"),
    ("Fehler beim Momentaufnahmevorgang aufgrund eines fehlerhaften Zustands von VSS Writer-Instanzen.", "ExtensionFailedVssWriterInBadState"),
    ("Fehler beim Installieren der Microsoft Recovery Services-Erweiterung, da der virtuelle Computer nicht ausgeführt wird",
     "AzureVmOffline"),
    ("Fehler bei Momentaufnahmevorgang aufgrund eines COM+-Fehlers", "ExtensionSnapshotFailedCOM"),
    ("Fehler beim Einfrieren mindestens eines Bereitstellungspunkts des virtuellen Computers", "UserErrorFsFreezeFailed"),
])
def test_the_article_s_headings_and_other_wordings_resolve(given, key):
    assert catalogue.resolve(given) == ([key], None)


def test_the_vss_writer_code_checks_resources_and_shadow_storage_before_the_writers():
    assert catalogue.ERROR_CODES["ExtensionFailedVssWriterInBadState"]["causes"] == ["SNAPSHOT_STATUS", "MARS_SHADOW_STORAGE", "VSS_WRITERS"]


def test_the_german_bitlocker_message_closes_its_quote():
    message = catalogue.ERROR_CODES["ExtensionSnapshotBitlockerError"]["message_de"]
    assert message.count('"') % 2 == 0


def test_the_cause_texts_the_review_corrected():
    for language in ("en", "de"):
        network = catalogue.cause_text("NETWORK", language)
        assert "Azure" in network["title"] and "443" in network["remedy"]
        assert ("bypassing any proxy" if language == "en" else "an jedem Proxy vorbei") in network["remedy"]
        disks = catalogue.cause_text("DISK_LIMITS", language)["remedy"]
        assert ("more than 16" if language == "en" else "mehr als 16") in disks and "32 TB" in disks and "fewer" not in disks
        lock = catalogue.cause_text("RP_LOCK", language)
        assert lock["remedy"].startswith("Not checked from the VM: if" if language == "en" else "Nicht von der VM aus geprüft: hat")
        assert lock["doc"].endswith("backup-azure-troubleshoot-vm-backup-fails-snapshot-timeout#remove_lock_from_the_recovery_point_resource_group")
        assert catalogue.cause_text("BACKUP_EXTENSION", language)["remedy"].startswith("On Windows" if language == "en" else "Unter Windows")
    assert catalogue.cause_text("MARS_SERVICE", "de")["title"] == "Der Dienst des MARS-Agents (obengine) läuft nicht"
    assert catalogue.cause_text("ERROR_CODE", "de")["remedy"].startswith("Führen Sie die im Befund genannten Schritte in Azure oder manuell aus")
