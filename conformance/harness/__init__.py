"""The conformance harness: the cluster under test, its hooks, waiting helpers.

* ``cluster``: ``ClusterUnderTest`` (name, kubeconfig, nodes, proxy mode) and the
  provider hooks ``exec_in_pod`` / ``exec_on_node``;
* ``real_cluster``: a kind or kubeconfig cluster described from its API;
* ``providers``: which provider serves ``--testbed`` / ``--cluster`` /
  ``--kubeconfig``, bringing clusters up and down;
* ``waiting``: poll a condition against a deadline (never a bare sleep);
* ``testinfra_backend``: a pytest-testinfra backend that runs on a local node;
* ``fixtures``: the pytest fixtures, imported by ``conformance/conftest.py``.
"""
