#!/usr/bin/env python3
"""Checks deploy/kubernetes/ without a cluster (ctest deploy.kubernetes_manifests).

What a typo would otherwise only show on a live cluster:
- every file parses as YAML; every object has apiVersion, kind, metadata.name and the fields
  its kind requires; kustomization.yaml lists every manifest and only existing files;
- Deployments: the selector matches the pod labels; containers have a name, an image and
  args whose first word is a `fathom` subcommand and whose --flags that subcommand accepts
  (asked of the built binary's --help); every $(VAR) in args is a defined env var; every
  secretKeyRef names a Secret of the manifests with that key; probes name a declared port;
  volume mounts name declared volumes; the --config path is a key of a mounted ConfigMap;
- Services select the pods of a Deployment, and their targetPorts are ports of those pods
  with the same protocol;
- the HorizontalPodAutoscaler scales an existing Deployment on a pods or external metric that
  the Prometheus adapter rules serve, from a metric family documented in docs/metrics.md;
- the ConfigMap's fathom.yaml passes `fathom config check`; the collector's container ports
  are the ports of collect.listeners, and every metrics port is metrics_listen's;
- deploy/Dockerfile: its build stage installs only packages of scripts/install-deps, and its
  runtime stage installs the Debian package of every library the built binary links (NEEDED).

`--self-test` breaks a copy of the manifests in several ways and requires each to be caught.
Usage: check_manifests.py SOURCE_DIR FATHOM_BINARY [--self-test]
"""

import copy
import os
import re
import subprocess
import sys
import tempfile

import yaml

REQUIRED = {
    "Namespace": [],
    "ConfigMap": ["data"],
    "Secret": [],
    "Deployment": ["spec.selector.matchLabels", "spec.template.metadata.labels",
                   "spec.template.spec.containers"],
    "Service": ["spec.selector", "spec.ports"],
    "HorizontalPodAutoscaler": ["spec.scaleTargetRef", "spec.minReplicas",
                                "spec.maxReplicas", "spec.metrics"],
    "PodDisruptionBudget": ["spec.selector.matchLabels"],
}
NOT_OBJECTS = {"kustomization.yaml", "prometheus-adapter-rules.yaml"}


def get(obj, dotted):
    for part in dotted.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj


class Checker:
    def __init__(self, source_dir, fathom):
        self.source_dir = source_dir
        self.fathom = fathom
        self.errors = []
        self._help = {}

    def error(self, where, message):
        self.errors.append(f"{where}: {message}")

    def flags_of(self, subcommand):
        if subcommand not in self._help:
            run = subprocess.run([self.fathom, subcommand, "--help"], capture_output=True,
                                 text=True, timeout=30)
            # CLI11 answers an unknown subcommand's --help with the top-level help.
            if run.returncode != 0 or not re.search(
                    r"^Usage: \S+ " + re.escape(subcommand) + r" ", run.stdout, re.M):
                self._help[subcommand] = None
            else:
                self._help[subcommand] = set(re.findall(r"(--[a-z][a-z0-9-]*)", run.stdout))
        return self._help[subcommand]

    def check(self, files, adapter_rules, kustomization):
        objects = []  # (file, object)
        for name, docs in files.items():
            for doc in docs:
                if doc is None:
                    continue
                objects.append((name, doc))
        for name, obj in objects:
            where = f"{name}: {obj.get('kind', '?')}/{get(obj, 'metadata.name')}"
            for field in ("apiVersion", "kind", "metadata.name"):
                if get(obj, field) in (None, ""):
                    self.error(where, f"missing {field}")
            kind = obj.get("kind")
            if kind not in REQUIRED:
                self.error(where, f"unexpected kind {kind}")
                continue
            for field in REQUIRED[kind]:
                if get(obj, field) in (None, "", [], {}):
                    self.error(where, f"missing {field}")
        self.check_kustomization(files, kustomization)
        secrets = {get(o, "metadata.name"): o for _, o in objects if o.get("kind") == "Secret"}
        configmaps = {get(o, "metadata.name"): o for _, o in objects
                      if o.get("kind") == "ConfigMap"}
        deployments = {get(o, "metadata.name"): (n, o) for n, o in objects
                       if o.get("kind") == "Deployment"}
        config = self.check_config(configmaps)
        for dname, (fname, dep) in deployments.items():
            self.check_deployment(f"{fname}: Deployment/{dname}", dep, secrets, configmaps,
                                  config)
        for fname, obj in objects:
            kind = obj.get("kind")
            where = f"{fname}: {kind}/{get(obj, 'metadata.name')}"
            if kind == "Service":
                self.check_service(where, obj, deployments)
            elif kind == "HorizontalPodAutoscaler":
                self.check_hpa(where, obj, deployments, adapter_rules)
            elif kind == "PodDisruptionBudget":
                selector = get(obj, "spec.selector.matchLabels") or {}
                if not any(self.selects(selector, d) for _, d in deployments.values()):
                    self.error(where, "selects no Deployment's pods")

    def check_kustomization(self, files, kustomization):
        listed = kustomization.get("resources") or []
        for item in listed:
            if item not in files:
                self.error("kustomization.yaml", f"lists {item}, which does not exist")
        for name in files:
            if name not in listed:
                self.error("kustomization.yaml", f"does not list {name}")

    def check_config(self, configmaps):
        cm = configmaps.get("fathom-config")
        if cm is None or "fathom.yaml" not in (cm.get("data") or {}):
            self.error("config.yaml", "no ConfigMap fathom-config with a fathom.yaml key")
            return {}
        text = cm["data"]["fathom.yaml"]
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write(text)
            path = f.name
        try:
            run = subprocess.run([self.fathom, "config", "check", path], capture_output=True,
                                 text=True, timeout=30)
            if run.returncode != 0:
                self.error("config.yaml", "fathom config check: " +
                           (run.stdout + run.stderr).strip().replace(path, "fathom.yaml"))
        finally:
            os.unlink(path)
        try:
            return yaml.safe_load(text) or {}
        except yaml.YAMLError as e:
            self.error("config.yaml", f"fathom.yaml: {e}")
            return {}

    @staticmethod
    def selects(selector, deployment):
        labels = get(deployment, "spec.template.metadata.labels") or {}
        return bool(selector) and all(labels.get(k) == v for k, v in selector.items())

    def check_deployment(self, where, dep, secrets, configmaps, config):
        if not self.selects(get(dep, "spec.selector.matchLabels") or {}, dep):
            self.error(where, "spec.selector.matchLabels does not match the pod labels")
        pod = get(dep, "spec.template.spec") or {}
        volumes = {v.get("name"): v for v in pod.get("volumes") or []}
        for c in pod.get("containers") or []:
            cwhere = f"{where} container {c.get('name')}"
            for field in ("name", "image"):
                if not c.get(field):
                    self.error(cwhere, f"missing {field}")
            args = c.get("args") or []
            env = {e.get("name"): e for e in c.get("env") or []}
            ports = {p.get("name"): p for p in c.get("ports") or []}
            if not args:
                self.error(cwhere, "no args (the fathom subcommand)")
            else:
                flags = self.flags_of(args[0])
                if flags is None:
                    self.error(cwhere, f"`fathom {args[0]} --help` fails: not a subcommand")
                else:
                    for arg in args[1:]:
                        flag = arg.split("=", 1)[0]
                        if flag.startswith("--") and flag not in flags:
                            self.error(cwhere, f"fathom {args[0]} has no option {flag}")
            for arg in args:
                for var in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", arg):
                    if var not in env:
                        self.error(cwhere, f"args use $({var}), which is not in env")
                if arg.startswith("--config="):
                    self.check_config_path(cwhere, arg.split("=", 1)[1], c, volumes, configmaps)
            for name, e in env.items():
                ref = get(e, "valueFrom.secretKeyRef")
                if ref is None:
                    continue
                secret = secrets.get(ref.get("name"))
                keys = set((secret or {}).get("stringData") or {}) | set(
                    (secret or {}).get("data") or {})
                if secret is None or ref.get("key") not in keys:
                    self.error(cwhere, f"env {name}: no Secret {ref.get('name')} with key "
                               f"{ref.get('key')}")
            for probe in ("readinessProbe", "livenessProbe"):
                port = get(c, f"{probe}.httpGet.port")
                if port is not None and port not in ports and not any(
                        p.get("containerPort") == port for p in ports.values()):
                    self.error(cwhere, f"{probe} uses port {port}, which is not declared")
            for m in c.get("volumeMounts") or []:
                if m.get("name") not in volumes:
                    self.error(cwhere, f"mounts volume {m.get('name')}, which is not declared")
            self.check_ports(cwhere, args[0] if args else "", ports, config)

    def check_config_path(self, where, path, container, volumes, configmaps):
        for m in container.get("volumeMounts") or []:
            mount = m.get("mountPath", "").rstrip("/")
            if not path.startswith(mount + "/"):
                continue
            cm_name = get(volumes.get(m.get("name"), {}), "configMap.name")
            key = path[len(mount) + 1:]
            if cm_name is None:
                continue
            if key in ((configmaps.get(cm_name) or {}).get("data") or {}):
                return
        self.error(where, f"--config={path} is not a key of a mounted ConfigMap")

    def check_ports(self, where, role, ports, config):
        def port_of(endpoint):
            return int(str(endpoint).rsplit(":", 1)[1])
        if "metrics" in ports and "metrics_listen" in config:
            if ports["metrics"].get("containerPort") != port_of(config["metrics_listen"]):
                self.error(where, "port metrics is not metrics_listen's port")
        if role == "collect":
            want = {port_of(e) for e in get(config, "collect.listeners") or []}
            have = {p.get("containerPort") for p in ports.values() if p.get("protocol") == "UDP"}
            if want != have:
                self.error(where, f"UDP ports {sorted(have)} are not collect.listeners' "
                           f"{sorted(want)}")
        if role == "api" and get(config, "api.listen") is not None:
            if "http" not in ports or ports["http"].get("containerPort") != port_of(
                    get(config, "api.listen")):
                self.error(where, "port http is not api.listen's port")

    def check_service(self, where, svc, deployments):
        selector = get(svc, "spec.selector") or {}
        targets = [d for _, d in deployments.values() if self.selects(selector, d)]
        if not targets:
            self.error(where, "selects no Deployment's pods")
            return
        for p in get(svc, "spec.ports") or []:
            target = p.get("targetPort", p.get("port"))
            protocol = p.get("protocol", "TCP")
            for dep in targets:
                found = False
                for c in get(dep, "spec.template.spec.containers") or []:
                    for cp in c.get("ports") or []:
                        if target in (cp.get("name"), cp.get("containerPort")) and cp.get(
                                "protocol", "TCP") == protocol:
                            found = True
                if not found:
                    self.error(where, f"targetPort {target}/{protocol} is no port of "
                               f"Deployment/{get(dep, 'metadata.name')}")

    def check_hpa(self, where, hpa, deployments, adapter_rules):
        ref = get(hpa, "spec.scaleTargetRef") or {}
        if ref.get("kind") != "Deployment" or ref.get("name") not in deployments:
            self.error(where, f"scaleTargetRef {ref} is no Deployment of the manifests")
        lo, hi = get(hpa, "spec.minReplicas"), get(hpa, "spec.maxReplicas")
        if not (isinstance(lo, int) and isinstance(hi, int) and 1 <= lo <= hi):
            self.error(where, "needs 1 <= minReplicas <= maxReplicas")
        served = {}
        for kind in ("custom", "external"):
            for rule in get(adapter_rules, f"rules.{kind}") or []:
                served[(kind, get(rule, "name.as"))] = rule
        with open(os.path.join(self.source_dir, "docs", "metrics.md")) as f:
            documented = set(re.findall(r"^\| `(fathom_[a-z0-9_]+)`", f.read(), re.M))
        for m in get(hpa, "spec.metrics") or []:
            kind = {"Pods": "custom", "External": "external"}.get(m.get("type"))
            if kind is None:
                self.error(where, f"metric type {m.get('type')}: only Pods and External metrics "
                           "are served by the adapter")
                continue
            field = "pods" if kind == "custom" else "external"
            name = get(m, f"{field}.metric.name")
            rule = served.get((kind, name))
            if rule is None:
                self.error(where, f"{m.get('type')} metric {name} is not served by the adapter "
                           "rules")
                continue
            family = re.match(r"\s*'?([a-z_:][a-z0-9_:]*)", rule.get("seriesQuery", ""))
            if family is None or family.group(1) not in documented:
                self.error(where, f"adapter rule for {name} reads an undocumented family "
                           f"({rule.get('seriesQuery')})")
            if get(m, f"{field}.target.type") != "AverageValue":
                self.error(where, f"metric {name} needs an AverageValue target")


def apt_packages(run_line):
    words = run_line.replace("\\\n", " ").split("&&")
    for part in words:
        if "apt-get install" in part:
            return [w for w in part.split("apt-get install", 1)[1].split()
                    if not w.startswith("-")]
    return []


def owning_package(library):
    """The Debian package of a NEEDED library, found through ldconfig and dpkg."""
    listing = subprocess.run(["/sbin/ldconfig", "-p"], capture_output=True, text=True).stdout
    for line in listing.splitlines():
        if line.strip().startswith(library + " "):
            path = os.path.realpath(line.rsplit(" ", 1)[1])
            # Debian 12 merged /lib into /usr/lib, but dpkg may know the /lib path.
            for candidate in (path, re.sub(r"^/usr/lib/", "/lib/", path)):
                run = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
                if run.returncode == 0:
                    return run.stdout.split(":", 1)[0].strip()
    return None


def check_dockerfile(checker):
    path = os.path.join(checker.source_dir, "deploy", "Dockerfile")
    with open(path) as f:
        text = f.read()
    stages = re.split(r"^FROM ", text, flags=re.M)[1:]
    if len(stages) != 2:
        checker.error("Dockerfile", "expected two stages (build, runtime)")
        return
    runs = [re.findall(r"^RUN ((?:.*\\\n)*.*)", stage, re.M) for stage in stages]
    build = [p for r in runs[0] for p in apt_packages(r)]
    runtime = [p for r in runs[1] for p in apt_packages(r)]
    with open(os.path.join(checker.source_dir, "scripts", "install-deps")) as f:
        deps = f.read()
    listed = set(re.search(r"packages=\(([^)]*)\)", deps).group(1).split())
    for pkg in build:
        if pkg not in listed:
            checker.error("Dockerfile", f"build stage installs {pkg}, not in scripts/install-deps")
    readelf = subprocess.run(["readelf", "-d", checker.fathom], capture_output=True, text=True)
    for library in re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", readelf.stdout):
        pkg = owning_package(library)
        if pkg is None:
            checker.error("Dockerfile", f"no Debian package found for {library}")
        elif pkg not in runtime:
            checker.error("Dockerfile", f"runtime stage lacks {pkg} (for {library})")


def load(source_dir):
    kdir = os.path.join(source_dir, "deploy", "kubernetes")
    files, kustomization, adapter_rules = {}, {}, {}
    for name in sorted(os.listdir(kdir)):
        if not name.endswith(".yaml"):
            continue
        with open(os.path.join(kdir, name)) as f:
            docs = list(yaml.safe_load_all(f))
        if name == "kustomization.yaml":
            kustomization = docs[0] or {}
        elif name == "prometheus-adapter-rules.yaml":
            adapter_rules = docs[0] or {}
        else:
            files[name] = docs
    return files, adapter_rules, kustomization


def self_test(source_dir, fathom):
    """Each breakage must be reported; the unbroken manifests must not be."""
    files, rules, kust = load(source_dir)

    def first(kind, name=None):
        for docs in files.values():
            for d in docs:
                if d and d.get("kind") == kind and (name is None or
                                                    get(d, "metadata.name") == name):
                    return d
        raise AssertionError(f"self-test: no {kind} {name}")

    def analyzer_container(f):
        for docs in f.values():
            for d in docs:
                if d and d.get("kind") == "Deployment" and get(
                        d, "metadata.name") == "fathom-analyze":
                    return get(d, "spec.template.spec.containers")[0]
        raise AssertionError("self-test: no analyzer")

    breakages = {
        "an unknown flag": lambda f, r, k: analyzer_container(f)["args"].append("--no-such-flag"),
        "an unknown subcommand": lambda f, r, k: analyzer_container(f)["args"].__setitem__(
            0, "analyse"),
        "an undefined $(VAR)": lambda f, r, k: analyzer_container(f)["env"].clear(),
        "a Service port no pod has": lambda f, r, k: first_in(f, "Service")["spec"]["ports"][
            0].__setitem__("targetPort", "nope"),
        "an HPA metric the adapter does not serve": lambda f, r, k: r["rules"]["external"].clear(),
        "a config that fathom rejects": lambda f, r, k: first_in(f, "ConfigMap")["data"].__setitem__(
            "fathom.yaml", "no_such_key: 1\n"),
        "a selector that misses the pods": lambda f, r, k: first_in(f, "Deployment")["spec"][
            "selector"]["matchLabels"].__setitem__("app.kubernetes.io/component", "x"),
        "a manifest kustomization does not list": lambda f, r, k: k["resources"].pop(),
    }

    def first_in(f, kind):
        for docs in f.values():
            for d in docs:
                if d and d.get("kind") == kind:
                    return d
        raise AssertionError(f"self-test: no {kind}")

    clean = Checker(source_dir, fathom)
    clean.check(files, rules, kust)
    if clean.errors:
        print("self-test: the manifests themselves fail:\n  " + "\n  ".join(clean.errors))
        return 1
    failed = 0
    for what, breakage in breakages.items():
        f, r, k = copy.deepcopy(files), copy.deepcopy(rules), copy.deepcopy(kust)
        breakage(f, r, k)
        checker = Checker(source_dir, fathom)
        checker.check(f, r, k)
        if not checker.errors:
            print(f"self-test: {what} was not caught")
            failed += 1
        else:
            print(f"self-test: {what}: caught ({checker.errors[0]})")
    return 1 if failed else 0


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    source_dir, fathom = sys.argv[1], sys.argv[2]
    if "--self-test" in sys.argv[3:]:
        return self_test(source_dir, fathom)
    files, rules, kust = load(source_dir)
    checker = Checker(source_dir, fathom)
    checker.check(files, rules, kust)
    check_dockerfile(checker)
    for e in checker.errors:
        print(e)
    objects = sum(1 for docs in files.values() for d in docs if d)
    if checker.errors:
        print(f"{len(checker.errors)} problem(s) in deploy/kubernetes/")
        return 1
    print(f"ok: {objects} objects in {len(files)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
