"""The names of the files a run writes for the cluster (core.run.write_outputs).

One name each, here, so every command that names a file (the runbook's, the wizard's help, the CLI's
printed commands) names the file the run really wrote. A light module: the runbook and the screens
import it without pulling in the registry client.
"""

from __future__ import annotations

SAMPLES_MAPPING_FILE = "samples-mapping.txt"           # SRC=DST lines for `oc image mirror -f`
SAMPLES_CONFIG_FILE = "samples-operator-config.yaml"   # the samples operator's Config
REGISTRY_CONFIG_FILE = "registry-config.yaml"          # the CA ConfigMap (openshift-config)
IMAGE_CONFIG_PATCH_FILE = "image-config-patch.json"    # image.config's additionalTrustedCA, for --patch-file

__all__ = ["IMAGE_CONFIG_PATCH_FILE", "REGISTRY_CONFIG_FILE", "SAMPLES_CONFIG_FILE", "SAMPLES_MAPPING_FILE"]
