"""The ``segue`` command line."""
