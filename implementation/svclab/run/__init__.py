"""`svclab run`: every testbed brought up, checked, measured and brought down; then the report.

* ``progress`` - the terminal progress lines and the closing summary.
* ``cluster``  - the cluster a run works on: up/down and the exec hooks, by provider.
* ``conformance_phase`` - the pytest conformance suite against one cluster.
* ``load_phase`` - backends, client pod, targets and the Service-count sweep.
* ``lanes``    - testbeds in lanes side by side, load phases never overlapping.
* ``command``  - the CLI and the loop over testbeds.
"""
