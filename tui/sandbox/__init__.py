"""The practice sandbox behind ``mirror-wizard demo``: local registries seeded with an OpenShift-like
release and sample images, so the whole procedure can be learnt offline without touching a cluster."""
