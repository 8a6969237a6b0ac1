"""Security descriptors of files and folders on a simulated host, changed the way Windows changes them.

State: ``state["acls"][path] = SDDL`` for every object whose security descriptor the simulation knows
(the MachineKeys folder and the key files in it). What Windows does, with its source:

- Access check ("How DACLs Control Access to an Object", Microsoft Learn, Win32 security): the ACEs of
  the DACL in order; an inherit-only ACE does not apply to the object itself; a deny ACE for a right
  not yet granted refuses it; an allow ACE grants it. The owner has WRITE_DAC without any ACE ("Owner
  of a New Object") and may read the descriptor (GetNamedSecurityInfo: READ_CONTROL "or the caller must
  be the owner"), unless the DACL has an OWNER RIGHTS (S-1-3-4) ACE ("Well-known SIDs", Microsoft Learn).
- Take ownership: ``takeown /F <path> /A`` "gives ownership to the Administrators group"
  (Windows Commands, takeown); an administrator holds "Take ownership of files or other objects"
  (SeTakeOwnershipPrivilege, granted to Administrators by default: Microsoft Learn, user rights
  assignment), so the DACL is not consulted.
- Setting a DACL through SetNamedSecurityInfo (what .NET's SetAccessControl calls) propagates
  inheritable ACEs to existing children whose DACL is not protected; removing an inheritable ACE from
  the parent removes the children's inherited copies, and a child left with no ACE keeps an empty DACL,
  which grants no one access ("Automatic Propagation of Inheritable ACEs", Microsoft Learn). How
  the flags of an inherited copy look ("ACE Inheritance Rules"): a file takes OI ACEs, with only ID;
  a folder takes CI ACEs (keeping OI/CI, or none with NP) and OI-only ACEs as inherit-only.
- ObjectSecurity.SetAccessRuleProtection(true, true) protects the DACL and keeps the inherited ACEs as
  explicit ones (.NET API reference, preserveInheritance).
"""

from __future__ import annotations

import re

import render

WRITE_DAC = 0x40000
READ_CONTROL = 0x20000
FILE_READ_DATA = 0x1
# The same bit on a directory: the right to list its contents (learn.microsoft.com, "File access rights constants").
FILE_LIST_DIRECTORY = 0x1
OWNER_RIGHTS = "S-1-3-4"
ADMINISTRATORS = "S-1-5-32-544"
# The simulated WinRM user: a local administrator (its SID is made up) in a network logon, as
# WindowsIdentity.GetCurrent() would list it: user, Administrators, Everyone, Users, NETWORK, Authenticated Users.
CALLER_USER = "S-1-5-21-3623811015-3361044348-30300820-500"
CALLER_SIDS = (CALLER_USER, ADMINISTRATORS, "S-1-1-0", "S-1-5-32-545", "S-1-5-2", "S-1-5-11")
UNAUTHORIZED = "Attempted to perform an unauthorized operation."


def caller_sids(state: dict) -> tuple:
    """The WinRM user's SIDs on this host: its own first, then its groups (a host made from a capture has the
    captured caller in state "caller"; any other host the made-up administrator above)."""
    caller = state.get("caller")
    return (caller["user"], *caller["groups"]) if caller else CALLER_SIDS


_DACL = re.compile(r"D:([A-Z]*)((?:\([^)]*\))*)")
_GENERIC = ((0x10000000, 0x1F01FF), (0x80000000, 0x120089), (0x40000000, 0x120116), (0x20000000, 0x1200A0))


def _aces(sddl: str) -> tuple[str, list[list[str]]]:
    match = _DACL.search(sddl)
    if not match:
        return "", []
    return match.group(1), [a.split(";") for a in re.findall(r"\(([^)]*)\)", match.group(2))]


def _flags(field: str) -> list[str]:
    return [field[i:i + 2].upper() for i in range(0, len(field), 2)]


def _with_dacl(sddl: str, control: str, aces: list[list[str]]) -> str:
    text = "D:" + control + "".join("(%s)" % ";".join(a) for a in aces)
    return _DACL.sub(lambda _m: text, sddl, count=1) if _DACL.search(sddl) else sddl + text


def granted(sddl: str, sids, wanted: int) -> bool:
    parsed = render.parse_sddl(sddl)
    sids = set(sids)
    allowed = denied = 0
    if parsed["owner"] in sids and not any(a["sid"] == OWNER_RIGHTS for a in parsed["aces"]):
        allowed = READ_CONTROL | WRITE_DAC
    for ace in parsed["aces"]:
        if "IO" in ace["flags"] or ace["sid"] not in sids:
            continue
        mask = ace["mask"]
        for bit, rights in _GENERIC:
            if mask & bit:
                mask = (mask & ~bit) | rights
        if ace["type"] == "D":
            denied |= mask & ~allowed
        elif ace["type"] == "A":
            allowed |= mask & ~denied
    return allowed & wanted == wanted


def find(state: dict, path: str) -> str | None:
    return next((k for k in state["acls"] if k.lower() == path.lower()), None)


def children(state: dict, path: str) -> list[str]:
    prefix = path.lower().rstrip("\\") + "\\"
    return [k for k in state["acls"] if k.lower().startswith(prefix) and "\\" not in k[len(prefix):]]


def is_dir(state: dict, path: str) -> bool:
    return any(d.lower() == path.lower() for d in state.get("dirs", []))


def take_ownership(state: dict, path: str) -> None:
    key = find(state, path)
    state["acls"][key] = re.sub(r"O:(.+?)(?=[GDS]:|$)", "O:BA", state["acls"][key], count=1)


def protect(state: dict, path: str) -> None:
    """SetAccessRuleProtection(true, true): inherited ACEs kept as explicit ones, the DACL protected."""
    key = find(state, path)
    control, aces = _aces(state["acls"][key])
    for ace in aces:
        ace[1] = "".join(f for f in _flags(ace[1]) if f != "ID")
    state["acls"][key] = _with_dacl(state["acls"][key], "P" + control.replace("P", ""), aces)


def _inherited(parent_aces: list[list[str]], child_is_dir: bool) -> list[list[str]]:
    out = []
    for ace in parent_aces:
        flags = _flags(ace[1])
        if child_is_dir and "CI" in flags:
            kept = [] if "NP" in flags else [f for f in ("OI", "CI") if f in flags]
        elif child_is_dir and "OI" in flags and "NP" not in flags:
            kept = ["OI", "IO"]
        elif not child_is_dir and "OI" in flags:
            kept = []
        else:
            continue
        out.append([ace[0], "".join(kept + ["ID"])] + ace[2:])
    return out


def set_dacl(state: dict, path: str, dacl: str) -> None:
    """The object's DACL replaced by ``dacl`` ("D:..."), owner and group kept; inheritance propagated to children."""
    key = find(state, path)
    control, aces = _aces(dacl)
    state["acls"][key] = _with_dacl(state["acls"][key], control, aces)
    _propagate(state, key)


def _propagate(state: dict, path: str) -> None:
    _control, parent_aces = _aces(state["acls"][path])
    for child in children(state, path):
        control, aces = _aces(state["acls"][child])
        if "P" in control:
            continue
        explicit = [a for a in aces if "ID" not in _flags(a[1])]
        state["acls"][child] = _with_dacl(state["acls"][child], control, explicit + _inherited(parent_aces, is_dir(state, child)))
        _propagate(state, child)
