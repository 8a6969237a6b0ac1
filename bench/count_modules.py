"""Remote module executions per host in an ansible-playbook log (default callback):
tasks that run on the controller (group_by, argument validation, set_fact) are not counted."""

import collections
import re
import sys

CONTROLLER = re.compile(r"Group the VMs|Validating arguments|Publish the findings|Remember the failure|Fail the hosts where")

counts, task = collections.Counter(), ""
with open(sys.argv[1]) as log:
    for line in log:
        header = re.match(r"^(?:TASK|RUNNING HANDLER) \[(.*)\]", line)
        if header:
            task = header.group(1)
            continue
        result = re.match(r"^(?:ok|changed|failed|fatal): \[([^\]]+)\]", line)
        if result and not CONTROLLER.search(task):
            counts[result.group(1)] += 1
values = sorted(counts.values()) or [0]
print("module executions per host: min %d, max %d, total %d over %d hosts" % (values[0], values[-1], sum(values), len(counts)))
