"""moediag's built-in checks: one module per check, each with its documentation beside it.

Installed as `moediag.checks` and registered under the `moediag.checks` entry-point group.
"""
