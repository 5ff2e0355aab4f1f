#!/usr/bin/env python3
"""Every data-channel record with a dev field is in OMPS_DEVICE_RECORDS
(calls.h), so that the server's dispatch turns the client's ordinal into
its own; a record left out would reach a GPU the client does not see."""
import re
import sys

text = open(sys.argv[1]).read()
with_dev = {m.group(1) for m in re.finditer(r"struct omps_call_(\w+) \{(.*?)\n\};", text, re.S)
            if re.search(r"^\s*int32_t dev;", m.group(2), re.M)}
listed = re.search(r"#define OMPS_DEVICE_RECORDS\(X\)(.*?)\n\n", text, re.S)
listed = set(re.findall(r"X\((\w+)\)", listed.group(1))) if listed else set()
missing, stray = sorted(with_dev - listed), sorted(listed - with_dev)
for name in missing:
    print(f"struct omps_call_{name} has a dev but is not in OMPS_DEVICE_RECORDS")
for name in stray:
    print(f"OMPS_DEVICE_RECORDS names {name}, which has no int32_t dev")
print(f"{len(with_dev)} records with a dev, {len(listed)} listed")
sys.exit(1 if missing or stray or not with_dev else 0)
