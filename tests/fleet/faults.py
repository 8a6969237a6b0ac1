"""Faults the fleet can inject, one entry per fault (data only; `fleet` runs them).

Each entry:
  name         what `fleet break VM NAME` takes
  cause        cause ID from shared/CAUSES.md
  description  one line for `fleet faults` and the README
  variants     optional: the variants where the fault means something
  run          shell script run inside the VM (as root, /bin/sh)
  check        shell script run inside the VM afterwards; exit 0 proves the VM is broken

Placeholders filled in by `fleet`: {unit} (walinuxagent or waagent), {bridge} (10.213.0.1),
{ip} (the VM's address), {vm} (its name), {ext} (the VMSnapshotLinux folder).
"""

# Edits /etc/waagent.conf in place: replace the key's line (commented or not), else append.
_SET_CONF = (
    "set_conf() {{ if grep -Eq \"^#? *$1=\" /etc/waagent.conf; then "
    "sed -i -E \"s|^#? *$1=.*|$1=$2|\" /etc/waagent.conf; "
    "else echo \"$1=$2\" >> /etc/waagent.conf; fi; }}\n"
)

_FAILED_STATUS = """[
    {{
        "status": {{
            "status": "error",
            "code": 2,
            "snapshotInfo": null,
            "name": "Microsoft.Azure.RecoveryServices.VMSnapshotLinux",
            "commandStartTimeUTCTicks": "639000000000000000",
            "taskId": "3f1c2b7e-0000-4000-8000-00000000f1ee",
            "formattedMessage": {{
                "lang": "en-US",
                "message": "Enable failed. statusBlobUploadError=true, snapshotCreator=backupHostService, hostStatusCodeDoSnapshot=500, "
            }},
            "uniqueMachineId": "3f1c2b7e-0000-4000-8000-00000000f1ee",
            "vmHealthInfo": null,
            "storageDetails": null,
            "telemetryData": null,
            "substatus": [],
            "operation": "Enable"
        }},
        "version": "1.0",
        "timestampUTC": "2026-01-01T00:00:00Z"
    }}
]
"""

FAULTS = [
    {
        "name": "agent-stopped",
        "cause": "LINUX_AGENT",
        "description": "agent unit stopped (still enabled)",
        "run": "systemctl stop {unit}",
        "check": "! systemctl is-active --quiet {unit}",
    },
    {
        "name": "agent-disabled",
        "cause": "LINUX_AGENT",
        "description": "agent unit disabled (keeps running until the next boot)",
        "run": "systemctl disable {unit}",
        "check": "test \"$(systemctl is-enabled {unit})\" = disabled",
    },
    {
        "name": "agent-masked",
        "cause": "LINUX_AGENT",
        "description": "agent unit stopped and masked (/etc/systemd/system/<unit>.service -> /dev/null)",
        "run": "systemctl stop {unit} && systemctl mask {unit}",
        "check": "test \"$(systemctl is-enabled {unit})\" = masked && ! systemctl is-active --quiet {unit}",
    },
    {
        "name": "agent-no-restart",
        "cause": "LINUX_AGENT",
        "description": "drop-in sets Restart=no (Debian's unit ships without Restart= already)",
        "variants": ["rhel"],
        "run": "mkdir -p /etc/systemd/system/{unit}.service.d && "
               "printf '[Service]\\nRestart=no\\n' > /etc/systemd/system/{unit}.service.d/10-fleet-no-restart.conf && "
               "systemctl daemon-reload",
        "check": "test \"$(systemctl show -p Restart --value {unit})\" = no",
    },
    {
        "name": "agent-crashed",
        "cause": "LINUX_AGENT",
        "description": "agent daemon killed with SIGKILL while its unit has no restart policy: unit failed, Result=signal",
        "run": "if [ {unit} = waagent ]; then mkdir -p /etc/systemd/system/{unit}.service.d && "
               "printf '[Service]\\nRestart=no\\n' > /etc/systemd/system/{unit}.service.d/10-fleet-no-restart.conf && "
               "systemctl daemon-reload; fi\n"
               "systemctl is-active --quiet {unit} || systemctl start {unit}\n"
               "systemctl kill -s KILL --kill-whom=main {unit}\n"
               "for i in 1 2 3 4 5 6 7 8 9 10; do systemctl is-failed --quiet {unit} && break; sleep 0.5; done",
        "check": "systemctl is-failed --quiet {unit} && test \"$(systemctl show -p Result --value {unit})\" = signal",
    },
    {
        "name": "agent-start-limit",
        "cause": "LINUX_AGENT",
        "description": "unit failed with Result=start-limit-hit: a drop-in sets StartLimitBurst=3 in 1 h and "
                       "the unit is restarted 4 times; a plain start is refused until reset-failed",
        # systemd keeps the first failure's Result, so the starts before the limit must succeed:
        # a failing ExecStartPre would leave Result=exit-code, not start-limit-hit.
        "run": "D=/etc/systemd/system/{unit}.service.d; mkdir -p $D\n"
               "printf '[Unit]\\nStartLimitIntervalSec=3600\\nStartLimitBurst=3\\n' > $D/10-fleet-fault.conf\n"
               "systemctl daemon-reload; systemctl stop {unit}; systemctl reset-failed {unit} 2>/dev/null\n"
               "for i in 1 2 3 4; do systemctl restart {unit} 2>/dev/null; done; true",
        "check": "test \"$(systemctl show -p Result --value {unit})\" = start-limit-hit && "
                 "systemctl is-failed --quiet {unit} && ! systemctl start {unit} 2>/dev/null",
    },
    {
        "name": "agent-outdated",
        "cause": "LINUX_AGENT",
        "description": "Debian bullseye's waagent 2.2.47 installed (below 2.2.53.1) from the .deb kept in the image; "
                       "debian12-oldagent is outdated already",
        "variants": ["debian12", "rhel"],
        "run": "export DEBIAN_FRONTEND=noninteractive\n"
               "dpkg -i --force-confold /opt/fleet/waagent_2.2.47-2_all.deb >/dev/null\n"
               # on rhel the package brings back Debian's walinuxagent unit: take it out again
               "if [ {unit} = waagent ]; then systemctl disable --now walinuxagent 2>/dev/null; "
               "rm -f /lib/systemd/system/walinuxagent.service; systemctl daemon-reload; fi\n"
               "systemctl restart {unit}",
        "check": "waagent --version | grep -q 'WALinuxAgent-2.2.47'",
    },
    {
        "name": "extensions-disabled",
        "cause": "LINUX_AGENT",
        "description": "Extensions.Enabled=n in /etc/waagent.conf (agent restarted if it was running)",
        "run": _SET_CONF + "set_conf Extensions.Enabled n; systemctl try-restart {unit}",
        "check": "grep -q '^Extensions.Enabled=n' /etc/waagent.conf",
    },
    {
        "name": "logs-verbose-off",
        "cause": "LINUX_AGENT",
        "description": "Logs.Verbose=n written explicitly (the shipped default, for the 'enable verbose logs' fix)",
        "run": _SET_CONF + "set_conf Logs.Verbose n",
        "check": "grep -q '^Logs.Verbose=n' /etc/waagent.conf",
    },
    {
        "name": "logs-verbose-commented",
        "cause": "LINUX_AGENT",
        "description": "Logs.Verbose line commented out ('# Logs.Verbose=y'), so the default n applies",
        "run": "sed -i -E 's|^#? *Logs.Verbose=.*|# Logs.Verbose=y|' /etc/waagent.conf; "
               "grep -q '^# Logs.Verbose=y' /etc/waagent.conf || echo '# Logs.Verbose=y' >> /etc/waagent.conf",
        "check": "! grep -q '^Logs.Verbose=' /etc/waagent.conf",
    },
    {
        "name": "proxy-wrong",
        "cause": "NETWORK",
        "description": "HttpProxy.Host=10.213.0.1 HttpProxy.Port=3129 where nothing listens (agent restarted if running)",
        "run": _SET_CONF + "set_conf HttpProxy.Host {bridge}; set_conf HttpProxy.Port 3129; systemctl try-restart {unit}",
        "check": "grep -q '^HttpProxy.Host={bridge}' /etc/waagent.conf && grep -q '^HttpProxy.Port=3129' /etc/waagent.conf "
                 "&& ! timeout 3 bash -c 'echo > /dev/tcp/{bridge}/3129' 2>/dev/null",
    },
    {
        "name": "no-dhcp",
        "cause": "SNAPSHOT_STATUS",
        "description": "guest network config switched from DHCP=yes to a static Address= (same address)",
        "run": "F=/etc/systemd/network/10-eth0.network\n"
               "sed -i -E 's|^DHCP=.*|Address={ip}/24|' $F\n"
               "networkctl reload",
        "check": "grep -q '^Address={ip}/24' /etc/systemd/network/10-eth0.network && "
                 "! grep -q '^DHCP=yes' /etc/systemd/network/10-eth0.network",
    },
    {
        "name": "var-lib-waagent-noexec",
        "cause": "LINUX_AGENT",
        "description": "/var/lib/waagent bind-mounted onto itself with noexec in the VM's mount namespace",
        "run": "mount --bind /var/lib/waagent /var/lib/waagent && mount -o remount,bind,noexec /var/lib/waagent",
        "check": "findmnt -n -o OPTIONS /var/lib/waagent | grep -q noexec",
    },
    {
        "name": "agent-python-broken",
        "cause": "LINUX_AGENT",
        "description": "azurelinuxagent package moved aside: the ExecStart interpreter cannot import it; agent restarted (fails)",
        "run": "P=$(python3 -c 'import azurelinuxagent,os;print(os.path.dirname(azurelinuxagent.__file__))')\n"
               "mv \"$P\" \"$(dirname $P)/azurelinuxagent.fleet-moved-aside\"\n"
               "systemctl restart {unit} 2>/dev/null; sleep 1; true",
        "check": "! python3 -c 'import azurelinuxagent' 2>/dev/null",
    },
    {
        "name": "wireserver-unreachable",
        "cause": "NETWORK",
        "description": "iptables in the VM REJECTs tcp to {bridge} ports 80 and 32526 (connection refused)",
        "run": "iptables -I OUTPUT -d {bridge} -p tcp -m multiport --dports 80,32526 -j REJECT --reject-with tcp-reset",
        "check": "! timeout 3 bash -c 'echo > /dev/tcp/{bridge}/80' 2>/dev/null && "
                 "! timeout 3 bash -c 'echo > /dev/tcp/{bridge}/32526' 2>/dev/null",
    },
    {
        "name": "storage-unreachable",
        "cause": "NETWORK",
        "description": "iptables in the VM DROPs tcp to {bridge} ports 443 and 8443 (timeouts)",
        "run": "iptables -I OUTPUT -d {bridge} -p tcp -m multiport --dports 443,8443 -j DROP",
        "check": "timeout 3 bash -c 'echo > /dev/tcp/{bridge}/443' 2>/dev/null; test $? = 124",
    },
    {
        "name": "dns-broken",
        "cause": "NETWORK",
        "description": "/etc/resolv.conf points to 127.0.0.1 where nothing listens",
        "run": "cp /etc/resolv.conf /etc/resolv.conf.fleet-orig; echo 'nameserver 127.0.0.1' > /etc/resolv.conf",
        "check": "! getent hosts fleetstorage.blob.core.windows.net",
    },
    {
        "name": "vmsnapshot-failed",
        "cause": "BACKUP_EXTENSION",
        "description": "VMSnapshotLinux status/0.status reports status error (real status format)",
        "run": "cat > /var/lib/waagent/{ext}/status/0.status <<'EOF'\n" + _FAILED_STATUS + "EOF",
        "check": "python3 -c \"import json,sys; s=json.load(open('/var/lib/waagent/{ext}/status/0.status'));"
                 " sys.exit(s[0]['status']['status'] != 'error')\"",
    },
    {
        "name": "vmsnapshot-failed-upgrade",
        "cause": "BACKUP_EXTENSION",
        "description": "VMSnapshotLinux config/HandlerState is FailedUpgrade",
        "run": "printf FailedUpgrade > /var/lib/waagent/{ext}/config/HandlerState",
        "check": "test \"$(cat /var/lib/waagent/{ext}/config/HandlerState)\" = FailedUpgrade",
    },
    {
        "name": "high-cpu",
        "cause": "SNAPSHOT_STATUS",
        "description": "one busy loop per CPU (nice 19) as unit fleet-high-cpu; they end by themselves after 900 s. "
                       "VMs share the host's /proc/stat, so every VM of the fleet sees the load",
        "run": "systemd-run --quiet --unit=fleet-high-cpu --collect nice -n 19 timeout 900 "
               "sh -c 'for i in $(seq $(nproc)); do sh -c \"while :; do :; done\" & done; wait'",
        "check": "systemctl is-active --quiet fleet-high-cpu",
    },
    {
        "name": "apt-locked",
        "cause": "LINUX_AGENT",
        "description": "another package run holds dpkg's lock (an fcntl lock on /var/lib/dpkg/lock-frontend, as apt takes it) "
                       "for 600 s, in the unit fleet-apt-lock",
        "run": "systemd-run --quiet --unit=fleet-apt-lock --collect python3 -c \"import fcntl, time; "
               "f = open('/var/lib/dpkg/lock-frontend', 'w'); fcntl.lockf(f, fcntl.LOCK_EX); time.sleep(600)\"; sleep 1",
        "check": "! python3 -c \"import fcntl; f = open('/var/lib/dpkg/lock-frontend', 'w'); "
                 "fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\" 2>/dev/null",
    },
    {
        "name": "apt-repo-missing",
        "cause": "LINUX_AGENT",
        "description": "no package repository configured: sources.list emptied (kept as sources.list.fleet-orig), lists removed",
        "run": "mv /etc/apt/sources.list /etc/apt/sources.list.fleet-orig; : > /etc/apt/sources.list; rm -rf /var/lib/apt/lists/*",
        "check": "! grep -q '^deb' /etc/apt/sources.list",
    },
    {
        "name": "config-corrupt",
        "cause": "LINUX_AGENT",
        "description": "/etc/waagent.conf replaced by binary garbage (not UTF-8, no key=value lines)",
        "run": "cp -p /etc/waagent.conf /etc/waagent.conf.fleet-orig; "
               "printf '\\377\\376\\000\\001fleet corrupt config\\000\\377\\n\\200\\201\\202' > /etc/waagent.conf",
        "check": "! python3 -c \"open('/etc/waagent.conf', encoding='utf-8').read()\" 2>/dev/null",
    },
    {
        "name": "config-immutable",
        "cause": "LINUX_AGENT",
        "description": "/etc/waagent.conf made immutable (chattr +i): even root cannot replace it until chattr -i",
        "run": "chattr +i /etc/waagent.conf",
        "check": "lsattr /etc/waagent.conf | cut -d' ' -f1 | grep -q i && ! touch /etc/waagent.conf 2>/dev/null",
    },
    {
        "name": "etc-read-only",
        "cause": "LINUX_AGENT",
        "description": "/etc bind-mounted onto itself read-only in the VM's mount namespace (waagent.conf and drop-ins cannot be written)",
        "run": "mount --bind /etc /etc && mount -o remount,bind,ro /etc",
        "check": "findmnt -n -o OPTIONS /etc | grep -q '^ro' && ! touch /etc/.fleet-probe 2>/dev/null",
    },
    {
        "name": "execstart-python-flags",
        "cause": "LINUX_AGENT",
        "description": "drop-in runs the agent as python3 -S -u /usr/sbin/waagent -daemon: without site, Debian's dist-packages "
                       "(where azurelinuxagent lives) is not on sys.path, so the agent cannot import itself; restarted (fails)",
        "variants": ["debian12", "debian12-oldagent"],
        "run": "D=/etc/systemd/system/{unit}.service.d; mkdir -p $D\n"
               "printf '[Service]\\nExecStart=\\nExecStart=/usr/bin/python3 -S -u /usr/sbin/waagent -daemon\\n' > $D/20-fleet-python-flags.conf\n"
               "systemctl daemon-reload; systemctl restart {unit} 2>/dev/null; sleep 1; true",
        "check": "systemctl show -p ExecStart {unit} | grep -q 'python3 -S -u' && python3 -c 'import azurelinuxagent' && "
                 "! python3 -S -c 'import azurelinuxagent' 2>/dev/null",
    },
]
