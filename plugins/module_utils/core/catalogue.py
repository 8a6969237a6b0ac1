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

import difflib
import re
import unicodedata

from ansible_collections.azure_backup.remediation.plugins.module_utils.core.findings import CAUSES

_AGENT = ["WIN_AGENT", "LINUX_AGENT"]
_VMS = "backup-azure-vms-troubleshoot (2023-09)"
_AGENT_2022 = "backup-azure-troubleshoot-vm-backup-fails-snapshot-timeout (2022-05)"
# BackUpOperationFailed as 003 and the 2022 article word it (the portal adds "Please retry ..." after a dash).
_INTERNAL_ALSO = ["Backup fails, with an internal error", "Backup failed with an internal error - Please retry the operation in a few minutes",
                  "Interner Fehler bei der Sicherung – versuchen Sie, den Vorgang in einigen Minuten zu wiederholen"]
_VCREDIST = ("on Windows, if iaasvmprovider.dll is missing or corrupt, reinstall the Visual C++ 2013 x64 Redistributable from "
             "C:\\Packages\\Plugins\\Microsoft.Azure.RecoveryServices.VMSnapshot\\<version>, then retry the backup")
_VCREDIST_DE = ("unter Windows: fehlt iaasvmprovider.dll oder ist sie beschädigt, installieren Sie Visual C++ 2013 Redistributable (x64) "
                "aus C:\\Packages\\Plugins\\Microsoft.Azure.RecoveryServices.VMSnapshot\\<Version> neu, dann wiederholen Sie die Sicherung")
_RECREATE = "re-create the VM with the same name and resource group, or stop protecting it (with or without its backup data)"
_RECREATE_DE = ("erstellen Sie die VM mit demselben Namen und in derselben Ressourcengruppe neu, oder beenden Sie ihren Schutz (mit oder "
                "ohne Löschen der Sicherungsdaten)")

# code -> {message: English, as the article or portal prints it; message_de: German, as the seed prints it;
#          also: further texts of the code (an older edition's wording, the portal's); causes: in order;
#          source; remedy: what a person does besides (or, with no causes, instead of) the causes; remedy_de: the
#          same in German; where: where that step happens, "azure" (portal, vault, policy) or "guest" (by hand in
#          the VM); todo: True when the remedy is the fix itself whatever the checks say (else it is what to do if
#          they pass); aliases: other spellings of the code that Microsoft prints;
#          numbers: the numeric codes the job API returns for it; platforms: where the code can occur,
#          when the causes alone do not say (a MARS code is Windows only)}.
# Codes without a name of their own are keyed by their English message (articles 001, 003) or, in article 004,
# by the anchor of their section.
ERROR_CODES = {
    # -- Azure VM backup (articles 000-003, CAUSES.md section 1; 2022/2023 English articles) -----------------
    # Where the 2022 English article orders a code's causes differently from the German 2019 edition (002),
    # its order wins; causes 002 named that 2022 dropped stay, at the end (an in-guest cause, cheap to check).
    "UserErrorGuestAgentStatusUnavailable": {
        "message": "VM Agent unable to communicate with Azure Backup",
        "message_de": "VM-Agent kann nicht mit Azure Backup kommunizieren",
        # 2022 lists no causes for it, only the portal's agent status: 002's list and order stand.
        "causes": _AGENT + ["SNAPSHOT_STATUS", "BACKUP_EXTENSION", "NETWORK"], "source": "002; " + _AGENT_2022},
    "GuestAgentSnapshotTaskStatusError": {
        "message": "Could not communicate with the VM agent for snapshot status",
        "message_de": "Keine Kommunikation mit dem VM-Agent zum Abrufen des Momentaufnahmestatus möglich",
        # 2022: agents, snapshot status, the Linux agent's configuration (LINUX_AGENT); 002's NETWORK kept last.
        "causes": _AGENT + ["SNAPSHOT_STATUS", "NETWORK"], "source": _AGENT_2022 + "; 002 adds NETWORK",
        # 2022 cause 4 (Provisioning.Agent) is not checked by LINUX_AGENT: it is in the remedy.
        "remedy": "if AppLocker is used, allow IaaSBcdrExtension.exe; on Linux, set Provisioning.Agent=auto in /etc/waagent.conf "
                  "(2022 article)",
        "remedy_de": "wenn AppLocker verwendet wird, lassen Sie IaaSBcdrExtension.exe zu; unter Linux setzen Sie "
                     "Provisioning.Agent=auto in /etc/waagent.conf (Artikel von 2022)", "where": "guest"},
    "ExtensionSnapshotFailedNoNetwork": {
        "message": "Snapshot operation failed due to no network connectivity on the virtual machine",
        "message_de": "Fehler beim Momentaufnahmevorgang aufgrund fehlender Netzwerkkonnektivität auf dem virtuellen Computer",
        "causes": ["SNAPSHOT_STATUS", "BACKUP_EXTENSION", "NETWORK"], "source": "002 (2022 keeps SNAPSHOT_STATUS first)"},
    "ExtentionOperationFailedForManagedDisks": {  # sic: the code is spelt so (002); the 2022 article spells it right
        "message": "VMSnapshot extension operation failed", "aliases": ["ExtensionOperationFailedForManagedDisks"],
        "message_de": "Fehler beim Vorgang der VMSnapshot-Erweiterung",
        # 2022: snapshot status, then the agents; 002's BACKUP_EXTENSION (second there) moves last.
        "causes": ["SNAPSHOT_STATUS"] + _AGENT + ["BACKUP_EXTENSION"], "source": _AGENT_2022 + "; 002 adds BACKUP_EXTENSION"},
    "BackUpOperationFailed": {
        "message": "Backup failed with an internal error",
        "message_de": "Interner Fehler bei der Sicherung – versuchen Sie, den Vorgang nach einigen Minuten zu wiederholen.",
        "also": _INTERNAL_ALSO,
        # 2022: agents, snapshot status, the lock, then iaasvmprovider (BACKUP_EXTENSION); 002's NETWORK kept last.
        "causes": _AGENT + ["SNAPSHOT_STATUS", "RP_LOCK", "BACKUP_EXTENSION", "NETWORK"], "source": _AGENT_2022 + "; 002 adds NETWORK",
        # 2022 cause 5: BACKUP_EXTENSION checks the service's start type only, not the provider's files.
        "remedy": _VCREDIST, "remedy_de": _VCREDIST_DE, "where": "guest"},
    "BackUpOperationFailedV2": {
        "message": "Backup failed with an internal error",
        "message_de": "Interner Fehler bei der Sicherung – versuchen Sie, den Vorgang nach einigen Minuten zu wiederholen.",
        "also": _INTERNAL_ALSO,
        "causes": _AGENT + ["SNAPSHOT_STATUS", "RP_LOCK", "BACKUP_EXTENSION", "NETWORK"], "source": _AGENT_2022 + "; 002 adds NETWORK",
        "remedy": _VCREDIST, "remedy_de": _VCREDIST_DE, "where": "guest"},
    "Unable to perform the operation as the VM Agent is not responsive": {
        "message": "Unable to perform the operation as the VM Agent is not responsive",
        "message_de": "Der Vorgang kann nicht ausgeführt werden, da der VM-Agent nicht reagiert",
        "causes": _AGENT + ["NETWORK"], "source": "003 (no code)"},
    "Snapshot VM sub task timed out": {
        "message": "Could not communicate with the VM agent for snapshot status. Snapshot VM sub task timed out.",
        "message_de": "Keine Kommunikation mit dem VM-Agent zum Abrufen des Momentaufnahmestatus möglich. "
                      "Zeitüberschreitung bei Momentaufnahme-Teilvorgang für VM.",
        "also": ["Snapshot VM sub task timed out", "Zeitüberschreitung bei Momentaufnahme-Teilvorgang für VM"],
        "causes": ["NETWORK", "LINUX_AGENT", "BACKUP_EXTENSION", "SNAPSHOT_STATUS"], "source": "001 (no code)"},
    "UserErrorVmProvisioningStateFailed": {
        "message": "The VM is in failed provisioning state",
        # The agent must process extensions; a failed VMSnapshot extension is removed in Azure.
        "causes": _AGENT + ["BACKUP_EXTENSION"], "source": _AGENT_2022,
        "remedy": "fix the VM's failed extensions in the portal; remove a failed VMSnapshot extension, then run an on-demand backup",
        "remedy_de": "beheben Sie die fehlerhaften Erweiterungen der VM im Portal; entfernen Sie eine fehlerhafte VMSnapshot-Erweiterung, "
                     "dann starten Sie eine bedarfsgesteuerte Sicherung", "where": "azure", "todo": True},
    "UserErrorRpCollectionLimitReached": {
        "message": "The restore point collection max limit has reached",
        "message_de": "Der maximale Grenzwert für die Sammlung von Wiederherstellungspunkten wurde erreicht.",
        "causes": ["RP_LOCK"], "source": "002; " + _AGENT_2022},
    "UserErrorUnsupportedDiskSize": {
        "message": "Currently Azure Backup does not support disk sizes greater than 4095GB",
        "message_de": "Azure Backup unterstützt derzeit keine Datenträgergrößen von über 4.095 GB",
        "also": ["Disks over 4095 GB are not supported", "The configured disk size(s) is currently not supported by Azure Backup."],
        "causes": ["DISK_LIMITS"], "source": "002"},
    "UserErrorKeyvaultPermissionsNotConfigured": {
        "message": "Backup doesn't have sufficient permissions to the key vault for backup of encrypted VMs",
        "message_de": "Backup verfügt nicht über ausreichende Berechtigungen für den Schlüsseltresor zur Sicherung verschlüsselter "
                      "virtueller Computer.",
        "aliases": ["UserErrorKeyvaultPermissionNotConfigured"], "causes": [], "source": "002; " + _AGENT_2022,
        "remedy": "give the Recovery Services vault access to the key vault (access policy or role for Backup Management Service, "
                  "in the portal, PowerShell or CLI), then retry the backup",
        "remedy_de": "gewähren Sie dem Recovery Services-Tresor Zugriff auf den Schlüsseltresor (Zugriffsrichtlinie oder Rolle für "
                     "Backup Management Service, im Portal, mit PowerShell oder der CLI), dann wiederholen Sie die Sicherung", "where": "azure"},
    "UserErrorBackupOperationInProgress": {
        "message": "Unable to initiate backup as another backup operation is currently in progress",
        "message_de": "Sicherung kann nicht initiiert werden, da derzeit ein anderer Sicherungsvorgang ausgeführt wird.",
        "causes": [], "source": "002",
        "remedy": "wait for the running backup job or cancel it in the vault (also in an old vault after moving the VM), then retry",
        "remedy_de": "warten Sie auf den laufenden Sicherungsauftrag oder brechen Sie ihn im Tresor ab (auch in einem alten Tresor, "
                     "wenn die VM verschoben wurde), dann wiederholen Sie den Vorgang", "where": "azure"},
    # The 2023 article's codes; the 000 table printed their messages without a code.
    "ExtensionFailedVssWriterInBadState": {
        "message": "Snapshot operation failed because VSS writers were in a bad state",
        "also": ["Snapshot operation failed due to VSS Writers in bad state",
                 # the current de-DE article (its start as the portal prints it varies; the rest is found inside a paste)
                 "aufgrund eines fehlerhaften Zustands von VSS Writer-Instanzen"],
        "message_de": "Fehler beim Momentaufnahmevorgang aufgrund eines ungültigen Status der VSS-Writer",
        # The 2023 article's step 1 is free disk space, RAM/page file and CPU (SNAPSHOT_STATUS: CPU and memory;
        # MARS_SHADOW_STORAGE: the space VSS needs); step 2 the writers.
        "causes": ["SNAPSHOT_STATUS", "MARS_SHADOW_STORAGE", "VSS_WRITERS"], "source": "000; " + _VMS,
        "remedy": "if the writers keep failing, set HKLM\\SOFTWARE\\Microsoft\\BcdrAgentPersistentKeys SnapshotWithoutThreads=True, "
                  "and look for IOPS throttling",
        "remedy_de": "wenn die Writer weiter scheitern, setzen Sie in HKLM\\SOFTWARE\\Microsoft\\BcdrAgentPersistentKeys "
                     "SnapshotWithoutThreads=True und prüfen Sie, ob IOPS gedrosselt werden", "where": "guest"},
    "ExtensionFailedVssServiceInBadState": {
        "message": "Snapshot operation failed due to VSS (Volume Shadow Copy) service in bad state",
        "causes": ["VSS_WRITERS"], "source": _VMS,
        "remedy": "restart the Volume Shadow Copy service (net stop VSS, net start VSS); if it persists, restart the VM at a "
                  "scheduled downtime",
        "remedy_de": "starten Sie den Dienst Volumeschattenkopie neu (net stop VSS, net start VSS); besteht der Fehler weiter, starten "
                     "Sie die VM in einem geplanten Wartungsfenster neu", "where": "guest", "todo": True},
    "ExtensionConfigParsingFailure": {
        "message": "Failure in parsing the config for the backup extension",
        "also": ["Snapshot operation failed due to a parsing failure of the configuration"],
        "message_de": "Fehler beim Momentaufnahmevorgang aufgrund eines Fehlers beim Analysieren der Konfiguration",
        "causes": ["MACHINEKEYS"], "source": "000; " + _VMS},
    "ExtensionSnapshotBitlockerError": {
        "message": "The snapshot operation failed with the Volume Shadow Copy Service (VSS) operation error This drive is locked by "
                   "BitLocker Drive Encryption. You must unlock this drive from the Control Panel.",
        "message_de": "Der Momentaufnahmevorgang ist mit folgendem VSS-Vorgangsfehler fehlgeschlagen: \"Dieses Laufwerk ist durch die "
                      "BitLocker-Laufwerkverschlüsselung gesperrt.\"",
        "causes": ["BITLOCKER"], "source": "000; " + _VMS},
    "ExtensionSnapshotFailedCOM": {
        "message": "Snapshot operation failed due to COM+ error",
        "message_de": "Fehler bei Momentaufnahmevorgang aufgrund eines COM+-Fehlers",
        "causes": ["COM_MSDTC"], "source": _VMS + "; de-DE"},
    "ExtensionInstallationFailedCOM": {
        "message": "Extension installation/operation failed due to a COM+ error",
        "causes": ["COM_MSDTC"], "source": _VMS},
    "ExtensionInstallationFailedMDTC": {
        "message": "Extension installation failed with the error COM+ was unable to talk to the Microsoft Distributed Transaction "
                   "Coordinator",
        "message_de": "Die Erweiterungsinstallation ist mit dem Fehler \"COM+ konnte keine Daten mit dem Microsoft Distributed "
                      "Transaction Coordinator austauschen\" fehlgeschlagen.",
        "causes": ["COM_MSDTC"], "source": "000; " + _VMS},
    "ExtensionFailedTimeoutVMNetworkUnresponsive": {
        "message": "Snapshot operation failed due to inadequate VM resources",
        # Linux VMs hit it too; the registry step is Windows only.
        "causes": ["SNAPSHOT_STATUS"], "source": _VMS,
        "remedy": "back up at a quieter time, or use a larger VM size; on Windows, take snapshots through the host: "
                  "HKLM\\SOFTWARE\\Microsoft\\BcdrAgentPersistentKeys SnapshotMethod=firstHostThenGuest and "
                  "CalculateSnapshotTimeFromHost=True",
        "remedy_de": "sichern Sie zu einer ruhigeren Zeit oder verwenden Sie eine größere VM-Größe; unter Windows erstellen Sie "
                     "Momentaufnahmen über den Host: HKLM\\SOFTWARE\\Microsoft\\BcdrAgentPersistentKeys SnapshotMethod="
                     "firstHostThenGuest und CalculateSnapshotTimeFromHost=True", "where": "guest"},
    "ExtensionStuckInDeletionState": {
        "message": "Extension state is not supportive to the backup operation",
        "causes": _AGENT, "source": _VMS,
        "remedy": "uninstall the backup extension (VMSnapshot or VMSnapshotLinux) in the portal; the next backup installs it again",
        "remedy_de": "deinstallieren Sie die Sicherungserweiterung (VMSnapshot oder VMSnapshotLinux) im Portal; die nächste "
                     "Sicherung installiert sie neu", "where": "azure", "todo": True},
    "UserErrorVmNotInDesirableState": {
        "message": "VM is not in a state that allows backups",
        "also": ["The VM isn't in a state that allows backups"],
        "aliases": ["VmNotInDesirableState"], "causes": _AGENT + ["BACKUP_EXTENSION"], "source": _VMS,
        "remedy": "wait while the VM moves between Running and Shut down; on SELinux, exclude /var/lib/waagent from the policy",
        "remedy_de": "warten Sie, solange die VM zwischen Ausgeführt und Heruntergefahren wechselt; unter SELinux nehmen Sie "
                     "/var/lib/waagent von der Richtlinie aus", "where": "guest"},
    "UserErrorFsFreezeFailed": {
        "message": "Failed to freeze one or more mount-points of the VM to take a file-system consistent snapshot",
        "also": ["Fehler beim Einfrieren mindestens eines Bereitstellungspunkts"],  # the de-DE article's start
        # No cause of ours unmounts or checks file systems: BACKUP_EXTENSION reports the extension and its
        # vmbackup.conf (MountsToSkip); the rest is the remedy.
        "causes": ["BACKUP_EXTENSION"], "source": _VMS, "platforms": ["linux"],
        "remedy": "unmount the devices whose file system state was not clean, run fsck, mount them again; or list a mount point "
                  "that cannot be unmounted in MountsToSkip of vmbackup.conf; remove duplicate mount entries",
        "remedy_de": "hängen Sie die Geräte aus, deren Dateisystem nicht sauber ist, führen Sie fsck aus und hängen Sie sie wieder ein; "
                     "oder tragen Sie einen Bereitstellungspunkt, der nicht ausgehängt werden kann, in MountsToSkip von vmbackup.conf "
                     "ein; entfernen Sie doppelte Einträge für Bereitstellungspunkte", "where": "guest", "todo": True},
    "CopyingVHDsFromBackUpVaultTakingLongTime": {
        "message": "Copying backed up data from vault timed out",
        "also": ["Copying VHDs from the backup vault timed out"],
        "message_de": "Zeitüberschreitung beim Kopieren von VHDs aus dem Sicherungstresor",
        "causes": ["DISK_LIMITS"], "source": "000; " + _VMS},
    "AzureVmOffline": {
        "message": "Failed to install Microsoft Recovery Services extension as virtual machine is not running",
        # 000's row (the agent as a prerequisite) prints another German text for it: kept as a further wording.
        "also": ["The VM agent is a prerequisite for the Azure Recovery Services Extension",
                 "Fehler bei der Installation der Azure Recovery Services-Erweiterung für das ausgewählte Element."],
        "message_de": "Fehler beim Installieren der Microsoft Recovery Services-Erweiterung, da der virtuelle Computer nicht ausgeführt wird",
        "numbers": ["380008"], "causes": _AGENT, "source": "000; " + _VMS + "; de-DE",
        # A stopped VM cannot be reached by the playbook either: its host fails to connect.
        "remedy": "start the VM: it must be running for the extension to install, then retry the backup",
        "remedy_de": "starten Sie die VM: sie muss ausgeführt werden, damit die Erweiterung installiert werden kann, dann wiederholen "
                     "Sie die Sicherung", "where": "azure", "todo": True},
    "The VM agent is not present on the virtual machine": {
        "message": "The VM agent is not present on the virtual machine",
        "also": ["Virtual machine agent is not present on the virtual machine"],
        "message_de": "Der virtuelle Computer-Agent ist auf dem virtuellen Computer nicht vorhanden.",
        "causes": _AGENT, "source": "000 (no code)"},
    "Recovery Services extension operation failed": {
        "message": "Recovery Services extension operation failed. Please make sure that latest virtual machine agent is present "
                   "on the virtual machine and agent service is running.",
        "message_de": "Fehler beim Vorgang für die Recovery Services-Erweiterung.",
        "causes": _AGENT, "source": "000 (no code)"},
    "ResourceNotFound": {
        "message": "Could not perform the operation as VM no longer exists",
        "message_de": "Der Vorgang konnte nicht ausgeführt werden, da der virtuelle Computer nicht mehr vorhanden ist.",
        "numbers": ["320001"], "causes": [], "source": "000; " + _VMS,
        "remedy": _RECREATE, "remedy_de": _RECREATE_DE, "where": "azure"},
    "BCMV2VMNotFound": {
        "message": "The virtual machine doesn't exist",
        "message_de": "Der virtuelle Computer ist nicht vorhanden.", "also": ["Der virtuelle Azure-Computer wurde nicht gefunden."],
        "numbers": ["400094"], "causes": [], "source": "000; " + _VMS,
        "remedy": _RECREATE, "remedy_de": _RECREATE_DE, "where": "azure"},
    # Section 6 of CAUSES.md: codes of the 2023 article whose cause no role checks; the remedy says what to do.
    "VMRestorePointInternalError": {
        "message": "Antivirus configured in the VM is restricting the execution of backup extension",
        "causes": [], "source": _VMS, "platforms": ["windows"],
        "remedy": "exclude C:\\Packages\\Plugins\\Microsoft.Azure.RecoveryServices.VMSnapshot, "
                  "C:\\WindowsAzure\\Logs\\Plugins\\Microsoft.Azure.RecoveryServices.VMSnapshot and IaaSBcdrExtension.exe from "
                  "the antivirus, then retry the backup",
        "remedy_de": "nehmen Sie C:\\Packages\\Plugins\\Microsoft.Azure.RecoveryServices.VMSnapshot, "
                     "C:\\WindowsAzure\\Logs\\Plugins\\Microsoft.Azure.RecoveryServices.VMSnapshot und IaaSBcdrExtension.exe vom "
                     "Virenschutz aus, dann wiederholen Sie die Sicherung", "where": "guest"},
    "ExtensionSnapshotFailedNoSecureNetwork": {
        "message": "The snapshot operation failed because of failure to create a secure network communication channel",
        "causes": [], "source": _VMS, "platforms": ["windows"],
        "remedy": "set SchUseStrongCrypto=1 (DWORD) in HKLM\\SOFTWARE\\Microsoft\\.NETFramework\\v4.0.30319 and "
                  "HKLM\\SOFTWARE\\Wow6432Node\\Microsoft\\.NETFramework\\v4.0.30319, then retry the backup",
        "remedy_de": "setzen Sie SchUseStrongCrypto=1 (DWORD) in HKLM\\SOFTWARE\\Microsoft\\.NETFramework\\v4.0.30319 und "
                     "HKLM\\SOFTWARE\\Wow6432Node\\Microsoft\\.NETFramework\\v4.0.30319, dann wiederholen Sie die Sicherung",
        "where": "guest"},
    "ExtensionVCRedistInstallationFailure": {
        "message": "The snapshot operation failed because of failure to install Visual C++ Redistributable for Visual Studio 2012",
        "causes": [], "source": _VMS, "platforms": ["windows"],
        "remedy": "set Start=3 (manual) for HKLM\\SYSTEM\\CurrentControlSet\\Services\\msiserver, install the Visual C++ "
                  "Redistributable (vcredist) from C:\\Packages\\Plugins\\Microsoft.Azure.RecoveryServices.VMSnapshot\\<version>, "
                  "then retry the backup",
        "remedy_de": "setzen Sie Start=3 (manuell) für HKLM\\SYSTEM\\CurrentControlSet\\Services\\msiserver, installieren Sie "
                     "Visual C++ Redistributable (vcredist) aus C:\\Packages\\Plugins\\Microsoft.Azure.RecoveryServices.VMSnapshot"
                     "\\<Version>, dann wiederholen Sie die Sicherung", "where": "guest"},
    "UserErrorUnableToOpenMount": {
        "message": "Backup failed because the backup extension was unable to open the mount points of the VM",
        "causes": [], "source": _VMS, "platforms": ["linux"],
        "remedy": "make every mount point of the VM accessible to the backup extension (no stale or hung mounts), then retry the backup",
        "remedy_de": "machen Sie jeden Bereitstellungspunkt der VM für die Sicherungserweiterung zugänglich (keine veralteten oder "
                     "hängenden Einbindungen), dann wiederholen Sie die Sicherung", "where": "guest"},
    "ExtensionFailedSnapshotLimitReachedError": {
        "message": "Snapshot operation failed as snapshot limit is exceeded for some of the disks attached",
        "causes": [], "source": _VMS,
        "remedy": "delete the disk blob snapshots that are not needed; on Linux, set isanysnapshotfailed to False in "
                  "/etc/azure/vmbackup.conf, then retry the backup",
        "remedy_de": "löschen Sie nicht benötigte Momentaufnahmen der Datenträger-Blobs; unter Linux setzen Sie isanysnapshotfailed "
                     "in /etc/azure/vmbackup.conf auf False, dann wiederholen Sie die Sicherung", "where": "guest"},
    "UserErrorRequestDisallowedByPolicy": {
        "message": "An invalid policy is configured on the VM which is preventing Snapshot operation",
        "causes": [], "source": _VMS,
        "remedy": "change the Azure Policy that denies the snapshot (often a tag policy), or exempt the restore point resource group "
                  "AzureBackupRG_<geo>_<n> from it, then retry the backup",
        "remedy_de": "ändern Sie die Azure Policy, die die Momentaufnahme verweigert (oft eine Tag-Richtlinie), oder nehmen Sie die "
                     "Ressourcengruppe AzureBackupRG_<Geo>_<Nummer> davon aus, dann wiederholen Sie die Sicherung", "where": "azure"},
    "UserErrorCrpReportedUserError": {
        "message": "Backup failed due to an error. For details, see Job Error Message Details",
        "causes": [], "source": _VMS,
        "remedy": "open the failed job in the vault (Backup jobs, Failures) and give the underlying error code it shows",
        "remedy_de": "öffnen Sie den fehlgeschlagenen Auftrag im Tresor (Sicherungsaufträge, Fehler) und geben Sie den dort "
                     "genannten zugrunde liegenden Fehlercode an", "where": "azure"},
    "UserErrorBcmDatasourceNotPresent": {
        "message": "Backup failed: This virtual machine is not (actively) protected by Azure Backup",
        "causes": [], "source": _VMS,
        "remedy": "check in the vault that the VM is protected (and was not moved or re-created), and configure its backup again",
        "remedy_de": "prüfen Sie im Tresor, ob die VM geschützt ist (und nicht verschoben oder neu erstellt wurde), und konfigurieren "
                     "Sie ihre Sicherung erneut", "where": "azure"},

    # -- the MARS agent (article 004) ---------------------------------------------------------------------
    "34513": {
        "message": "Invalid vault credentials provided. The file is either corrupted or does not have the latest credentials "
                   "associated with recovery service. (ID: 34513)",
        "message_de": "Es wurden ungültige Tresoranmeldeinformationen angegeben. Die Datei ist entweder beschädigt oder enthält nicht "
                      "die aktuellen Anmeldeinformationen für den Wiederherstellungsdienst. (ID: 34513)",
        # The article's causes: expired credentials (a person downloads new ones), a proxy or firewall, antivirus;
        # its additional checks: the agent version and more than 60,000 .tmp files in C:\Windows\Temp.
        "causes": ["MARS_VERSION", "MARS_CONNECTIVITY", "MARS_ANTIVIRUS", "MARS_TEMP_FILES"], "source": "004",
        # Conditional by its finding ("if its checks pass"): expired credentials are the article's first cause.
        "remedy": "download new vault credentials (valid for 10 days) from the Recovery Services vault",
        "remedy_de": "laden Sie neue Tresoranmeldeinformationen (10 Tage gültig) aus dem Recovery Services-Tresor herunter",
        "where": "azure"},
    "403": {
        "message": "Unable to download vault credential file (ID: 403)",
        "message_de": "Fehler beim Herunterladen der Datei mit Tresoranmeldeinformationen. (ID: 403)",
        "causes": [], "source": "004", "platforms": ["windows"],
        # Downloaded in a browser on the server being registered: a step by hand, not in the vault's settings.
        "remedy": "download the credentials in another browser, or check the subscription and the vault's limit of 50 machines",
        "remedy_de": "laden Sie die Anmeldeinformationen in einem anderen Browser herunter, oder prüfen Sie das Abonnement und die "
                     "Grenze des Tresors von 50 Computern", "where": "guest"},
    "100050": {
        "message": "The Microsoft Azure Recovery Service Agent was unable to connect to Microsoft Azure Backup (ID: 100050)",
        "message_de": "Es konnte keine Verbindung zwischen dem Microsoft Azure Recovery Services-Agent und Microsoft Azure Backup "
                      "hergestellt werden. (ID: 100050)",
        "causes": ["MARS_CONNECTIVITY", "MARS_ANTIVIRUS"], "source": "004"},
    "407": {
        "message": "(407) Proxy Authentication Required", "message_de": "(407) Proxyauthentifizierung erforderlich.",
        "causes": ["MARS_CONNECTIVITY"], "source": "004"},
    "100110": {
        "message": "The specified vault credential file cannot be used as it is not downloaded from the vault associated with this server (ID: 100110)",
        "message_de": "Die angegebene Datei mit Tresoranmeldeinformationen kann nicht verwendet werden, weil sie nicht aus dem Tresor "
                      "heruntergeladen wird, der diesem Server zugeordnet ist. (ID: 100110)",
        "causes": [], "source": "004", "platforms": ["windows"], "remedy": "register the server with the vault it belongs to",
        "remedy_de": "registrieren Sie den Server bei dem Tresor, zu dem er gehört", "where": "guest"},
    "0x80070570": {
        "message": "The file or directory is corrupted and unreadable",
        "message_de": "Die Datei oder das Verzeichnis ist beschädigt und nicht lesbar.",
        "causes": [], "source": "004", "platforms": ["windows"], "remedy": "run chkdsk on the source volume",
        "remedy_de": "führen Sie chkdsk auf dem Quellvolume aus", "where": "guest"},
    "0x80070002": {
        "message": "The system cannot find the file specified",
        "message_de": "Das System kann die angegebene Datei nicht finden.",
        "causes": ["MARS_SCRATCH", "MARS_ANTIVIRUS"], "source": "004"},
    "0x80070003": {
        "message": "The system cannot find the path specified",
        "causes": ["MARS_SCRATCH", "MARS_ANTIVIRUS"], "source": "004"},
    "0x80070005": {
        "message": "Access denied", "message_de": "Der Zugriff wird verweigert.",
        "causes": ["MARS_ANTIVIRUS"], "source": "004"},
    "0x8007018b": {
        "message": "Access to the cloud file is denied", "message_de": "Der Zugriff auf die Clouddatei wird verweigert.",
        "causes": [], "source": "004", "platforms": ["windows"],
        "remedy": "exclude OneDrive, Git or other offline files from the backup policy",
        "remedy_de": "schließen Sie OneDrive-, Git- oder andere Offlinedateien von der Sicherungsrichtlinie aus", "where": "guest"},
    "0x1FC07": {
        "message": "The activation did not complete successfully. The current operation failed due to an internal service error "
                   "[0x1FC07]",
        "message_de": "Die Aktivierung wurde nicht erfolgreich abgeschlossen. Beim aktuellen Vorgang ist aufgrund eines internen "
                      "Dienstfehlers [0x1FC07] ein Fehler aufgetreten.",
        "causes": ["MARS_VERSION", "MARS_SCRATCH"], "source": "004"},
    "34506": {
        "message": "Error 34506. The encryption passphrase stored on this computer is not correctly configured",
        "message_de": "Fehler 34506. Die auf diesem Computer gespeicherte Verschlüsselungspassphrase ist nicht richtig konfiguriert.",
        "causes": ["MARS_VERSION", "MARS_SCRATCH"], "source": "004"},
    "230006": {
        "message": "The current operation failed due to an internal service error \"Resource not provisioned in service stamp\" (ID: 230006)",
        "message_de": "Fehler beim aktuellen Vorgang aufgrund eines internen Dienstfehlers: \"Ressource nicht im Dienststempel "
                      "angegeben\". Wiederholen Sie den Vorgang nach einiger Zeit. (ID: 230006)",
        "causes": [], "source": "004", "platforms": ["windows"],
        "remedy": "rename the server back to the name registered with the vault, or register it again under its new name",
        "remedy_de": "benennen Sie den Server wieder so, wie er beim Tresor registriert ist, oder registrieren Sie ihn unter dem neuen "
                     "Namen erneut", "where": "guest"},
    "SalChecksumStoreInitializationFailed": {
        "message": "Microsoft Azure Recovery Services Agent was unable to access backup checksum stored in scratch location",
        "message_de": "Der Microsoft Azure Recovery Services-Agent konnte nicht auf die im Ablageordner gespeicherte Sicherungsprüfsumme "
                      "zugreifen.",
        "causes": ["MARS_ANTIVIRUS", "MARS_SCRATCH"], "source": "004", "remedy": "restart the server after the fixes",
        "remedy_de": "starten Sie den Server nach den Korrekturen neu", "where": "guest", "todo": True},
    "SalVhdInitializationError": {
        "message": "Microsoft Azure Recovery Services Agent was unable to access the scratch location to initialize VHD",
        "message_de": "Der Microsoft Azure Recovery Services-Agent konnte nicht auf den Ablageordner zugreifen, um die virtuelle "
                      "Festplatte zu initialisieren.",
        "causes": ["MARS_ANTIVIRUS", "MARS_SCRATCH"], "source": "004", "remedy": "restart the server after the fixes",
        "remedy_de": "starten Sie den Server nach den Korrekturen neu", "where": "guest", "todo": True},
    # The "prerequisites" of the cache section the article links: free space, a valid scratch folder, shadow
    # copy storage, antivirus.
    "SalLowDiskSpace": {
        "message": "Backup failed due to insufficient storage in volume where the scratch folder is located",
        "message_de": "Die Sicherung ist aufgrund von unzureichendem Speicher im Volume des Ablageordners fehlgeschlagen.",
        "causes": ["MARS_VERSION", "MARS_SCRATCH", "MARS_SHADOW_STORAGE", "MARS_ANTIVIRUS"], "source": "004"},
    "SalBitmapError": {
        "message": "Unable to find changes in a file. This could be due to various reasons. Please retry the operation",
        "message_de": "Es wurden keine Änderungen in einer Datei gefunden. Dies kann verschiedene Ursachen haben. Wiederholen Sie den "
                      "Vorgang",
        "causes": ["MARS_VERSION", "MARS_SCRATCH", "MARS_SHADOW_STORAGE", "MARS_ANTIVIRUS"], "source": "004"},
    "backups-dont-run-according-to-schedule": {
        # The article prints no message: its sentence and its heading.
        "message": "If scheduled backups don't get triggered automatically, but manual backups work without issues",
        "also": ["Backups don't run according to schedule"],
        "message_de": "Sicherungen werden nicht nach Zeitplan ausgeführt",
        "causes": ["MARS_SCHEDULE", "MARS_POWERSHELL"], "source": "004"},
    "job-could-not-be-started-as-another-job-was-in-progress": {
        "message": "Job could not be started as another job was in progress",
        "message_de": "Auftrag konnte nicht gestartet werden, da ein anderer Auftrag in Bearbeitung ist",
        "causes": ["MARS_SCHEDULE"], "source": "004"},
    "troubleshoot-restore-problems": {
        "message": "Azure Backup might not successfully mount the recovery volume, even after several minutes",
        "also": ["Troubleshoot restore problems"],
        "causes": ["MARS_VERSION", "MARS_RESTORE_MOUNT"], "source": "004"},
    "increase-shadow-copy-storage": {
        "message": "Backup operations might fail if there isn't sufficient shadow copy storage space that's required to protect the "
                   "data source",
        "also": ["Increase shadow copy storage"],
        "message_de": "Sicherungsvorgänge können fehlschlagen, wenn nicht ausreichend Speicherplatz für Schattenkopien vorliegt",
        "causes": ["MARS_SHADOW_STORAGE"], "source": "004"},
}

# Cause ID -> (role, entry point) that checks and fixes it; None where no role can (control plane only).
ROLES = {
    "LINUX_AGENT": ("linux_agent", "main"), "WIN_AGENT": ("win_agent", "main"), "SNAPSHOT_STATUS": ("snapshot_status", "main"),
    "BACKUP_EXTENSION": ("backup_extension", "main"), "NETWORK": ("network", "main"), "VSS_WRITERS": ("vss_writers", "main"),
    "MACHINEKEYS": ("machinekeys", "main"), "BITLOCKER": ("bitlocker", "main"), "COM_MSDTC": ("com_msdtc", "main"),
    "DISK_LIMITS": ("disk_limits", "main"), "RP_LOCK": None, "HOST": None, "ERROR_CODE": None,
    "MARS_SHADOW_STORAGE": ("shadow_storage", "main"),
}
ROLES.update({cause: ("mars_agent", cause[len("MARS_"):].lower()) for cause in CAUSES
              if cause.startswith("MARS_") and cause not in ROLES})

# Where each cause can be checked: the Linux and the Windows plays (settings.CAUSES; a unit test compares). RP_LOCK is
# the control plane's, so of either.
_WINDOWS_ONLY = {"WIN_AGENT", "VSS_WRITERS", "MACHINEKEYS", "BITLOCKER", "COM_MSDTC"}
PLATFORMS = {cause: ("windows",) if cause in _WINDOWS_ONLY or cause.startswith("MARS_") else ("linux",) if cause == "LINUX_AGENT"
             else ("linux", "windows") for cause in CAUSES if cause not in ("HOST", "ERROR_CODE")}


def platforms(code: str) -> tuple:
    """The operating systems ``code`` can occur on: its own list, else those of its causes, else both."""
    entry = ERROR_CODES[code]
    if entry.get("platforms"):
        return tuple(entry["platforms"])
    found = [os_name for os_name in ("linux", "windows") if any(os_name in PLATFORMS[c] for c in entry["causes"])]
    return tuple(found) or ("linux", "windows")


def causes_for(code: str, os_name: str) -> list:
    """The causes of ``code`` to work through on a host of ``os_name``, in the catalogue's order."""
    if os_name not in platforms(code):
        return []
    return [c for c in ERROR_CODES[code]["causes"] if os_name in PLATFORMS[c]]


def play_name(cause: str) -> str | None:
    """The name a play's ``causes`` list uses for ``cause`` (mars_scratch for MARS_SCRATCH), None without a role."""
    target = ROLES.get(cause)
    if target is None:
        return None
    role, entry = target
    return "mars_" + entry if role == "mars_agent" else role


# -- finding a code as people copy it -------------------------------------------------------------------------

# A code as people copy it: "ID: 34513", "(ID: 100050)", "Error 34506", "[0x1FC07]", "0x1fc07".
_DECORATION = re.compile(r"^[\s(\[]*(?:id|error|fehler)?[\s:]*|[\s)\].]*$", re.IGNORECASE)
# A copied message is compared as words: no case, punctuation or spacing.
_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)
# Fewer characters of a message than this match nothing ("the", "backup"): a portal column cut short is longer.
MIN_PREFIX = 16


def _words(text) -> str:
    # NFKC: a paste in decomposed form (macOS, some browsers: "a" + combining diaeresis) is the same text.
    return " ".join(_NOT_WORD.sub(" ", unicodedata.normalize("NFKC", str(text)).casefold()).split())


def _keys() -> dict:
    """Every code's key, name, other spellings and number, lower-cased -> the catalogue key."""
    keys = {}
    for key, entry in ERROR_CODES.items():
        for name in [key] + list(entry.get("aliases") or []) + list(entry.get("numbers") or []):
            keys[name.lower()] = key
    return keys


def _messages() -> list:
    """(message as words, catalogue key) for every text of every code: English, German, the other wordings, the key."""
    found = []
    for key, entry in ERROR_CODES.items():
        for text in [entry["message"], entry.get("message_de"), key] + list(entry.get("also") or []):
            if text and _words(text):
                found.append((_words(text), key))
    return found


def normalise(code) -> str:
    """The catalogue's key for ``code`` as given, or the code stripped of decoration when the catalogue does not
    know it as a code (the caller says so)."""
    text = _DECORATION.sub("", str(code if code is not None else ""))
    # Names and hex codes are compared without case: "0x1fc07" is 0x1FC07.
    return _keys().get(text.lower(), text)


def _match(text: str, whole_text: bool = False) -> tuple:
    """(keys, ambiguous keys) of one code or message: a key, name or number; else a whole message (English or
    German, any case, punctuation and spacing); else the start of one cut short (at least MIN_PREFIX characters);
    else, for ``whole_text``, every message the text holds and the codes beside them, in its order. A start several
    different messages share is ambiguous."""
    key = _keys().get(_DECORATION.sub("", text).lower())
    if key:
        return [key], []
    words = _words(text)
    if not words:
        return [], []
    messages = _messages()
    whole = [k for m, k in messages if m == words]
    if whole:
        return list(dict.fromkeys(whole)), []
    if len(words) >= MIN_PREFIX:
        starting = [(m, k) for m, k in messages if m.startswith(words)]
        # One message may start another code's (GuestAgentSnapshotTaskStatusError's starts the 001 entry's, which adds
        # "Snapshot VM sub task timed out"): a text cut short within the shorter one is that shorter code.
        shortest = min((m for m, _k in starting), key=len, default="")
        if all(m.startswith(shortest) for m, _k in starting):
            starting = [(m, k) for m, k in starting if m == shortest]
        keys = list(dict.fromkeys(k for _m, k in starting))
        # Codes with the same causes (BackUpOperationFailed, ...V2) are one answer, not a riddle.
        if len({tuple(ERROR_CODES[k]["causes"]) for k in keys}) > 1:
            return [], keys
        if keys:
            return keys, []
    if not whole_text:
        return [], []
    # A longer text (a job's whole error, several pasted together): every message it holds, and the codes beside
    # them, in its order. Codes alone in a text are no message: a typo beside a code must not pass unnoticed.
    padded = " %s " % words
    inside = [(padded.find(" %s " % m), k) for m, k in messages if len(m) >= MIN_PREFIX and " %s " % m in padded]
    if not inside:
        return [], []
    names = _keys()
    inside += [(padded.find(" %s " % w), names[w]) for w in words.split() if w in names]
    return list(dict.fromkeys(k for _pos, k in sorted(inside, key=lambda found: found[0]))), []


def lookup(code) -> dict | None:
    """The catalogue entry of one ``code`` or message (with its key as ``code``), or None for one it does not know
    or cannot tell from others."""
    keys, _ambiguous = _match(str(code if code is not None else ""))
    return dict(ERROR_CODES[keys[0]], code=keys[0]) if len(keys) == 1 else None


def closest(text, count: int = 3) -> list:
    """The known codes nearest to ``text``, by name or by message, best first."""
    words = _words(text)
    names = _keys()
    near = difflib.get_close_matches(_DECORATION.sub("", str(text)).lower(), list(names), n=count, cutoff=0.5)
    by_message = dict(_messages())
    near_messages = difflib.get_close_matches(words, list(by_message), n=count, cutoff=0.4)
    return list(dict.fromkeys([names[n] for n in near] + [by_message[m] for m in near_messages]))[:count]


def _parts(given) -> list:
    """The items of ``given``: a list as it is, a text split at commas, semicolons and line ends."""
    if isinstance(given, (list, tuple)):
        return [p for item in given for p in _parts(item)]
    return [p.strip() for p in re.split(r"[,;\n]", str(given)) if p.strip()]


def _longest(pieces: list, start: int) -> tuple:
    """(end, keys, ambiguous keys) of the longest run of ``pieces`` from ``start`` that is one code or message; else
    every message the rest holds (whole_text)."""
    for end in range(len(pieces), start, -1):
        found, ambiguous = _match(", ".join(pieces[start:end]))
        if found or ambiguous:
            return end, found, ambiguous
    found, ambiguous = _match(", ".join(pieces[start:]), whole_text=True)
    return len(pieces), found, ambiguous


def resolve(given) -> tuple:
    """(keys, error) for what a person gave as azure_backup_error: one code or message, or several (a comma list or
    a list). Messages may hold commas themselves, so the longest run of comma-separated pieces that matches wins.
    keys keep the order given, each once; error names what matched nothing (with the closest known codes) or
    matched several codes, and is None when all matched."""
    keys, problems = [], []
    for item in ([given] if not isinstance(given, (list, tuple)) else list(given)):
        pieces = _parts(item)
        start = 0
        while start < len(pieces):
            end, found, ambiguous = _longest(pieces, start)
            # The portal's text may go on past the catalogue's copy, commas and all ("…, wenn das Problem weiterhin
            # besteht."): when the piece after a match is prose that matches nothing, the match is read with its rest.
            if (found or ambiguous) and end < len(pieces) and " " in pieces[end] and _longest(pieces, end)[1:] == ([], []):
                longer, _unclear = _match(", ".join(pieces[start:]), whole_text=True)
                if longer and set(found or ambiguous) & set(longer):
                    end, found, ambiguous = len(pieces), longer, []
            if ambiguous:
                problems.append("'%s' starts the message of several codes: %s; give more of it, or the code"
                                % (", ".join(pieces[start:end]), ", ".join(ambiguous)))
                start = end
            elif found:
                keys += [k for k in found if k not in keys]
                start = end
            else:
                near = closest(pieces[start])
                problems.append("'%s' is no known error code or message%s" % (
                    pieces[start], "; the closest known: %s" % ", ".join(near) if near else ""))
                start += 1
    if not keys and not problems:
        problems.append("no error code given")
    return keys, "; ".join(problems) or None


def doc_table() -> list:
    """The catalogue as lines of text, for the fix_backup role's documentation (a unit test keeps it current):
    one line per code with its causes in order, or what to do instead."""
    lines = []
    for key, entry in ERROR_CODES.items():
        numbers = " (%s)" % ", ".join(entry["numbers"]) if entry.get("numbers") else ""
        where = "" if platforms(key) == ("linux", "windows") else " [%s]" % ", ".join(platforms(key))
        causes = ", ".join(entry["causes"]) or "no role checks it"
        remedy = "; then: %s" % entry["remedy"] if entry.get("remedy") and entry["causes"] else \
            "; %s" % entry["remedy"] if entry.get("remedy") else ""
        lines.append("C(%s)%s%s: %s%s." % (key, numbers, where, causes, remedy))
    return lines


# Cause ID -> what a report shows a person, per language: the cause's title (CAUSES.md section 2), the remedy in one
# sentence, and the article (learn.microsoft.com, /de-de/ for German). Languages: "en", "de"; a language without a
# text falls back to English.
_DOC_DE = {doc: doc.replace("https://learn.microsoft.com/", "https://learn.microsoft.com/de-de/") for doc in
           {c["doc"] for c in CAUSES.values()}}
CAUSE_TEXT = {
    "LINUX_AGENT": {
        "en": {"title": "The Linux agent is not running or out of date",
               "remedy": "Start and enable the agent's unit, update the agent from the distribution's repository and set "
                         "Extensions.Enabled=y in /etc/waagent.conf."},
        "de": {"title": "Der Linux-Agent läuft nicht oder ist veraltet",
               "remedy": "Starten und aktivieren Sie die Unit des Agents, aktualisieren Sie ihn aus dem Repository der Distribution "
                         "und setzen Sie Extensions.Enabled=y in /etc/waagent.conf."}},
    "WIN_AGENT": {
        "en": {"title": "The Windows guest agent is installed but unresponsive, or missing",
               "remedy": "Restart the services WindowsAzureGuestAgent and RdAgent, or install the latest VM agent while no backup runs."},
        "de": {"title": "Der Windows-Gast-Agent ist installiert, reagiert aber nicht, oder fehlt",
               "remedy": "Starten Sie die Dienste WindowsAzureGuestAgent und RdAgent neu oder installieren Sie den aktuellen VM-Agent, "
                         "während keine Sicherung läuft."}},
    "SNAPSHOT_STATUS": {
        "en": {"title": "The snapshot status cannot be retrieved or a snapshot cannot be taken",
               "remedy": "Enable DHCP in the guest, set USEVSSCOPYBACKUP where SQL Server is backed up, and back up when CPU and "
                         "memory are below 90 %."},
        "de": {"title": "Der Momentaufnahmestatus kann nicht abgerufen werden, oder es kann keine Momentaufnahme erstellt werden",
               "remedy": "Aktivieren Sie DHCP im Gast, setzen Sie USEVSSCOPYBACKUP, wenn SQL Server gesichert wird, und führen Sie "
                         "die Sicherung aus, wenn die Auslastung von CPU und Arbeitsspeicher unter 90 % liegt."}},
    "BACKUP_EXTENSION": {
        "en": {"title": "The backup extension fails to update or load",
               "remedy": "On Windows, set the service iaasvmprovider to start automatically; on either OS, if the extension stays "
                         "failed, uninstall it in the portal so that the next backup installs it again."},
        "de": {"title": "Die Sicherungserweiterung wird nicht aktualisiert oder geladen",
               "remedy": "Unter Windows stellen Sie den Dienst iaasvmprovider auf automatischen Start; bleibt die Erweiterung "
                         "fehlerhaft (unter jedem Betriebssystem), deinstallieren Sie sie im Portal, damit die nächste Sicherung sie neu "
                         "installiert."}},
    "NETWORK": {
        # 168.63.129.16 is the host's own address: it is never reached through a proxy.
        "en": {"title": "The VM cannot reach Azure",
               "remedy": "Allow the VM to reach 168.63.129.16 directly, bypassing any proxy (ports 80, 443, 32526), and Azure Storage "
                         "over HTTPS, through the agent's proxy where one is needed."},
        "de": {"title": "Die VM kann Azure nicht erreichen",
               "remedy": "Erlauben Sie der VM den direkten Zugriff auf 168.63.129.16, an jedem Proxy vorbei (Ports 80, 443, 32526), "
                         "und den Zugriff auf Azure Storage über HTTPS, wo nötig über den Proxy des Agents."}},
    "VSS_WRITERS": {
        "en": {"title": "VSS writers in a bad state",
               "remedy": "Restart the service of every VSS writer whose state is not [1] Stable (vssadmin list writers)."},
        "de": {"title": "VSS-Writer in einem ungültigen Status",
               "remedy": "Starten Sie den Dienst jedes VSS-Writers neu, dessen Status nicht [1] Stabil ist (vssadmin list writers)."}},
    "MACHINEKEYS": {
        "en": {"title": "Configuration parsing failure (MachineKeys permissions)",
               "remedy": "Reset the MachineKeys folder to its default permissions and delete the extension's certificate, then "
                         "retry the backup."},
        "de": {"title": "Fehler beim Analysieren der Konfiguration (Berechtigungen von MachineKeys)",
               "remedy": "Setzen Sie die Berechtigungen des Ordners MachineKeys auf die Standardwerte zurück und löschen Sie das "
                         "Zertifikat der Erweiterung, dann wiederholen Sie die Sicherung."}},
    "BITLOCKER": {
        "en": {"title": "A volume locked by BitLocker fails VSS",
               "remedy": "Unlock the volume, or turn BitLocker off for the VM's drives."},
        "de": {"title": "Ein durch BitLocker gesperrtes Volume verhindert die VSS-Momentaufnahme",
               "remedy": "Entsperren Sie das Volume oder deaktivieren Sie BitLocker für die Laufwerke der VM."}},
    "COM_MSDTC": {
        "en": {"title": "COM+ System Application or MSDTC not running",
               "remedy": "Start COM+ System Application and MSDTC (running as Network Service)."},
        "de": {"title": "COM+-Systemanwendung oder MSDTC läuft nicht",
               "remedy": "Starten Sie die COM+-Systemanwendung und MSDTC (unter dem Konto Netzwerkdienst)."}},
    "DISK_LIMITS": {
        # The role checks the limits of CAUSES.md (the 2019 article); the support matrix has since raised them.
        "en": {"title": "More than 16 data disks, or a disk over 4095 GB",
               "remedy": "The check flags more than 16 data disks or a disk over 4095 GB (the 2019 limits). Azure Backup now supports "
                         "disks up to 32 TB (4 TB when encrypted) and up to 32 disks (16 for unmanaged or classic VMs): if the VM is "
                         "within those, compare with the current support matrix before removing disks."},
        "de": {"title": "Mehr als 16 Datenträger oder ein Datenträger über 4.095 GB",
               "remedy": "Die Prüfung meldet mehr als 16 Datenträger oder einen Datenträger über 4.095 GB (die Grenzen von 2019). "
                         "Azure Backup unterstützt inzwischen Datenträger bis 32 TB (4 TB, wenn verschlüsselt) und bis zu 32 Datenträger "
                         "(16 bei nicht verwalteten oder klassischen VMs): liegt die VM innerhalb dieser Grenzen, vergleichen Sie mit der "
                         "aktuellen Unterstützungsmatrix, bevor Sie Datenträger entfernen."}},
    "RP_LOCK": {
        # Not checked: the lock is in Azure, out of the VM's sight.
        "en": {"title": "A resource group lock may block the restore point clean-up",
               "remedy": "Not checked from the VM: if resource group AzureBackupRG_<geo>_<n> has a lock, remove it and clean up the "
                         "restore point collection, then retry the backup (in Azure)."},
        "de": {"title": "Eine Ressourcengruppensperre kann das Bereinigen der Wiederherstellungspunkte verhindern",
               "remedy": "Nicht von der VM aus geprüft: hat die Ressourcengruppe AzureBackupRG_<Geo>_<Nummer> eine Sperre, entfernen "
                         "Sie sie und bereinigen Sie die Wiederherstellungspunktsammlung, dann wiederholen Sie die Sicherung (in Azure)."}},
    "MARS_SERVICE": {
        "en": {"title": "The MARS agent's engine service is not running",
               "remedy": "Start the service obengine (net start obengine)."},
        "de": {"title": "Der Dienst des MARS-Agents (obengine) läuft nicht",
               "remedy": "Starten Sie den Dienst obengine (net start obengine)."}},
    "MARS_VERSION": {
        "en": {"title": "The MARS agent is not current",
               "remedy": "Install the latest MARS agent."},
        "de": {"title": "Der MARS-Agent ist nicht aktuell",
               "remedy": "Installieren Sie die aktuelle Version des MARS-Agents."}},
    "MARS_CONNECTIVITY": {
        "en": {"title": "The MARS agent cannot reach Azure Backup",
               "remedy": "Allow the agent's URLs on port 443 and set its proxy (for the SYSTEM account too)."},
        "de": {"title": "Der MARS-Agent kann Azure Backup nicht erreichen",
               "remedy": "Erlauben Sie die URLs des Agents auf Port 443 und legen Sie seinen Proxy fest (auch für das Konto SYSTEM)."}},
    "MARS_SCRATCH": {
        "en": {"title": "The MARS cache (scratch) folder is missing, full or misconfigured",
               "remedy": "Keep 5-10 % free on the scratch volume and the same ScratchLocation in both registry keys."},
        "de": {"title": "Der Cacheordner (Ablageordner) des MARS-Agents fehlt, ist voll oder falsch konfiguriert",
               "remedy": "Halten Sie 5-10 % des Ablagevolumes frei und denselben ScratchLocation-Wert in beiden Registrierungsschlüsseln."}},
    "MARS_SHADOW_STORAGE": {
        "en": {"title": "Not enough shadow copy storage",
               "remedy": "Increase the shadow copy storage of the volume (vssadmin Resize ShadowStorage)."},
        "de": {"title": "Zu wenig Speicherplatz für Schattenkopien",
               "remedy": "Vergrößern Sie den Schattenkopiespeicher des Volumes (vssadmin Resize ShadowStorage)."}},
    "MARS_TEMP_FILES": {
        "en": {"title": "Too many temporary files in C:\\Windows\\Temp",
               "remedy": "Delete the .tmp files in C:\\Windows\\Temp when there are more than 60,000."},
        "de": {"title": "Zu viele temporäre Dateien in C:\\Windows\\Temp",
               "remedy": "Löschen Sie die TMP-Dateien in C:\\Windows\\Temp, wenn es mehr als 60.000 sind."}},
    "MARS_SCHEDULE": {
        "en": {"title": "The MARS backup schedule's tasks are broken",
               "remedy": "Enable the OnlineBackup task's trigger, run it as SYSTEM and set it not to start a new instance."},
        "de": {"title": "Die geplanten Aufgaben der MARS-Sicherung sind fehlerhaft",
               "remedy": "Aktivieren Sie den Trigger der OnlineBackup-Aufgabe, führen Sie sie als SYSTEM aus und stellen Sie "
                         "\"Keine neue Instanz starten\" ein."}},
    "MARS_POWERSHELL": {
        "en": {"title": "PowerShell cannot load the MARS module",
               "remedy": "Use PowerShell 3 or later, put the MSOnlineBackup module in PSModulePath and lift a Restricted execution policy."},
        "de": {"title": "PowerShell kann das MARS-Modul nicht laden",
               "remedy": "Verwenden Sie PowerShell 3 oder neuer, nehmen Sie das Modul MSOnlineBackup in PSModulePath auf und heben "
                         "Sie eine Ausführungsrichtlinie Restricted auf."}},
    "MARS_ANTIVIRUS": {
        "en": {"title": "Antivirus exclusions for the MARS agent are missing",
               "remedy": "Exclude the scratch and bin folders and cbengine.exe from antivirus scans."},
        "de": {"title": "Virenschutz-Ausschlüsse für den MARS-Agent fehlen",
               "remedy": "Schließen Sie den Ablage- und den bin-Ordner sowie cbengine.exe von Virenscans aus."}},
    "MARS_PREREQS": {
        "en": {"title": "MARS prerequisites (.NET, clock) not met",
               "remedy": "Install .NET Framework 4.5.2 or later and set the clock and time zone right."},
        "de": {"title": "Voraussetzungen des MARS-Agents (.NET, Uhrzeit) nicht erfüllt",
               "remedy": "Installieren Sie .NET Framework 4.5.2 oder neuer und stellen Sie Uhrzeit und Zeitzone richtig ein."}},
    "MARS_RESTORE_MOUNT": {
        "en": {"title": "The recovery volume cannot be mounted (iSCSI initiator)",
               "remedy": "Start the Microsoft iSCSI Initiator service and retry the restore."},
        "de": {"title": "Das Wiederherstellungsvolume kann nicht eingebunden werden (iSCSI-Initiator)",
               "remedy": "Starten Sie den Dienst Microsoft iSCSI-Initiator und wiederholen Sie die Wiederherstellung."}},
    "ERROR_CODE": {
        "en": {"title": "What the error code asks for beyond the VM's checks",
               "remedy": "Do what the finding says, in Azure or by hand; the playbook cannot do it in the guest."},
        "de": {"title": "Was der Fehlercode über die Prüfungen der VM hinaus verlangt",
               "remedy": "Führen Sie die im Befund genannten Schritte in Azure oder manuell aus; das Playbook kann sie im Gast nicht "
                         "ausführen."}},
    "HOST": {
        "en": {"title": "The host cannot be checked",
               "remedy": "Make the host reachable and able to run the checks (Python on Linux, PowerShell 5.1 on Windows)."},
        "de": {"title": "Der Host kann nicht geprüft werden",
               "remedy": "Machen Sie den Host erreichbar und fähig, die Prüfungen auszuführen (Python unter Linux, PowerShell 5.1 "
                         "unter Windows)."}},
}


def cause_text(cause: str, language: str = "en") -> dict:
    """{title, remedy, doc} of a cause in ``language`` ("en" or "de"), English where that language has none."""
    texts = CAUSE_TEXT.get(cause, {})
    text = dict(texts.get("en", {"title": cause}), **texts.get(language, {}))
    text.setdefault("remedy", "")
    doc = CAUSES.get(cause, {}).get("doc", "")
    text["doc"] = _DOC_DE.get(doc, doc) if language == "de" else doc
    return text
