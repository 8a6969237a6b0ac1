"""Shadow copy storage: sizes, vssadmin's list read by structure (the real capture and variants of it), the read made
into associations, and the decision per association under every shrink policy."""
import os

import pytest

from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import shadow_storage as shadow

REF = os.path.join(os.path.dirname(__file__), "..", "..", "..", "data", "reference", "windows")
GUID_C = "\\\\?\\Volume{278ce142-19d8-11e1-9176-806e6f6e6963}\\"
GUID_D = "\\\\?\\Volume{191fc6ee-5a69-4a34-bb81-80b7b46bba04}\\"
GB, MB = 2 ** 30, 2 ** 20


def _ref(name):
    with open(os.path.join(REF, name), encoding="utf-8") as handle:
        return handle.read()


# -- vssadmin list shadowstorage -------------------------------------------------------------------------------

def test_the_reference_capture_is_read_by_structure():
    [entry] = shadow.parse_vssadmin(_ref("vssadmin-shadowstorage-en-2-4gb.txt"))
    assert entry["for"] == {"letter": "C:", "device_id": GUID_C} and entry["on"] == {"letter": "C:", "device_id": GUID_C}
    # Three decimals at most: the sizes are vssadmin's rounded ones.
    assert entry["used"] == round(2.81 * GB) and entry["allocated"] == round(3.279 * GB) and entry["max"] == 4 * GB
    assert entry["max_percent"] == 10


def test_crlf_the_message_file_s_indent_and_a_guid_broken_by_an_80_column_console():
    text = _ref("vssadmin-shadowstorage-en-2-4gb.txt").replace("\n", "\r\n")
    lines = text.split("\r\n")
    lines = lines[:4] + [lines[4]] + ["   " + line for line in lines[5:10]] + lines[10:]
    # The storage volume's indented line is 84 characters: the console breaks it after 80, inside the GUID.
    long = lines[6]
    assert len(long) == 84
    lines[6:7] = [long[:80], long[80:]]
    assert lines[7] == "63}\\"
    [entry] = shadow.parse_vssadmin("\r\n".join(lines))
    assert entry["on"]["device_id"] == GUID_C and entry["max"] == 4 * GB


@pytest.mark.parametrize("cut", [35, 36, 40, 44, 60, 79])
def test_a_wrap_anywhere_in_the_volume_reference_is_joined(cut):
    line = "   Shadow Copy Storage volume: (D:)%s" % GUID_D
    text = "\n".join(["Shadow Copy Storage association", "   For volume: (C:)%s" % GUID_C, line[:cut], line[cut:],
                      "   Used Shadow Copy Storage space: 1 GB (1%)", "   Allocated Shadow Copy Storage space: 2 GB (2%)",
                      "   Maximum Shadow Copy Storage space: 3 GB (3%)", ""])
    [entry] = shadow.parse_vssadmin(text)
    assert (entry["for"]["letter"], entry["on"]["letter"], entry["on"]["device_id"]) == ("C:", "D:", GUID_D)


# German labels are this test's own translation (UNVERIFIED: no German capture was at hand); the lines are found by
# shape and position, so any labels do.
GERMAN = """vssadmin 1.1 - Verwaltungsbefehlszeilenprogramm des Volumeschattenkopie-Dienstes
(C) Copyright 2001-2013 Microsoft Corp.

Schattenkopie-Speicherzuordnung
   Für Volume: (C:)%s
   Schattenkopie-Speichervolume: (C:)%s
   Verwendeter Schattenkopie-Speicherbereich: 2,81 GB (7%%)
   Zugeordneter Schattenkopie-Speicherbereich: 3,279 GB (8%%)
   Maximaler Schattenkopie-Speicherbereich: UNBEGRENZT (100%%)

Schattenkopie-Speicherzuordnung
   Für Volume: (D:)%s
   Schattenkopie-Speichervolume: (C:)%s
   Verwendeter Schattenkopie-Speicherbereich: 512 MB (0%%)
   Zugeordneter Schattenkopie-Speicherbereich: 600 MB (0%%)
   Maximaler Schattenkopie-Speicherbereich: 12,7 GB (10%%)
""" % (GUID_C, GUID_C, GUID_D, GUID_C)


def test_german_labels_decimal_commas_unbounded_in_words_and_two_associations():
    first, second = shadow.parse_vssadmin(GERMAN)
    assert first["max"] is None and first["max_percent"] == 100 and first["used"] == round(2.81 * GB)
    assert (second["for"]["letter"], second["on"]["letter"]) == ("D:", "C:")
    assert second["used"] == 512 * MB and second["max"] == round(12.7 * GB)


def test_unbounded_in_english_and_the_older_layout_without_percentages():
    text = ("Shadow Copy Storage association\n   For volume: (C:)%s\n   Shadow Copy Storage volume: (C:)%s\n"
            "   Used Shadow Copy Storage space: 15.681 GB (39%%)\n   Allocated Shadow Copy Storage space: 16.152 GB (40%%)\n"
            "   Maximum Shadow Copy Storage space: UNBOUNDED (100%%)\n" % (GUID_C, GUID_C))
    [entry] = shadow.parse_vssadmin(text)
    assert entry["max"] is None and entry["used"] == round(15.681 * GB)
    old = text.replace(" (39%)", "").replace(" (40%)", "").replace(" (100%)", "")
    [entry] = shadow.parse_vssadmin(old)
    assert entry["max"] is None and entry["max_percent"] is None


def test_no_association_is_an_empty_list_in_any_language():
    for words in ("No items found that satisfy the query.", "Es wurden keine Elemente gefunden."):
        assert shadow.parse_vssadmin("vssadmin 1.1 - ...\r\n(C) Copyright 2001-2013 Microsoft Corp.\r\n\r\n%s\r\n" % words) == []


def test_a_block_that_breaks_off_is_an_error():
    text = "Shadow Copy Storage association\n   For volume: (C:)%s\n   Shadow Copy Storage volume: (C:)%s\n   Used: 1 GB (1%%)\n" % (
        GUID_C, GUID_C)
    with pytest.raises(ValueError, match="breaks off"):
        shadow.parse_vssadmin(text)
    with pytest.raises(ValueError, match="not a size line"):
        shadow.parse_vssadmin(text + "   Allocated: 12 parsecs\n   Maximum: 4 GB (10%)\n")
    with pytest.raises(ValueError, match="no used or allocated size"):
        shadow.parse_vssadmin(text + "   Allocated: UNBOUNDED\n   Maximum: 4 GB (10%)\n")


# -- sizes ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,kind,value", [
    ("10GB", "bytes", 10 * GB), ("512 MB", "bytes", 512 * MB), ("1.5G", "bytes", int(1.5 * GB)), ("2tb", "bytes", 2 * 2 ** 40),
    ("1048576", "bytes", MB), ("10%", "percent", 10.0), (" 12.5 % ", "percent", 12.5), ("unbounded", "unbounded", None),
])
def test_sizes_as_vssadmin_takes_them(text, kind, value):
    size = shadow.parse_size(text)
    assert (size.kind, size.value) == (kind, value)


@pytest.mark.parametrize("text,why", [("10 parsecs", "not a size"), ("", "not a size"), ("-1GB", "not a size"), ("0%", "above 0"),
                                      ("101%", "at most 100"), ("512KB", "at least 1MB"), ("0", "at least 1MB"), ("GB", "not a size")])
def test_a_bad_size_says_why(text, why):
    with pytest.raises(ValueError, match=why):
        shadow.parse_size(text)


def test_the_free_room_takes_zero_but_not_unbounded():
    assert shadow.parse_size("0", unbounded=False, zero=True).bytes_of(100 * GB) == 0
    assert shadow.parse_size("5%", unbounded=False, zero=True).bytes_of(100 * GB) == 5 * GB
    with pytest.raises(ValueError, match="UNBOUNDED is not a size here"):
        shadow.parse_size("UNBOUNDED", unbounded=False, zero=True)
    assert not shadow.size_ok("UNBOUNDED", unbounded=False) and shadow.size_ok("UNBOUNDED")


def test_uint64_max_and_minus_one_are_unbounded():
    assert shadow.number("18446744073709551615") is None and shadow.number("-1") is None
    assert shadow.number("4294967296") == 4 * GB


# -- the read ------------------------------------------------------------------------------------------------

VOLUMES = [{"device_id": GUID_C, "letter": "C:", "capacity": str(127 * GB), "free": str(60 * GB)},
           {"device_id": GUID_D, "letter": "D:", "capacity": str(16 * GB), "free": str(15 * GB)}]


def test_the_cim_read_becomes_associations_with_their_copies():
    state = {"source": "cim", "volumes": VOLUMES, "copies": [{"volume": GUID_C, "created": "2026-12-01T22:00:00.0000000Z"},
                                                             {"volume": GUID_C, "created": "2026-11-30T22:00:00.0000000Z"}],
             "associations": [{"for": GUID_C.upper(), "on": GUID_C, "used": "3017089024", "allocated": "3520851968",
                               "max": "18446744073709551615"}]}
    [entry], exact = shadow.associations(state)
    assert exact and entry["max"] is None and entry["used"] == 3017089024 and entry["for"]["capacity"] == 127 * GB
    assert entry["copies"] == 2 and entry["oldest"].startswith("2026-11-30")


def test_vssadmin_stands_in_where_win32_shadowstorage_fails_and_its_failure_is_an_error():
    text = _ref("vssadmin-shadowstorage-en-2-4gb.txt")
    [entry], exact = shadow.associations({"source": "vssadmin", "volumes": VOLUMES, "vssadmin": {"exit_code": 0, "output": text}})
    assert not exact and entry["for"]["letter"] == "C:" and entry["on"]["free"] == 60 * GB and entry["max"] == 4 * GB
    with pytest.raises(ValueError, match=r"exit code 2\): Error: Unexpected failure$"):
        shadow.associations({"source": "vssadmin", "volumes": VOLUMES,
                             "vssadmin": {"exit_code": 2, "output": "vssadmin 1.1\r\n\r\nError: Unexpected failure\r\n"}})


# -- the decision --------------------------------------------------------------------------------------------

def entry(used, maximum, allocated=None, capacity=127 * GB, free=60 * GB):
    volume = {"letter": "C:", "device_id": GUID_C, "capacity": capacity, "free": free}
    return {"for": volume, "on": volume, "used": used, "allocated": allocated if allocated is not None else used, "max": maximum,
            "copies": 3, "oldest": "2026-11-28T22:00:00Z"}


TEN = shadow.parse_size("10%")
ONE_GB = shadow.parse_size("1GB", unbounded=False, zero=True)
NONE = shadow.parse_size("0", unbounded=False, zero=True)


def test_too_small_grows_to_the_wanted_maximum():
    decided = shadow.plan(entry(700 * MB, GB), TEN, ONE_GB, "never")
    assert decided["action"] == "grow" and decided["target"] == 127 * GB // 10 and not decided["deletes_copies"]


def test_too_little_free_room_grows_beyond_the_wanted_maximum():
    decided = shadow.plan(entry(127 * GB // 10 - 256 * MB, 127 * GB // 10), TEN, ONE_GB, "never")
    assert decided["action"] == "grow" and decided["target"] == 127 * GB // 10 - 256 * MB + GB
    assert "the space in use plus the 1 GB free room" in decided["why"]


def test_enough_is_ok_and_a_maximum_within_a_megabyte_counts_as_reached():
    assert shadow.plan(entry(3 * GB, 127 * GB // 10), TEN, ONE_GB, "never")["action"] == "ok"
    assert shadow.plan(entry(3 * GB, 127 * GB // 10 - MB + 1), TEN, ONE_GB, "never")["action"] == "ok"
    assert shadow.plan(entry(3 * GB, 127 * GB // 10 - 2 * MB), TEN, ONE_GB, "never")["action"] == "grow"


def test_a_larger_maximum_under_each_shrink_policy():
    big = entry(15 * GB, None)  # UNBOUNDED, 15 GB in use
    never = shadow.plan(big, TEN, ONE_GB, "never")
    assert never["action"] == "ok" and "left as it is" in never["why"]
    keep = shadow.plan(big, TEN, ONE_GB, "keep_copies")
    # Never below the space in use plus headroom: a tenth of the 15 GB in use, more than the 1 GB free room asked for.
    assert keep["action"] == "shrink" and keep["target"] == 15 * GB + 15 * GB // 10 and not keep["deletes_copies"]
    delete = shadow.plan(big, TEN, ONE_GB, "delete_copies")
    assert delete["action"] == "shrink" and delete["target"] == 127 * GB // 10 and delete["deletes_copies"]
    assert "delete old shadow copies" in delete["room_short"]


def test_keep_copies_shrinks_to_the_wanted_maximum_when_the_copies_fit_in_it():
    decided = shadow.plan(entry(2 * GB, 50 * GB), TEN, ONE_GB, "keep_copies")
    assert decided["action"] == "shrink" and decided["target"] == 127 * GB // 10 and not decided["deletes_copies"]


def test_delete_copies_never_grows_for_free_room_so_two_runs_do_not_undo_each_other():
    # After the shrink Windows deleted copies until 11.7 GB fit: the maximum stays, the missing room is reported.
    decided = shadow.plan(entry(127 * GB // 10 - 700 * MB, 127 * GB // 10), TEN, ONE_GB, "delete_copies")
    assert decided["action"] == "ok" and "less than the 1 GB asked for" in decided["room_short"]


def test_bounded_by_the_volume_and_never_below_the_minimum_windows_allows():
    assert shadow.plan(entry(0, 100 * MB), shadow.parse_size("200GB"), NONE, "never")["target"] == 127 * GB
    assert shadow.plan(entry(0, 100 * MB), shadow.parse_size("100MB"), NONE, "never")["target"] == 320 * MB
    small = entry(0, 10 * MB, capacity=400 * MB, free=300 * MB)
    assert shadow.plan(small, shadow.parse_size("1%"), NONE, "never")["target"] == 32 * MB


def test_a_maximum_above_what_the_volume_can_hold_is_a_warning():
    decided = shadow.plan(entry(GB, 2 * GB, free=5 * GB), shadow.parse_size("50GB"), ONE_GB, "never")
    assert decided["action"] == "grow" and decided["target"] == 50 * GB
    assert decided["warning"].startswith("50 GB is more than the 6 GB C: can hold now")


def test_unbounded_wanted_grows_a_bounded_one_and_leaves_an_unbounded_one():
    assert shadow.plan(entry(GB, 20 * GB), shadow.parse_size("UNBOUNDED"), ONE_GB, "never")["target"] is None
    assert shadow.plan(entry(GB, None), shadow.parse_size("UNBOUNDED"), ONE_GB, "delete_copies")["action"] == "ok"


def test_storage_on_a_volume_the_read_did_not_list_is_reported():
    odd = entry(GB, 2 * GB)
    odd["on"] = {"letter": None, "device_id": GUID_D, "capacity": None, "free": None}
    assert shadow.plan(odd, TEN, ONE_GB, "never")["action"] == "report"


def test_rounded_sizes_from_vssadmin_count_as_reached_within_their_rounding():
    # 2 TB and 300 MB prints as "2 TB": three decimals of a terabyte hide up to half a gigabyte.
    asked = 2 * 2 ** 40 + 300 * MB
    assert shadow.reached(2 * 2 ** 40, asked, exact=False) and not shadow.reached(2 * 2 ** 40, asked)
    assert shadow.reached(None, None) and not shadow.reached(None, asked)


def test_a_volume_without_a_size_or_a_copy_without_a_date_is_read_and_reported_not_resized():
    state = {"source": "cim", "volumes": [dict(VOLUMES[0], capacity="", free="")],
             "copies": [{"volume": GUID_C, "created": None}, {"volume": GUID_C, "created": "2026-12-01T22:00:00Z"}],
             "associations": [{"for": GUID_C, "on": GUID_C, "used": "0", "allocated": "0", "max": str(GB)}]}
    [found], _exact = shadow.associations(state)
    assert found["on"]["capacity"] is None and found["copies"] == 2 and found["oldest"] == "2026-12-01T22:00:00Z"
    assert shadow.plan(found, TEN, ONE_GB, "never")["action"] == "report"


# -- what PowerShell sends: one association unrolled, none as null ------------------------------------------------

ONE = {"for": GUID_C, "on": GUID_C, "used": "3017089024", "allocated": "3520851968", "max": str(4 * GB)}


def test_one_association_sent_as_an_object_and_none_sent_as_null_are_read():
    # PowerShell unrolls a one-item array a function returns: the JSON has the item itself, not a list of it.
    [entry], exact = shadow.associations({"source": "cim", "volumes": VOLUMES[0], "associations": ONE, "copies": None})
    assert exact and entry["max"] == 4 * GB and entry["for"]["capacity"] == 127 * GB and entry["copies"] == 0
    assert shadow.associations({"source": "cim", "volumes": VOLUMES, "associations": None}) == ([], True)


def test_a_read_back_without_any_association_is_none_found_not_a_failed_vssadmin():
    volume = {"letter": "C:", "device_id": GUID_C}
    assert shadow.read_back({"exit_code": 0, "associations": None, "read_error": None, "vssadmin": None},
                            {"for": volume, "on": volume}) == (None, True)
    after, exact = shadow.read_back({"exit_code": 0, "associations": ONE, "read_error": None}, {"for": volume, "on": volume})
    assert after["max"] == 4 * GB and exact
    with pytest.raises(ValueError, match="exit code 2"):
        shadow.read_back({"associations": None, "read_error": "Generic failure", "vssadmin": {"exit_code": 2, "output": "Error"}},
                         {"for": volume, "on": volume})


# -- evidence: volsnap events 25 and 36 ----------------------------------------------------------------------------

C_VOLUME = {"letter": "C:", "device_id": GUID_C}


def test_evidence_is_the_volsnap_events_naming_the_volume_by_letter_or_guid():
    events = [{"id": 36, "time": "2026-12-01T22:00:00Z", "volume": "C:"},
              {"id": 25, "time": "2026-11-30T22:00:00Z", "volume": GUID_C.rstrip("\\")},   # a GUID path without its backslash
              {"id": 36, "time": "2026-12-01T23:00:00Z", "volume": "D:"},
              {"id": 24, "time": "2026-12-01T23:00:00Z", "volume": "C:"}]
    assert [(e["id"], e["time"][:10]) for e in shadow.evidence(events, C_VOLUME)] == [(25, "2026-11-30"), (36, "2026-12-01")]
    assert shadow.evidence({"id": 36, "time": "x", "volume": "c:"}, C_VOLUME)[0]["id"] == 36   # one event unrolled
    assert shadow.evidence(None, C_VOLUME) == []


def test_an_event_without_its_volume_item_is_matched_by_the_volume_s_shape_in_any_language():
    german = {"id": 36, "time": "t", "volume": None,
              "message": "Die Schattenkopien von Volume C: wurden abgebrochen, weil der Schattenkopiespeicher nicht vergrößert werden konnte."}
    by_guid = {"id": 25, "time": "t", "volume": None, "message": "The shadow copies of volume %s were deleted." % GUID_C.rstrip("\\")}
    assert len(shadow.evidence([german, by_guid], C_VOLUME)) == 2
    assert shadow.evidence([{"id": 25, "time": "t", "volume": None, "message": "nothing here"}], C_VOLUME) == []


def small_c(used=700 * MB, maximum=GB):
    return entry(used, maximum)


def test_without_evidence_a_smaller_maximum_is_left_as_the_admin_sized_it():
    held = shadow.plan(small_c(), TEN, NONE, "never", grow="evidence", events=[], event_days=30)
    assert held["action"] == "ok" and held["held"] and "no volsnap event 25 or 36 in the System log of the last 30 days" in held["why"]
    assert "its maximum 1 GB is below 12.7 GB" in held["why"]
    unread = shadow.plan(small_c(), TEN, NONE, "never", grow="evidence", events=None, events_error="Access is denied")
    assert unread["action"] == "ok" and "could not be read for volsnap events 25 and 36 (Access is denied)" in unread["why"]
    assert shadow.plan(small_c(), TEN, NONE, "never", grow="always", events=[])["action"] == "grow"


def test_evidence_or_a_maximum_below_the_windows_minimum_grows_it():
    found = [{"id": 36, "time": "2026-12-01T22:00:00Z", "volume": "C:"}]
    grown = shadow.plan(small_c(), TEN, NONE, "never", grow="evidence", events=found)
    assert grown["action"] == "grow" and grown["target"] == 127 * GB // 10
    assert "volsnap event 36 in the System log: the shadow copies were aborted" in grown["why"]
    tiny = shadow.plan(small_c(used=100 * MB, maximum=200 * MB), TEN, NONE, "never", grow="evidence", events=[])
    assert tiny["action"] == "grow" and "below the 320 MB minimum Windows allows" in tiny["why"]


def test_keep_copies_keeps_headroom_above_the_space_in_use():
    assert shadow.headroom(GB) == 320 * MB and shadow.headroom(20 * GB) == 2 * GB
    # 2 GB in use: down to 12.7 GB wanted, headroom to spare.
    assert shadow.plan(entry(2 * GB, 50 * GB), TEN, NONE, "keep_copies")["target"] == 127 * GB // 10
    # 12 GB in use: not below 12 GB + 1.2 GB, though only 12.7 GB is wanted.
    decided = shadow.plan(entry(12 * GB, 50 * GB), TEN, NONE, "keep_copies")
    assert decided["action"] == "shrink" and decided["target"] == 12 * GB + 12 * GB // 10 and not decided["deletes_copies"]
    # Already within the headroom: left, not shrunk by a few megabytes each run.
    near = shadow.plan(entry(12 * GB, 12 * GB + 12 * GB // 10 + 512 * MB // 1024), TEN, NONE, "keep_copies")
    assert near["action"] == "ok" and "headroom" in near["why"] and not near["held"]
