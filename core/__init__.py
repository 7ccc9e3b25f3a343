"""mirror-wizard's engine: registry client, copy engine and the OpenShift mirroring logic.

Nothing in this package imports Textual, Rich or ``tui``; the wizard and the headless command line
are both thin layers over it.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
