import os

import pytest

from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import machinekeys as keys

REF = os.path.join(os.path.dirname(__file__), "..", "..", "..", "data", "reference", "windows")


def test_the_captured_default_is_the_default():
    with open(os.path.join(REF, "machinekeys-sddl-default-ws2012r2.txt")) as handle:
        captured = handle.read().splitlines()[1].strip()
    assert captured == keys.DEFAULT_SDDL
    assert keys.compare(captured)["default"]


def test_owner_does_not_matter_and_order_neither():
    assert keys.compare("O:BAG:SYD:PAI(A;;FA;;;BA)(A;;0x12019f;;;WD)")["default"]


def test_letters_and_masks_and_sids_and_aliases_are_the_same_thing():
    # FA is 0x1f01ff; S-1-1-0 is WD (Everyone, "Jeder"); S-1-5-32-544 is BA.
    assert keys.compare("O:SYG:SYD:PAI(A;;0x12019f;;;S-1-1-0)(A;;0x1f01ff;;;S-1-5-32-544)")["default"]


def test_everyone_read_only_and_an_extra_account_differ():
    result = keys.compare("O:SYG:SYD:PAI(A;;0x120089;;;WD)(A;;FA;;;BA)(A;;FA;;;S-1-5-21-1-2-3-1001)")
    assert not result["default"]
    assert result["missing"] == ["allow Everyone (S-1-1-0) 0x12019f"]
    assert result["extra"] == ["allow Everyone (S-1-1-0) 0x120089", "allow S-1-5-21-1-2-3-1001 0x1f01ff"]


def test_inheriting_from_programdata_differs_even_with_the_same_explicit_aces():
    result = keys.compare("O:SYG:SYD:AI(A;;0x12019f;;;WD)(A;;FA;;;BA)")
    assert result["inherits"] and not result["default"]


def test_inherited_aces_are_extra():
    result = keys.compare("O:SYG:SYD:AI(A;;0x12019f;;;WD)(A;;FA;;;BA)(A;OICIID;FA;;;SY)")
    assert result["extra"] == ["allow NT AUTHORITY\\SYSTEM (S-1-5-18) 0x1f01ff [CI,ID,OI]"]


def test_a_duplicated_ace_differs():
    assert not keys.compare("O:SYG:SYD:PAI(A;;0x12019f;;;WD)(A;;FA;;;BA)(A;;FA;;;BA)")["default"]


@pytest.mark.parametrize("bad", ["", "O:SYG:SY", "D:PAI(A;;ZZ;;;WD)", "D:PAI(Q;;FA;;;WD)", "D:P(A;QQ;FA;;;WD)"])
def test_what_is_not_sddl_is_an_error(bad):
    with pytest.raises(ValueError):
        keys.compare(bad)


def test_dacl_part_leaves_owner_and_group():
    assert keys.dacl_part(keys.DEFAULT_SDDL) == "D:PAI(A;;0x12019f;;;WD)(A;;FA;;;BA)"


def test_stale_certificates_by_subject_or_issuer():
    certs = [
        {"thumbprint": "A", "subject": "CN=Windows Azure Service Management for Extensions", "issuer": "CN=Windows Azure Service Management for Extensions"},
        {"thumbprint": "B", "subject": "CN=TenantEncryptionCert", "issuer": "DC=Windows Azure CRP Certificate Generator"},
        {"thumbprint": "C", "subject": "CN=web01.contoso.com", "issuer": "CN=Contoso CA, DC=contoso"},
        {"thumbprint": "D", "subject": "CN=Windows Azure Service Management for Extensions Backup", "issuer": "CN=x"},
    ]
    assert [c["thumbprint"] for c in keys.stale_certificates(certs)] == ["A", "B"]


@pytest.mark.parametrize("alias", ["DA", "DU", "EA", "SA", "CA", "RO", "LA", "XX", "S-1-5-21-1004336348-1177238915-682003330-512", "s-1-5-18"])
def test_any_account_windows_prints_is_compared_and_shown_never_an_error(alias):
    result = keys.compare("O:SYG:SYD:PAI(A;;0x12019f;;;WD)(A;;FA;;;BA)(A;;FA;;;%s)" % alias)
    assert not result["default"] or alias == "s-1-5-18"
    if alias != "s-1-5-18":
        assert len(result["extra"]) == 1 and alias in result["extra"][0]


def test_domain_aliases_are_named_for_people_and_lower_case_sids_are_sids():
    assert keys.compare("O:SYG:SYD:PAI(A;;0x12019f;;;WD)(A;;FA;;;BA)(A;;FR;;;DA)")["extra"] == ["allow Domain Admins (DA) 0x120089"]
    assert keys.owner("O:s-1-5-18G:SYD:P") == "S-1-5-18"
    assert keys.owner("O:DAG:DUD:P") == "DA"


def test_write_dac_comes_from_an_ace_or_from_owning_the_folder():
    everyone_reads = "O:SYG:SYD:PAI(A;OICI;0x120089;;;WD)"
    assert keys.needs_ownership(everyone_reads)
    assert not keys.needs_ownership(keys.DEFAULT_SDDL)  # Administrators: full control
    assert not keys.needs_ownership("O:BAG:SYD:PAI(A;OICI;0x120089;;;WD)")  # the owner's implicit WRITE_DAC
    # OWNER RIGHTS takes the implicit rights away from the owner.
    assert keys.needs_ownership("O:BAG:SYD:PAI(A;;0x120089;;;OW)")
    # A deny before the allow wins; an inherit-only ACE does not apply to the folder itself.
    assert keys.needs_ownership("O:SYG:SYD:PAI(D;;WD;;;BA)(A;;FA;;;BA)")
    assert keys.needs_ownership("O:SYG:SYD:PAI(A;OICIIO;FA;;;BA)")
    # GENERIC_ALL is full control; the caller's own groups count, not only Administrators.
    assert not keys.needs_ownership("O:SYG:SYD:PAI(A;;GA;;;BA)")
    assert not keys.needs_ownership("O:SYG:SYD:PAI(A;;FA;;;S-1-5-21-1-2-3-500)", ["S-1-5-21-1-2-3-500"])
    assert keys.needs_ownership("O:SYG:SYD:PAI(A;;FA;;;DA)", ["S-1-5-21-1-2-3-500", "S-1-5-32-544"])


def test_key_files_are_counted_not_listed():
    assert keys.key_file_counts({"total": 100000, "inheriting": 3, "only_inherited": 1}) == {
        "total": 100000, "inheriting": 3, "only_inherited": 1, "unreadable": 0}
    # An older read's list (or nothing) counts as nothing known.
    assert keys.key_file_counts([{"path": "K\\a"}]) == keys.key_file_counts(None) == {
        "total": 0, "inheriting": 0, "only_inherited": 0, "unreadable": 0}


def test_the_owner_note_says_administrators_own_the_folder_after_takeown():
    assert keys.owner_note(True, "S-1-5-18", "S-1-5-32-544") == ("; the owner is now BUILTIN\\Administrators (it was NT AUTHORITY\\SYSTEM): "
                                                                 "takeown /A gives ownership to the Administrators group")
    assert keys.owner_note(True, "S-1-5-32-544", "S-1-5-32-544").startswith("; the owner is now BUILTIN\\Administrators:")
    assert keys.owner_note(False, "S-1-5-18", "S-1-5-18") == ""
