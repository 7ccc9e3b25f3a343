"""Writes the fake oc recordings in recordings/ (python3 tests/support/fake_oc/make_recordings.py). Shapes follow openshift/api types (image/v1, config/v1, samples/v1, machineconfiguration/v1) as oc get -o json prints them."""

import copy
import json
from pathlib import Path

R = Path(__file__).parent / "recordings"


def lst(items):
    return {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}


def write(scn, name, data):
    d = R / scn
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_text(json.dumps(data, indent=4) + "\n")


T0 = "2026-11-30T09:14:07Z"
T1 = "2026-12-01T16:42:51Z"
T2 = "2026-12-02T05:58:13Z"

version = {
    "clientVersion": {
        "major": "",
        "minor": "",
        "gitVersion": "4.17.0-202410011205.p0.g3a2ecdc.assembly.stream.el9-3a2ecdc",
        "gitCommit": "3a2ecdc0e28aadf9a0bd40e15b8b0ec2ec0d5a1f",
        "gitTreeState": "clean",
        "buildDate": "2024-10-01T13:06:45Z",
        "goVersion": "go1.22.5 (Red Hat 1.22.5-1.el9) X:strictfipsruntime",
        "compiler": "gc",
        "platform": "linux/amd64",
    },
    "kustomizeVersion": "v5.0.4-0.20230601165947-6ce0bf390ce3",
    "serverVersion": {
        "major": "1",
        "minor": "30",
        "gitVersion": "v1.30.5",
        "gitCommit": "f1b2c2f4b3a1f0bd9a6a9e5e2f1c0d9e8b7a6c5d",
        "gitTreeState": "clean",
        "buildDate": "2024-10-21T07:10:11Z",
        "goVersion": "go1.22.7 (Red Hat 1.22.7-1.el9_5) X:strictfipsruntime",
        "compiler": "gc",
        "platform": "linux/amd64",
    },
    "openshiftVersion": "4.17.3",
    "releaseClientVersion": "4.17.0-202410011205.p0.g3a2ecdc.assembly.stream.el9-3a2ecdc",
}
write("healthy", "cluster.json", {"user": "kube:admin", "server": "https://api.lab.example.com:6443", "version": version})
(R / "logged-out").mkdir(parents=True, exist_ok=True)
(R / "logged-out" / "base").write_text("healthy\n")
write("logged-out", "cluster.json", {"logged_in": False, "version": version})


def meta(name, uid, rv, gen=None, ns=None, **extra):
    m = {"creationTimestamp": T0, "name": name, "resourceVersion": rv, "uid": uid}
    if gen is not None:
        m["generation"] = gen
    if ns:
        m["namespace"] = ns
    m.update(extra)
    return dict(sorted(m.items()))


image_cluster = {
    "apiVersion": "config.openshift.io/v1",
    "kind": "Image",
    "metadata": meta(
        "cluster",
        "0b6f8f4e-5b7e-4a53-9c57-1f0b3c2a9d11",
        "512734",
        3,
        annotations={
            "include.release.openshift.io/ibm-cloud-managed": "true",
            "include.release.openshift.io/self-managed-high-availability": "true",
            "release.openshift.io/create-only": "true",
        },
        ownerReferences=[
            {
                "apiVersion": "config.openshift.io/v1",
                "kind": "ClusterVersion",
                "name": "version",
                "uid": "6a9cb3f1-3c0f-4f43-9e58-7f0f5e7d2b40",
            }
        ],
    ),
    "spec": {"additionalTrustedCA": {"name": "registry-config"}},
    "status": {"internalRegistryHostname": "image-registry.openshift-image-registry.svc:5000"},
}
write("healthy", "images.config.openshift.io.json", lst([image_cluster]))


def configmap(name, data, uid, rv):
    return {"apiVersion": "v1", "data": data, "kind": "ConfigMap", "metadata": meta(name, uid, rv, ns="openshift-config")}


kube_root = configmap("kube-root-ca.crt", {"ca.crt": "__CLUSTER_CA_PEM__"}, "3f0c1a77-3e5d-4f27-8d6b-0d1f8c7e2a55", "4121")
write(
    "healthy",
    "configmaps@openshift-config.json",
    lst(
        [
            kube_root,
            configmap("registry-config", {"__MIRROR_KEY__": "__CA_PEM__"}, "9d2e4c61-8a0b-4b6e-a1f3-5c7d9e0b2f48", "512701"),
        ]
    ),
)


def idms(name, entries, uid, rv):
    return {
        "apiVersion": "config.openshift.io/v1",
        "kind": "ImageDigestMirrorSet",
        "metadata": meta(name, uid, rv, 1),
        "spec": {"imageDigestMirrors": entries},
        "status": {},
    }


write(
    "healthy",
    "imagedigestmirrorsets.config.openshift.io.json",
    lst(
        [
            idms(
                "release-0",
                [
                    {"mirrors": ["__MIRROR_REPO__"], "source": "__SOURCE_COMPONENTS__"},
                    {"mirrors": ["__MIRROR_REPO__"], "source": "__SOURCE_RELEASE__"},
                ],
                "c8a9e2d4-1f3b-4c6d-9e8f-0a1b2c3d4e5f",
                "512812",
            )
        ]
    ),
)
write("healthy", "imagecontentsourcepolicies.operator.openshift.io.json", lst([]))


def cond(type_, status, reason="", message="", t=T1):
    c = {"lastTransitionTime": t, "lastUpdateTime": t, "status": status, "type": type_}
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    return dict(sorted(c.items()))


samples_status_ok = [
    cond("ImportCredentialsExist", "True", t=T0),
    cond("SamplesExist", "True", message="Samples installation successful at 4.17.3"),
    cond("ConfigurationValid", "True", t=T0),
    cond("ImageChangesInProgress", "False"),
    cond("RemovePending", "False", t=T0),
    cond("MigrationInProgress", "False", t=T0),
    cond("ImportImageErrorsExist", "False"),
]
samples_config = {
    "apiVersion": "samples.operator.openshift.io/v1",
    "kind": "Config",
    "metadata": meta(
        "cluster",
        "5e4d3c2b-1a09-4f8e-b7d6-c5b4a3928170",
        "520114",
        4,
        finalizers=["samples.operator.openshift.io/finalizer"],
    ),
    "spec": {
        "architectures": ["x86_64"],
        "managementState": "Managed",
        "samplesRegistry": "__SAMPLES_REGISTRY__",
        "skippedImagestreams": ["jenkins"],
    },
    "status": {
        "architectures": ["x86_64"],
        "conditions": samples_status_ok,
        "managementState": "Managed",
        "samplesRegistry": "__SAMPLES_REGISTRY__",
        "skippedImagestreams": ["jenkins"],
        "version": "4.17.3",
    },
}
write("healthy", "configs.samples.operator.openshift.io.json", lst([samples_config]))


def stream(name, tag, spec, rv, uid, status_tags, managed="true", ann=None):
    annotations = {
        "openshift.io/display-name": name.capitalize(),
        "openshift.io/image.dockerRepositoryCheck": T1,
        "samples.operator.openshift.io/version": "4.17.3",
    }
    annotations.update(ann or {})
    return {
        "apiVersion": "image.openshift.io/v1",
        "kind": "ImageStream",
        "metadata": meta(
            name,
            uid,
            rv,
            2,
            ns="openshift",
            annotations=annotations,
            labels={"samples.operator.openshift.io/managed": managed},
        ),
        "spec": {
            "lookupPolicy": {"local": False},
            "tags": [
                {
                    "annotations": {
                        "openshift.io/display-name": f"{name.capitalize()} {tag}",
                        "tags": f"builder,{name}",
                        "version": tag,
                    },
                    "from": {"kind": "DockerImage", "name": spec},
                    "generation": 2,
                    "importPolicy": {"importMode": "Legacy"},
                    "name": tag,
                    "referencePolicy": {"type": "Local"},
                }
            ],
        },
        "status": {
            "dockerImageRepository": f"image-registry.openshift-image-registry.svc:5000/openshift/{name}",
            "tags": status_tags,
        },
    }


def imported(tag, ref, image):
    return [{"items": [{"created": T1, "dockerImageReference": ref, "generation": 2, "image": image}], "tag": tag}]


def failed(tag, reason, message):
    return [
        {
            "conditions": [
                {
                    "generation": 2,
                    "lastTransitionTime": T1,
                    "message": message,
                    "reason": reason,
                    "status": "False",
                    "type": "ImportSuccess",
                }
            ],
            "items": None,
            "tag": tag,
        }
    ]


cli = {
    "apiVersion": "image.openshift.io/v1",
    "kind": "ImageStream",
    "metadata": meta(
        "cli",
        "aa11bb22-cc33-4d44-8e55-f66a77b88c99",
        "30211",
        2,
        ns="openshift",
        annotations={
            "include.release.openshift.io/ibm-cloud-managed": "true",
            "include.release.openshift.io/self-managed-high-availability": "true",
        },
    ),
    "spec": {
        "lookupPolicy": {"local": False},
        "tags": [
            {
                "annotations": None,
                "from": {"kind": "DockerImage", "name": "__SOURCE_COMPONENTS__@sha256:" + "3c" * 32},
                "generation": 2,
                "importPolicy": {"importMode": "Legacy", "scheduled": True},
                "name": "latest",
                "referencePolicy": {"type": "Source"},
            }
        ],
    },
    "status": {
        "dockerImageRepository": "image-registry.openshift-image-registry.svc:5000/openshift/cli",
        "tags": imported("latest", "__SOURCE_COMPONENTS__@sha256:" + "3c" * 32, "sha256:" + "3c" * 32),
    },
}
jenkins_failed = stream(
    "jenkins",
    "2",
    "__SAMPLES_REGISTRY__/ocp-tools-4/jenkins-rhel9:v4.17.0",
    "498812",
    "d1e2f3a4-b5c6-4d7e-8f90-a1b2c3d4e5f6",
    failed(
        "2", "NotFound", 'dockerimage.image.openshift.io "__SAMPLES_REGISTRY__/ocp-tools-4/jenkins-rhel9:v4.17.0" not found'
    ),
    managed="false",
)
ruby_ok = stream(
    "ruby",
    "__RUBY_TAG__",
    "__RUBY_MIRROR_SPEC__",
    "521004",
    "e2f3a4b5-c6d7-4e8f-90a1-b2c3d4e5f607",
    imported("__RUBY_TAG__", "__RUBY_MIRROR_REF__", "sha256:" + "5a" * 32),
)
perl_ok = stream(
    "perl",
    "__PERL_TAG__",
    "__PERL_MIRROR_SPEC__",
    "521009",
    "f3a4b5c6-d7e8-4f90-a1b2-c3d4e5f60718",
    imported("__PERL_TAG__", "__PERL_MIRROR_REF__", "sha256:" + "6b" * 32),
)
write("healthy", "imagestreams@openshift.json", lst([cli, jenkins_failed, perl_ok, ruby_ok]))


def pool(name, total, updated, updating, rendered, target, uid, rv):
    conditions = [
        cond("RenderDegraded", "False", t=T0),
        cond("NodeDegraded", "False", t=T0),
        cond("Degraded", "False", t=T0),
        cond(
            "Updated",
            "False" if updating else "True",
            message="" if updating else f"All nodes are updated with MachineConfig {rendered}",
            t=T2,
        ),
        cond(
            "Updating",
            "True" if updating else "False",
            message=f"All nodes are updating to MachineConfig {target}" if updating else "",
            t=T2,
        ),
    ]
    for c in conditions:
        c.pop("lastUpdateTime", None)
        c.setdefault("message", "")
        c.setdefault("reason", "")
    return {
        "apiVersion": "machineconfiguration.openshift.io/v1",
        "kind": "MachineConfigPool",
        "metadata": meta(
            name,
            uid,
            rv,
            5,
            labels={
                "machineconfiguration.openshift.io/mco-built-in": "",
                f"pools.operator.machineconfiguration.openshift.io/{name}": "",
            },
        ),
        "spec": {
            "configuration": {
                "name": target,
                "source": [
                    {"apiVersion": "machineconfiguration.openshift.io/v1", "kind": "MachineConfig", "name": f"00-{name}"},
                    {
                        "apiVersion": "machineconfiguration.openshift.io/v1",
                        "kind": "MachineConfig",
                        "name": f"99-{name}-generated-registries",
                    },
                ],
            },
            "machineConfigSelector": {"matchLabels": {"machineconfiguration.openshift.io/role": name}},
            "nodeSelector": {"matchLabels": {f"node-role.kubernetes.io/{name}": ""}},
            "paused": False,
        },
        "status": {
            "certExpirys": [],
            "conditions": conditions,
            "configuration": {
                "name": rendered if updating else target,
                "source": [
                    {"apiVersion": "machineconfiguration.openshift.io/v1", "kind": "MachineConfig", "name": f"00-{name}"},
                    {
                        "apiVersion": "machineconfiguration.openshift.io/v1",
                        "kind": "MachineConfig",
                        "name": f"99-{name}-generated-registries",
                    },
                ],
            },
            "degradedMachineCount": 0,
            "machineCount": total,
            "observedGeneration": 5,
            "readyMachineCount": updated,
            "unavailableMachineCount": total - updated,
            "updatedMachineCount": updated,
        },
    }


write(
    "healthy",
    "machineconfigpools.machineconfiguration.openshift.io.json",
    lst(
        [
            pool(
                "master",
                3,
                3,
                False,
                "rendered-master-7c1e0b5d2f9a4e6b8d3c1a0f9e8d7c6b",
                "rendered-master-7c1e0b5d2f9a4e6b8d3c1a0f9e8d7c6b",
                "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0",
                "523001",
            ),
            pool(
                "worker",
                3,
                3,
                False,
                "rendered-worker-2b9d8e7f6a5c4b3a2918f7e6d5c4b3a2",
                "rendered-worker-2b9d8e7f6a5c4b3a2918f7e6d5c4b3a2",
                "1a2b3c4d-5e6f-4708-9a1b-2c3d4e5f6a7b",
                "523044",
            ),
        ]
    ),
)


def node(name, role, uid, rv):
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": meta(
            name,
            uid,
            rv,
            labels={
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                f"node-role.kubernetes.io/{role}": "",
                "node.openshift.io/os_id": "rhcos",
            },
        ),
        "spec": {},
        "status": {
            "nodeInfo": {
                "containerRuntimeVersion": "cri-o://1.30.6-3.rhaos4.17.git4d7b0b1.el9",
                "kubeletVersion": "v1.30.5",
                "osImage": "Red Hat Enterprise Linux CoreOS 417.94.202410211619-0 (Plow)",
            }
        },
    }


write(
    "healthy",
    "nodes.json",
    lst(
        [
            node("master-0.lab.example.com", "master", "7a6b5c4d-3e2f-4109-8a7b-6c5d4e3f2a10", "522100"),
            node("worker-0.lab.example.com", "worker", "8b7c6d5e-4f3a-4210-9b8c-7d6e5f4a3b21", "522190"),
        ]
    ),
)

# -- broken: imports failing, no trust configured, IDMS without the component repository, pools updating
(R / "broken").mkdir(exist_ok=True)
(R / "broken" / "base").write_text("healthy\n")
img = copy.deepcopy(image_cluster)
img["spec"] = {}
img["metadata"]["resourceVersion"] = "530001"
write("broken", "images.config.openshift.io.json", lst([img]))
write(
    "broken",
    "imagedigestmirrorsets.config.openshift.io.json",
    lst(
        [
            idms(
                "release-0",
                [
                    {"mirrors": ["__MIRROR_REPO__"], "source": "__SOURCE_RELEASE__"},
                ],
                "c8a9e2d4-1f3b-4c6d-9e8f-0a1b2c3d4e5f",
                "512812",
            )
        ]
    ),
)
broken_status = [c for c in samples_status_ok if c["type"] != "ImportImageErrorsExist"] + [
    cond(
        "ImportImageErrorsExist",
        "True",
        reason="perl ruby ",
        message="ImageStream import errors have been detected.  Scan the openshift-cluster-samples-operator namespace for config maps.  Each failing imagestream will have a config map.  And the 'data' map will have entries per image stream tag with details on the errors.",
        t=T2,
    )
]
cfg = copy.deepcopy(samples_config)
cfg["status"]["conditions"] = broken_status
cfg["metadata"]["resourceVersion"] = "530120"
write("broken", "configs.samples.operator.openshift.io.json", lst([cfg]))
ruby_bad = stream(
    "ruby",
    "__RUBY_TAG__",
    "__RUBY_MIRROR_SPEC__",
    "530204",
    "e2f3a4b5-c6d7-4e8f-90a1-b2c3d4e5f607",
    failed("__RUBY_TAG__", "NotFound", 'dockerimage.image.openshift.io "__RUBY_MIRROR_SPEC__" not found'),
)
perl_bad = stream(
    "perl",
    "__PERL_TAG__",
    "__PERL_MIRROR_SPEC__",
    "530209",
    "f3a4b5c6-d7e8-4f90-a1b2-c3d4e5f60718",
    failed(
        "__PERL_TAG__",
        "InternalError",
        'Internal error occurred: __PERL_MIRROR_SPEC__: Get "https://__SAMPLES_REGISTRY__/v2/": tls: failed to verify certificate: x509: certificate signed by unknown authority',
    ),
)
write("broken", "imagestreams@openshift.json", lst([cli, jenkins_failed, perl_bad, ruby_bad]))
write(
    "broken",
    "machineconfigpools.machineconfiguration.openshift.io.json",
    lst(
        [
            pool(
                "master",
                3,
                3,
                False,
                "rendered-master-7c1e0b5d2f9a4e6b8d3c1a0f9e8d7c6b",
                "rendered-master-7c1e0b5d2f9a4e6b8d3c1a0f9e8d7c6b",
                "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0",
                "523001",
            ),
            pool(
                "worker",
                3,
                1,
                True,
                "rendered-worker-2b9d8e7f6a5c4b3a2918f7e6d5c4b3a2",
                "rendered-worker-9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b",
                "1a2b3c4d-5e6f-4708-9a1b-2c3d4e5f6a7b",
                "531077",
            ),
        ]
    ),
)

# -- wrong-key: the CA is in registry-config, but under the host without its port
(R / "wrong-key").mkdir(exist_ok=True)
(R / "wrong-key" / "base").write_text("healthy\n")
write(
    "wrong-key",
    "configmaps@openshift-config.json",
    lst(
        [
            kube_root,
            configmap(
                "registry-config", {"__MIRROR_HOST__": "__CA_PEM__"}, "9d2e4c61-8a0b-4b6e-a1f3-5c7d9e0b2f48", "540311"
            ),
        ]
    ),
)

# -- removed: the samples operator is Removed (its streams are gone; payload streams stay)
(R / "removed").mkdir(exist_ok=True)
(R / "removed" / "base").write_text("healthy\n")
removed = copy.deepcopy(samples_config)
removed["spec"]["managementState"] = "Removed"
removed["status"]["managementState"] = "Removed"
removed["status"]["conditions"] = [
    cond("ImportCredentialsExist", "False", t=T0),
    cond("SamplesExist", "False", t=T2),
    cond("ConfigurationValid", "True", t=T0),
    cond("ImageChangesInProgress", "False", t=T2),
    cond("RemovePending", "False", t=T2),
    cond("MigrationInProgress", "False", t=T0),
    cond("ImportImageErrorsExist", "False", t=T2),
]
removed["metadata"]["resourceVersion"] = "550002"
write("removed", "configs.samples.operator.openshift.io.json", lst([removed]))
write("removed", "imagestreams@openshift.json", lst([cli]))
print("written")

# -- old-icsp: a 4.12 cluster (no ImageDigestMirrorSet type yet) whose ICSP covers the release repository only
(R / "old-icsp").mkdir(exist_ok=True)
(R / "old-icsp" / "base").write_text("healthy\n")
old_version = copy.deepcopy(version)
old_version["openshiftVersion"] = "4.12.40"
old_version["serverVersion"]["minor"] = "25"
old_version["serverVersion"]["gitVersion"] = "v1.25.14+a52e8df"
write(
    "old-icsp",
    "cluster.json",
    {
        "user": "kube:admin",
        "server": "https://api.lab.example.com:6443",
        "version": old_version,
        "unknown_types": ["imagedigestmirrorsets"],
    },
)
write(
    "old-icsp",
    "imagecontentsourcepolicies.operator.openshift.io.json",
    lst(
        [
            {
                "apiVersion": "operator.openshift.io/v1alpha1",
                "kind": "ImageContentSourcePolicy",
                "metadata": meta("image-policy-0", "4d5e6f70-8192-4a3b-8c4d-5e6f708192a3", "88412", 1),
                "spec": {"repositoryDigestMirrors": [{"mirrors": ["__MIRROR_REPO__"], "source": "__SOURCE_RELEASE__"}]},
            }
        ]
    ),
)
print("written old-icsp")

# ---- signed: healthy, and the release signature ConfigMap of sha256:abab… exists already (Apply asks
# before replacing it: the cluster-version operator trusts what it holds)
(R / "signed").mkdir(parents=True, exist_ok=True)
(R / "signed" / "base").write_text("healthy\n")
write(
    "signed",
    "configmaps@openshift-config-managed.json",
    lst(
        [
            {
                "kind": "ConfigMap",
                "apiVersion": "v1",
                "metadata": {
                    "name": "sha256-" + "ab" * 32,
                    "namespace": "openshift-config-managed",
                    "creationTimestamp": "2026-11-30T09:20:11Z",
                    "labels": {"release.openshift.io/verification-signatures": ""},
                    "resourceVersion": "52110",
                    "uid": "9d1c4e0b-3a77-4b1e-9a0e-5f7d0c2b1a44",
                },
                "binaryData": {"sha256-" + "ab" * 32 + "-1": "YW4gb2xkZXIgc2lnbmF0dXJl"},
            }
        ]
    ),
)
print("written signed")

# ---- issue 24 (a mirror that lasts): shapes from openshift/api config/v1 (ClusterVersion, ClusterOperator,
# Image), cincinnati-operator api/v1 (UpdateService, conditions from openshift/custom-resource-status) and the
# cluster-version-operator's admin-gates / admin-acks ConfigMaps.
T3 = "2026-12-03T11:20:44Z"


def scenario(name, base):
    (R / name).mkdir(parents=True, exist_ok=True)
    (R / name / "base").write_text(base + "\n")


def cv_cond(type_, status, reason="", message="", t=T1):
    """config/v1 ClusterOperatorStatusCondition: no lastUpdateTime."""
    c = cond(type_, status, reason, message, t)
    c.pop("lastUpdateTime")
    return c


def clusterversion(version_text, upstream=None, channel="stable-4.17"):
    spec = {"channel": channel, "clusterID": "1f0b6c9e-7d3a-4c55-9e21-6b8a4d2f0c13"}
    if upstream:
        spec["upstream"] = upstream
    return {
        "apiVersion": "config.openshift.io/v1",
        "kind": "ClusterVersion",
        "metadata": meta("version", "6a9cb3f1-3c0f-4f43-9e58-7f0f5e7d2b40", "601214", 3),
        "spec": spec,
        "status": {
            "availableUpdates": None,
            "conditions": [
                cv_cond("Available", "True", message=f"Done applying {version_text}", t=T0),
                cv_cond("Failing", "False", t=T0),
                cv_cond("Progressing", "False", message=f"Cluster version is {version_text}", t=T1),
                cv_cond("RetrievedUpdates", "False", reason="RemoteFailed",
                          message="Unable to retrieve available updates: currently reconciling cluster version "
                                  f"{version_text} from the update service", t=T1),
            ],
            "desired": {"image": "__SOURCE_RELEASE__@sha256:" + "7e" * 32, "version": version_text},
            "history": [{"completionTime": T1, "image": "__SOURCE_RELEASE__@sha256:" + "7e" * 32, "startedTime": T0,
                         "state": "Completed", "verified": True, "version": version_text}],
            "observedGeneration": 3,
            "versionHash": "a6X3cTb2Yd8=",
        },
    }



write("healthy", "clusterversions.config.openshift.io.json", lst([clusterversion("4.17.3")]))

# -- ack-missing: a 4.20 cluster with mirrors; the CVO raised ack-4.20-sigstore-in-4.21, nobody acknowledged it
GATE = "ack-4.20-sigstore-in-4.21"
GATE_TEXT = ("This cluster has mirrors configured. 4.21 will require Sigstore signatures for "
             "quay.io/openshift-release-dev/ocp-release release verification. Please ensure that any registries "
             "configured as mirrors of quay.io/openshift-release-dev/ocp-release images contain the Sigstore "
             "signature images associated with any release images before updating to 4.21. See https://docs.redhat.com/"
             "en/documentation/openshift_container_platform/4.20/html/nodes/nodes-sigstore-using.html"
             "#nodes-sigstore-prepare-for-4.21_nodes-sigstore-using for more details.")
scenario("ack-missing", "healthy")
v420 = copy.deepcopy(version)
v420["openshiftVersion"] = "4.20.15"
v420["serverVersion"]["minor"] = "33"
v420["serverVersion"]["gitVersion"] = "v1.33.6"
write("ack-missing", "cluster.json", {"user": "kube:admin", "server": "https://api.lab.example.com:6443", "version": v420})
write("ack-missing", "clusterversions.config.openshift.io.json", lst([clusterversion("4.20.15", channel="stable-4.20")]))
gate_annotations = {
    "include.release.openshift.io/hypershift": "true",
    "include.release.openshift.io/ibm-cloud-managed": "true",
    "include.release.openshift.io/self-managed-high-availability": "true",
}
write("ack-missing", "configmaps@openshift-config-managed.json", lst([{
    "apiVersion": "v1", "data": {GATE: GATE_TEXT}, "kind": "ConfigMap",
    "metadata": meta("admin-gates", "2b7c9d1e-4f3a-4b6c-8d9e-0f1a2b3c4d5e", "598771", ns="openshift-config-managed",
                     annotations=dict(gate_annotations, **{"kubernetes.io/description": "Define update gates for the "
                                      "administrator to acknowledge in the admin-acks ConfigMap in the openshift-config "
                                      "namespace."})),
}]))
admin_acks = {
    "apiVersion": "v1", "kind": "ConfigMap",
    "metadata": meta("admin-acks", "3c8d0e2f-5a4b-4c7d-9e0f-1a2b3c4d5e6f", "4410", ns="openshift-config",
                     annotations=dict(gate_annotations, **{"kubernetes.io/description": "Record administrator "
                                      "acknowledgments of update gates defined in the admin-gates ConfigMap in the "
                                      "openshift-config-managed namespace.", "release.openshift.io/create-only": "true"})),
}
registry_config = configmap("registry-config", {"__MIRROR_KEY__": "__CA_PEM__"}, "9d2e4c61-8a0b-4b6e-a1f3-5c7d9e0b2f48",
                            "512701")
write("ack-missing", "configmaps@openshift-config.json", lst([admin_acks, kube_root, registry_config]))
scenario("ack-given", "ack-missing")
acked = copy.deepcopy(admin_acks)
acked["data"] = {GATE: "true"}
acked["metadata"]["resourceVersion"] = "612003"
write("ack-given", "configmaps@openshift-config.json", lst([acked, kube_root, registry_config]))


# -- image.config variants: allowed registries without / with the port, blocked, PreserveOriginal
def image_config(spec_extra, status_extra=None, rv="560001"):
    img = copy.deepcopy(image_cluster)
    img["spec"].update(spec_extra)
    img["status"].update(status_extra or {})
    img["metadata"]["resourceVersion"] = rv
    return lst([img])


scenario("allowed-no-port", "healthy")
write("allowed-no-port", "images.config.openshift.io.json", image_config({
    "allowedRegistriesForImport": [{"domainName": "__MIRROR_HOST__"}, {"domainName": "quay.io"}],
    "registrySources": {"allowedRegistries": ["__MIRROR_HOST__", "quay.io", "image-registry.openshift-image-registry.svc:5000"]},
}))
scenario("allowed-port", "healthy")
write("allowed-port", "images.config.openshift.io.json", image_config({
    "allowedRegistriesForImport": [{"domainName": "__SAMPLES_REGISTRY__"}, {"domainName": "quay.io"}],
    "registrySources": {"allowedRegistries": ["__SAMPLES_REGISTRY__", "quay.io",
                                              "image-registry.openshift-image-registry.svc:5000"]},
}, rv="560002"))
scenario("blocked", "healthy")
write("blocked", "images.config.openshift.io.json", image_config({
    "registrySources": {"blockedRegistries": ["docker.io", "__SAMPLES_REGISTRY__"]},
}, rv="560003"))
scenario("preserve", "healthy")
write("preserve", "images.config.openshift.io.json", image_config(
    {"imageStreamImportMode": "PreserveOriginal"}, {"imageStreamImportMode": "PreserveOriginal"}, rv="560004"))

# -- removed-bootstrap: a disconnected install; the samples operator bootstrapped Removed (TBR unreachable)
scenario("removed-bootstrap", "removed")


def operator_condition(type_, status, reason, t=T0):
    return {"lastTransitionTime": t, "reason": reason, "status": status, "type": type_}


write("removed-bootstrap", "clusteroperators.config.openshift.io.json", lst([{
    "apiVersion": "config.openshift.io/v1",
    "kind": "ClusterOperator",
    "metadata": meta("openshift-samples", "8e1f2a3b-4c5d-4e6f-8091-a2b3c4d5e6f7", "550120", 1,
                     annotations={"capability.openshift.io/name": "openshift-samples",
                                  "include.release.openshift.io/self-managed-high-availability": "true"}),
    "spec": {},
    "status": {
        "conditions": [
            operator_condition("Available", "True", "TermsBasedRegistryUnreacahable"),
            operator_condition("Progressing", "False", "TermsBasedRegistryUnreacahable"),
            operator_condition("Degraded", "False", "TermsBasedRegistryUnreacahable"),
        ],
        "extension": None,
        "relatedObjects": [
            {"group": "samples.operator.openshift.io", "name": "cluster", "resource": "configs"},
            {"group": "", "name": "openshift-cluster-samples-operator", "resource": "namespaces"},
            {"group": "template.openshift.io", "name": "", "namespace": "openshift", "resource": "templates"},
            {"group": "image.openshift.io", "name": "", "namespace": "openshift", "resource": "imagestreams"},
        ],
        "versions": [{"name": "operator", "version": "4.17.3"}],
    },
}]))

# -- update-service: the OpenShift Update Service reconciled with the plan's graph image, the CA key, upstream
ROUTE = "https://update-service-route-openshift-update-service.apps.lab.example.com"


def heartbeat(type_, status, reason, message="", t=T3):
    return {"lastHeartbeatTime": t, "lastTransitionTime": t, "message": message, "reason": reason, "status": status,
            "type": type_}


def update_service(conditions, uri, rv):
    status = {"conditions": conditions}
    if uri:
        status["policyEngineURI"] = uri
    return {
        "apiVersion": "updateservice.operator.openshift.io/v1",
        "kind": "UpdateService",
        "metadata": meta("update-service", "4d9e1f2a-6b5c-4d8e-9f01-2b3c4d5e6f70", rv, 1, ns="openshift-update-service"),
        "spec": {"graphDataImage": "__GRAPH_IMAGE__", "releases": "__RELEASES__", "replicas": 2},
        "status": status,
    }


scenario("update-service", "healthy")
write("update-service", "updateservices.updateservice.operator.openshift.io@openshift-update-service.json", lst([
    update_service([heartbeat("ReconcileCompleted", "True", "Success"),
                    heartbeat("RegistryCACertFound", "True", "CACertFound")], ROUTE, "640221")]))
write("update-service", "configmaps@openshift-config.json", lst([kube_root, configmap(
    "registry-config", {"__MIRROR_KEY__": "__CA_PEM__", "updateservice-registry": "__CA_PEM__"},
    "9d2e4c61-8a0b-4b6e-a1f3-5c7d9e0b2f48", "640100")]))
write("update-service", "clusterversions.config.openshift.io.json",
      lst([clusterversion("4.17.3", upstream=ROUTE + "/api/upgrades_info/v1/graph")]))
# the CA key missing: the operator says so in RegistryCACertFound; no route yet; the cluster asks Red Hat
scenario("update-service-unready", "healthy")
write("update-service-unready", "updateservices.updateservice.operator.openshift.io@openshift-update-service.json", lst([
    update_service([
        heartbeat("ReconcileCompleted", "False", "Reconcile started"),
        heartbeat("RegistryCACertFound", "False", "EnsureAdditionalTrustedCAFailed",
                  "Found ConfigMap referenced by ImageConfig.Spec.AdditionalTrustedCA.Name but did not find key "
                  "'updateservice-registry' for registry CA cert in ConfigMap (Name: registry-config, Namespace: "
                  "openshift-config)"),
    ], None, "640230")]))
print("written issue 24 scenarios")
# the service is ready but the cluster still asks the default upstream (spec.upstream unset)
scenario("upstream-unset", "update-service")
write("upstream-unset", "clusterversions.config.openshift.io.json", lst([clusterversion("4.17.3")]))
print("written upstream-unset")

# -- itms: an ImageTagMirrorSet (config/v1 ImageTagMirrorSet, spec.imageTagMirrors) beside the IDMS
scenario("itms", "healthy")
write("itms", "imagetagmirrorsets.config.openshift.io.json", lst([{
    "apiVersion": "config.openshift.io/v1",
    "kind": "ImageTagMirrorSet",
    "metadata": meta("tags-0", "5e0f2a3b-7c6d-4e9f-8a01-3c4d5e6f7081", "650114", 1),
    "spec": {"imageTagMirrors": [{"mirrors": ["__MIRROR_REPO__"], "source": "__SOURCE_RELEASE__"}]},
    "status": {},
}]))
print("written itms")

# -- multi: imageStreamImportMode unset, the cluster runs a multi-architecture payload (PreserveOriginal then)
scenario("multi", "healthy")
multi = clusterversion("4.17.3")
multi["status"]["desired"]["architecture"] = "Multi"
write("multi", "clusterversions.config.openshift.io.json", lst([multi]))
print("written multi")

# -- ack-not-raised: a 4.20 cluster whose admin-gates holds no sigstore gate (no mirror sets yet)
scenario("ack-not-raised", "ack-missing")
write("ack-not-raised", "configmaps@openshift-config-managed.json", lst([{
    "apiVersion": "v1", "kind": "ConfigMap",
    "metadata": meta("admin-gates", "2b7c9d1e-4f3a-4b6c-8d9e-0f1a2b3c4d5e", "598771", ns="openshift-config-managed",
                     annotations=dict(gate_annotations, **{"kubernetes.io/description": "Define update gates for the "
                                      "administrator to acknowledge in the admin-acks ConfigMap in the openshift-config "
                                      "namespace."})),
}]))
print("written ack-not-raised")
