"""Text that Windows tools print, rendered from simulator state (pure functions, no I/O).

Scripts (scripts.py) use these to answer what `vssadmin list writers` and `icacls <path>` would
print, in English or German. Output uses CRLF line endings, like the console of a Windows host.

Where each string comes from (search-tool hits in public sources; "unconfirmed" = no real output
of that string was found, the text is a best guess):

vssadmin, English
  - writer block layout "Writer name: '%1'" / "   Writer Id: %2" / "   Writer Instance Id: %3" /
    "   State: [%4!d!] %5" / "   Last error: %6" + blank line, and the "Waiting for responses. " /
    "These may be delayed if a shadow copy is being prepared." banner: vssadmin's own message file
    (msg.mc, MSG_INFO_WRITER_CONTENTS, MSG_INFO_WAITING_RESPONSES) in the Windows Server 2003 source.
  - which state number gets which text: the same source's ListWriters (vssadmin.cpp): 1 STABLE,
    2 WAITING_FOR_FREEZE, 3 FROZEN (VSS_WS_WAITING_FOR_THAW), 4 WAITING_FOR_POST_SNAPSHOT,
    5 WAITING_FOR_COMPLETION, 6..14 FAILED, anything else UNKNOWN.
  - "Stable", "[7] Failed", "No error", "Retryable error": reference/windows/vssadmin-writers-en-1.txt.
  - "[11] Failed" / "Non-retryable error": Microsoft support article (SupportArticles-docs, NTDS writer).
  - "[5] Waiting for completion", "Timed out": real outputs quoted in third-party code and tests.
  - "Unknown", "Waiting for freeze", "Frozen", "Waiting for post snapshot", "Not responding",
    "Inconsistent shadow copy", "Out of resources", "Unexpected error": unconfirmed (only the
    resource ids are known); [15] (FAILED_AT_BACKUPSHUTDOWN, newer than that source) as "Failed":
    unconfirmed.
  - preamble "vssadmin 1.1 - Volume Shadow Copy Service administrative command-line tool" /
    "(C) Copyright 2001-2013 Microsoft Corp.": third-party captures of Windows Server 2012+ (2001-2005
    in reference/windows/vssadmin-shadowstorage-en-2-4gb.txt is the older edition).
vssadmin, German
  - labels "Verfassername", "Verfasserkennung", "Verfasserinstanzkennung", "Status", "Letzter Fehler"
    and "Kein Fehler": a PRTG sensor script run on de-DE servers (culture switch in Get-VSSWriters)
    and reference/SOURCES.md.
  - writer names in double quotes, "Stabil", "Fehlgeschlagen", "Wiederholbarer Fehler",
    "Warten auf Abschluss": a Pester test that fakes German vssadmin output (its author says it
    mirrors a real server) - not a capture, so unconfirmed.
  - every other German state and error text, and the German preamble: unconfirmed translations.
icacls
  - layout (path, a space, the first ACE; later ACEs indented to the first ACE's column; blank line;
    summary), rights letters (F, M, RX, R, W, D, then DE, Rc, WDAC, WO, S, ..., GR, GE, ..., RD, WD,
    AD, REA, WEA, X, DC, RA, WA), flag order (I)(OI)(CI)(IO) and (DENY) after the flags: real
    captures of icacls on English and German Windows (HTB write-ups, support docs, bug reports).
    Which masks the simple rights stand for is inferred from those captures: 0x12019f prints (R,W)
    (Microsoft's MachineKeys article), 0x120116 prints (W,Rc), FRFW+SD+WD+WO prints (R,W,D,WDAC,WO):
    so W is 0x100116 without READ_CONTROL. GA prints as F, GR/GE as GR,GE (C:\\Windows captures).
  - "Successfully processed 1 files; Failed processing 0 files": captures.
  - "1 Dateien erfolgreich verarbeitet, bei 0 Dateien ist ein Verarbeitungsfehler aufgetreten.":
    captures on German Windows.
  - account names: English and German captures (VORDEFINIERT\\Administratoren, VORDEFINIERT\\Benutzer,
    NT-AUTORITÄT\\SYSTEM, NT-AUTORITÄT\\Authentifizierte Benutzer, NT-AUTORITÄT\\Netzwerkdienst,
    NT-AUTORITÄT\\Lokaler Dienst, ERSTELLER-BESITZER, EIGENTÜMERRECHTE, ZERTIFIZIERUNGSSTELLE FÜR
    ANWENDUNGSPAKETE\\ALLE ANWENDUNGSPAKETE); "Jeder" for Everyone: Microsoft's German docs (CAUSES.md);
    INTERAKTIV and ERSTELLERGRUPPE: unconfirmed.
"""

from __future__ import annotations

import re

CRLF = "\r\n"

VSS_STATES_EN = {0: "Unknown", 1: "Stable", 2: "Waiting for freeze", 3: "Frozen", 4: "Waiting for post snapshot",
                 5: "Waiting for completion"}
VSS_STATES_DE = {0: "Unbekannt", 1: "Stabil", 2: "Warten auf Einfrieren", 3: "Eingefroren",
                 4: "Warten auf Postmomentaufnahme", 5: "Warten auf Abschluss"}
VSS_FAILED = {"en": "Failed", "de": "Fehlgeschlagen"}
VSS_ERRORS = {
    "en": {"none": "No error", "not_responding": "Not responding", "inconsistent_snapshot": "Inconsistent shadow copy",
           "out_of_resources": "Out of resources", "timeout": "Timed out", "retryable": "Retryable error",
           "non_retryable": "Non-retryable error", "unexpected": "Unexpected error"},
    "de": {"none": "Kein Fehler", "not_responding": "Reagiert nicht", "inconsistent_snapshot": "Inkonsistente Schattenkopie",
           "out_of_resources": "Nicht genügend Ressourcen", "timeout": "Zeitüberschreitung",
           "retryable": "Wiederholbarer Fehler", "non_retryable": "Nicht wiederholbarer Fehler",
           "unexpected": "Unerwarteter Fehler"},
}
VSS_TEXT = {
    "en": {"header": ["vssadmin 1.1 - Volume Shadow Copy Service administrative command-line tool",
                      "(C) Copyright 2001-2013 Microsoft Corp."],
           "waiting": ["Waiting for responses. ", "These may be delayed if a shadow copy is being prepared."],
           "name": "Writer name", "id": "Writer Id", "instance": "Writer Instance Id", "state": "State",
           "error": "Last error", "quote": ("'", "'")},
    "de": {"header": ["vssadmin 1.1 - Verwaltungsbefehlszeilenprogramm des Volumeschattenkopie-Dienstes",
                      "(C) Copyright 2001-2013 Microsoft Corp."],
           "waiting": ["Warten auf Antworten. ",
                       "Dies kann einige Zeit dauern, wenn gerade eine Schattenkopie vorbereitet wird."],
           "name": "Verfassername", "id": "Verfasserkennung", "instance": "Verfasserinstanzkennung", "state": "Status",
           "error": "Letzter Fehler", "quote": ('"', '"')},
}


def vss_state_text(state: int, locale: str = "en") -> str:
    """The words vssadmin prints after ``[n]`` for a VSS_WRITER_STATE."""
    if 6 <= state <= 15:
        return VSS_FAILED[locale]
    return (VSS_STATES_DE if locale == "de" else VSS_STATES_EN).get(state, VSS_STATES_DE[0] if locale == "de" else "Unknown")


def vssadmin_list_writers(writers: list, locale: str = "en", waiting: bool = False) -> str:
    """`vssadmin list writers` on Windows Server 2012-2022 (msg.mc layout; see module docstring).

    ``writers``: state vss_writers entries (name, id, instance_id, state, last_error). ``waiting``
    adds the banner vssadmin prints when the writers are slow to answer.
    """
    text = VSS_TEXT[locale]
    lines = list(text["header"]) + [""]
    if waiting:
        lines += text["waiting"] + [""]
    left, right = text["quote"]
    for writer in writers:
        error = VSS_ERRORS[locale].get(writer.get("last_error", "none"), VSS_ERRORS[locale]["unexpected"])
        lines += [
            "%s: %s%s%s" % (text["name"], left, writer["name"], right),
            "   %s: %s" % (text["id"], writer["id"]),
            "   %s: %s" % (text["instance"], writer["instance_id"]),
            "   %s: [%d] %s" % (text["state"], writer["state"], vss_state_text(writer["state"], locale)),
            "   %s: %s" % (text["error"], error),
            "",
        ]
    return CRLF.join(lines) + CRLF


# -- SDDL and icacls ---------------------------------------------------------------------------------

SDDL_RIGHTS = {
    "GA": 0x10000000, "GX": 0x20000000, "GW": 0x40000000, "GR": 0x80000000,
    "SD": 0x00010000, "RC": 0x00020000, "WD": 0x00040000, "WO": 0x00080000,
    "FA": 0x001F01FF, "FR": 0x00120089, "FW": 0x00120116, "FX": 0x001200A0,
    "CC": 0x1, "DC": 0x2, "LC": 0x4, "SW": 0x8, "RP": 0x10, "WP": 0x20, "DT": 0x40, "LO": 0x80, "CR": 0x100,
    "KA": 0x000F003F, "KR": 0x00020019, "KW": 0x00020006, "KX": 0x00020019,
}
SID_ALIASES = {
    "WD": "S-1-1-0", "CO": "S-1-3-0", "CG": "S-1-3-1", "OW": "S-1-3-4", "NU": "S-1-5-2", "IU": "S-1-5-4",
    "SU": "S-1-5-6", "AN": "S-1-5-7", "AU": "S-1-5-11", "SY": "S-1-5-18", "LS": "S-1-5-19", "NS": "S-1-5-20",
    "BA": "S-1-5-32-544", "BU": "S-1-5-32-545", "BG": "S-1-5-32-546", "PU": "S-1-5-32-547", "BO": "S-1-5-32-551",
    "RD": "S-1-5-32-555", "AC": "S-1-15-2-1",
}
TRUSTED_INSTALLER = "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464"
ACCOUNT_NAMES = {
    "en": {"S-1-1-0": "Everyone", "S-1-3-0": "CREATOR OWNER", "S-1-3-1": "CREATOR GROUP", "S-1-3-4": "OWNER RIGHTS",
           "S-1-5-4": "NT AUTHORITY\\INTERACTIVE", "S-1-5-11": "NT AUTHORITY\\Authenticated Users",
           "S-1-5-18": "NT AUTHORITY\\SYSTEM", "S-1-5-19": "NT AUTHORITY\\LOCAL SERVICE",
           "S-1-5-20": "NT AUTHORITY\\NETWORK SERVICE", "S-1-5-32-544": "BUILTIN\\Administrators",
           "S-1-5-32-545": "BUILTIN\\Users", "S-1-15-2-1": "APPLICATION PACKAGE AUTHORITY\\ALL APPLICATION PACKAGES",
           TRUSTED_INSTALLER: "NT SERVICE\\TrustedInstaller"},
    "de": {"S-1-1-0": "Jeder", "S-1-3-0": "ERSTELLER-BESITZER", "S-1-3-1": "ERSTELLERGRUPPE", "S-1-3-4": "EIGENTÜMERRECHTE",
           "S-1-5-4": "NT-AUTORITÄT\\INTERAKTIV", "S-1-5-11": "NT-AUTORITÄT\\Authentifizierte Benutzer",
           "S-1-5-18": "NT-AUTORITÄT\\SYSTEM", "S-1-5-19": "NT-AUTORITÄT\\Lokaler Dienst",
           "S-1-5-20": "NT-AUTORITÄT\\Netzwerkdienst", "S-1-5-32-544": "VORDEFINIERT\\Administratoren",
           "S-1-5-32-545": "VORDEFINIERT\\Benutzer",
           "S-1-15-2-1": "ZERTIFIZIERUNGSSTELLE FÜR ANWENDUNGSPAKETE\\ALLE ANWENDUNGSPAKETE",
           TRUSTED_INSTALLER: "NT SERVICE\\TrustedInstaller"},
}
# icacls' simple rights, tried in this order; W without READ_CONTROL (see module docstring).
SIMPLE_RIGHTS = [("F", 0x001F01FF), ("M", 0x001301BF), ("RX", 0x001200A9), ("R", 0x00120089), ("W", 0x00100116),
                 ("D", 0x00110000)]
SPECIFIC_RIGHTS = [("DE", 0x10000), ("Rc", 0x20000), ("WDAC", 0x40000), ("WO", 0x80000), ("S", 0x100000),
                   ("AS", 0x1000000), ("MA", 0x2000000), ("GR", 0x80000000), ("GW", 0x40000000), ("GE", 0x20000000),
                   ("GA", 0x10000000), ("RD", 0x1), ("WD", 0x2), ("AD", 0x4), ("REA", 0x8), ("WEA", 0x10), ("X", 0x20),
                   ("DC", 0x40), ("RA", 0x80), ("WA", 0x100)]
ICACLS_SUMMARY = {"en": "Successfully processed 1 files; Failed processing 0 files",
                  "de": "1 Dateien erfolgreich verarbeitet, bei 0 Dateien ist ein Verarbeitungsfehler aufgetreten."}


# What vssadmin prints instead of a list when the VSS service cannot be used (0x80042302). The English
# text is vssadmin's common failure message; which message a disabled VSS gives exactly, and the
# German wording, are not confirmed from a capture.
VSSADMIN_FAILURES = {
    "vss_unavailable": {
        "en": ["Error: A Volume Shadow Copy Service component encountered an unexpected error.",
               "Check the Application event log for more information."],
        "de": ["Fehler: Unerwarteter Fehler einer Volumeschattenkopie-Dienstkomponente.",
               "Weitere Informationen finden Sie im Anwendungsereignisprotokoll."],
    },
}


def vssadmin_error(kind: str, locale: str = "en") -> str:
    """vssadmin's banner, then its error lines (see VSSADMIN_FAILURES), CRLF line endings."""
    return "\r\n".join(list(VSS_TEXT[locale]["header"]) + [""] + VSSADMIN_FAILURES[kind][locale]) + "\r\n"


# `vssadmin list shadowstorage` (and resize). Layout from vssadmin's message file (MSG_INFO_SNAPSHOT_STORAGE_CONTENTS:
# a title, then five lines indented by three spaces) with the percentages Windows Server 2008 and later add;
# English labels and sizes as in reference/windows/vssadmin-shadowstorage-en-2-4gb.txt (a blog capture whose
# indentation was lost), "UNBOUNDED (100%)" and the storage volume's line broken inside its GUID at 80 columns from a
# capture in the same blog (its 84-character line, indented, breaks after "...806e6f6e69"). "No items found that
# satisfy the query." (MSG_ERROR_NO_ITEMS_FOUND), "Successfully resized the shadow copy storage association"
# (MSG_INFO_RESIZED_DIFFAREA, also reference/windows/vssadmin-resize-shadowstorage-en-success-1.txt) and the
# insufficient-storage error (MSG_ERROR_VSS_INSUFFICIENT_STORAGE): the message file. UNVERIFIED, made up for the
# simulation: every German text below, the German decimal comma, and whether vssadmin's own output (not a console
# window) is broken at 80 columns at all when it goes through a pipe (the parser copes with both).
SHADOW_TEXT = {
    "en": {"title": "Shadow Copy Storage association", "for": "For volume", "on": "Shadow Copy Storage volume",
           "used": "Used Shadow Copy Storage space", "allocated": "Allocated Shadow Copy Storage space",
           "max": "Maximum Shadow Copy Storage space", "unbounded": "UNBOUNDED", "decimal": ".",
           "none": "No items found that satisfy the query.",
           "resized": "Successfully resized the shadow copy storage association",
           "not_found": "Error: The specified volume shadow copy storage association was not found.",
           "insufficient": "Error: Insufficient storage available to create either the shadow copy storage\nfile or other shadow copy data.",
           "invalid": "Error: Invalid option value."},
    "de": {"title": "Schattenkopie-Speicherzuordnung", "for": "Für Volume", "on": "Schattenkopie-Speichervolume",
           "used": "Verwendeter Schattenkopie-Speicherbereich", "allocated": "Zugeordneter Schattenkopie-Speicherbereich",
           "max": "Maximaler Schattenkopie-Speicherbereich", "unbounded": "UNBEGRENZT", "decimal": ",",
           "none": "Es wurden keine Elemente gefunden, die der Abfrage entsprechen.",
           "resized": "Die Größe der Schattenkopie-Speicherzuordnung wurde erfolgreich geändert.",
           "not_found": "Fehler: Die angegebene Schattenkopie-Speicherzuordnung wurde nicht gefunden.",
           "insufficient": "Fehler: Nicht genügend Speicherplatz, um die Schattenkopie-Speicherdatei\noder andere Schattenkopiedaten zu erstellen.",
           "invalid": "Fehler: Ungültiger Optionswert."},
}
CONSOLE_WIDTH = 80


def _size(count: int, decimal: str = ".") -> str:
    """vssadmin's sizes: '2.81 GB', '4 GB' (up to three decimals, trailing zeros dropped)."""
    for unit, factor in (("TB", 2**40), ("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if count >= factor:
            return "%s %s" % (("%.3f" % (count / factor)).rstrip("0").rstrip(".").replace(".", decimal), unit)
    return "%d B" % count


def console_lines(lines: list, width: int | None = CONSOLE_WIDTH) -> list:
    """Lines as a console window ``width`` columns wide shows them: a longer line goes on in the next row."""
    if not width:
        return list(lines)
    out = []
    for line in lines:
        while len(line) > width:
            out.append(line[:width])
            line = line[width:]
        out.append(line)
    return out


def vssadmin_list_shadowstorage(associations: list, locale: str = "en", width: int | None = CONSOLE_WIDTH) -> str:
    """`vssadmin list shadowstorage`, CRLF line endings. Each association: {"for", "on" (letters), "for_id", "on_id"
    (volume GUID paths), "volume_bytes" (the storage volume's size), "used_bytes", "allocated_bytes", "max_bytes"
    (bytes or "UNBOUNDED")}."""
    text, header = SHADOW_TEXT[locale], VSS_TEXT[locale]["header"]
    lines = list(header) + [""]
    if not associations:
        lines.append(text["none"])
    for a in associations:
        def share(count):
            if count == "UNBOUNDED":
                return "%s (100%%)" % text["unbounded"]
            return "%s (%d%%)" % (_size(count, text["decimal"]), round(100.0 * count / a["volume_bytes"]))

        lines += [text["title"], "   %s: (%s)%s" % (text["for"], a["for"], a["for_id"]), "   %s: (%s)%s" % (text["on"], a["on"], a["on_id"]),
                  "   %s: %s" % (text["used"], share(a["used_bytes"])), "   %s: %s" % (text["allocated"], share(a["allocated_bytes"])),
                  "   %s: %s" % (text["max"], share(a["max_bytes"])), ""]
    return CRLF.join(console_lines(lines, width)) + CRLF


def vssadmin_message(kind: str, locale: str = "en") -> str:
    """vssadmin's banner and one of its messages (SHADOW_TEXT), CRLF line endings."""
    return CRLF.join(list(VSS_TEXT[locale]["header"]) + [""] + SHADOW_TEXT[locale][kind].split("\n")) + CRLF


def sddl_mask(rights: str) -> int:
    """Access mask of an SDDL ACE's rights field (hex or two-letter codes)."""
    if rights.lower().startswith("0x"):
        return int(rights, 16)
    if rights.isdigit():
        return int(rights)
    mask = 0
    for i in range(0, len(rights), 2):
        mask |= SDDL_RIGHTS[rights[i:i + 2].upper()]
    return mask


def sid_of(trustee: str) -> str:
    return SID_ALIASES.get(trustee.upper(), trustee) if len(trustee) == 2 else trustee.upper()


def parse_sddl(sddl: str) -> dict:
    """Owner, group, DACL flags and DACL ACEs of an SDDL string (SACL ignored).

    ACEs: {"type": "A"|"D", "flags": ["OI", "CI", ...], "mask": int, "sid": "S-1-..."}.
    """
    owner = re.search(r"O:([^:()]+?)(?=[GDS]:|$)", sddl)
    group = re.search(r"G:([^:()]+?)(?=[DS]:|$)", sddl)
    dacl = re.search(r"D:([A-Z]*)((?:\([^)]*\))*)", sddl)
    aces = []
    if dacl:
        for ace in re.findall(r"\(([^)]*)\)", dacl.group(2)):
            parts = ace.split(";")
            flags = [parts[1][i:i + 2].upper() for i in range(0, len(parts[1]), 2)]
            aces.append({"type": parts[0].upper(), "flags": flags, "mask": sddl_mask(parts[2]), "sid": sid_of(parts[5])})
    return {"owner": sid_of(owner.group(1)) if owner else None, "group": sid_of(group.group(1)) if group else None,
            "dacl_flags": dacl.group(1) if dacl else "", "aces": aces}


def icacls_rights(mask: int) -> str:
    """The rights part icacls prints for an access mask, e.g. "R,W" or "M,DC" or "S,WD,AD,X"."""
    names = []
    left = mask
    if mask & 0x10000000:  # GENERIC_ALL shows as full control
        names.append("F")
        left &= ~0x10000000
    else:
        covered = 0
        for name, bits in SIMPLE_RIGHTS:
            # A right already implied by a bigger one (RX after M, R after RX) is not repeated.
            if left & bits == bits and bits & ~covered:
                names.append(name)
                covered |= bits
        left &= ~covered
    for name, bit in SPECIFIC_RIGHTS:
        if left & bit:
            names.append(name)
    return ",".join(names)


def account_name(sid: str, locale: str = "en") -> str:
    return ACCOUNT_NAMES[locale].get(sid, sid)


def icacls(path: str, sddl: str, locale: str = "en") -> str:
    """`icacls <path>` for a file or folder whose security descriptor is ``sddl`` (see module docstring)."""
    parsed = parse_sddl(sddl)
    entries = []
    for ace in parsed["aces"]:
        flags = ""
        if "ID" in ace["flags"]:
            flags += "(I)"
        for flag in ("OI", "CI", "IO", "NP"):
            if flag in ace["flags"]:
                flags += "(%s)" % flag
        if ace["type"] == "D":
            flags += "(DENY)"
        entries.append("%s:%s(%s)" % (account_name(ace["sid"], locale), flags, icacls_rights(ace["mask"])))
    lines = []
    for i, entry in enumerate(entries):
        lines.append((path + " " if i == 0 else " " * (len(path) + 1)) + entry)
    if not entries:
        lines.append(path + " ")
    lines += ["", ICACLS_SUMMARY[locale]]
    return CRLF.join(lines) + CRLF
