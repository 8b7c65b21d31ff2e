"""Native Kustomize against hand-written expected output (what ``kustomize build`` v5 prints).

Expected objects are written out in full. Hash suffixes are checked two ways: literal
suffixes that kustomize's own documentation and tests print for the same data, and an
independent computation from kustomize's documented recipe (sha256 of the sorted JSON
of kind, empty name, data; first ten hex digits with 0,1,3,a,e -> g,h,k,m,t).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

import pytest
import test_render_kustomize_oracle
from rendertest import config, docs

from daemon.shell import render


def suffix(**fields: object) -> str:
    """Kustomize's content hash, recomputed here from its documented recipe."""
    text = json.dumps({"name": "", **fields}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:10].translate(str.maketrans("013ae", "ghkmt"))


def build(git_tree, files: dict[str, str], path: str) -> list[dict[str, object]]:
    """Gitopsd's objects for ``files``, checked against ``kubectl kustomize`` on the same tree."""
    objects = render.render(git_tree(files), path=path, config=config()).objects
    with tempfile.TemporaryDirectory() as scratch:
        for name, text in files.items():
            target = Path(scratch, name)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        theirs = test_render_kustomize_oracle.kubectl_build(Path(scratch, path))
    assert not isinstance(theirs, str), theirs
    assert test_render_kustomize_oracle.canonical(objects) == (
        test_render_kustomize_oracle.canonical(theirs)
    )
    return objects


def test_hash_recipe_matches_suffixes_kustomize_prints() -> None:
    """The recipe used below reproduces suffixes seen in kustomize's own output."""
    assert [
        suffix(kind="ConfigMap", data={"hello": "world"}),
        suffix(kind="ConfigMap", data={"foo": "bar"}),
        suffix(
            kind="Secret",
            type="Opaque",
            data={"DB_PASSWORD": "c29tZXB3", "DB_USERNAME": "YWRtaW4="},
        ),
    ] == ["dc6fm46dhm", "798k5k7g9f", "82c2g5f8f6"]


BASE = {
    "base/kustomization.yaml": """
resources:
- deployment.yaml
- service.yaml
commonLabels:
  app: web
configMapGenerator:
- name: web-config
  literals:
  - MODE=base
  - COLOR=blue
""",
    "base/deployment.yaml": """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  template:
    spec:
      containers:
      - name: web
        image: nginx:1.25
        envFrom:
        - configMapRef:
            name: web-config
""",
    "base/service.yaml": """
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  ports:
  - port: 80
    targetPort: 8080
""",
}


def test_overlay_with_namespace_prefix_merge_generator_images_replicas(git_tree) -> None:
    """An overlay over a base: namespace, prefix/suffix, merged generator, images, replicas, labels."""
    files = {
        **BASE,
        "overlays/prod/kustomization.yaml": """
resources:
- ../../base
namespace: prod
namePrefix: prod-
nameSuffix: -v2
labels:
- pairs:
    tier: frontend
commonAnnotations:
  owner: team-a
images:
- name: nginx
  newName: registry.example.com/nginx
  newTag: "1.26"
replicas:
- name: web
  count: 3
configMapGenerator:
- name: web-config
  behavior: merge
  literals:
  - MODE=prod
""",
    }
    cm_suffix = suffix(kind="ConfigMap", data={"COLOR": "blue", "MODE": "prod"})
    expected = docs(
        f"""
apiVersion: v1
kind: ConfigMap
metadata:
  name: prod-web-config-v2-{cm_suffix}
  namespace: prod
  labels: {{app: web, tier: frontend}}
  annotations: {{owner: team-a}}
data: {{COLOR: blue, MODE: prod}}
---
apiVersion: v1
kind: Service
metadata:
  name: prod-web-v2
  namespace: prod
  labels: {{app: web, tier: frontend}}
  annotations: {{owner: team-a}}
spec:
  ports:
  - {{port: 80, targetPort: 8080}}
  selector: {{app: web}}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: prod-web-v2
  namespace: prod
  labels: {{app: web, tier: frontend}}
  annotations: {{owner: team-a}}
spec:
  replicas: 3
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
      annotations: {{owner: team-a}}
    spec:
      containers:
      - name: web
        image: registry.example.com/nginx:1.26
        envFrom:
        - configMapRef:
            name: prod-web-config-v2-{cm_suffix}
"""
    )
    assert build(git_tree, files, "overlays/prod") == expected


def test_generated_names_are_rewritten_in_every_workload_reference(git_tree) -> None:
    """Hashed ConfigMap/Secret names reach volumes, projected sources, env, envFrom, pull secrets."""
    files = {
        "app/kustomization.yaml": """
resources:
- workload.yaml
configMapGenerator:
- name: settings
  files:
  - app.properties
  - custom-key=extra.txt
  envs:
  - vars.env
secretGenerator:
- name: creds
  literals:
  - password='s3cr3t'
- name: pull
  type: kubernetes.io/dockerconfigjson
  files:
  - .dockerconfigjson=docker.json
generatorOptions:
  labels:
    generated: "yes"
""",
        "app/app.properties": "a=1\nb=2\n",
        "app/extra.txt": "x",
        "app/vars.env": "# comment\nLEVEL=debug\n\n  SPACED=kept value \nEMPTY\n",
        "app/docker.json": '{"auths":{}}',
        "app/workload.yaml": """
apiVersion: batch/v1
kind: CronJob
metadata:
  name: report
spec:
  schedule: "0 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          imagePullSecrets:
          - name: pull
          containers:
          - name: report
            image: report:1
            env:
            - name: PASSWORD
              valueFrom:
                secretKeyRef: {name: creds, key: password}
            - name: LEVEL
              valueFrom:
                configMapKeyRef: {name: settings, key: LEVEL}
            envFrom:
            - configMapRef: {name: settings}
            - secretRef: {name: creds}
          volumes:
          - name: conf
            configMap: {name: settings}
          - name: all
            projected:
              sources:
              - configMap: {name: settings}
              - secret: {name: creds}
          - name: untouched
            configMap: {name: not-generated}
""",
    }
    settings_data = {
        "LEVEL": "debug",
        "SPACED": "kept value ",
        "EMPTY": "",
        "app.properties": "a=1\nb=2\n",
        "custom-key": "x",
    }
    settings = f"settings-{suffix(kind='ConfigMap', data=settings_data)}"
    creds_data = {"password": "czNjcjN0"}
    creds = f"creds-{suffix(kind='Secret', type='Opaque', data=creds_data)}"
    pull_data = {".dockerconfigjson": "eyJhdXRocyI6e319"}
    pull = f"pull-{suffix(kind='Secret', type='kubernetes.io/dockerconfigjson', data=pull_data)}"
    expected = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": settings, "labels": {"generated": "yes"}},
            "data": settings_data,
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": creds, "labels": {"generated": "yes"}},
            "type": "Opaque",
            "data": creds_data,
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": pull, "labels": {"generated": "yes"}},
            "type": "kubernetes.io/dockerconfigjson",
            "data": pull_data,
        },
        *docs(
            f"""
apiVersion: batch/v1
kind: CronJob
metadata:
  name: report
spec:
  schedule: "0 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          imagePullSecrets:
          - name: {pull}
          containers:
          - name: report
            image: report:1
            env:
            - name: PASSWORD
              valueFrom:
                secretKeyRef: {{name: {creds}, key: password}}
            - name: LEVEL
              valueFrom:
                configMapKeyRef: {{name: {settings}, key: LEVEL}}
            envFrom:
            - configMapRef: {{name: {settings}}}
            - secretRef: {{name: {creds}}}
          volumes:
          - name: conf
            configMap: {{name: {settings}}}
          - name: all
            projected:
              sources:
              - configMap: {{name: {settings}}}
              - secret: {{name: {creds}}}
          - name: untouched
            configMap: {{name: not-generated}}
"""
        ),
    ]
    assert build(git_tree, files, "app") == expected


def test_long_secret_values_wrap_every_70_characters_like_kustomize(git_tree) -> None:
    """Base64 of 70 characters or more gets a newline every 70 and a final one (hash included)."""
    files = {
        "app/kustomization.yaml": "secretGenerator:\n- name: big\n  literals:\n  - key="
        + "a" * 60
        + "\n"
    }
    encoded = "YWFh" * 20
    wrapped = f"{encoded[:70]}\n{encoded[70:]}\n"
    assert build(git_tree, files, "app") == [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {
                "name": f"big-{suffix(kind='Secret', type='Opaque', data={'key': wrapped})}"
            },
            "data": {"key": wrapped},
        }
    ]


def test_components_and_targeted_patches_of_both_kinds(git_tree) -> None:
    """Components add to the overlay's accumulation; SMP and JSON 6902 patches select by target."""
    files = {
        **BASE,
        "components/sidecar/kustomization.yaml": """
apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
patches:
- target:
    kind: Deployment
    labelSelector: app=web
  patch: |
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: ignored
    spec:
      template:
        spec:
          containers:
          - name: proxy
            image: envoy:1.29
""",
        "overlays/dev/kustomization.yaml": """
resources:
- ../../base
components:
- ../../components/sidecar
patches:
- target:
    kind: Service
    name: we.*
  patch: |
    - op: replace
      path: /spec/ports/0/port
      value: 8080
    - op: add
      path: /metadata/annotations
      value: {patched: "true"}
- path: resources.yaml
patchesJson6902:
- target:
    group: apps
    version: v1
    kind: Deployment
    name: web
  path: drop-replicas.yaml
""",
        "overlays/dev/resources.yaml": """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
      - name: web
        resources:
          limits: {memory: 128Mi}
""",
        "overlays/dev/drop-replicas.yaml": "- op: remove\n  path: /spec/replicas\n",
    }
    cm_suffix = suffix(kind="ConfigMap", data={"COLOR": "blue", "MODE": "base"})
    expected = docs(
        f"""
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config-{cm_suffix}
  labels: {{app: web}}
data: {{COLOR: blue, MODE: base}}
---
apiVersion: v1
kind: Service
metadata:
  name: web
  labels: {{app: web}}
  annotations: {{patched: "true"}}
spec:
  ports:
  - {{port: 8080, targetPort: 8080}}
  selector: {{app: web}}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {{app: web}}
spec:
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.25
        envFrom:
        - configMapRef: {{name: web-config-{cm_suffix}}}
        resources:
          limits: {{memory: 128Mi}}
      - name: proxy
        image: envoy:1.29
"""
    )
    assert build(git_tree, files, "overlays/dev") == expected
    result = render.render(git_tree(files), path="overlays/dev", config=config())
    assert result.renderer == "kustomize"
    assert {
        "base/kustomization.yaml",
        "base/deployment.yaml",
        "components/sidecar/kustomization.yaml",
        "overlays/dev/resources.yaml",
    } <= result.inputs


def test_strategic_merge_keeps_order_rules_and_directives(git_tree) -> None:
    """Merge keys, prepend order, $patch directives, ports keyed on port+protocol, null labels.

    A null label in a patchesStrategicMerge file becomes the text "null", as kustomize
    reads these patches as resources with string labels.
    """
    files = {
        "app/kustomization.yaml": "resources:\n- deploy.yaml\npatchesStrategicMerge:\n- patch.yaml\n",
        "app/deploy.yaml": """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  labels: {drop: me, keep: me}
spec:
  template:
    spec:
      containers:
      - name: a
        image: a:1
        ports:
        - {containerPort: 80, protocol: TCP, name: http}
      - name: b
        image: b:1
        env:
        - {name: X, value: "1"}
        - {name: Y, value: "2"}
      - name: c
        image: c:1
      tolerations:
      - {key: k1, operator: Exists}
""",
        "app/patch.yaml": """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  labels: {drop: null}
spec:
  template:
    spec:
      containers:
      - name: b
        image: b:2
        env:
        - {name: Z, value: "3"}
        - {name: X, $patch: delete}
      - name: c
        $patch: delete
      - name: a
        ports:
        - {containerPort: 443, protocol: TCP, name: https}
      tolerations:
      - {key: k2, operator: Exists}
""",
    }
    expected = docs(
        """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  labels: {drop: "null", keep: me}
spec:
  template:
    spec:
      containers:
      - name: b
        image: b:2
        env:
        - {name: Z, value: "3"}
        - {name: Y, value: "2"}
      - name: a
        image: a:1
        ports:
        - {containerPort: 443, protocol: TCP, name: https}
        - {containerPort: 80, protocol: TCP, name: http}
      tolerations:
      - {key: k2, operator: Exists}
"""
    )
    assert build(git_tree, files, "app") == expected


def test_custom_resources_lists_are_replaced_not_merged(git_tree) -> None:
    """A kind outside the built-in schema has its lists replaced by the patch's."""
    files = {
        "app/kustomization.yaml": """
resources:
- cr.yaml
patches:
- patch: |
    apiVersion: example.com/v1
    kind: Widget
    metadata:
      name: w
    spec:
      items:
      - name: new
""",
        "app/cr.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  items:\n  - name: old\n  size: 2\n",
    }
    assert build(git_tree, files, "app") == docs(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  items:\n  - name: new\n  size: 2\n"
    )


def test_namespace_and_prefix_fix_rbac_and_service_account_references(git_tree) -> None:
    """Namespaces only on namespaced kinds; roleRef, subjects and serviceAccountName follow renames."""
    files = {
        "app/kustomization.yaml": "resources:\n- rbac.yaml\nnamespace: tools\nnamePrefix: x-\n",
        "app/rbac.yaml": """
apiVersion: v1
kind: ServiceAccount
metadata:
  name: runner
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: reader
rules:
- {apiGroups: [""], resources: [pods], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: runner-reads
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: reader}
subjects:
- {kind: ServiceAccount, name: runner, namespace: default}
- {kind: ServiceAccount, name: default}
---
apiVersion: v1
kind: Namespace
metadata:
  name: tools
---
apiVersion: v1
kind: Pod
metadata:
  name: job
spec:
  serviceAccountName: runner
  containers:
  - {name: c, image: busybox}
""",
    }
    expected = docs(
        """
apiVersion: v1
kind: Namespace
metadata:
  name: tools
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: x-runner
  namespace: tools
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: x-reader
rules:
- {apiGroups: [""], resources: [pods], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: x-runner-reads
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: x-reader}
subjects:
- {kind: ServiceAccount, name: x-runner, namespace: tools}
- {kind: ServiceAccount, name: default, namespace: tools}
---
apiVersion: v1
kind: Pod
metadata:
  name: x-job
  namespace: tools
spec:
  serviceAccountName: x-runner
  containers:
  - {name: c, image: busybox}
"""
    )
    assert build(git_tree, files, "app") == expected


def test_builtin_transformer_configs_apply_with_their_own_field_specs(git_tree) -> None:
    """``transformers`` files of kind LabelTransformer/PrefixSuffixTransformer use only their fieldSpecs."""
    files = {
        "app/kustomization.yaml": "resources:\n- cm.yaml\ntransformers:\n- labels.yaml\n- affix.yaml\n",
        "app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
        "app/labels.yaml": """
apiVersion: builtin
kind: LabelTransformer
metadata:
  name: add-labels
labels:
  stage: qa
fieldSpecs:
- path: metadata/labels
  create: true
""",
        "app/affix.yaml": """
apiVersion: builtin
kind: PrefixSuffixTransformer
metadata:
  name: affix
prefix: pre-
suffix: -post
fieldSpecs:
- path: metadata/name
""",
    }
    assert build(git_tree, files, "app") == docs(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: pre-c-post\n  labels: {stage: qa}\n"
    )


def test_legacy_order_and_fifo_option(git_tree) -> None:
    """Output follows kustomize's legacy kind order by default and file order with ``fifo``."""
    resources = """
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: hook}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
---
apiVersion: v1
kind: Namespace
metadata: {name: ns}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: b, namespace: z}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: a}
"""
    legacy = build(
        git_tree,
        {"app/kustomization.yaml": "resources: [r.yaml]\n", "app/r.yaml": resources},
        "app",
    )
    fifo = build(
        git_tree,
        {
            "app/kustomization.yaml": "resources: [r.yaml]\nsortOptions: {order: fifo}\n",
            "app/r.yaml": resources,
        },
        "app",
    )
    names = [(o["kind"], o["metadata"]["name"]) for o in legacy]
    assert names == [
        ("Namespace", "ns"),
        ("ConfigMap", "b"),
        ("ConfigMap", "a"),
        ("Deployment", "d"),
        ("Widget", "w"),
        ("ValidatingWebhookConfiguration", "hook"),
    ]
    assert [(o["kind"], o["metadata"]["name"]) for o in fifo] == [
        ("ValidatingWebhookConfiguration", "hook"),
        ("Widget", "w"),
        ("Deployment", "d"),
        ("Namespace", "ns"),
        ("ConfigMap", "b"),
        ("ConfigMap", "a"),
    ]


def test_unsupported_field_names_file_and_line(git_tree) -> None:
    """A field outside the supported subset fails with its name, file and line."""
    files = {
        "app/kustomization.yaml": "resources:\n- cm.yaml\nhelmCharts:\n- name: x\n",
        "app/cm.yaml": "{}",
    }
    with pytest.raises(render.RenderError) as err:
        build(git_tree, files, "app")
    assert err.value.message == "unsupported kustomize field helmCharts (app/kustomization.yaml:3)"
    assert (err.value.file, err.value.line) == ("app/kustomization.yaml", 3)


def test_remote_bases_are_refused(git_tree) -> None:
    """A URL in resources fails clearly instead of fetching anything."""
    files = {"app/kustomization.yaml": "resources:\n- https://github.com/org/repo//deploy?ref=v1\n"}
    with pytest.raises(render.RenderError) as err:
        build(git_tree, files, "app")
    assert str(err.value) == (
        "app/kustomization.yaml:1: remote resources 'https://github.com/org/repo//deploy?ref=v1' "
        "is not supported: vendor it into the repository"
    )


def test_files_outside_the_kustomization_directory_are_refused(git_tree) -> None:
    """Like kustomize's default load restrictor: files must be in or below the kustomization."""
    files = {
        "app/kustomization.yaml": "resources:\n- ../shared/cm.yaml\n",
        "shared/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
    }
    with pytest.raises(render.RenderError) as err:
        build(git_tree, files, "app")
    assert str(err.value) == (
        "app/kustomization.yaml:1: security; file '../shared/cm.yaml' is not in or below 'app'"
    )


def test_base_cycles_are_refused(git_tree) -> None:
    """A base that is the kustomization's own directory or an ancestor is a cycle."""
    files = {
        "apps/web/kustomization.yaml": "resources:\n- overlay\n",
        "apps/web/overlay/kustomization.yaml": "resources:\n- ..\n",
    }
    with pytest.raises(render.RenderError) as err:
        build(git_tree, files, "apps/web")
    assert str(err.value) == (
        "apps/web/overlay/kustomization.yaml:1: cycle detected: resources '..' contains the "
        "visited kustomization 'apps/web'"
    )


def test_generator_merge_without_base_object_fails(git_tree) -> None:
    """``behavior: merge`` needs an existing object of that name."""
    files = {
        "app/kustomization.yaml": "configMapGenerator:\n- name: x\n  behavior: merge\n  literals: [a=b]\n"
    }
    with pytest.raises(render.RenderError) as err:
        build(git_tree, files, "app")
    assert str(err.value) == (
        "app/kustomization.yaml:1: id ConfigMap.v1.[noGrp]/x.[noNs] does not exist; cannot merge or replace"
    )


def test_kustomize_is_auto_detected_and_other_names_work(git_tree) -> None:
    """``Kustomization`` (capitalised) is found too; two kustomization files are an error."""
    one = git_tree(
        {
            "app/Kustomization": "resources: [cm.yaml]\n",
            "app/cm.yaml": "{apiVersion: v1, kind: ConfigMap, metadata: {name: c}}",
        }
    )
    assert render.render(one, path="app", config=config()).renderer == "kustomize"
    two = git_tree(
        {
            "app/kustomization.yaml": "resources: []\nnamespace: a\n",
            "app/kustomization.yml": "namespace: b\n",
        }
    )
    with pytest.raises(render.RenderError) as err:
        render.render(two, path="app", config=config())
    assert (
        str(err.value)
        == "app: found multiple kustomization files (kustomization.yaml, kustomization.yml)"
    )
