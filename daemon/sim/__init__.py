"""A Kubernetes API server emulator on loopback (see ../shared/KUBE_API.md).

It stands alone: nothing here imports gitopsd's core, shell or runtime.
"""
