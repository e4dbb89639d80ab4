"""svclab: a declarative testbed and conformance suite for Kubernetes Services."""

__version__ = "0.1.0"
