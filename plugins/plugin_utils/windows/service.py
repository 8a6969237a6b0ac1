# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""Windows services as Win32_Service reports them, and what win_service must change.

Win32_Service's State and StartMode are the same words on every Windows language
("Running", "Auto"), so they are safe to decide on.
"""

from __future__ import annotations


def describe(service: dict) -> str:
    """"RdAgent: Running, Auto" or "RdAgent: not installed"."""
    if not service.get("exists"):
        return "%s: not installed" % service["name"]
    mode = service.get("start_mode") or "?"
    if mode == "Auto" and service.get("delayed"):
        mode = "Auto (delayed)"
    return "%s: %s, %s" % (service["name"], service.get("state") or "?", mode)


def changes(service: dict, automatic: bool = False, restart: bool = False) -> dict:
    """The win_service arguments that make an existing service run (and start automatically); {} when it does.

    ``automatic`` asks for start type Automatic (delayed start counts: it is still started at boot).
    ``restart`` restarts a service that already runs (the article's "restart the agent").
    """
    args = {}
    if automatic and service.get("start_mode") != "Auto":
        args["start_mode"] = "auto"
    elif service.get("start_mode") == "Disabled":
        # A disabled service cannot be started; Manual is the least it needs.
        args["start_mode"] = "manual"
    if service.get("state") != "Running":
        args["state"] = "started"
    elif restart:
        args["state"] = "restarted"
    return args


def would(service: dict, args: dict) -> str:
    """What the change does, in words: "start RdAgent and set it to start automatically"."""
    words = []
    if args.get("state") == "started":
        words.append("start %s" % service["name"])
    if args.get("state") == "restarted":
        words.append("restart %s" % service["name"])
    if args.get("start_mode"):
        how = "automatically" if args["start_mode"] == "auto" else args["start_mode"] + "ly"
        words.append(("set %s" % service["name"] if not words else "set it") + " to start " + how)
    return " and ".join(words)


def after(service: dict, args: dict) -> dict:
    """The service as it is once win_service has made ``args`` true."""
    state = dict(service)
    if args.get("state"):
        state["state"] = "Running"
    if args.get("start_mode"):
        state["start_mode"] = args["start_mode"].capitalize()
    return state
