"""The conformance harness: the cluster under test, its hooks, waiting helpers.

* ``cluster``: ``ClusterUnderTest`` (name, kubeconfig, nodes, proxy mode) and the
  provider hooks ``exec_in_pod`` / ``exec_on_node``;
* ``waiting``: poll a condition against a deadline (never a bare sleep);
* ``testinfra_backend``: a pytest-testinfra backend that runs on a node;
* ``fixtures``: the pytest fixtures, imported by ``conformance/conftest.py``.
"""
