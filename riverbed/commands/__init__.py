"""Sub-commands of the ``riverbed`` CLI, one module each."""
