#!/usr/bin/env python3
"""What e2e_kubernetes reads from deploy/kubernetes: each fact one line,
"name<TAB>value", for the shell test to check against what exists.
Fails (exit 1, with why) if a manifest does not parse as YAML."""
import sys
from pathlib import Path

import yaml

d = Path(sys.argv[1])
docs = {}
for f in sorted(d.glob("*.yaml")):
    try:
        docs[f.name] = [x for x in yaml.safe_load_all(f.read_text()) if x is not None]
    except yaml.YAMLError as e:
        sys.exit(f"{f.name}: not YAML: {e}")


def out(name, value):
    print(f"{name}\t{value}")


for name, ds in docs.items():
    for x in ds:
        out("kind", f"{name}:{x.get('kind')}:{x.get('apiVersion', x.get('cdiVersion'))}")

ds = next(x for x in docs["openmps-daemonset.yaml"] if x["kind"] == "DaemonSet")
pod = ds["spec"]["template"]
spec = pod["spec"]
c = spec["containers"][0]
out("selector_matches", ds["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items())
out("command", " ".join(c["command"]))
for e in c["env"]:
    out("daemon_env", f"{e['name']}={e['value']}")
out("container_port", c["ports"][0]["containerPort"])
out("scrape_port", pod["metadata"]["annotations"]["prometheus.io/port"])
out("readiness", " ".join(c["readinessProbe"]["exec"]["command"]))
out("liveness", " ".join(c["livenessProbe"]["exec"]["command"]))
out("prestop", c["lifecycle"]["preStop"]["exec"]["command"][-1])
mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
for v in spec["volumes"]:
    out("volume", f"{v['hostPath']['path']}={mounts.get(v['name'])}")

cdi = docs["openmps-cdi.yaml"][0]
dev = cdi["devices"][0]
out("cdi_device", f"{cdi['kind']}={dev['name']}")
for e in dev["containerEdits"]["env"]:
    out("cdi_env", e)
for m in dev["containerEdits"]["mounts"]:
    out("cdi_mount", f"{m['hostPath']}={m['containerPath']}")

client = docs["example-client.yaml"][0]
for k, v in client["metadata"]["annotations"].items():
    out("client_annotation", f"{k}={v}")
out("client_gpus", client["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"])

cm = docs["device-plugin-config.yaml"][0]
plugin = yaml.safe_load(cm["data"]["config.yaml"])
out("plugin_configmap", f"{cm['metadata']['namespace']}/{cm['metadata']['name']}")
out("plugin_sharing", ",".join(sorted(plugin["sharing"])))
out("plugin_replicas", plugin["sharing"]["timeSlicing"]["resources"][0]["replicas"])
