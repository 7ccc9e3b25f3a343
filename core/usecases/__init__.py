"""The jobs both front ends do, one module each: the wizard's screens and the ``mirror-wizard`` commands
call these and keep only their widgets, argument parsing and words.

- :mod:`core.usecases.apply`: apply a plan's documents to a cluster through ``oc`` (what the cluster has
  already is merged, questions asked through the caller)
- :mod:`core.usecases.machine`: is this machine ready (the ``oc`` client and its version)
- :mod:`core.usecases.releases`: inspect a release, list versions, resolve and measure an update path
- :mod:`core.usecases.samples`: load the image streams from any source, and plan them
- :mod:`core.usecases.logins`: test the logins of the registries a plan uses
- :mod:`core.usecases.oc_runner`: the bounded ``oc`` runner those two share

The copy itself has its door in :mod:`core.orchestrate`; verifying a mirror and a cluster in
:mod:`core.verify`.
"""
