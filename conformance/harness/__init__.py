"""The conformance harness: the cluster under test, its hooks, waiting helpers.

* ``cluster``: ``ClusterUnderTest``: the cluster's neutral record (name,
  kubeconfig, nodes, proxy mode) and its provider's handle (``exec_in_pod`` /
  ``exec_on_node``);
* ``providers``: opens what ``--testbed`` / ``--cluster`` / ``--kubeconfig``
  name through the provider protocol, bringing clusters up and down;
* ``waiting``: poll a condition against a deadline (never a bare sleep);
* ``disruption``: inject a fault through the provider's hooks, hold it, and
  record the recovery time (the ``disruption`` area);
* ``testinfra_backend``: a pytest-testinfra backend that runs on a local node;
* ``fixtures``: the pytest fixtures, imported by ``conformance/conftest.py``.
"""
