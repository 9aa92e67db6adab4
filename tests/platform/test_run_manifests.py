"""Invariants of the run-time packaging: platform/ (Procfile, gunicorn config, Kubernetes manifests)
and docker/ (image, entrypoint, Compose stack).

No database, no Docker, no cluster: the files are parsed and cross-checked, and the two executable
pieces (the gunicorn config and the entrypoint) are run with stand-ins. Each test guards something
that breaks a deployment silently if it drifts: a selector that matches no pod, an HPA aimed at a
renamed Deployment, a second beat, a Secret nobody creates, a `platform` package that shadows the
standard library.
"""

import ast
import datetime
import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from config.celery_queues import ALL_QUEUES

REPO = Path(__file__).resolve().parents[2]
PLATFORM = REPO / "platform"
K8S = PLATFORM / "k8s"
DOCKER = REPO / "docker"
GUNICORN_CONF = PLATFORM / "gunicorn.conf.py"
ENTRYPOINT = DOCKER / "entrypoint.sh"
COMPOSE = DOCKER / "compose.yaml"

# In k8s/ but deliberately not deployed by kustomization.yaml.
NOT_IN_KUSTOMIZATION = {"secret.example.yaml", "keda-scaledobject.yaml"}
CLUSTER_SCOPED_KINDS = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PriorityClass", "StorageClass"}
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job"}


# --- loading ----------------------------------------------------------------------------------


def load_docs(path: Path) -> list:
    with path.open(encoding="utf-8") as fh:
        return [doc for doc in yaml.safe_load_all(fh) if doc is not None]


def k8s_files() -> list[Path]:
    return sorted(p for p in K8S.iterdir() if p.suffix in {".yaml", ".yml"})


def manifest_files() -> list[Path]:
    return [p for p in k8s_files() if p.name != "kustomization.yaml"]


def kustomization() -> dict:
    return load_docs(K8S / "kustomization.yaml")[0]


def deployed_objects() -> list[dict]:
    """What `kubectl apply -k platform/k8s` creates."""
    return [doc for name in kustomization()["resources"] for doc in load_docs(K8S / name)]


def objects_of(kind: str, objects=None) -> dict[str, dict]:
    objects = deployed_objects() if objects is None else objects
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def pod_template(obj: dict) -> dict:
    return obj["spec"]["template"]


def workloads() -> list[dict]:
    return [o for o in deployed_objects() if o["kind"] in WORKLOAD_KINDS]


def containers_of(obj: dict) -> list[dict]:
    spec = pod_template(obj)["spec"]
    return list(spec.get("initContainers", [])) + list(spec["containers"])


def all_containers() -> list[tuple[str, dict, dict]]:
    """(workload name, pod spec, container) for every container that gets deployed."""
    return [
        (f"{w['kind']}/{w['metadata']['name']}", pod_template(w)["spec"], c)
        for w in workloads()
        for c in containers_of(w)
    ]


def labels_match(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def the_secret_example() -> dict:
    (secret,) = load_docs(K8S / "secret.example.yaml")
    assert secret["kind"] == "Secret"
    return secret


def the_configmaps() -> dict[str, dict]:
    return objects_of("ConfigMap")


CPU_RE = re.compile(r"^(\d+(?:\.\d+)?)(m?)$")
MEM_UNITS = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
MEM_RE = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|K|M|G|)$")


def cpu(value) -> float:
    match = CPU_RE.match(str(value))
    assert match, f"unparsable CPU quantity {value!r}"
    number = float(match.group(1))
    return number / 1000 if match.group(2) else number


def memory(value) -> int:
    match = MEM_RE.match(str(value))
    assert match, f"unparsable memory quantity {value!r}"
    return int(float(match.group(1)) * MEM_UNITS[match.group(2)])


# --- every file, every document ---------------------------------------------------------------


def test_k8s_folder_has_the_expected_manifests():
    names = {p.name for p in k8s_files()}
    for required in ("kustomization.yaml", "secret.example.yaml", "configmap.yaml", "migrate-job.yaml"):
        assert required in names
    kinds = {o["kind"] for o in deployed_objects()}
    assert {
        "Namespace",
        "ConfigMap",
        "Deployment",
        "Service",
        "Ingress",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "Job",
    } <= kinds


@pytest.mark.parametrize("path", [*k8s_files(), COMPOSE], ids=lambda p: str(p.relative_to(REPO)))
def test_yaml_parses(path):
    assert load_docs(path), f"{path} has no YAML document"


@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: p.name)
def test_every_document_is_a_named_kubernetes_object(path):
    for doc in load_docs(path):
        assert isinstance(doc, dict), f"{path.name}: a document is not a mapping"
        assert isinstance(doc.get("apiVersion"), str) and doc["apiVersion"], f"{path.name}: no apiVersion"
        assert isinstance(doc.get("kind"), str) and doc["kind"], f"{path.name}: no kind"
        name = (doc.get("metadata") or {}).get("name")
        assert isinstance(name, str) and name, f"{path.name}: {doc['kind']} without metadata.name"
        # Kubernetes object names are DNS-1123 subdomains.
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", name), f"{path.name}: bad name {name!r}"


def test_kustomization_lists_exactly_the_deployable_manifests():
    kust = kustomization()
    assert kust["apiVersion"].startswith("kustomize.config.k8s.io/")
    assert kust["kind"] == "Kustomization"
    listed = kust["resources"]
    assert len(listed) == len(set(listed)), "a resource is listed twice"
    for name in listed:
        assert (K8S / name).is_file(), f"kustomization.yaml lists {name}, which does not exist"
    expected = {p.name for p in manifest_files()} - NOT_IN_KUSTOMIZATION
    assert set(listed) == expected, (
        f"not listed: {sorted(expected - set(listed))}; listed but unexpected: {sorted(set(listed) - expected)}"
    )
    assert not NOT_IN_KUSTOMIZATION & set(listed), (
        "the Secret template or the optional KEDA object is deployed"
    )


def test_no_two_objects_share_kind_and_name():
    seen = set()
    for obj in deployed_objects():
        key = (obj["kind"], obj["metadata"]["name"])
        assert key not in seen, f"duplicate {key}"
        seen.add(key)


def test_every_namespaced_object_is_in_the_one_namespace():
    (namespace,) = objects_of("Namespace").values()
    ns = namespace["metadata"]["name"]
    assert kustomization().get("namespace") == ns
    everything = [doc for p in manifest_files() for doc in load_docs(p)]
    for obj in everything:
        if obj["kind"] in CLUSTER_SCOPED_KINDS:
            continue
        assert obj["metadata"].get("namespace") == ns, f"{obj['kind']}/{obj['metadata']['name']} not in {ns}"


# --- workloads --------------------------------------------------------------------------------


def test_selectors_match_their_pod_templates_and_do_not_overlap():
    deployments = objects_of("Deployment")
    assert {"web", "worker-rebalance", "worker-default", "beat"} <= set(deployments)
    for name, dep in deployments.items():
        selector = dep["spec"]["selector"]["matchLabels"]
        labels = pod_template(dep)["metadata"]["labels"]
        assert labels_match(selector, labels), (
            f"Deployment/{name}: selector {selector} does not match {labels}"
        )
        for other_name, other in deployments.items():
            if other_name != name:
                assert not labels_match(selector, pod_template(other)["metadata"]["labels"]), (
                    f"Deployment/{name}'s selector also selects Deployment/{other_name}'s pods"
                )


def test_beat_runs_as_exactly_one_instance():
    beat = objects_of("Deployment")["beat"]
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"]["type"] == "Recreate", "a RollingUpdate would briefly run two beats"
    autoscaled = {
        o["spec"]["scaleTargetRef"]["name"]
        for o in deployed_objects()
        if "scaleTargetRef" in o.get("spec", {})
    }
    keda = {
        o["spec"]["scaleTargetRef"]["name"]
        for o in load_docs(K8S / "keda-scaledobject.yaml")
        if o["kind"] == "ScaledObject"
    }
    assert "beat" not in autoscaled | keda
    runs_beat = [
        name for name, _, c in all_containers() if "beat" in (c.get("args") or []) + (c.get("command") or [])
    ]
    assert runs_beat == ["Deployment/beat"], f"beat started by {runs_beat}"
    for pdb in objects_of("PodDisruptionBudget").values():
        assert not labels_match(
            pdb["spec"]["selector"]["matchLabels"], pod_template(beat)["metadata"]["labels"]
        )


def test_autoscalers_target_existing_deployments_they_own():
    deployments = objects_of("Deployment")
    hpas = objects_of("HorizontalPodAutoscaler")
    assert {"web", "worker-rebalance"} <= {h["spec"]["scaleTargetRef"]["name"] for h in hpas.values()}
    targets = []
    for name, hpa in hpas.items():
        assert hpa["apiVersion"] == "autoscaling/v2"
        ref = hpa["spec"]["scaleTargetRef"]
        assert ref["kind"] == "Deployment" and ref["apiVersion"] == "apps/v1", f"HPA/{name}: {ref}"
        assert ref["name"] in deployments, f"HPA/{name} scales Deployment/{ref['name']}, which does not exist"
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        # The HPA owns the count: a replicas field would reset it on every apply.
        assert "replicas" not in deployments[ref["name"]]["spec"], f"Deployment/{ref['name']} sets replicas"
        for metric in hpa["spec"]["metrics"]:
            if metric["type"] == "Resource":
                resource = metric["resource"]["name"]
                for c in containers_of(deployments[ref["name"]]):
                    assert resource in c["resources"]["requests"], (
                        f"HPA/{name} on {resource} without a request"
                    )
        targets.append(ref["name"])
    assert len(targets) == len(set(targets)), "two HPAs scale the same Deployment"
    # The optional KEDA object replaces the rebalance HPA, so it must aim at a Deployment that exists.
    for obj in load_docs(K8S / "keda-scaledobject.yaml"):
        if obj["kind"] == "ScaledObject":
            ref = obj["spec"]["scaleTargetRef"]
            assert ref.get("kind", "Deployment") == "Deployment"
            assert ref["name"] in deployments
            assert ref["name"] in targets, "the ScaledObject should replace an existing HPA (see its comment)"
    assert hpas["web"]["spec"]["minReplicas"] >= 2, "one web pod is no redundancy"


def test_pod_disruption_budgets_select_deployments():
    deployments = objects_of("Deployment")
    pdbs = objects_of("PodDisruptionBudget")
    covered = set()
    for name, pdb in pdbs.items():
        selector = pdb["spec"]["selector"]["matchLabels"]
        matched = [
            d
            for d, dep in deployments.items()
            if labels_match(selector, pod_template(dep)["metadata"]["labels"])
        ]
        assert len(matched) == 1, f"PDB/{name} selects {matched}"
        covered.update(matched)
    assert {"web", "worker-rebalance", "worker-default"} <= covered


def test_services_select_a_deployment_and_its_named_port():
    deployments = objects_of("Deployment")
    for name, svc in objects_of("Service").items():
        matched = [
            d
            for d in deployments.values()
            if labels_match(svc["spec"]["selector"], pod_template(d)["metadata"]["labels"])
        ]
        assert len(matched) == 1, f"Service/{name} selects {len(matched)} Deployments"
        ports = {p["name"]: p["containerPort"] for c in containers_of(matched[0]) for p in c.get("ports", [])}
        for port in svc["spec"]["ports"]:
            target = port["targetPort"]
            assert target in ports or target in ports.values(), f"Service/{name} targets port {target!r}"


def test_ingress_serves_the_provider_and_every_firm_host():
    services = objects_of("Service")
    (config,) = the_configmaps().values()
    base = config["data"]["BASE_DOMAIN"]
    for name, ing in objects_of("Ingress").items():
        hosts = {rule["host"] for rule in ing["spec"]["rules"]}
        assert hosts == {base, f"*.{base}"}, f"Ingress/{name} hosts {hosts} vs BASE_DOMAIN {base}"
        for tls in ing["spec"].get("tls", []):
            assert set(tls["hosts"]) == hosts
        for rule in ing["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                assert backend["name"] in services, (
                    f"Ingress/{name} routes to missing Service {backend['name']}"
                )
                port_names = {p["name"] for p in services[backend["name"]]["spec"]["ports"]}
                assert backend["port"].get("name") in port_names or "number" in backend["port"]
    # Django must accept what the ingress sends: the bare domain and any firm subdomain.
    assert f".{base}" in config["data"]["ALLOWED_HOSTS"].split(",")


def test_configmap_and_secret_references_exist():
    configmaps = the_configmaps()
    secret = the_secret_example()
    secret_name = secret["metadata"]["name"]
    secret_keys = set(secret["stringData"])
    used_secret = False
    for where, pod, c in all_containers():
        for source in c.get("envFrom", []):
            if "configMapRef" in source:
                assert source["configMapRef"]["name"] in configmaps, f"{where}: unknown ConfigMap"
            if "secretRef" in source:
                assert source["secretRef"]["name"] == secret_name, f"{where}: unknown Secret"
                used_secret = True
        for env in c.get("env", []):
            ref = env.get("valueFrom", {})
            if "configMapKeyRef" in ref:
                cm = configmaps.get(ref["configMapKeyRef"]["name"])
                assert cm is not None and ref["configMapKeyRef"]["key"] in cm["data"], (
                    f"{where}: {env['name']}"
                )
            if "secretKeyRef" in ref:
                assert (
                    ref["secretKeyRef"]["name"] == secret_name and ref["secretKeyRef"]["key"] in secret_keys
                )
            if "resourceFieldRef" in ref:
                names = {x["name"] for x in pod["containers"]}
                assert ref["resourceFieldRef"].get("containerName", c["name"]) in names
        for volume in pod.get("volumes", []):
            if "configMap" in volume:
                assert volume["configMap"]["name"] in configmaps
            if "secret" in volume:
                assert volume["secret"]["secretName"] == secret_name
    assert used_secret
    # What the production settings refuse to start without.
    assert {"SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL"} <= secret_keys
    for obj in load_docs(K8S / "keda-scaledobject.yaml"):
        for ref in obj["spec"].get("secretTargetRef", []):
            assert ref["name"] == secret_name and ref["key"] in secret_keys


def test_every_container_is_non_root_and_locked_down():
    for where, pod, c in all_containers():
        pod_sc = pod.get("securityContext", {})
        sc = c.get("securityContext", {})

        def effective(key, pod_sc=pod_sc, sc=sc):
            return sc.get(key, pod_sc.get(key))

        assert effective("runAsNonRoot") is True, f"{where}/{c['name']}: runAsNonRoot"
        assert effective("runAsUser") not in (0, None), f"{where}/{c['name']}: runs as root or unknown UID"
        assert sc.get("allowPrivilegeEscalation") is False, f"{where}/{c['name']}"
        assert sc.get("readOnlyRootFilesystem") is True, f"{where}/{c['name']}"
        assert "ALL" in sc.get("capabilities", {}).get("drop", []), f"{where}/{c['name']}"
        assert (effective("seccompProfile") or {}).get("type") == "RuntimeDefault", f"{where}/{c['name']}"
        assert pod.get("automountServiceAccountToken") is False, f"{where}: mounts an API token"
        # The one writable path, backed by an emptyDir.
        mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
        assert "/tmp" in mounts, f"{where}/{c['name']}: read-only root filesystem but no writable /tmp"
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        assert "emptyDir" in volumes[mounts["/tmp"]]


def test_image_user_matches_the_manifests():
    dockerfile = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
    uid = int(re.search(r"^ARG APP_UID=(\d+)$", dockerfile, re.M).group(1))
    assert re.search(r"^USER \$\{APP_UID\}", dockerfile, re.M), "the image must switch to the numeric UID"
    for where, pod, c in all_containers():
        assert (
            c.get("securityContext", {}).get("runAsUser", pod["securityContext"].get("runAsUser")) == uid
        ), where


def test_every_container_has_requests_and_limits():
    for where, _, c in all_containers():
        resources = c.get("resources", {})
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(resources.get(kind, {})), (
                f"{where}/{c['name']}: {kind} incomplete"
            )
        assert cpu(resources["requests"]["cpu"]) <= cpu(resources["limits"]["cpu"]), where
        assert memory(resources["requests"]["memory"]) <= memory(resources["limits"]["memory"]), where


def test_every_workload_runs_the_one_image_pinned_by_kustomization():
    images = {c["image"] for _, _, c in all_containers()}
    assert len(images) == 1, f"workloads disagree on the image: {images}"
    (image,) = images
    repository = image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
    assert [entry["name"] for entry in kustomization()["images"]] == [repository]
    # A moving tag is only acceptable where a comment says it is a placeholder.
    for path in [*manifest_files(), K8S / "kustomization.yaml"]:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"^\s*(image|newTag):.*\blatest\b", line):
                assert "#" in line, f"{path.name}:{number}: 'latest' without a comment saying why"


def test_web_probes_use_the_health_endpoints():
    web = objects_of("Deployment")["web"]
    (container,) = [c for c in containers_of(web) if c["name"] == "web"]
    port_names = {p["name"] for p in container["ports"]} | {p["containerPort"] for p in container["ports"]}
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    if "startupProbe" in container:
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        if probe in container:
            assert container[probe]["httpGet"]["port"] in port_names
            assert container[probe].get("timeoutSeconds", 1) >= 2, f"{probe}: a 1 s timeout flaps under load"
    # Graceful shutdown must fit in the grace period: preStop sleep + gunicorn's graceful_timeout.
    grace = pod_template(web)["spec"]["terminationGracePeriodSeconds"]
    graceful_timeout = int(
        re.search(r'"GUNICORN_GRACEFUL_TIMEOUT", (\d+)', GUNICORN_CONF.read_text()).group(1)
    )
    assert grace > graceful_timeout + 5
    assert pod_template(web)["spec"].get("topologySpreadConstraints"), (
        "web replicas should spread over nodes/zones"
    )


def test_worker_pools_cover_both_queues_once():
    queues = {}
    for name, dep in objects_of("Deployment").items():
        for c in containers_of(dep):
            if (c.get("args") or [None])[0] == "worker":
                env = {e["name"]: e for e in c.get("env", [])}
                assert "CELERY_QUEUES" in env, f"Deployment/{name}: which queues?"
                assert "CELERY_WORKER_CONCURRENCY" in env, (
                    f"Deployment/{name}: concurrency would be the node's CPUs"
                )
                for queue in env["CELERY_QUEUES"]["value"].split(","):
                    assert queue not in queues, f"queue {queue} consumed by {queues.get(queue)} and {name}"
                    queues[queue] = name
    assert set(queues) == set(ALL_QUEUES)


def test_migration_job_runs_migrate_and_nothing_else():
    (job,) = objects_of("Job").values()
    (container,) = containers_of(job)
    assert container.get("args") == ["migrate"] and not container.get("command")
    assert pod_template(job)["spec"]["restartPolicy"] == "Never"
    assert job["spec"]["backoffLimit"] <= 3


def test_entrypoint_knows_every_command_the_manifests_and_compose_use():
    text = ENTRYPOINT.read_text(encoding="utf-8")
    handled = {m for group in re.findall(r"^\s*([\w|-]+)\)\s*$", text, re.M) for m in group.split("|")}
    used = {(c.get("args") or ["web"])[0] for _, _, c in all_containers()}
    used |= {
        svc["command"][0]
        for svc in load_docs(COMPOSE)[0]["services"].values()
        if "command" in svc and "image" in svc and "build" in svc
    }
    assert used <= handled, f"entrypoint.sh does not handle {used - handled}"
    assert {"web", "worker", "beat", "migrate", "manage"} <= handled


# --- Compose ----------------------------------------------------------------------------------


def compose_services() -> dict:
    return load_docs(COMPOSE)[0]["services"]


def test_compose_app_services_share_image_build_and_environment():
    services = compose_services()
    app = ("web", "worker", "beat", "migrate")
    assert set(app) <= set(services)
    for key in ("image", "build", "env_file", "environment"):
        values = [json.dumps(services[s].get(key), sort_keys=True) for s in app]
        assert len(set(values)) == 1, f"{key} differs between {app}: {values}"
    build = services["web"]["build"]
    context = (COMPOSE.parent / build["context"]).resolve()
    assert context == REPO, "the build context must be the repository root"
    assert (context / build["dockerfile"]).is_file()
    env_files = services["web"]["env_file"]
    for entry in env_files if isinstance(env_files, list) else [env_files]:
        path = entry["path"] if isinstance(entry, dict) else entry
        assert (COMPOSE.parent / path).is_file(), f"env_file {path} missing"
    assert [services[s]["command"][0] for s in app] == ["web", "worker", "beat", "migrate"]


def test_compose_start_order():
    services = compose_services()
    assert "healthcheck" in services["postgres"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name
    assert services["migrate"].get("restart") == "no", "a one-off step must not restart forever"
    assert services["beat"].get("deploy", {}).get("replicas", 1) == 1
    # The image HEALTHCHECK probes the web port, which worker and beat never open.
    for name in ("worker", "beat", "migrate"):
        assert services[name].get("healthcheck", {}).get("disable") is True, name


def test_compose_env_example_satisfies_production_settings():
    env = {}
    for line in (DOCKER / ".env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    assert env["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
    # The same refusals as config/settings/production.py.
    key = env["SECRET_KEY"]
    assert len(key) >= 50 and len(set(key)) >= 5 and not key.startswith("django-insecure")
    assert env["DJANGO_DEBUG"].lower() in {"false", "0", "no", "off"}
    assert env["DATABASE_URL"].startswith("postgres://")
    assert env["CELERY_BROKER_URL"].startswith(("redis://", "rediss://", "amqp://"))
    # The URLs name the Compose services.
    assert {"postgres", "redis"} <= set(compose_services())
    assert "@postgres:" in env["DATABASE_URL"] and "//redis:" in env["CELERY_BROKER_URL"]


def test_dockerignore_copies_agree():
    listed = (DOCKER / "dockerignore").read_text(encoding="utf-8")
    assert (DOCKER / "Dockerfile.dockerignore").read_text(encoding="utf-8") == listed
    patterns = {line.strip() for line in listed.splitlines() if line.strip() and not line.startswith("#")}
    assert {".git", ".venv", ".data"} <= patterns
    root_copy = REPO / ".dockerignore"
    if root_copy.exists():
        assert root_copy.read_text(encoding="utf-8") == listed, (
            "/.dockerignore drifted from docker/dockerignore"
        )


def test_dockerfile_healthcheck_and_entrypoint():
    dockerfile = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
    assert "/healthz" in dockerfile.split("HEALTHCHECK", 1)[1].split("\n\n", 1)[0]
    assert "EXPOSE 8000" in dockerfile
    assert "docker/entrypoint.sh" in dockerfile
    assert os.access(ENTRYPOINT, os.X_OK), "docker/entrypoint.sh must be executable"


# --- Procfile ---------------------------------------------------------------------------------


def procfile() -> dict[str, str]:
    entries = {}
    for line in (PLATFORM / "Procfile").read_text(encoding="utf-8").splitlines():
        if line.strip():
            name, sep, command = line.partition(":")
            assert sep and re.fullmatch(r"[a-z][a-z0-9_]*", name), f"bad Procfile line {line!r}"
            assert name not in entries, f"{name} defined twice"
            entries[name] = command.strip()
    return entries


def test_procfile_defines_the_processes():
    entries = procfile()
    assert {"web", "worker", "beat", "release"} <= set(entries)
    assert "gunicorn -c platform/gunicorn.conf.py config.wsgi:application" in entries["web"]
    assert "celery -A config.celery_app worker" in entries["worker"]
    assert "--optimization=fair" in entries["worker"] or " -O fair" in entries["worker"]
    assert "celery -A config.celery_app beat" in entries["beat"]
    assert "migrate_schemas" in entries["release"] and "collectstatic" in entries["release"]
    assert sum("beat" in command.split() for command in entries.values()) == 1


# --- platform/ is not a Python package --------------------------------------------------------


def test_platform_folder_is_not_a_python_package():
    assert not (PLATFORM / "__init__.py").exists()
    assert not (REPO / "platform.py").exists()
    python_files = sorted(p.relative_to(PLATFORM).as_posix() for p in PLATFORM.rglob("*.py"))
    assert python_files == ["gunicorn.conf.py"], python_files
    # A dotted file name can never be imported as a module.
    assert not GUNICORN_CONF.stem.isidentifier()


@pytest.mark.parametrize("pythonpath", [None, str(REPO)], ids=["cwd", "PYTHONPATH=repo"])
def test_standard_library_platform_still_imports_from_the_repo_root(pythonpath):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath  # as in the image (PYTHONPATH=/app)
    result = subprocess.run(
        [sys.executable, "-c", "import platform; print(platform.system()); print(platform.__file__)"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    system, module_file = result.stdout.splitlines()
    assert system
    assert not Path(module_file).resolve().is_relative_to(PLATFORM), "the repo's platform/ shadows the stdlib"


# --- gunicorn.conf.py -------------------------------------------------------------------------


def test_gunicorn_conf_compiles_and_sets_bind_and_workers():
    source = GUNICORN_CONF.read_text(encoding="utf-8")
    tree = ast.parse(compile(source, str(GUNICORN_CONF), "exec", ast.PyCF_ONLY_AST))
    assigned = {
        t.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for t in node.targets
        if isinstance(t, ast.Name)
    }
    assert {
        "bind",
        "workers",
        "worker_class",
        "timeout",
        "graceful_timeout",
        "forwarded_allow_ips",
        "accesslog",
    } <= assigned
    assert {"max_requests", "max_requests_jitter"} <= assigned


def run_gunicorn_conf(monkeypatch, **env) -> dict:
    for name in ("WEB_CONCURRENCY", "PORT", "GUNICORN_BIND", "GUNICORN_CONTROL_SOCKET"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    namespace: dict = {"__file__": str(GUNICORN_CONF), "__name__": "__config__"}
    exec(compile(GUNICORN_CONF.read_text(encoding="utf-8"), str(GUNICORN_CONF), "exec"), namespace)
    return namespace


def test_gunicorn_conf_values_are_valid_gunicorn_settings(monkeypatch):
    pytest.importorskip("gunicorn")
    from gunicorn.config import Config

    conf = run_gunicorn_conf(monkeypatch, WEB_CONCURRENCY="3")
    assert conf["bind"] == "0.0.0.0:8000"
    assert conf["workers"] == 3
    assert conf["worker_class"] == "gthread"
    assert conf["graceful_timeout"] <= conf["timeout"]
    cfg = Config()
    for key, value in conf.items():
        if key in cfg.settings:
            cfg.set(key, value)  # runs gunicorn's own validators
    assert cfg.workers == 3
    assert run_gunicorn_conf(monkeypatch, PORT="9000")["bind"] == "0.0.0.0:9000"
    default_workers = run_gunicorn_conf(monkeypatch)["workers"]
    assert 1 <= default_workers <= 12
    with pytest.raises(RuntimeError, match="WEB_CONCURRENCY"):
        run_gunicorn_conf(monkeypatch, WEB_CONCURRENCY="many")


def test_gunicorn_access_log_is_one_json_object_per_line(monkeypatch, request):
    pytest.importorskip("gunicorn")
    from gunicorn.config import Config

    conf = run_gunicorn_conf(monkeypatch, WEB_CONCURRENCY="1")
    cfg = Config()
    for key, value in conf.items():
        if key in cfg.settings:
            cfg.set(key, value)
    logger = cfg.logger_class(cfg)
    stream = io.StringIO()
    handlers = [h for h in logger.access_log.handlers if isinstance(h, logging.StreamHandler)]
    assert handlers, "accesslog must go to a stream (stdout)"
    previous = [h.setStream(stream) for h in handlers]
    request.addfinalizer(lambda: [h.setStream(old) for h, old in zip(handlers, previous, strict=True)])

    class Response:
        status = "201 Created"
        sent = 42
        headers: list = []

    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/api/accounts/",
        "QUERY_STRING": "x=1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "RAW_URI": "/api/accounts/?x=1",
        "REMOTE_ADDR": "10.0.0.7",
        "HTTP_HOST": "acme.rebalance.example.com",
        "HTTP_USER_AGENT": 'agent "with quotes"',
    }
    logger.access(Response(), None, environ, datetime.timedelta(milliseconds=12))
    probe = dict(environ, PATH_INFO="/healthz")
    logger.access(Response(), None, probe, datetime.timedelta(milliseconds=1))  # not logged
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1, lines
    entry = json.loads(lines[0])
    assert (
        entry["status"] == 201
        and entry["path"] == "/api/accounts/"
        and entry["host"] == "acme.rebalance.example.com"
    )
    assert entry["user_agent"] == 'agent "with quotes"'
    assert entry["logger"] == "gunicorn.access"


# --- entrypoint.sh ----------------------------------------------------------------------------


@pytest.fixture
def stub_path(tmp_path):
    """A PATH where gunicorn, celery and python only print how they were called."""
    for program in ("gunicorn", "celery", "python"):
        stub = tmp_path / program
        stub.write_text(f'#!/bin/sh\necho "{program} $*"\n')
        stub.chmod(0o755)
    return f"{tmp_path}{os.pathsep}{os.environ['PATH']}"


def run_entrypoint(stub_path, *args, **env) -> str:
    bash = shutil.which("bash")
    if not bash:
        pytest.skip("bash not available")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CELERY_")}
    result = subprocess.run(
        [bash, str(ENTRYPOINT), *args],
        env={**clean, "PATH": stub_path, "APP_HOME": str(REPO), **env},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_entrypoint_dispatches_each_process(stub_path):
    assert run_entrypoint(stub_path) == "gunicorn -c platform/gunicorn.conf.py config.wsgi:application"
    worker = run_entrypoint(
        stub_path, "worker", CELERY_QUEUES="rebalance", CELERY_WORKER_CONCURRENCY="3"
    ).split()
    assert worker[:4] == ["celery", "-A", "config.celery_app", "worker"]
    for flag in (
        "--queues=rebalance",
        "--concurrency=3",
        "--optimization=fair",
        "--pool=prefork",
        "--hostname=rebalance@%h",
    ):
        assert flag in worker
    assert any(f.startswith("--max-tasks-per-child=") for f in worker)
    assert any(f.startswith("--max-memory-per-child=") for f in worker)
    both = run_entrypoint(stub_path, "worker").split()
    assert f"--queues={','.join(ALL_QUEUES)}" in both
    assert any(re.fullmatch(r"--concurrency=[1-9]\d*", f) for f in both), "a CPU count when not configured"
    beat = run_entrypoint(stub_path, "beat")
    assert beat.startswith("celery -A config.celery_app beat") and "--schedule=/tmp/" in beat
    assert run_entrypoint(stub_path, "migrate") == "python manage.py migrate_schemas --noinput"
    manage = run_entrypoint(stub_path, "manage", "create_firm", "--slug", "acme")
    assert manage == "python manage.py create_firm --slug acme"
