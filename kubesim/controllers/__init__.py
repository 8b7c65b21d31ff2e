"""Fake controllers that write status the way kube-controller-manager does (§6)."""
