"""A test Helm chart as repository files (imported as ``helmcharts`` by render and e2e tests).

``web_chart(prefix)`` is a chart named ``web`` with ``_helpers.tpl`` helpers, a subchart
vendored as a directory (``charts/db``) and one as a ``.tgz`` (``charts/cache``), hooks
(a pre-install Job, a post-upgrade Job, a pre-delete Job, a test Pod), a CRD under
``crds/``, ``NOTES.txt``, a ``values.schema.json`` and two values files.
"""

from __future__ import annotations

import io
import tarfile

CHART = """\
apiVersion: v2
name: web
version: 1.2.3
appVersion: "4.5"
dependencies:
  - name: db
    version: 0.1.0
  - name: cache
    version: 0.1.0
"""

VALUES = """\
replicas: 1
image: nginx:1.27
greeting: hello
db:
  size: small
"""

SCHEMA = """\
{
  "$schema": "https://json-schema.org/draft-07/schema#",
  "type": "object",
  "properties": {
    "replicas": {"type": "integer", "minimum": 1},
    "greeting": {"type": "string"}
  }
}
"""

HELPERS = """\
{{- define "web.fullname" -}}
{{ .Release.Name }}-{{ .Chart.Name }}
{{- end -}}
{{- define "web.labels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}
"""

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "web.fullname" . }}
  labels:
    {{- include "web.labels" . | nindent 4 }}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels:
      app: {{ include "web.fullname" . }}
  template:
    metadata:
      labels:
        app: {{ include "web.fullname" . }}
    spec:
      containers:
        - name: web
          image: {{ .Values.image }}
          env:
            - name: GREETING
              value: {{ .Values.greeting | quote }}
            - name: NAMESPACE
              value: {{ .Release.Namespace }}
"""

HOOKS = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ include "web.fullname" . }}-migrate
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: "-5"
    helm.sh/hook-delete-policy: before-hook-creation
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - {name: migrate, image: busybox}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ include "web.fullname" . }}-smoke
  annotations:
    helm.sh/hook: post-upgrade,post-install
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - {name: smoke, image: busybox}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ include "web.fullname" . }}-goodbye
  annotations:
    helm.sh/hook: pre-delete
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - {name: bye, image: busybox}
"""

TEST_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: {{ include "web.fullname" . }}-test
  annotations:
    helm.sh/hook: test
spec:
  restartPolicy: Never
  containers:
    - {name: test, image: busybox}
"""

CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.org
spec:
  group: example.org
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
"""

SUBCHART_TEMPLATE = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-{{ .Chart.Name }}
data:
  size: {{ .Values.size | quote }}
"""


def subchart_files(name: str) -> dict[str, str]:
    """A one-template subchart named ``name`` (default value ``size: default``)."""
    return {
        "Chart.yaml": f"apiVersion: v2\nname: {name}\nversion: 0.1.0\n",
        "values.yaml": "size: default\n",
        "templates/cm.yaml": SUBCHART_TEMPLATE,
    }


def tgz(name: str, files: dict[str, str]) -> bytes:
    """``files`` packed as Helm packs a chart: a gzipped tar with one ``name/`` directory."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path, text in sorted(files.items()):
            data = text.encode()
            info = tarfile.TarInfo(f"{name}/{path}")
            info.size = len(data)
            info.mtime = 1_700_000_000
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def web_chart(prefix: str) -> dict[str, str | bytes]:
    """The files of the ``web`` chart under the repository directory ``prefix``."""
    files: dict[str, str | bytes] = {
        "Chart.yaml": CHART,
        "values.yaml": VALUES,
        "values.schema.json": SCHEMA,
        "templates/_helpers.tpl": HELPERS,
        "templates/deployment.yaml": DEPLOYMENT,
        "templates/hooks.yaml": HOOKS,
        "templates/tests/test-connection.yaml": TEST_POD,
        "templates/NOTES.txt": "Thanks for installing {{ .Release.Name }}.\n",
        "crds/widgets.yaml": CRD,
        "charts/cache-0.1.0.tgz": tgz("cache", subchart_files("cache")),
        "values-prod.yaml": "replicas: 3\ngreeting: from-prod\ndb:\n  size: large\n",
    }
    files.update({f"charts/db/{p}": text for p, text in subchart_files("db").items()})
    return {f"{prefix}/{path}" if prefix else path: content for path, content in files.items()}
