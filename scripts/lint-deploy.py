#!/usr/bin/env python3
"""Our rules for deploy/Containerfile and deploy/compose.yaml (run by
scripts/lint-deploy.sh, which also runs hadolint and systemd-analyze).

    python3 scripts/lint-deploy.py [DIR]     # default: deploy
"""
import json, re, sys

d = sys.argv[1] if len(sys.argv) > 1 else "deploy"
problems = []
def bad(where, msg): problems.append(f"{where}: {msg}")

# -- Containerfile ---------------------------------------------------------
cf = f"{d}/Containerfile"
lines = []
for raw in open(cf).read().replace("\\\n", " ").splitlines():
    s = raw.strip()
    if s and not s.startswith("#"):
        lines.append(s)
froms = [l for l in lines if l.upper().startswith("FROM ")]
if len(froms) < 2:
    bad(cf, "not multi-stage: build in one stage, run in another")
stages = set()
for f in froms:
    parts = f.split()
    image = parts[1]
    if image in stages:
        continue  # FROM an earlier stage
    if "@sha256:" not in image:
        tag = image.rsplit("/", 1)[-1].partition(":")[2]
        if not tag or tag == "latest" or not re.search(r"\d", tag):
            bad(cf, f"base image {image!r} is not pinned to a version tag")
    if len(parts) >= 4 and parts[2].upper() == "AS":
        stages.add(parts[3])
final = lines[lines.index(froms[-1]):] if froms else []
users = [l.split()[1] for l in final if l.upper().startswith("USER ")]
if not users:
    bad(cf, "the final stage has no USER: it would run as root")
elif users[-1].split(":")[0] in ("root", "0"):
    bad(cf, f"the final stage runs as {users[-1]!r}")
if not any(l.upper().startswith("HEALTHCHECK ") and "/healthz" in l for l in final):
    bad(cf, "the final stage has no HEALTHCHECK on /healthz")
for l in lines:
    if l.upper().startswith(("ENV ", "ARG ")) and re.search(r"(KEY|TOKEN|PASSWORD|SECRET)\w*=", l, re.I):
        bad(cf, f"a secret-looking build/run variable: {l!r}")

# -- compose.yaml ----------------------------------------------------------
import yaml
cp = f"{d}/compose.yaml"
doc = yaml.safe_load(open(cp))
try:
    import jsonschema
    schema = json.load(open("deploy/lint/compose-spec.json"))
    for e in sorted(jsonschema.Draft7Validator(schema).iter_errors(doc), key=str):
        bad(cp, f"compose-spec schema: {'/'.join(map(str, e.absolute_path))}: {e.message}")
    print(f"lint-deploy: {cp} validated against the compose-spec schema", file=sys.stderr)
except ImportError:
    print("lint-deploy: jsonschema not available: compose schema skipped", file=sys.stderr)
services = doc.get("services") or {}
aigw = sorted(n for n in services if n.startswith("aigw"))
if len(aigw) < 3:
    bad(cp, f"fewer than three aigw replicas: {aigw}")
for need in ("redis", "postgres"):
    if need not in services:
        bad(cp, f"no {need} service")
lbs = [n for n, s in services.items() if re.search(r"nginx|haproxy|traefik|envoy|caddy", str(s.get("image", "")))]
if not lbs:
    bad(cp, "no load balancer service (nginx, haproxy, traefik, envoy or caddy)")
for name, s in services.items():
    if "healthcheck" not in s or s["healthcheck"].get("disable"):
        bad(cp, f"service {name} has no healthcheck")
    user = str(s.get("user", ""))
    if not user or user.split(":")[0] in ("root", "0"):
        bad(cp, f"service {name} does not set a non-root user")
    env = s.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.partition("=")[::2] for e in env)
    for k, v in env.items():
        if re.search(r"PASSWORD|SECRET|TOKEN|API_KEY", k) and not k.endswith("_FILE"):
            bad(cp, f"service {name}: {k} holds a secret in the file; use a secret file ({k}_FILE) or env_file")
        if re.search(r"sk-[A-Za-z0-9]{8,}|://[^/\s:@]*:[^@\s$]+@", str(v)):
            bad(cp, f"service {name}: {k} looks like a key or a URL with a password")
    if name in aigw and "/healthz" not in json.dumps(s.get("healthcheck", {})):
        bad(cp, f"service {name}: its healthcheck does not probe /healthz")
for name, sec in (doc.get("secrets") or {}).items():
    if "file" not in sec and "external" not in sec and "environment" not in sec:
        bad(cp, f"secret {name} is not read from a file")
text = open(cp).read()
if re.search(r"sk-[A-Za-z0-9]{8,}|BEGIN [A-Z ]*PRIVATE KEY", text):
    bad(cp, "a key in the file")

for p in problems:
    print(p, file=sys.stderr)
if not problems:
    print(f"lint-deploy: {cf} and {cp}: ok", file=sys.stderr)
sys.exit(1 if problems else 0)
