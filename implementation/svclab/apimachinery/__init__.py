"""svclab.apimachinery: pure API-object code that clients, controllers and the API server share.

The bottom layer, named after upstream's ``k8s.io/apimachinery``: plain
functions and values over JSON dicts and strings, no I/O, no imports from the
rest of svclab or from a client library. One concept per module:

* ``selection``   ``Operator`` and ``SelectorError``, shared by both selector kinds
* ``labels``      label selectors: parsing, set-based requirements, matching
* ``fields``      field selectors: parsing, escapes, matching a field set
* ``validation``  name and label formats (DNS labels and subdomains, label keys
                  and values) with upstream's messages
* ``merge_patch`` RFC 7386 JSON merge patch
* ``netutils``    IP parsing as ``k8s.io/utils/net`` (sloppy: leading zeros allowed)
* ``remotecommand`` the exec/attach channel protocol over WebSocket (framing,
                  the error channel's Status)
* ``spdy``        SPDY/3.1 framing and header blocks, for port-forward

Import from the modules (``svclab.apimachinery.labels`` ...); this package
re-exports nothing.
"""

__all__: list[str] = []
