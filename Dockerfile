# svclab: the controllers and the proxy in one image (entrypoint `svclab`).
# Build: `svclab image build` (or `docker build -t svclab:0.1.0 .`).
# The base is pinned to an exact Python and Debian release.
FROM python:3.11.13-slim-bookworm

# The tools the proxy drives on the node: iptables (nft and legacy backends),
# nftables, ipset and ipvsadm (ipvs mode), conntrack (stale UDP entries), iproute2.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      iptables nftables ipset ipvsadm conntrack iproute2 kmod \
 && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY implementation ./implementation
RUN pip install --no-compile . \
 && python -m compileall -q "$(python -c 'import svclab, os; print(os.path.dirname(svclab.__file__))')" \
 && rm -rf /src

# Non-root by default (the controller-manager runs so); the proxy's pods set
# runAsUser: 0 and privileged, as netfilter needs.
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin svclab
USER 10001
WORKDIR /
ENTRYPOINT ["svclab"]
CMD ["--help"]
