# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""The cause catalogue's error codes: what a failed backup job says, and the causes to work through, in order.

Data only, from Microsoft's troubleshooting articles (the German editions in the project's seeds, CAUSES.md
section 1): the VM backup codes of articles 000-003 (the newest edition, 002, wins where they differ), the
symbolic codes of "Troubleshoot backup failures on Azure virtual machines" (2023-09), and the message IDs and
codes of the MARS agent article (004). A code with no in-guest cause has an empty cause list and says in
``remedy`` what a person must do instead. Cause IDs and their docs are in findings.CAUSES; ``ROLES`` names the
role (and entry point) that checks each one.
"""

from __future__ import annotations

import re

from ansible_collections.azure_backup.remediation.plugins.module_utils.core.findings import CAUSES

_AGENT = ["WIN_AGENT", "LINUX_AGENT"]

# code -> {message (English, as the article or portal prints it), causes (in order), source, remedy (optional)}.
# Codes without a number or name of their own (004's sections on schedules, restores) are keyed by the
# article's anchor for the section.
ERROR_CODES = {
    # -- Azure VM backup (articles 000-003; CAUSES.md section 1) ------------------------------------------
    "UserErrorGuestAgentStatusUnavailable": {
        "message": "VM Agent unable to communicate with Azure Backup",
        "causes": _AGENT + ["SNAPSHOT_STATUS", "BACKUP_EXTENSION", "NETWORK"], "source": "002"},
    "GuestAgentSnapshotTaskStatusError": {
        "message": "Could not communicate with the VM agent for snapshot status",
        "causes": _AGENT + ["NETWORK"], "source": "002"},
    "ExtensionSnapshotFailedNoNetwork": {
        "message": "Snapshot operation failed due to no network connectivity on the virtual machine",
        "causes": ["SNAPSHOT_STATUS", "BACKUP_EXTENSION", "NETWORK"], "source": "002"},
    "ExtentionOperationFailedForManagedDisks": {  # sic: the code is spelt so
        "message": "VMSnapshot extension operation failed",
        "causes": ["SNAPSHOT_STATUS", "BACKUP_EXTENSION"] + _AGENT, "source": "002"},
    "BackUpOperationFailed": {
        "message": "Backup failed with an internal error",
        "causes": _AGENT + ["SNAPSHOT_STATUS", "BACKUP_EXTENSION", "RP_LOCK", "NETWORK"], "source": "002"},
    "BackUpOperationFailedV2": {
        "message": "Backup failed with an internal error",
        "causes": _AGENT + ["SNAPSHOT_STATUS", "BACKUP_EXTENSION", "RP_LOCK", "NETWORK"], "source": "002"},
    "UserErrorRpCollectionLimitReached": {
        "message": "The restore point collection max limit has reached", "causes": ["RP_LOCK"], "source": "002"},
    "UserErrorUnsupportedDiskSize": {
        "message": "Disks over 4095 GB are not supported", "causes": ["DISK_LIMITS"], "source": "002"},
    "UserErrorKeyvaultPermissionsNotConfigured": {
        "message": "Backup lacks permissions on the key vault of an encrypted VM", "causes": [], "source": "002",
        "remedy": "give the Backup Management Service access to the key vault (control plane, not in the guest)"},
    "UserErrorBackupOperationInProgress": {
        "message": "Another backup operation is in progress", "causes": [], "source": "002",
        "remedy": "wait for the running job, or cancel it in the vault (control plane)"},
    # The 000 table's messages, by the symbolic codes the 2023 article gives them.
    "ExtensionFailedVssWriterInBadState": {
        "message": "Snapshot operation failed because VSS writers were in a bad state",
        "causes": ["VSS_WRITERS", "MARS_SHADOW_STORAGE"], "source": "000; backup-azure-vms-troubleshoot (2023-09)"},
    "ExtensionConfigParsingFailure": {
        "message": "Failure in parsing the config", "causes": ["MACHINEKEYS"], "source": "000; backup-azure-vms-troubleshoot (2023-09)"},
    "ExtensionSnapshotBitlockerError": {
        "message": "The snapshot operation failed with the VSS error: the drive is locked by BitLocker",
        "causes": ["BITLOCKER"], "source": "000; backup-azure-vms-troubleshoot (2023-09)"},
    "ExtensionSnapshotFailedCOM": {
        "message": "COM+ was unable to talk to the Microsoft Distributed Transaction Coordinator",
        "causes": ["COM_MSDTC"], "source": "000; backup-azure-vms-troubleshoot (2023-09)"},
    "ExtensionInstallationFailedCOM": {
        "message": "COM+ was unable to talk to the Microsoft Distributed Transaction Coordinator",
        "causes": ["COM_MSDTC"], "source": "000; backup-azure-vms-troubleshoot (2023-09)"},
    "ExtensionInstallationFailedMDTC": {
        "message": "Extension installation failed: COM+ was unable to talk to the Microsoft Distributed Transaction Coordinator",
        "causes": ["COM_MSDTC"], "source": "000; backup-azure-vms-troubleshoot (2023-09)"},

    # -- the MARS agent (article 004) ---------------------------------------------------------------------
    "34513": {
        "message": "Invalid vault credentials provided (ID: 34513)",
        # The article's causes: expired credentials (a person downloads new ones), a proxy or firewall, antivirus;
        # its additional checks: the agent version and more than 60,000 .tmp files in C:\Windows\Temp.
        "causes": ["MARS_VERSION", "MARS_CONNECTIVITY", "MARS_ANTIVIRUS", "MARS_TEMP_FILES"], "source": "004",
        "remedy": "if the checks pass, download new vault credentials (valid for 10 days) from the Recovery Services vault"},
    "403": {
        "message": "Unable to download vault credential file (ID: 403)", "causes": [], "source": "004",
        "remedy": "download the credentials in another browser, or check the subscription and the vault's limit of 50 machines"},
    "100050": {
        "message": "The Microsoft Azure Recovery Service Agent was unable to connect to Microsoft Azure Backup (ID: 100050)",
        "causes": ["MARS_CONNECTIVITY", "MARS_ANTIVIRUS"], "source": "004"},
    "407": {
        "message": "(407) Proxy Authentication Required", "causes": ["MARS_CONNECTIVITY"], "source": "004"},
    "100110": {
        "message": "The specified vault credential file cannot be used as it is not downloaded from the vault associated with this server (ID: 100110)",
        "causes": [], "source": "004", "remedy": "register the server with the vault it belongs to"},
    "0x80070570": {
        "message": "The file or directory is corrupted and unreadable (backup completed with warnings)", "causes": [], "source": "004",
        "remedy": "run chkdsk on the source volume"},
    "0x80070002": {
        "message": "The system cannot find the file specified (backup completed with warnings)",
        "causes": ["MARS_SCRATCH", "MARS_ANTIVIRUS"], "source": "004"},
    "0x80070003": {
        "message": "The system cannot find the path specified (backup completed with warnings)",
        "causes": ["MARS_SCRATCH", "MARS_ANTIVIRUS"], "source": "004"},
    "0x80070005": {
        "message": "Access denied (backup completed with warnings)", "causes": ["MARS_ANTIVIRUS"], "source": "004"},
    "0x8007018b": {
        "message": "Access to the cloud file is denied (backup completed with warnings)", "causes": [], "source": "004",
        "remedy": "exclude OneDrive, Git or other offline files from the backup policy"},
    "0x1FC07": {
        "message": "The activation did not complete successfully: internal service error [0x1FC07]",
        "causes": ["MARS_VERSION", "MARS_SCRATCH"], "source": "004"},
    "34506": {
        "message": "The encryption passphrase stored on this computer is not correctly configured (Error 34506)",
        "causes": ["MARS_VERSION", "MARS_SCRATCH"], "source": "004"},
    "230006": {
        "message": "Resource not provisioned in service stamp (ID: 230006)", "causes": [], "source": "004",
        "remedy": "rename the server back to the name registered with the vault, or register it again under its new name"},
    "SalChecksumStoreInitializationFailed": {
        "message": "Microsoft Azure Recovery Services Agent was unable to access backup checksum stored in scratch location",
        "causes": ["MARS_ANTIVIRUS", "MARS_SCRATCH"], "source": "004", "remedy": "restart the server after the fixes"},
    "SalVhdInitializationError": {
        "message": "Microsoft Azure Recovery Services Agent was unable to access the scratch location to initialize VHD",
        "causes": ["MARS_ANTIVIRUS", "MARS_SCRATCH"], "source": "004", "remedy": "restart the server after the fixes"},
    # The "prerequisites" of the cache section the article links: free space, a valid scratch folder, shadow
    # copy storage, antivirus.
    "SalLowDiskSpace": {
        "message": "Backup failed due to insufficient storage in volume where the scratch folder is located",
        "causes": ["MARS_VERSION", "MARS_SCRATCH", "MARS_SHADOW_STORAGE", "MARS_ANTIVIRUS"], "source": "004"},
    "SalBitmapError": {
        "message": "Unable to find changes in a file",
        "causes": ["MARS_VERSION", "MARS_SCRATCH", "MARS_SHADOW_STORAGE", "MARS_ANTIVIRUS"], "source": "004"},
    "backups-dont-run-according-to-schedule": {
        "message": "Scheduled backups do not run, manual backups work",
        "causes": ["MARS_SCHEDULE", "MARS_POWERSHELL"], "source": "004"},
    "job-could-not-be-started-as-another-job-was-in-progress": {
        "message": "Job could not be started as another job was in progress", "causes": ["MARS_SCHEDULE"], "source": "004"},
    "troubleshoot-restore-problems": {
        "message": "Azure Backup cannot mount the recovery volume", "causes": ["MARS_VERSION", "MARS_RESTORE_MOUNT"], "source": "004"},
    "increase-shadow-copy-storage": {
        "message": "Backup failed: not enough shadow copy storage to protect the data source",
        "causes": ["MARS_SHADOW_STORAGE"], "source": "004"},
}

# Cause ID -> (role, entry point) that checks and fixes it; None where no role can (control plane only).
ROLES = {
    "LINUX_AGENT": ("linux_agent", "main"), "WIN_AGENT": ("win_agent", "main"), "SNAPSHOT_STATUS": ("snapshot_status", "main"),
    "BACKUP_EXTENSION": ("backup_extension", "main"), "NETWORK": ("network", "main"), "VSS_WRITERS": ("vss_writers", "main"),
    "MACHINEKEYS": ("machinekeys", "main"), "BITLOCKER": ("bitlocker", "main"), "COM_MSDTC": ("com_msdtc", "main"),
    "DISK_LIMITS": ("disk_limits", "main"), "RP_LOCK": None, "HOST": None,
    "MARS_SHADOW_STORAGE": ("shadow_storage", "main"),
}
ROLES.update({cause: ("mars_agent", cause[len("MARS_"):].lower()) for cause in CAUSES
              if cause.startswith("MARS_") and cause not in ROLES})

# A code as people copy it: "ID: 34513", "(ID: 100050)", "Error 34506", "[0x1FC07]", "0x1fc07".
_DECORATION = re.compile(r"^[\s(\[]*(?:id|error|fehler)?[\s:]*|[\s)\].]*$", re.IGNORECASE)


def normalise(code) -> str:
    """The catalogue's key for ``code`` as given, or the code stripped of decoration when the catalogue does not
    know it (the caller says so)."""
    text = _DECORATION.sub("", str(code if code is not None else ""))
    # Names and hex codes are compared without case: "0x1fc07" is 0x1FC07.
    lowered = {key.lower(): key for key in ERROR_CODES}
    return lowered.get(text.lower(), text)


def lookup(code) -> dict | None:
    """The catalogue entry of ``code`` (with its key as ``code``), or None for a code it does not know."""
    key = normalise(code)
    entry = ERROR_CODES.get(key)
    return dict(entry, code=key) if entry else None

# Cause ID -> what a report shows a person, per language: the cause's title (CAUSES.md section 2) and the remedy in one
# sentence. Languages: "en", "de"; a language without a text falls back to English.
CAUSE_TEXT = {
    "LINUX_AGENT": {"en": {"title": "The Linux agent is not running or out of date"}},
    "WIN_AGENT": {"en": {"title": "The Windows guest agent is installed but unresponsive, or missing"}},
    "SNAPSHOT_STATUS": {"en": {"title": "The snapshot status cannot be retrieved or a snapshot cannot be taken"}},
    "BACKUP_EXTENSION": {"en": {"title": "The backup extension fails to update or load"}},
    "NETWORK": {"en": {"title": "The VM cannot reach Azure"}},
    "VSS_WRITERS": {"en": {"title": "VSS writers in a bad state"}},
    "MACHINEKEYS": {"en": {"title": "Configuration parsing failure (MachineKeys permissions)"}},
    "BITLOCKER": {"en": {"title": "A volume locked by BitLocker fails VSS"}},
    "COM_MSDTC": {"en": {"title": "COM+ System Application or MSDTC not running"}},
    "DISK_LIMITS": {"en": {"title": "Too many data disks, or a disk over 4095 GB"}},
    "RP_LOCK": {"en": {"title": "A resource group lock blocks the restore point clean-up"}},
    "MARS_SERVICE": {"en": {"title": "The MARS agent's engine service is not running"}},
    "MARS_VERSION": {"en": {"title": "The MARS agent is not current"}},
    "MARS_CONNECTIVITY": {"en": {"title": "The MARS agent cannot reach Azure Backup"}},
    "MARS_SCRATCH": {"en": {"title": "The MARS cache (scratch) folder is missing, full or misconfigured"}},
    "MARS_SHADOW_STORAGE": {"en": {"title": "Not enough shadow copy storage"}},
    "MARS_TEMP_FILES": {"en": {"title": "Too many temporary files in C:\\Windows\\Temp"}},
    "MARS_SCHEDULE": {"en": {"title": "The MARS backup schedule's tasks are broken"}},
    "MARS_POWERSHELL": {"en": {"title": "PowerShell cannot load the MARS module"}},
    "MARS_ANTIVIRUS": {"en": {"title": "Antivirus exclusions for the MARS agent are missing"}},
    "MARS_PREREQS": {"en": {"title": "MARS prerequisites (.NET, clock) not met"}},
    "MARS_RESTORE_MOUNT": {"en": {"title": "The recovery volume cannot be mounted (iSCSI initiator)"}},
    "HOST": {"en": {"title": "The host cannot be checked"}},
}


def cause_text(cause: str, language: str = "en") -> dict:
    """{title, remedy, doc} of a cause in ``language`` ("en" or "de"), English where that language has none."""
    texts = CAUSE_TEXT.get(cause, {})
    text = dict(texts.get("en", {"title": cause}), **texts.get(language, {}))
    text.setdefault("remedy", "")
    text["doc"] = CAUSES.get(cause, {}).get("doc", "")
    return text
