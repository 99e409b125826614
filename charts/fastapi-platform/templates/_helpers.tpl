{{/* ---- names and labels ------------------------------------------------------------------- */}}

{{- define "fp.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "fp.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* "<fullname>-<component>", e.g. fp.component.name (dict "root" $ "component" "api") */}}
{{- define "fp.componentName" -}}
{{- printf "%s-%s" (include "fp.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "fp.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels: minimal and never changed after the first release (selectors are immutable). */}}
{{- define "fp.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fp.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Every object's labels: the selector labels plus version, part-of, managed-by and chart. */}}
{{- define "fp.labels" -}}
{{ include "fp.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: {{ include "fp.name" .root }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ include "fp.chart" .root }}
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* ---- images ----------------------------------------------------------------------------- */}}

{{/* fp.image (dict "root" $ "image" .Values.api.image "own" true): own images default to the
     global registry and tag; a digest pins the image whatever the tag says. */}}
{{- define "fp.image" -}}
{{- $image := .image -}}
{{- $registry := $image.registry -}}
{{- $tag := $image.tag -}}
{{- if .own -}}
{{- $registry = default .root.Values.global.imageRegistry $image.registry -}}
{{- $tag = default (default .root.Chart.AppVersion .root.Values.global.imageTag) $image.tag -}}
{{- end -}}
{{- $repository := $image.repository -}}
{{- if $registry -}}{{- $repository = printf "%s/%s" $registry $image.repository -}}{{- end -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $repository $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repository (toString $tag) -}}
{{- end -}}
{{- end -}}

{{- define "fp.imagePullSecrets" -}}
{{- with .Values.global.imagePullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ if kindIs "string" . }}{{ . }}{{ else }}{{ .name }}{{ end }}
{{- end }}
{{- end }}
{{- end -}}

{{/* ---- service accounts --------------------------------------------------------------------- */}}

{{- define "fp.serviceAccountName" -}}
{{- $sa := index .root.Values .component "serviceAccount" -}}
{{- if $sa.create -}}
{{- default (include "fp.componentName" .) $sa.name -}}
{{- else -}}
{{- default "default" $sa.name -}}
{{- end -}}
{{- end -}}

{{/* ---- the database -------------------------------------------------------------------------- */}}

{{- define "fp.secretName" -}}
{{- include "fp.fullname" . -}}
{{- end -}}

{{- define "fp.postgresql.host" -}}
{{- include "fp.componentName" (dict "root" . "component" "postgresql") -}}
{{- end -}}

{{- define "fp.redis.host" -}}
{{- include "fp.componentName" (dict "root" . "component" "redis") -}}
{{- end -}}

{{- define "fp.cacheRedis.host" -}}
{{- include "fp.componentName" (dict "root" . "component" "cache-redis") -}}
{{- end -}}

{{/* The cache's own Redis (APP_CACHE_REDIS_URL), when cacheRedis configures one. */}}
{{- define "fp.env.cacheRedis" -}}
{{- $c := .Values.cacheRedis -}}
{{- if and $c.enabled (or $c.url $c.existingSecret) -}}
{{- fail "cacheRedis: enabled (a bundled cache Redis) or url/existingSecret (an external one), not both" -}}
{{- end -}}
{{- if $c.enabled }}
- name: APP_CACHE_REDIS_URL
  value: {{ printf "redis://%s:6379/0" (include "fp.cacheRedis.host" .) | quote }}
{{- else if $c.existingSecret }}
- name: APP_CACHE_REDIS_URL
  valueFrom:
    secretKeyRef: {name: {{ $c.existingSecret | quote }}, key: {{ $c.existingSecretUrlKey | quote }}}
{{- else if $c.url }}
- name: APP_CACHE_REDIS_URL
  valueFrom:
    secretKeyRef: {name: {{ include "fp.secretName" . | quote }}, key: cache-redis-url}
{{- end }}
{{- end -}}

{{/* How the database is reached: "bundled", "existingUrl", "existingPassword", "url", "parts". */}}
{{- define "fp.database.mode" -}}
{{- $db := .Values.externalDatabase -}}
{{- if .Values.postgresql.enabled -}}bundled
{{- else if and $db.existingSecret $db.existingSecretUrlKey -}}existingUrl
{{- else if and $db.existingSecret $db.host -}}existingPassword
{{- else if $db.url -}}url
{{- else if and $db.host $db.password -}}parts
{{- else -}}
{{- fail "no database: set externalDatabase.url, or externalDatabase.host with password (or existingSecret), or postgresql.enabled=true for development" -}}
{{- end -}}
{{- end -}}

{{/* The database's host, port, name and user when the chart knows them (not for a URL). */}}
{{- define "fp.database.parts" -}}
{{- if .Values.postgresql.enabled -}}
{{- dict "host" (include "fp.postgresql.host" .) "port" 5432 "database" .Values.postgresql.database "username" .Values.postgresql.username | toJson -}}
{{- else -}}
{{- $db := .Values.externalDatabase -}}
{{- dict "host" $db.host "port" $db.port "database" $db.database "username" $db.username | toJson -}}
{{- end -}}
{{- end -}}

{{/* postgresql://user[:password]@host:port/database[?sslmode=]; fp.database.compose (dict
     "parts" $parts "password" "" "sslmode" "") */}}
{{- define "fp.database.compose" -}}
{{- /* urlquery is form encoding: a space becomes "+", which a URL's user info keeps as a plus */ -}}
{{- $auth := urlquery .parts.username | replace "+" "%20" -}}
{{- if .password -}}{{- $auth = printf "%s:%s" $auth (urlquery .password | replace "+" "%20") -}}{{- end -}}
{{- $url := printf "postgresql://%s@%s:%v/%s" $auth .parts.host .parts.port .parts.database -}}
{{- if .sslmode -}}{{- $url = printf "%s?sslmode=%s" $url .sslmode -}}{{- end -}}
{{- $url -}}
{{- end -}}

{{- define "fp.pgbouncer.host" -}}
{{- include "fp.componentName" (dict "root" . "component" "pgbouncer") -}}
{{- end -}}

{{/* env entries for APP_DB_URL (and APP_DB_PASSWORD): fp.env.database (dict "root" $ "pooled" bool)
     pooled: through PgBouncer (api, worker, beat when pgbouncer.enabled); never for migrations,
     which hold a session-level advisory lock. */}}
{{- define "fp.env.database" -}}
{{- $root := .root -}}
{{- $mode := include "fp.database.mode" $root -}}
{{- $pooled := and .pooled $root.Values.pgbouncer.enabled -}}
{{- $db := $root.Values.externalDatabase -}}
{{- if $pooled }}
{{- if eq $mode "existingPassword" }}
{{- $parts := include "fp.database.parts" $root | fromJson }}
{{- $_ := set $parts "host" (include "fp.pgbouncer.host" $root) }}
{{- $_ := set $parts "port" $root.Values.pgbouncer.port }}
- name: APP_DB_URL
  value: {{ include "fp.database.compose" (dict "parts" $parts) | quote }}
- name: APP_DB_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ $db.existingSecret | quote }}, key: {{ $db.existingSecretPasswordKey | quote }}}
{{- else }}
- name: APP_DB_URL
  valueFrom:
    secretKeyRef: {name: {{ include "fp.secretName" $root | quote }}, key: database-url-pooled}
{{- end }}
- name: APP_DB_TRANSACTION_POOLING
  value: "true"
{{- else if eq $mode "existingUrl" }}
- name: APP_DB_URL
  valueFrom:
    secretKeyRef: {name: {{ $db.existingSecret | quote }}, key: {{ $db.existingSecretUrlKey | quote }}}
{{- else if eq $mode "existingPassword" }}
- name: APP_DB_URL
  value: {{ include "fp.database.compose" (dict "parts" (include "fp.database.parts" $root | fromJson) "sslmode" $db.sslmode) | quote }}
- name: APP_DB_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ $db.existingSecret | quote }}, key: {{ $db.existingSecretPasswordKey | quote }}}
{{- else }}
- name: APP_DB_URL
  valueFrom:
    secretKeyRef: {name: {{ .secretName | default (include "fp.secretName" $root) | quote }}, key: database-url}
{{- end }}
{{- end -}}

{{/* ---- Redis, broker, JWT, SMTP ------------------------------------------------------------- */}}

{{- define "fp.redis.mode" -}}
{{- $r := .Values.externalRedis -}}
{{- if .Values.redis.enabled -}}bundled
{{- else if and $r.existingSecret $r.existingSecretUrlKey -}}existingUrl
{{- else if and $r.existingSecret $r.host -}}existingPassword
{{- else if $r.url -}}url
{{- else if $r.host -}}parts
{{- else -}}
{{- fail "no Redis: set externalRedis.url, or externalRedis.host (password or existingSecret optional), or redis.enabled=true for development" -}}
{{- end -}}
{{- end -}}

{{/* redis[s]://host:port/db, without the password (APP_REDIS_PASSWORD carries it). */}}
{{- define "fp.redis.compose" -}}
{{- $r := .root.Values.externalRedis -}}
{{- printf "%s://%s:%v/%v" (ternary "rediss" "redis" (and $r.tls true)) $r.host $r.port $r.database -}}
{{- end -}}

{{- define "fp.env.redis" -}}
{{- $mode := include "fp.redis.mode" . -}}
{{- $r := .Values.externalRedis -}}
{{- if eq $mode "bundled" }}
- name: APP_REDIS_URL
  value: {{ printf "redis://%s:6379/0" (include "fp.redis.host" .) | quote }}
{{- else if eq $mode "existingUrl" }}
- name: APP_REDIS_URL
  valueFrom:
    secretKeyRef: {name: {{ $r.existingSecret | quote }}, key: {{ $r.existingSecretUrlKey | quote }}}
{{- else if eq $mode "existingPassword" }}
- name: APP_REDIS_URL
  value: {{ include "fp.redis.compose" (dict "root" .) | quote }}
- name: APP_REDIS_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ $r.existingSecret | quote }}, key: {{ $r.existingSecretPasswordKey | quote }}}
{{- else if eq $mode "parts" }}
- name: APP_REDIS_URL
  value: {{ include "fp.redis.compose" (dict "root" .) | quote }}
{{- if $r.password }}
- name: APP_REDIS_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ include "fp.secretName" . | quote }}, key: redis-password}
{{- end }}
{{- else }}
- name: APP_REDIS_URL
  valueFrom:
    secretKeyRef: {name: {{ include "fp.secretName" . | quote }}, key: redis-url}
{{- end }}
{{- with .Values.externalBroker }}
{{- if .existingSecret }}
- name: APP_CELERY_BROKER_URL
  valueFrom:
    secretKeyRef: {name: {{ .existingSecret | quote }}, key: {{ .existingSecretUrlKey | quote }}}
{{- else if .url }}
- name: APP_CELERY_BROKER_URL
  valueFrom:
    secretKeyRef: {name: {{ include "fp.secretName" $ | quote }}, key: broker-url}
{{- end }}
{{- end }}
{{- end -}}

{{- define "fp.env.credentials" -}}
{{- include "fp.env.database" (dict "root" .root "pooled" true) }}
{{- include "fp.env.redis" .root }}
{{- include "fp.env.cacheRedis" .root }}
{{- $auth := .root.Values.auth }}
- name: APP_AUTH_JWT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ default (include "fp.secretName" .root) $auth.existingSecret | quote }}
      key: {{ ternary $auth.existingSecretKey "jwt-secret" (not (empty $auth.existingSecret)) | quote }}
{{- with .root.Values.smtp }}
{{- if .existingSecret }}
- name: APP_SMTP_USERNAME
  valueFrom:
    secretKeyRef: {name: {{ .existingSecret | quote }}, key: {{ .existingSecretUsernameKey | quote }}, optional: true}
- name: APP_SMTP_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ .existingSecret | quote }}, key: {{ .existingSecretPasswordKey | quote }}, optional: true}
{{- else }}
{{- if .username }}
- name: APP_SMTP_USERNAME
  valueFrom:
    secretKeyRef: {name: {{ include "fp.secretName" $.root | quote }}, key: smtp-username}
{{- end }}
{{- if .password }}
- name: APP_SMTP_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ include "fp.secretName" $.root | quote }}, key: smtp-password}
{{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{/* ---- what every app container shares ------------------------------------------------------ */}}

{{/* Component settings over the shared ones, as env entries (env wins over envFrom). */}}
{{- define "fp.env.componentConfig" -}}
{{- range $name, $value := .config }}
- name: {{ $name }}
  value: {{ toString $value | quote }}
{{- end }}
{{- end -}}

{{/* OpenTelemetry: one service name per component, Kubernetes resource attributes from the
     downward API (expanded by the kubelet: the K8S_* variables come first), the sampler with the
     component's overrides (api.tracing, worker.tracing). "container" names the container when it
     is not the component. The SDK decodes attribute values with percent-decoding, so values with
     "," or "%" are refused by the schema rather than escaped here. */}}
{{- define "fp.env.tracing" -}}
{{- $t := .root.Values.tracing -}}
{{- $own := dig "tracing" dict (index .root.Values .component | default dict) -}}
{{- $name := include "fp.name" .root -}}
{{- $sampler := $own.sampler | default $t.sampler -}}
{{- $samplerArg := $own.samplerArg | default $t.samplerArg | toString -}}
{{- $attributes := list
      (printf "service.namespace=%s" $name)
      (printf "service.version=%s" .root.Chart.AppVersion)
      (printf "deployment.environment=%s" .root.Values.environment)
      (printf "deployment.environment.name=%s" .root.Values.environment)
      "k8s.namespace.name=$(K8S_NAMESPACE_NAME)"
      "k8s.pod.name=$(K8S_POD_NAME)"
      "k8s.pod.uid=$(K8S_POD_UID)"
      "k8s.node.name=$(K8S_NODE_NAME)"
      (printf "k8s.container.name=%s" (.container | default .component)) -}}
{{- range $key, $value := $t.resourceAttributes }}
{{- $attributes = append $attributes (printf "%s=%s" $key (toString $value)) }}
{{- end }}
- name: K8S_POD_NAME
  valueFrom: {fieldRef: {fieldPath: metadata.name}}
- name: K8S_POD_UID
  valueFrom: {fieldRef: {fieldPath: metadata.uid}}
- name: K8S_NAMESPACE_NAME
  valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
- name: K8S_NODE_NAME
  valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
- name: OTEL_SERVICE_NAME
  value: {{ $own.serviceName | default (printf "%s-%s" $name .component) | quote }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ join "," $attributes | quote }}
{{- if $t.enabled }}
{{- $endpoint := required "tracing.endpoint is required when tracing.enabled" $t.endpoint }}
{{- if regexMatch "/v1/traces/?$" $endpoint }}
{{- fail (printf "tracing.endpoint is the OTLP base URL: the SDK appends /v1/traces (got %s)" $endpoint) }}
{{- end }}
{{- if and (hasSuffix "traceidratio" $sampler) (not (regexMatch "^(0|1|0?\\.[0-9]+|1\\.0*)$" $samplerArg)) }}
{{- fail (printf "%s: samplerArg must be a ratio from 0 to 1 for %s (got %q)" .component $sampler $samplerArg) }}
{{- end }}
- name: OTEL_TRACES_EXPORTER
  value: otlp
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $endpoint | quote }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: http/protobuf
- name: OTEL_TRACES_SAMPLER
  value: {{ $sampler | quote }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ $samplerArg | quote }}
{{- else }}
- name: OTEL_SDK_DISABLED
  value: "true"
{{- end }}
{{- end -}}

{{/* The env of an app container: fp.env (dict "root" $ "component" "api" "config" .Values.api.config "extraEnv" ...) */}}
{{- define "fp.env" -}}
envFrom:
  - configMapRef:
      name: {{ include "fp.fullname" .root }}
env:
{{- include "fp.env.credentials" . | indent 2 }}
{{- include "fp.env.tracing" . | nindent 2 }}
{{- include "fp.env.componentConfig" . | indent 2 }}
{{- with .extraEnv }}
{{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Rolls the pods when a setting or a credential changes. */}}
{{- define "fp.checksums" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
checksum/secret: {{ include (print .Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end -}}

{{/* The schema revision the release's code needs, from Chart.yaml: a rollback reads it per
     release revision from `helm get manifest`. */}}
{{- define "fp.schemaRevision" -}}
fastapi-platform.dev/schema-revision: {{ index .Chart.Annotations "fastapi-platform.dev/schema-revision" | quote }}
{{- end -}}

{{- define "fp.metricsAnnotations" -}}
{{- if .root.Values.metrics.podAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .port | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- end -}}

{{/* Writable scratch space on a read-only root: /tmp (probes, beat's schedule) and the Prometheus
     multiprocess directory, both in memory. */}}
{{- define "fp.volumes" -}}
- name: tmp
  emptyDir: {medium: Memory, sizeLimit: 64Mi}
- name: prometheus
  emptyDir: {medium: Memory, sizeLimit: 64Mi}
{{- end -}}

{{- define "fp.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: prometheus
  mountPath: /run/prometheus
{{- end -}}

{{/* The init container that holds a pod back until the schema is not behind its code. */}}
{{- define "fp.waitForSchema" -}}
{{- if .root.Values.waitForSchema.enabled }}
initContainers:
  - name: wait-for-schema
    image: {{ .image | quote }}
    imagePullPolicy: {{ .pullPolicy }}
    args: [wait-for-schema, --wait, {{ .root.Values.waitForSchema.timeoutSeconds | quote }}]
    env:
      {{- include "fp.env.database" (dict "root" .root "pooled" true) | indent 6 }}
      {{- range $name, $value := .root.Values.config }}
      {{- if hasPrefix "APP_DB_" $name }}
      - name: {{ $name }}
        value: {{ toString $value | quote }}
      {{- end }}
      {{- end }}
      - name: APP_LOG_FORMAT
        value: {{ index .root.Values.config "APP_LOG_FORMAT" | default "json" | quote }}
    securityContext: {{- toYaml .root.Values.securityContext | nindent 6 }}
    resources: {{- toYaml .root.Values.waitForSchema.resources | nindent 6 }}
    volumeMounts:
      - name: tmp
        mountPath: /tmp
{{- end }}
{{- end -}}

{{/* Spread over zones and nodes unless the component says otherwise. */}}
{{- define "fp.scheduling" -}}
{{- $values := index .root.Values .component -}}
{{- with $values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with $values.nodeSelector }}
nodeSelector: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.tolerations }}
tolerations: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.affinity }}
affinity: {{- toYaml . | nindent 2 }}
{{- end }}
{{- if hasKey $values "topologySpreadConstraints" }}
topologySpreadConstraints:
{{- if $values.topologySpreadConstraints }}
{{- toYaml $values.topologySpreadConstraints | nindent 2 }}
{{- else }}
{{- range list "topology.kubernetes.io/zone" "kubernetes.io/hostname" }}
  - maxSkew: 1
    topologyKey: {{ . }}
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels: {{- include "fp.selectorLabels" (dict "root" $.root "component" $.selector) | nindent 8 }}
{{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{/* ---- worker groups ------------------------------------------------------------------------ */}}

{{/* The queues the app declares (app/bootstrap/worker/celery_app.py QUEUES; a test keeps them equal). */}}
{{- define "fp.worker.appQueues" -}}
{{- list "default" "exports" "maintenance" "notifications" | toJson -}}
{{- end -}}

{{/* The worker Deployments as a JSON list: one per group, or one consuming every queue. Each
     group has name, suffix, queues, concurrency, replicas, autoscaling and keda settings. */}}
{{- define "fp.worker.groups" -}}
{{- $w := .Values.worker -}}
{{- $appQueues := include "fp.worker.appQueues" . | fromJsonArray -}}
{{- $groups := list -}}
{{- if $w.groups -}}
{{- $consumed := list -}}
{{- range $w.groups -}}
{{- $groupName := .name -}}
{{- $queues := .queues -}}
{{- range $queues -}}
{{- if not (has . $appQueues) -}}
{{- fail (printf "worker.groups[%s]: the app has no queue %q (it has %s)" $groupName . (join ", " $appQueues)) -}}
{{- end -}}
{{- end -}}
{{- $consumed = concat $consumed $queues -}}
{{- $group := dict "name" .name "suffix" (printf "worker-%s" .name) "queues" $queues -}}
{{- $_ := set $group "concurrency" (default $w.concurrency .concurrency) -}}
{{- $_ := set $group "replicas" (default $w.replicas .replicas) -}}
{{- $_ := set $group "autoscaling" (merge (default dict .autoscaling) $w.autoscaling) -}}
{{- $_ := set $group "keda" (merge (default dict .keda) $w.keda) -}}
{{- $groups = append $groups $group -}}
{{- end -}}
{{- range $appQueues -}}
{{- if not (has . $consumed) -}}
{{- fail (printf "worker.groups: no group consumes the queue %q; its tasks would never run" .) -}}
{{- end -}}
{{- end -}}
{{- else -}}
{{- $queues := $w.queues | default $appQueues -}}
{{- $groups = list (dict "name" "all" "suffix" "worker" "queues" $queues "concurrency" $w.concurrency "replicas" $w.replicas "autoscaling" $w.autoscaling "keda" $w.keda) -}}
{{- end -}}
{{- toJson $groups -}}
{{- end -}}

{{- define "fp.worker.selectorLabels" -}}
{{ include "fp.selectorLabels" (dict "root" .root "component" "worker") }}
fastapi-platform.dev/worker-group: {{ .group.name }}
{{- end -}}

{{/* The highest replica count a workload can reach (HPA or KEDA maximum, else replicas). */}}
{{- define "fp.maxReplicas" -}}
{{- if and .keda .keda.enabled -}}{{ .keda.maxReplicas }}
{{- else if .autoscaling.enabled -}}{{ .autoscaling.maxReplicas }}
{{- else -}}{{ .replicas }}
{{- end -}}
{{- end -}}

{{/* NetworkPolicy egress rule to a bundled component's pods, the configured peers, or anywhere
     on the port only. */}}
{{- define "fp.np.peers" -}}
{{- /* to: the bundled component's pods, or the configured peers, or anywhere (port-only rule) */ -}}
{{- if .bundled }}
- to:
    - podSelector:
        matchLabels: {{- include "fp.selectorLabels" (dict "root" .root "component" .bundled) | nindent 10 }}
  ports:
    - {port: {{ .port }}, protocol: TCP}
{{- else if .peers }}
- to: {{- toYaml .peers | nindent 4 }}
  ports:
    - {port: {{ .port }}, protocol: TCP}
{{- else }}
- ports:
    - {port: {{ .port }}, protocol: TCP}
{{- end }}
{{- end -}}

{{/* checkov skips, each with its reason: fp.checkov (list "CKV_K8S_8=why" ...) */}}
{{- define "fp.checkov" -}}
{{- range $i, $skip := . }}
checkov.io/skip{{ add1 $i }}: {{ $skip | quote }}
{{- end }}
{{- end -}}

{{/* What every workload of the app's own images skips, and why. */}}
{{- define "fp.checkov.app" -}}
{{- list
  "CKV_K8S_43=tags by default (local builds, skaffold); image.digest pins an image, as ci/production-values.yaml does"
  "CKV_K8S_15=IfNotPresent: tags are immutable or pinned by digest; Always would make every start depend on the registry"
  "CKV_K8S_35=the app reads its settings from the environment (pydantic-settings); each credential is one secretKeyRef, never a whole Secret"
  | toJson -}}
{{- end -}}

{{- define "fp.checkov.service" -}}
{{- list
  "CKV_K8S_43=a development service on the official image's tag; production uses an external service"
  "CKV_K8S_15=IfNotPresent: a development service"
  "CKV_K8S_40=the official image's user is uid 999, which owns the data directory it creates"
  "CKV_K8S_35=the official image reads its password from the environment"
  | toJson -}}
{{- end -}}
