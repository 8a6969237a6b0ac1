# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private plugin_utils file: it may change without notice.
"""Shadow copy storage (cause MARS_SHADOW_STORAGE): sizes, `vssadmin list shadowstorage` read by structure, and
what to do with each association.

The decision works on numbers from Win32_ShadowStorage and Win32_Volume (not localised). vssadmin's text is
read only when Win32_ShadowStorage cannot be (a broken WMI provider): then its sizes, rounded to three decimals,
stand in for the numbers, and the read says so.
"""

from __future__ import annotations

import re

KIB = 1024
# vssadmin's size suffixes, 1024-based ("KB, MB, GB, TB, PB and EB. Also, B, K, M, G, T, P, and E":
# vssadmin's usage text, MSG_USAGE_DTL_RESIZE_DIFFAREA_INT).
_UNITS = {"": 1, "B": 1, "K": KIB, "KB": KIB, "M": KIB ** 2, "MB": KIB ** 2, "G": KIB ** 3, "GB": KIB ** 3,
          "T": KIB ** 4, "TB": KIB ** 4, "P": KIB ** 5, "PB": KIB ** 5, "E": KIB ** 6, "EB": KIB ** 6}
UNBOUNDED = "UNBOUNDED"
# The API's "no maximum" is -1 (IVssDifferentialSoftwareSnapshotMgmt::ChangeDiffAreaMaximumSize, learn.microsoft.com);
# Win32_ShadowStorage.MaxSpace is a uint64, so it reads as 2^64-1 there. Inferred from the two documented types, not
# seen in a capture: anything at or above 2^63 (and -1 itself) is taken as unbounded.
_UNBOUNDED_FROM = 2 ** 63
# "If the MinDiffAreaFileSize registry value is not set, the minimum size of the shadow copy storage area is 32 MB for
# volumes that are smaller than 500 MB and 320 MB for volumes that are larger" (learn.microsoft.com, "Registry Keys
# and Values for Backup and Restore", MinDiffAreaFileSize; AddDiffArea: "at least 320 MB"). A host that sets
# MinDiffAreaFileSize higher refuses smaller sizes: vssadmin says so and the finding carries its words.
SMALL_VOLUME = 500 * KIB ** 2
MINIMUM_SMALL, MINIMUM = 32 * KIB ** 2, 320 * KIB ** 2
# A maximum this close below the one asked for counts as reached: Windows may round what it stores (not documented).
SLACK = KIB ** 2
SHRINK = ("never", "keep_copies", "delete_copies")
GROW = ("evidence", "always")
# The volsnap events that show an association too small for a backup's snapshot (System log, provider volsnap; the IDs are
# the low words of the NTSTATUS codes in volsnap's message table): 36 VS_ABORT_NO_DIFF_AREA_SPACE_USER_IMPOSED, "The shadow
# copies of volume %2 were aborted because the shadow copy storage could not grow due to a user imposed limit."; 25
# VS_ABORT_SNAPSHOTS_OUT_OF_DIFF_AREA (0xc0060019), "The shadow copies of volume %2 were deleted because the shadow copy
# storage could not grow in time." (Microsoft's archived CSS blog "Volume Shadow Copy Volsnap Event 25"). %2 is the second
# EventData item: "C:" or "\\?\Volume{GUID}" (captured events: Data Name="VolumeName" on current Windows, unnamed on 2012).
EVIDENCE_EVENTS = {36: "the shadow copies were aborted because the storage could not grow past its maximum",
                   25: "the shadow copies were deleted because the storage could not grow in time"}
# keep_copies leaves this much room above the space in use: copy-on-write grows the storage while a snapshot lives, and a
# storage area without room deletes the oldest copies (volsnap event 25/36). The larger of the minimum Windows gives a
# storage area and a tenth of what is in use (our own choice; Microsoft names no figure).
HEADROOM_MIN = 320 * KIB ** 2
HEADROOM_SHARE = 10

_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([KMGTPE]?B?)\s*", re.I)
_PERCENT = re.compile(r"\s*(\d+(?:\.\d+)?)\s*%\s*")


class Size:
    """A size as the inventory gives it: ``kind`` bytes, percent (of the storage volume) or unbounded."""

    def __init__(self, kind: str, value: float | int | None, text: str) -> None:
        self.kind, self.value, self.text = kind, value, text

    def bytes_of(self, capacity: int) -> int | None:
        """Bytes on a volume of ``capacity`` bytes; None for unbounded."""
        if self.kind == "unbounded":
            return None
        if self.kind == "percent":
            return int(capacity * self.value / 100)
        return int(self.value)

    def __repr__(self) -> str:
        return "Size(%r)" % self.text


def parse_size(text, unbounded: bool = True, zero: bool = False) -> Size:
    """"10GB", "512 MB", "1.5G", "4096" (bytes), "10%" of the volume, or "UNBOUNDED" (when ``unbounded``).
    Raises ValueError saying why. One parser for the settings rule and the cause."""
    text = str(text if text is not None else "").strip()
    if text.upper() == UNBOUNDED:
        if not unbounded:
            raise ValueError("UNBOUNDED is not a size here")
        return Size("unbounded", None, text)
    percent = _PERCENT.fullmatch(text)
    if percent:
        value = float(percent.group(1))
        if not (0 < value <= 100) and not (zero and value == 0):
            raise ValueError("a percentage must be above 0 and at most 100")
        return Size("percent", value, text)
    size = _SIZE.fullmatch(text)
    if not size:
        raise ValueError("not a size")
    value = float(size.group(1)) * _UNITS[size.group(2).upper()]
    if value < KIB ** 2 and not (zero and value == 0):
        # vssadmin's own floor: "MaxSizeSpec must be 1MB or greater".
        raise ValueError("a size must be at least 1MB")
    return Size("bytes", int(value), text)


def size_ok(text, unbounded: bool = True, zero: bool = False) -> bool:
    try:
        parse_size(text, unbounded, zero)
        return True
    except ValueError:
        return False


def number(value) -> int | None:
    """A space number as the read sends it (a string, to keep uint64 exact); None for unbounded."""
    count = int(str(value).strip())
    return None if count < 0 or count >= _UNBOUNDED_FROM else count


def human(count: int | None) -> str:
    """"12.7 GB" (three decimals at most, as vssadmin prints), "UNBOUNDED" for None."""
    if count is None:
        return UNBOUNDED
    for unit, factor in (("TB", KIB ** 4), ("GB", KIB ** 3), ("MB", KIB ** 2), ("KB", KIB)):
        if count >= factor:
            return "%s %s" % (("%.3f" % (count / factor)).rstrip("0").rstrip("."), unit)
    return "%d B" % count


def minimum(capacity: int) -> int:
    return MINIMUM_SMALL if capacity < SMALL_VOLUME else MINIMUM


def letter(text: str) -> str:
    """"c", "C:", "c:\\" -> "C:"."""
    return str(text).strip().rstrip("\\").rstrip(":").upper() + ":"


# -- vssadmin list shadowstorage, by structure -----------------------------------------------------------------
# vssadmin's message file (MSG_INFO_SNAPSHOT_STORAGE_CONTENTS) prints per association a title, then two indented
# lines "<label>: (<letter>)<volume GUID path>" (the volume, then the storage volume) and three "<label>: <size>"
# lines: used, allocated, maximum. Windows Server 2008 and later add "(<percent>%)" after each size, and print the
# maximum as UNBOUNDED (MSG_INFINITE) when there is none (reference/windows captures; a blog capture of
# "UNBOUNDED (100%)"). The labels are localised (the German ones in tests/winsim/render.py are unverified), so lines
# are told apart by shape and position only: two volume lines, then three size lines. A console 80 columns wide breaks
# the storage volume's line inside its GUID (the same capture shows "...806e6f6e69" / "63}\"); such a line is joined
# with the next before it is read.
_GUID = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
_VOLUME = re.compile(r"\((?P<letter>[A-Za-z]:)?\)\s*(?P<path>\\\\\?\\Volume\{" + _GUID + r"\}\\)")
# A line that ends inside a volume reference: "(C:)", "(C:)\\?\Vol", "(C:)\\?\Volume{278ce142-19d8-...".
_CUT = re.compile(r"\(([A-Za-z]:)?\)(\\[\\?A-Za-z0-9{}-]*)?$")
_AMOUNT = re.compile(r"(?P<number>\d+(?:[.,]\d+)?)\s*(?P<unit>[KMGTPE]?B)\s*(?:\(\s*(?P<percent>\d+)\s*%\s*\))?\s*$")
# The maximum without a number: UNBOUNDED (or its translation), maybe with its percentage.
_WORD = re.compile(r":\s*(?P<word>[^\d\s:()]+)\s*(?:\(\s*(?P<percent>\d+)\s*%\s*\))?\s*$")


def _rejoined(text: str) -> list[str]:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out, i = [], 0
    while i < len(lines):
        line = lines[i].rstrip()
        joined = 0
        while i + 1 < len(lines) and joined < 3 and _CUT.search(line) and not _VOLUME.search(line[line.rfind("("):]):
            i += 1
            joined += 1
            line += lines[i].strip()
        out.append(line)
        i += 1
    return out


def _amount(line: str) -> tuple[int | None, int | None]:
    """(bytes, percent) of a size line; bytes None for a maximum without a number (UNBOUNDED). ValueError otherwise."""
    found = _AMOUNT.search(line)
    if found and ":" in line[:found.start()]:
        number_text = found.group("number").replace(",", ".")
        return int(round(float(number_text) * _UNITS[found.group("unit").upper()])), _int(found.group("percent"))
    word = _WORD.search(line)
    if word:
        return None, _int(word.group("percent"))
    raise ValueError("not a size line: %r" % line.strip())


def _int(text):
    return int(text) if text is not None else None


def parse_vssadmin(text: str) -> list[dict]:
    """Every association in `vssadmin list shadowstorage` output, in order: {"for": {letter, device_id}, "on": {...},
    used, allocated, max (None: UNBOUNDED), max_percent}. Sizes are vssadmin's rounded ones. CRLF or LF; a console's
    line wrap inside a volume GUID is joined. No association at all (vssadmin's "No items found that satisfy the
    query.", in any language) is an empty list: the exit code tells that apart from a failure. ValueError when a
    block breaks off."""
    lines = _rejoined(text)
    found, i = [], 0
    while i < len(lines):
        first = _VOLUME.search(lines[i])
        second = _VOLUME.search(lines[i + 1]) if i + 1 < len(lines) else None
        if not (first and second):
            i += 1
            continue
        sizes = lines[i + 2:i + 5]
        if len(sizes) < 3:
            raise ValueError("the association of %s breaks off after its volumes" % (first.group("letter") or first.group("path")))
        (used, _used_percent), (allocated, _allocated_percent), (maximum, percent) = [_amount(line) for line in sizes]
        if used is None or allocated is None:
            raise ValueError("no used or allocated size in the association of %s" % (first.group("letter") or first.group("path")))
        found.append({"for": {"letter": first.group("letter"), "device_id": first.group("path")},
                      "on": {"letter": second.group("letter"), "device_id": second.group("path")},
                      "used": used, "allocated": allocated, "max": maximum, "max_percent": percent})
        i += 5
    return found


# -- the read, made into associations --------------------------------------------------------------------------

def items(value) -> list:
    """A list the read sent: PowerShell unrolls a one-item array returned from a function (a JSON object then) and an
    empty one ($null), unless the script wraps the call in @(...); either shape is taken here."""
    if value is None:
        return []
    if isinstance(value, dict):
        return [value]
    return list(value)


def associations(state: dict) -> tuple[list[dict], bool]:
    """(associations, exact) from the read script's answer: each {"for": volume, "on": volume, used, allocated, max,
    copies, oldest}; a volume is {letter, device_id, capacity, free} (capacity None when not among the fixed volumes).
    ``exact`` is False when the numbers are vssadmin's rounded ones. ValueError when vssadmin failed too."""
    # A volume Windows gives no size (not formatted, or offline) has none here: its associations are reported, not resized.
    volumes = {v["device_id"].lower(): dict(v, capacity=_count(v.get("capacity")), free=_count(v.get("free")))
               for v in items(state.get("volumes"))}
    copies: dict = {}
    for copy in items(state.get("copies")):
        copies.setdefault(str(copy["volume"]).lower(), []).append(copy.get("created") or "")

    def volume(device_id: str, letter_seen: str | None = None) -> dict:
        known = volumes.get(str(device_id).lower())
        if known:
            return known
        return {"letter": letter_seen, "device_id": device_id, "capacity": None, "free": None}

    if state.get("source") == "vssadmin":
        native = state.get("vssadmin") or {}
        if native.get("exit_code") != 0:
            raise ValueError("vssadmin list shadowstorage failed (exit code %s): %s" % (native.get("exit_code"), said(native.get("output")).rstrip(".")))
        listed = parse_vssadmin(native.get("output") or "")
        raw = [{"for": volume(a["for"]["device_id"], a["for"]["letter"]), "on": volume(a["on"]["device_id"], a["on"]["letter"]),
                "used": a["used"], "allocated": a["allocated"], "max": a["max"]} for a in listed]
        exact = False
    else:
        raw = [{"for": volume(a["for"]), "on": volume(a["on"]), "used": number(a["used"]), "allocated": number(a["allocated"]),
                "max": number(a["max"])} for a in items(state.get("associations"))]
        exact = True
    for entry in raw:
        created = copies.get(entry["for"]["device_id"].lower(), [])
        dated = sorted(c for c in created if c)
        entry.update(copies=len(created), oldest=dated[0] if dated else None)
    return raw, exact


_EVENT_GUID = re.compile(r"\\\\\?\\Volume\{" + _GUID + r"\}")
_EVENT_LETTER = re.compile(r"(?<![\w\\])([A-Za-z]:)(?![\w\\])")


def event_volume(event: dict) -> str | None:
    """The volume a volsnap event names: its second data item (%2), else (an event without it) the volume GUID path or
    the drive letter found in its message by shape: the message's words are localised, the volume is not."""
    named = event.get("volume")
    if named:
        return str(named)
    message = str(event.get("message") or "")
    found = _EVENT_GUID.search(message) or _EVENT_LETTER.search(message)
    return found.group(0) if found else None


def _volume_key(text: str) -> str:
    return str(text).strip().rstrip("\\").lower()


def evidence(events, volume: dict) -> list[dict]:
    """The read's volsnap events 25 and 36 that name ``volume`` (by drive letter or volume GUID path), oldest first."""
    keys = {_volume_key(volume["device_id"])} | ({_volume_key(volume["letter"])} if volume.get("letter") else set())
    found = [dict(e, volume=event_volume(e)) for e in items(events) if int(e.get("id") or 0) in EVIDENCE_EVENTS]
    return sorted((e for e in found if e["volume"] and _volume_key(e["volume"]) in keys), key=lambda e: str(e.get("time") or ""))


def headroom(used: int) -> int:
    """What keep_copies leaves free above the space in use."""
    return max(HEADROOM_MIN, used * HEADROOM_SHARE // 100)


def read_back(result: dict, entry: dict) -> tuple[dict | None, bool]:
    """(the association ``entry`` as the resize script read it afterwards, or None; exact): from Win32_ShadowStorage, else
    from vssadmin's list (rounded). ValueError when neither could be read."""
    # Win32_ShadowStorage answered unless the script kept its error: then vssadmin's list stands in. No association
    # at all is an empty list (or null, as PowerShell unrolls an empty array), not a failed vssadmin.
    state = {"source": "cim", "associations": items(result.get("associations"))}
    if result.get("read_error") is not None:
        state = {"source": "vssadmin", "vssadmin": result.get("vssadmin") or {}}
    found, exact = associations(state)
    ids = (entry["for"]["device_id"].lower(), entry["on"]["device_id"].lower())
    return next((a for a in found if (a["for"]["device_id"].lower(), a["on"]["device_id"].lower()) == ids), None), exact


def said(output) -> str:
    """What vssadmin said, without its two banner lines (the tool's name and copyright), on one line."""
    lines = [line.strip() for line in str(output or "").splitlines() if line.strip()]
    if lines and lines[0].lower().startswith("vssadmin"):
        lines = lines[2:] if len(lines) > 1 and lines[1].startswith("(C)") else lines[1:]
    return " ".join(lines) or "no output"


def _count(value) -> int | None:
    text = str(value if value is not None else "").strip()
    return int(text) if text else None


def name(volume: dict) -> str:
    return volume.get("letter") or volume["device_id"]


def spec(volume: dict) -> str:
    """What vssadmin's /For= and /On= take: the drive letter, else the volume GUID path."""
    return volume.get("letter") or volume["device_id"]


def reached(actual: int | None, asked: int | None, exact: bool = True) -> bool:
    """Whether a maximum read back is the one asked for: both unbounded, or equal within SLACK (within vssadmin's
    rounding to three decimals when the numbers are its text's)."""
    if actual is None or asked is None:
        return actual is None and asked is None
    slack = SLACK if exact else max(SLACK, asked // 500)
    return abs(actual - asked) <= slack


def plan(entry: dict, wanted: Size, min_free: Size, shrink: str, exact: bool = True, grow: str = "always",
         events: list | None = None, event_days: int = 30, events_error: str | None = None) -> dict:
    """What to do with one association: {"action": ok | grow | shrink | report, "target": bytes or None (unbounded),
    "why": words, "warning": words or None, "deletes_copies": bool, "held": bool}.

    The association needs ``need`` = the wanted maximum, or more where the space in use plus the minimum free room
    is more (bounded by the storage volume's size). Smaller: grow to ``need``, with ``grow`` evidence only where
    ``events`` (volsnap 25/36 naming its volume, None: the log could not be read) show it too small for a snapshot, or
    where its maximum is below the minimum Windows allows; otherwise it is left as the admin sized it ("held").
    Larger: left alone (shrink never); shrunk to ``need`` but never below the space in use plus the free room and
    headroom() (keep_copies, so copy-on-write still has room); or to the wanted maximum (delete_copies: the wanted
    maximum is a hard cap, also below the space in use, where Windows deletes the oldest shadow copies until the rest
    fit). With delete_copies the free room never raises the maximum above the wanted one: that is reported instead, so
    two runs never undo each other.
    """
    on = entry["on"]
    capacity = on.get("capacity")
    current, used = entry["max"], entry["used"]
    if capacity is None:
        return {"action": "report", "target": current, "deletes_copies": False, "warning": None, "held": False,
                "why": "its storage volume %s is not a fixed local volume with a letter; check it by hand" % name(on)}
    want = wanted.bytes_of(capacity)
    room = min_free.bytes_of(capacity) or 0
    floor = minimum(capacity)
    if want is not None:
        want = min(max(want, floor), capacity)
    hard_cap = shrink == "delete_copies"
    need = want if (want is None or hard_cap) else min(max(want, used + room), capacity)
    result = {"action": "ok", "target": current, "deletes_copies": False, "warning": None, "why": "", "held": False}
    if _below(current, need, exact):
        why = "its maximum %s is below %s" % (human(current), _wanted_words(need, want, wanted, room))
        if current is not None and current < floor:
            result.update(action="grow", target=need, why="%s, and below the %s minimum Windows allows" % (why, human(floor)))
        elif grow == "evidence" and not events:
            seen = ("the System log could not be read for volsnap events 25 and 36 (%s)" % (events_error or "no answer") if events is None
                    else "no volsnap event 25 or 36 in the System log of the last %d days shows it too small for a snapshot" % event_days)
            result.update(held=True, why="%s, but %s; left as it is (shadow_storage_grow is evidence: sizes are the admin's choice)"
                          % (why, seen))
        else:
            if events:
                why += "; %s" % evidence_words(events)
            result.update(action="grow", target=need, why=why)
    elif _below(need, current, exact):
        if shrink == "never":
            result["why"] = "its maximum %s is more than the %s wanted; left as it is (shadow_storage_shrink is never)" % (
                human(current), human(need))
        elif not hard_cap and not _below(min(max(need, used + max(room, headroom(used))), capacity), current, exact):
            result["why"] = ("its maximum %s is more than the %s wanted, but not more than the space in use plus %s headroom; left as it "
                             "is (shadow_storage_shrink is keep_copies)" % (human(current), human(need), human(max(room, headroom(used)))))
        else:
            target = need if hard_cap or need is None else min(max(need, used + max(room, headroom(used))), capacity)
            result.update(action="shrink", target=target, deletes_copies=target is not None and target < used,
                          why="its maximum %s is more than the %s wanted (shadow_storage_shrink is %s%s)" % (
                              human(current), human(target), shrink,
                              "" if hard_cap else ", keeping %s above the space in use" % human(target - used)))
    target = result["target"]
    if result["action"] in ("grow", "shrink") and target is not None and on.get("free") is not None:
        usable = on["free"] + entry["allocated"]
        if target > usable:
            result["warning"] = ("%s is more than the %s %s can hold now (its free space plus what the association holds): the maximum is a "
                                 "limit, not a reservation; free space on %s" % (human(target), human(usable), name(on), name(on)))
    if hard_cap and target is not None and target - min(used, target) < room:
        result["room_short"] = ("%s free in it is less than the %s asked for (shadow_storage_min_free), and shadow_storage_shrink "
                                "delete_copies keeps the maximum at %s: raise shadow_storage_max_size, or delete old shadow copies"
                                % (human(max(target - used, 0)), human(room), human(target)))
    return result


def evidence_words(events: list) -> str:
    """"volsnap event 36 in the System log: ... (2 such events)"; the events' times are in the finding's detail."""
    last = events[-1]
    return "volsnap event %s in the System log: %s%s" % (last.get("id"), EVIDENCE_EVENTS.get(int(last.get("id") or 0), ""),
                                                         " (%d such events)" % len(events) if len(events) > 1 else "")


def _below(a: int | None, b: int | None, exact: bool) -> bool:
    """a < b, with None as unbounded and a near-equal pair (reached) as equal."""
    if reached(a, b, exact):
        return False
    if a is None:
        return False
    return b is None or a < b


def _wanted_words(need: int | None, want: int | None, wanted: Size, room: int) -> str:
    if need is None:
        return "UNBOUNDED (shadow_storage_max_size)"
    if want is not None and need > want:
        return "%s: the space in use plus the %s free room of shadow_storage_min_free" % (human(need), human(room))
    return "%s (shadow_storage_max_size %s)" % (human(need), wanted.text)


def describe(entry: dict) -> str:
    """"C: on C:: 2.81 GB used of 4 GB (3.279 GB allocated)"."""
    return "%s on %s: %s used of %s (%s allocated)" % (
        name(entry["for"]), name(entry["on"]), human(entry["used"]), human(entry["max"]), human(entry["allocated"]))


def max_size_arg(target: int | None) -> str:
    """/MaxSize= in bytes (no suffix: bytes, vssadmin's usage), or UNBOUNDED."""
    return UNBOUNDED if target is None else str(int(target))
