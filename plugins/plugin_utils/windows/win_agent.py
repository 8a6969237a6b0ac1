# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""The Windows guest agent (cause WIN_AGENT): what is wrong and what may be done about it."""

from __future__ import annotations

import re

from ansible_collections.azure_backup.remediation.plugins.module_utils.causes.linux_agent_version import older, version_tuple

SERVICES = ("WindowsAzureGuestAgent", "RdAgent")
PRODUCT_NAME = "Windows Azure VM Agent"
# Current guidance (Microsoft's guest agent support article); the 2016 article said 2.6.1198.718.
MIN_VERSION = "2.7.41491.1010"
# The download link of article 000 ("Agent-MSI").
MSI_URL = "https://go.microsoft.com/fwlink/?LinkID=394789&clcid=0x409"
# The backup extension's process: while it runs, a snapshot is being taken (shared/reference/windows).
BACKUP_PROCESSES = ("IaaSBcdrExtension",)

# Release values of HKLM\SOFTWARE\Microsoft\NET Framework Setup\NDP\v4\Full, lowest of each version
# (Microsoft's "How to determine which .NET Framework versions are installed").
DOTNET_RELEASES = (
    (533320, "4.8.1"), (528040, "4.8"), (461808, "4.7.2"), (461308, "4.7.1"), (460798, "4.7"),
    (394802, "4.6.2"), (394254, "4.6.1"), (393295, "4.6"), (379893, "4.5.2"), (378675, "4.5.1"), (378389, "4.5"),
)


def dotnet_version(release) -> str | None:
    """'4.8' for Release 528040; None when .NET 4.5 or later is not installed (no value, or below 378389)."""
    if release is None or not str(release).isdigit():
        return None
    for lowest, name in DOTNET_RELEASES:
        if int(release) >= lowest:
            return name
    return None


def file_version(text: str | None) -> str | None:
    """The numeric part of a file's ProductVersion ('2.7.41491.1102 (rd_art_stable...)' -> '2.7.41491.1102')."""
    match = re.match(r"^\s*(\d+(?:\.\d+){1,3})", text or "")
    return match.group(1) if match else None


def validate_minimum(minimum: str) -> None:
    try:
        version_tuple(minimum)
    except ValueError:
        raise ValueError("win_agent_min_version %r is not a version like %s" % (minimum, MIN_VERSION)) from None


def needs_install(services: list[dict], version: str | None, minimum: str) -> str | None:
    """Why the agent MSI must be (re)installed, or None: a service is missing, or the agent is older than ``minimum``."""
    missing = [s["name"] for s in services if not s.get("exists")]
    if missing:
        return "service%s %s missing" % ("s" if len(missing) > 1 else "", " and ".join(missing))
    if version and older(version, minimum):
        return "agent %s is older than %s" % (version, minimum)
    return None


def backup_running(processes: list[str]) -> list[str]:
    """The backup processes among running process names (without .exe, any case)."""
    wanted = [p.lower() for p in BACKUP_PROCESSES]
    return [p for p in processes if re.sub(r"\.exe$", "", p.lower()) in wanted]


# -- installing the MSI ------------------------------------------------------------------------------

# msiexec exit codes (Microsoft, "MsiExec.exe and InstMsi.exe error messages"): ERROR_SUCCESS,
# ERROR_SUCCESS_REBOOT_INITIATED and ERROR_SUCCESS_REBOOT_REQUIRED mean success; 1618 means another
# installation is running and the same command may succeed later.
MSI_EXIT_CODES = {
    0: "ERROR_SUCCESS", 1602: "ERROR_INSTALL_USEREXIT", 1603: "ERROR_INSTALL_FAILURE", 1618: "ERROR_INSTALL_ALREADY_RUNNING",
    1605: "ERROR_UNKNOWN_PRODUCT", 1619: "ERROR_INSTALL_PACKAGE_OPEN_FAILED", 1620: "ERROR_INSTALL_PACKAGE_INVALID",
    1638: "ERROR_PRODUCT_VERSION",
    1641: "ERROR_SUCCESS_REBOOT_INITIATED", 3010: "ERROR_SUCCESS_REBOOT_REQUIRED",
}
MSI_SUCCESS = (0, 1641, 3010)
MSI_REBOOT = (1641, 3010)
MSI_BUSY = 1618
# Bounds of the wait for another installation (1618): a run must end within half an hour.
MAX_BUSY_RETRIES = 20
MAX_BUSY_WAIT_SECONDS = 600
MAX_BUSY_TOTAL_SECONDS = 1800
# How long the script waits for the new agent's services to reach Running after msiexec returned.
START_WAIT_SECONDS = 120
# How long one stop or start of an agent service may take before the service counts as hung.
SERVICE_WAIT_SECONDS = 60
# How long a deleted service may stay "marked for deletion" (a handle to it still open elsewhere).
DELETE_WAIT_SECONDS = 30
# Whose Authenticode signature the agent MSI must carry when no SHA-256 of it was given (the O= of the signer).
MSI_SIGNER = "Microsoft Corporation"
# 1605 ERROR_UNKNOWN_PRODUCT: msiexec /x of a product that is not installed (Microsoft, MsiExec.exe error codes).
MSI_UNKNOWN_PRODUCT = 1605
_PRODUCT_CODE = re.compile(r"^\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}$")


def product_codes(products: list[dict]) -> list[str]:
    """The Windows Installer product codes among the agent's installed-programs entries: the names of their
    Uninstall keys, when they are a product code ({GUID}); other entries are not msiexec's to remove."""
    return [p["product_id"] for p in products if _PRODUCT_CODE.match(p.get("product_id") or "")]


def signature_required(checksum) -> bool:
    """The MSI's Authenticode signature is checked unless its SHA-256 was given (and so already matched)."""
    return not (checksum or "").strip()


def validate_busy(retries, wait) -> None:
    """win_agent_msi_busy_retries / win_agent_msi_busy_wait: whole numbers, bounded so a run ends."""
    if not isinstance(retries, int) or isinstance(retries, bool) or not 0 <= retries <= MAX_BUSY_RETRIES:
        raise ValueError("win_agent_msi_busy_retries %r is not a whole number from 0 to %d" % (retries, MAX_BUSY_RETRIES))
    if not isinstance(wait, int) or isinstance(wait, bool) or not 1 <= wait <= MAX_BUSY_WAIT_SECONDS:
        raise ValueError("win_agent_msi_busy_wait %r is not a number of seconds from 1 to %d" % (wait, MAX_BUSY_WAIT_SECONDS))
    if retries * wait > MAX_BUSY_TOTAL_SECONDS:
        raise ValueError("win_agent_msi_busy_retries x win_agent_msi_busy_wait is %d seconds, more than %d"
                         % (retries * wait, MAX_BUSY_TOTAL_SECONDS))


def install_timeout(retries: int, wait: int) -> int:
    """Seconds the install script may take: 1618 waits for the uninstall and the install, each service stopped,
    each deletion, the wait for the new services to run, and a margin for msiexec's own work."""
    return 2 * retries * wait + 2 * len(SERVICES) * SERVICE_WAIT_SECONDS + len(SERVICES) * DELETE_WAIT_SECONDS + START_WAIT_SECONDS + 600


def msi_exit(rc) -> str:
    """'1603 (ERROR_INSTALL_FAILURE)' for an msiexec exit code."""
    if rc is None:
        return "no exit code (msiexec did not run)"
    return "%s (%s)" % (rc, MSI_EXIT_CODES.get(rc, "see Microsoft's MsiExec.exe error codes"))


def running_version(services: list[dict], rdagent_version: str | None, guest_agent_version: str | None) -> tuple[str | None, str]:
    """The agent version that runs, and where it was read. The agent updates itself into
    C:\\WindowsAzure\\GuestAgent_<version>_<date>, so the WindowsAzureGuestAgent service's image says
    which agent runs; WaAppAgent.exe (RdAgent) keeps the version the MSI put there. WaAppAgent.exe is
    the fallback when the guest agent service or its image cannot be read."""
    guest = file_version(guest_agent_version)
    if guest and any(s["name"] == "WindowsAzureGuestAgent" and s.get("exists") for s in services):
        return guest, "WindowsAzureGuestAgent"
    rdagent = file_version(rdagent_version)
    return (rdagent, "WaAppAgent.exe") if rdagent else (None, "")


def install_mode(services: list[dict]) -> str:
    """How the MSI is installed. 'upgrade' when every agent service exists: installing the newer MSI over a
    working agent is how Microsoft says to update it (reinstall the binaries, no backup running), and a failed
    install is rolled back by Windows Installer, leaving the old agent running. 'reinstall' when a service
    is missing: the support article's procedure (stop and delete the services, move Packages*/GuestAgent*
    aside into C:\\WindowsAzure\\OLD, install), undone on the VM when the install fails."""
    return "upgrade" if all(s.get("exists") for s in services) else "reinstall"


def install_steps(mode: str, services: list[dict], products: list[dict] | None = None) -> list[str]:
    """What the install script will do, in words, for the finding and check mode."""
    if mode == "upgrade":
        return ["install the agent MSI over the running agent (msiexec /i, a failed install leaves the old agent)"]
    present = [s["name"] for s in services if s.get("exists")]
    steps = []
    if present:
        steps += ["stop %s" % " and ".join(present), "delete the service%s %s" % ("s" if len(present) > 1 else "", " and ".join(present))]
    steps += [r"move C:\WindowsAzure\Packages* and GuestAgent* into C:\WindowsAzure\OLD\<time>"]
    codes = product_codes(products or [])
    if codes:
        steps += ["uninstall the registered agent (msiexec /x %s)" % ", ".join(codes)]
    steps += ["install the agent MSI (msiexec /i) and check that both services and their images are there",
              "put everything back if the install fails or leaves a service or its image missing"]
    return steps


def install_summary(result: dict) -> tuple[str, str]:
    """(status, summary) of an install script's result. ``result`` is what win_agent.install returns."""
    rc, waited = result.get("rc"), result.get("waited_seconds") or 0
    done = "; ".join(result.get("steps") or []) or "nothing was changed"
    wait_words = (" after waiting %d s for another installation (msiexec %s, %d attempts)"
                  % (waited, msi_exit(MSI_BUSY), result.get("attempts") or 0)) if waited else ""
    if result.get("refused"):
        refused = result["refused"]
        return "failed", ("a backup snapshot started (%s) before '%s': stopped there and %s. Done: %s. Run again when the "
                          "backup job has finished." % (", ".join(refused.get("processes") or []), refused.get("step"),
                                                        _left(result), done))
    if result.get("error") and rc is None and not result.get("removed") and not result.get("steps"):
        return "failed", "the agent was not installed: %s. Nothing was changed." % result["error"]
    if result.get("error"):
        code = " (msiexec %s)" % msi_exit(rc) if rc is not None and rc not in MSI_SUCCESS else ""
        return "failed", "the agent was not installed%s: %s. Done: %s; %s." % (code, result["error"], done, _left(result))
    return "fixed", "the agent MSI was installed%s (msiexec %s). Done: %s." % (wait_words, msi_exit(rc), done)


def _left(result: dict) -> str:
    """In what state a failed install left the VM, and what to do about a hung or half-deleted service."""
    if result.get("mode") == "upgrade":
        return "the agent that was there is left as it was (Windows Installer rolls back a failed install)"
    hint = ""
    if result.get("hung"):
        hint = (". %s hangs in stopping: look at C:\\WindowsAzure\\Logs\\WaAppAgent.log, end its process or restart the VM, "
                "then run again" % result["hung"])
    elif result.get("marked_for_deletion"):
        hint = (". %s is only marked for deletion: Windows removes it when the last program holding it closes (Services "
                "console, Event Viewer, a monitoring agent) or at the next restart; then run again" % " and ".join(result["marked_for_deletion"]))
    if not result.get("moved") and not any(r.get("deleted") for r in result.get("removed") or []) and not result.get("steps"):
        return "nothing had been moved or removed" + hint
    uninstalled = [u["product_code"] for u in result.get("uninstalled") or [] if u.get("rc") != MSI_UNKNOWN_PRODUCT]
    gone = ("; the agent's installed-programs entry (%s) stays removed: it was uninstalled" % ", ".join(uninstalled)) if uninstalled else ""
    if result.get("restore_errors"):
        return "putting things back failed: %s. The moved folders are in %s%s%s" % (
            "; ".join(result["restore_errors"]), result.get("old_dir"), gone, hint)
    return _put_back(result) + gone + hint


def _put_back(result: dict) -> str:
    steps = result.get("steps") or []
    moved, created = len(result.get("moved") or []), len([s for s in steps if s.startswith("re-created the service")])
    started = len([s for s in steps if s.startswith("started ")])
    return "everything was put back: %d folder%s moved back, %d service%s re-created as recorded%s" % (
        moved, "" if moved == 1 else "s", created, "" if created == 1 else "s", " and started again" if started else "")
