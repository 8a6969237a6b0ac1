import os

import pytest

from ansible_collections.azure_backup.remediation.plugins.module_utils import _machinekeys as keys

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


@pytest.mark.parametrize("bad", ["", "O:SYG:SY", "D:PAI(A;;0x12019f;;;XX)", "D:PAI(A;;ZZ;;;WD)", "D:PAI(Q;;FA;;;WD)", "D:P(A;QQ;FA;;;WD)"])
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
