# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""MachineKeys (cause MACHINEKEYS): compare the folder's DACL with Windows' default, by SID and access mask.

Account names are localised ("Jeder", "VORDEFINIERT\\Administratoren"), SDDL is not: the ACL is
read as SDDL and compared ACE by ACE after aliases and rights letters are turned into SIDs and masks.
Only the DACL counts: the owner differs between installs and repair scripts (SYSTEM or Administrators).
"""

from __future__ import annotations

import re

# Captured on Windows Server 2012 R2 (shared/reference/windows); Microsoft's vmassist uses the same.
DEFAULT_SDDL = "O:SYG:SYD:PAI(A;;0x12019f;;;WD)(A;;FA;;;BA)"
# Certificates article 000 says to delete (issued to), and the issuer newer articles name.
CERTIFICATE_NAMES = ("Windows Azure Service Management for Extensions", "Windows Azure CRP Certificate Generator")

# SDDL account aliases a file ACL may carry (the subset of [MS-DTYP] 2.4.2.4 that appears on local folders).
SID_ALIASES = {
    "WD": "S-1-1-0", "CO": "S-1-3-0", "CG": "S-1-3-1", "OW": "S-1-3-4", "NU": "S-1-5-2", "IU": "S-1-5-4",
    "SU": "S-1-5-6", "AN": "S-1-5-7", "PS": "S-1-5-10", "AU": "S-1-5-11", "RC": "S-1-5-12", "SY": "S-1-5-18",
    "LS": "S-1-5-19", "NS": "S-1-5-20", "BA": "S-1-5-32-544", "BU": "S-1-5-32-545", "BG": "S-1-5-32-546",
    "PU": "S-1-5-32-547", "AO": "S-1-5-32-548", "SO": "S-1-5-32-549", "PO": "S-1-5-32-550", "BO": "S-1-5-32-551",
    "RE": "S-1-5-32-552", "RU": "S-1-5-32-554", "RD": "S-1-5-32-555", "NO": "S-1-5-32-556", "IS": "S-1-5-32-568",
    "AC": "S-1-15-2-1", "LW": "S-1-16-4096", "ME": "S-1-16-8192", "HI": "S-1-16-12288", "SI": "S-1-16-16384",
}
# Aliases [MS-DTYP] 2.4.2.4 defines relative to the domain or the machine (DA = <domain SID>-512...): the
# SDDL does not say which domain, so they are compared as the alias itself and named for people.
RELATIVE_ALIASES = {
    "DA": "Domain Admins", "DG": "Domain Guests", "DU": "Domain Users", "DC": "Domain Computers", "DD": "Domain Controllers",
    "CA": "Cert Publishers", "SA": "Schema Admins", "EA": "Enterprise Admins", "PA": "Group Policy Creator Owners",
    "RO": "Enterprise Read-only Domain Controllers", "RS": "RAS Servers", "CN": "Cloneable Domain Controllers",
    "AP": "Protected Users", "KA": "Key Admins", "EK": "Enterprise Key Admins", "LA": "local Administrator",
    "LG": "local Guest", "UD": "User-mode Drivers",
}
# The English names, for people reading a finding; the comparison never uses them.
SID_NAMES = {
    "S-1-1-0": "Everyone", "S-1-3-0": "CREATOR OWNER", "S-1-5-11": "NT AUTHORITY\\Authenticated Users",
    "S-1-5-18": "NT AUTHORITY\\SYSTEM", "S-1-5-19": "NT AUTHORITY\\LOCAL SERVICE", "S-1-5-20": "NT AUTHORITY\\NETWORK SERVICE",
    "S-1-5-32-544": "BUILTIN\\Administrators", "S-1-5-32-545": "BUILTIN\\Users",
}

# Rights letters ([MS-DTYP] 2.4.2.4 access_right); generic rights as they map onto files and folders.
RIGHTS = {
    "FA": 0x1F01FF, "FR": 0x120089, "FW": 0x120116, "FX": 0x1200A0,
    "GA": 0x1F01FF, "GR": 0x120089, "GW": 0x120116, "GX": 0x1200A0,
    "RC": 0x20000, "SD": 0x10000, "WD": 0x40000, "WO": 0x80000,
    "CC": 0x1, "DC": 0x2, "LC": 0x4, "SW": 0x8, "RP": 0x10, "WP": 0x20, "DT": 0x40, "LO": 0x80, "CR": 0x100,
    "KA": 0xF003F, "KR": 0x20019, "KW": 0x20006, "KX": 0x20019,
}
_ACE_TYPES = {"A": "allow", "D": "deny", "OA": "allow_object", "OD": "deny_object", "AU": "audit", "AL": "alarm"}
_ACE_FLAGS = ("OI", "CI", "NP", "IO", "ID", "SA", "FA")

_DACL = re.compile(r"D:([A-Z]*)((?:\([^)]*\))*)")
_ACE = re.compile(r"\(([^)]*)\)")


def _mask(rights: str) -> int:
    if re.match(r"^0[xX][0-9a-fA-F]+$", rights):
        return int(rights, 16)
    if re.match(r"^\d+$", rights):
        return int(rights)
    if len(rights) % 2 or not all(rights[i:i + 2] in RIGHTS for i in range(0, len(rights), 2)):
        raise ValueError("unknown access rights %r" % rights)
    mask = 0
    for i in range(0, len(rights), 2):
        mask |= RIGHTS[rights[i:i + 2]]
    return mask


def _sid(text: str) -> str:
    """The SID an ACE's account field stands for; an alias without a fixed SID (a domain group, one this
    list does not know) or anything else Windows printed is kept as it is: compared as text, never an error."""
    text = text.strip()
    if text.upper() in SID_ALIASES:
        return SID_ALIASES[text.upper()]
    if re.match(r"^[sS]-\d+(-\d+)+$", text):
        return text.upper()
    return text


def _flags(text: str) -> tuple:
    found = tuple(text[i:i + 2] for i in range(0, len(text), 2))
    if len(text) % 2 or any(f not in _ACE_FLAGS for f in found):
        raise ValueError("unknown ACE flags %r" % text)
    return tuple(sorted(found))


def parse_dacl(sddl: str) -> dict:
    """The DACL of an SDDL string: {protected, aces: [{type, flags, mask, sid}]}. ValueError when it is not SDDL."""
    match = _DACL.search(sddl or "")
    if not match:
        raise ValueError("no DACL (D:) in %r" % sddl)
    aces = []
    for body in _ACE.findall(match.group(2)):
        fields = body.split(";")
        if len(fields) < 6 or fields[0] not in _ACE_TYPES:
            raise ValueError("not an ACE: (%s)" % body)
        aces.append({"type": _ACE_TYPES[fields[0]], "flags": _flags(fields[1]), "mask": _mask(fields[2]), "sid": _sid(fields[5])})
    return {"protected": "P" in match.group(1), "aces": aces}


def _key(ace: dict) -> tuple:
    return (ace["type"], ace["flags"], ace["mask"], ace["sid"])


def describe_ace(ace: dict) -> str:
    """"allow Everyone (S-1-1-0) 0x12019f" -- for people, in English."""
    name = SID_NAMES.get(ace["sid"]) or RELATIVE_ALIASES.get(ace["sid"])
    who = "%s (%s)" % (name, ace["sid"]) if name else ace["sid"]
    flags = " [%s]" % ",".join(ace["flags"]) if ace["flags"] else ""
    return "%s %s 0x%x%s" % (ace["type"], who, ace["mask"], flags)


def compare(actual_sddl: str, default_sddl: str = DEFAULT_SDDL) -> dict:
    """How the DACL differs from the default: {default, missing, extra, inherits}; default=True when equal.

    Order does not matter (Windows sorts ACEs canonically). A DACL that is not protected takes
    inherited ACEs from ProgramData, which the default does not have: that alone makes it differ.
    """
    actual, wanted = parse_dacl(actual_sddl), parse_dacl(default_sddl)
    have = [_key(a) for a in actual["aces"]]
    want = [_key(a) for a in wanted["aces"]]
    missing = [a for a in wanted["aces"] if _key(a) not in have]
    extra = [a for a in actual["aces"] if _key(a) not in want]
    inherits = actual["protected"] != wanted["protected"]
    return {
        "default": not missing and not extra and not inherits and sorted(have) == sorted(want),
        "missing": [describe_ace(a) for a in missing],
        "extra": [describe_ace(a) for a in extra],
        "inherits": inherits,
    }


def dacl_part(sddl: str) -> str:
    """'D:PAI(...)(...)' of a full SDDL: what is written back, leaving owner and group alone."""
    match = _DACL.search(sddl)
    if not match:
        raise ValueError("no DACL (D:) in %r" % sddl)
    return match.group(0)


def stale_certificates(certificates: list[dict], names: tuple = CERTIFICATE_NAMES) -> list[dict]:
    """Certificates in LocalMachine\\My issued to or by one of ``names`` (CN match, case-insensitive)."""
    wanted = [n.lower() for n in names]

    def common_names(dn: str) -> list[str]:
        return [m.strip().lower() for m in re.findall(r"(?:^|,)\s*(?:CN|DC)=([^,]+)", dn or "")]

    return [c for c in certificates
            if any(cn in wanted for cn in common_names(c.get("subject", "")) + common_names(c.get("issuer", "")))]


# Access rights the reset needs ([MS-DTYP] 2.4.3 ACCESS_MASK; FILE_READ_DATA from "File Security and Access Rights").
WRITE_DAC = 0x40000
READ_CONTROL = 0x20000
FILE_READ_DATA = 0x1
# Who an administrator connected through WinRM is, when the read did not say (the WinRM user must be an
# administrator): Administrators, Everyone, Authenticated Users, NETWORK (a network logon), Users.
ADMIN_SIDS = ("S-1-5-32-544", "S-1-1-0", "S-1-5-11", "S-1-5-2", "S-1-5-32-545")
OWNER_RIGHTS = "S-1-3-4"
# The agent runs as LocalSystem, whose token holds SYSTEM and Administrators ("LocalSystem Account",
# Microsoft Learn) besides Everyone and Authenticated Users.
SYSTEM_SIDS = ("S-1-5-18", "S-1-5-32-544", "S-1-1-0", "S-1-5-11")
_OWNER = re.compile(r"O:(.+?)(?=[GDS]:|$)")


def owner(sddl: str) -> str | None:
    """The owner's SID of an SDDL string (an alias turned into its SID), None when it has none."""
    match = _OWNER.search(sddl or "")
    return _sid(match.group(1)) if match else None


def granted(sddl: str, sids, wanted: int) -> bool:
    """Whether a caller whose token holds ``sids`` gets every right in ``wanted`` from this security descriptor.

    Windows' access check ("How DACLs Control Access to an Object"): ACEs in order, inherit-only ones skipped; a
    deny ACE for a right not yet granted refuses it, an allow ACE grants. The owner gets WRITE_DAC without an ACE
    ("Owner of a New Object") and may read the security descriptor (GetNamedSecurityInfo), unless an OWNER RIGHTS
    ACE says otherwise (OWNER RIGHTS in "Well-known SIDs"). Taking ownership as Administrators to regain WRITE_DAC
    is Microsoft's own example ("Taking Object Ownership in C++").
    Generic bits are mapped to file rights as RIGHTS does.
    """
    sids = {_sid(s) for s in sids}
    dacl = parse_dacl(sddl)
    allowed = denied = 0
    if owner(sddl) in sids and not any(a["sid"] == OWNER_RIGHTS for a in dacl["aces"]):
        allowed = READ_CONTROL | WRITE_DAC
    for ace in dacl["aces"]:
        if "IO" in ace["flags"] or ace["sid"] not in sids:
            continue
        mask = _generic(ace["mask"])
        if ace["type"] == "deny":
            denied |= mask & ~allowed
        elif ace["type"] == "allow":
            allowed |= mask & ~denied
    return allowed & wanted == wanted


def _generic(mask: int) -> int:
    """GENERIC_ALL/READ/WRITE/EXECUTE (0x10000000, 0x80000000, 0x40000000, 0x20000000) as the file rights they map to."""
    for bit, right in ((0x10000000, RIGHTS["FA"]), (0x80000000, RIGHTS["FR"]), (0x40000000, RIGHTS["FW"]), (0x20000000, RIGHTS["FX"])):
        if mask & bit:
            mask = (mask & ~bit) | right
    return mask


def needs_ownership(sddl: str, caller_sids=ADMIN_SIDS) -> bool:
    """True when the caller cannot write this DACL (no WRITE_DAC): it must take ownership first."""
    return not granted(sddl, caller_sids or ADMIN_SIDS, WRITE_DAC)


def key_file_counts(counts) -> dict:
    """The read's counts of key files (total, inheriting, only_inherited, unreadable), 0 for what it did not say."""
    counts = counts if isinstance(counts, dict) else {}
    return {name: int(counts.get(name) or 0) for name in ("total", "inheriting", "only_inherited", "unreadable")}


def owner_note(took_ownership: bool, before: str | None, after: str | None) -> str:
    """"; the owner is now BUILTIN\\Administrators (it was NT AUTHORITY\\SYSTEM)" when the reset took ownership."""
    if not took_ownership:
        return ""
    now = _sid(after) if after else SID_ALIASES["BA"]
    name_now = SID_NAMES.get(now, now)
    was = " (it was %s)" % SID_NAMES.get(before, before) if before and before != now else ""
    return "; the owner is now %s%s: takeown /A gives ownership to the Administrators group" % (name_now, was)
